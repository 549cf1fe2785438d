import type { PolicyRefs } from '@agw/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';
import { normalizeHost } from '../routing/hostname.js';
import { TARGET_ERROR_BODY } from '../routing/request-target.js';
import { matchRoute, pickEndpoint, selectListener } from '../routing/route-table.js';
import { jwtStage, type JwtStageOptions } from '../stages/jwt-stage.js';
import type { PolicyStage } from '../stages/stage.js';
import { canonicalRequestOf } from './canonical-target.js';
import './request-state.js';
import { sendError, sendProxyError } from './responses.js';

export interface PipelineOptions extends Omit<JwtStageOptions, 'store' | 'metrics'> {
  store: ConfigStore;
  metrics: ProxyMetrics;
  /** Gateway listener port this server answers for (not necessarily the socket's port). */
  listenerPort: number;
  random: () => number;
}

/** Methods named in the answer to `OPTIONS *` (RFC 9110 §9.3.7): what listeners forward. */
const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * The request pipeline, in one onRequest hook (before any body is read): the canonical target
 * (made by canonical-target.ts before Fastify's router) → listener match → the listener's
 * PreRouting stages → route match → the route's stages → upstream choice. Stages run in upstream's
 * order (jwt → authorization → rate limit → transformation), each only where the config names a
 * policy of its feature. A rejection answers here; the upstream plugin forwards what passes, with
 * the stages' edits. All decisions use the config current when the request started.
 */
export const gatewayPipeline = fp<PipelineOptions>(
  async (app: FastifyInstance, opts) => {
    app.decorateRequest('agw', null as never);
    const stages: readonly PolicyStage[] = [jwtStage(opts)];

    /** Runs the stages `refs` names, in order; true when one answered. Synchronous unless a stage waits. */
    function runStages(req: FastifyRequest, reply: FastifyReply, refs: PolicyRefs | undefined): boolean | Promise<boolean> {
      if (refs === undefined) return false;
      for (let i = 0; i < stages.length; i++) {
        const stage = stages[i] as PolicyStage;
        const key = refs[stage.feature];
        if (key === undefined) continue;
        const answered = stage.run(req, reply, key);
        if (answered instanceof Promise) return answered.then((a) => a || runStagesFrom(req, reply, refs, i + 1));
        if (answered) return true;
      }
      return false;
    }
    async function runStagesFrom(req: FastifyRequest, reply: FastifyReply, refs: PolicyRefs, from: number): Promise<boolean> {
      for (let i = from; i < stages.length; i++) {
        const stage = stages[i] as PolicyStage;
        const key = refs[stage.feature];
        if (key !== undefined && (await stage.run(req, reply, key))) return true;
      }
      return false;
    }

    app.addHook('onRequest', async (req, reply) => {
      const canonical = canonicalRequestOf(req.raw);
      if (canonical.kind !== 'origin') {
        req.agw = { host: '' };
        // `OPTIONS *` asks about the server itself: answered here, never forwarded under a route.
        if (canonical.kind === 'asterisk') return reply.code(200).header('allow', ALLOW).send();
        req.agw.code = canonical.code;
        return sendError(req, reply, 400, TARGET_ERROR_BODY[canonical.code], 3);
      }
      const runtime = opts.store.current;
      if (runtime === undefined) {
        req.agw = { host: canonical.host };
        return sendProxyError(req, reply, 'PROXY_ERR_NO_CONFIG');
      }
      req.agw = { host: canonical.host, runtime };
      const host = normalizeHost(canonical.host);
      const listener = selectListener(runtime.table, opts.listenerPort, host);
      if (listener === undefined) return sendProxyError(req, reply, 'PROXY_ERR_LISTENER_NOT_FOUND');

      const pre = runStages(req, reply, listener.listener.preRouting);
      if (pre instanceof Promise ? await pre : pre) return reply;

      const match = matchRoute(listener, {
        host,
        method: req.method,
        path: canonical.path,
        header: (name) => {
          const v = req.headers[name];
          return Array.isArray(v) ? v[0] : v;
        },
        query: new URLSearchParams(canonical.query.slice(1)),
      });
      if (match.kind !== 'route') return sendProxyError(req, reply, 'PROXY_ERR_ROUTE_NOT_FOUND');
      const route = match.route;
      req.agw.route = route;

      const onRoute = runStages(req, reply, route.policies);
      if (onRoute instanceof Promise ? await onRoute : onRoute) return reply;

      if (route.invalid !== undefined) return sendProxyError(req, reply, 'PROXY_ERR_INVALID_BACKEND', route.invalid);
      const picked = pickEndpoint(route.backends, opts.random);
      // agentgateway's words: NoValidBackends (500), NoHealthyEndpoints (503).
      if (picked === undefined)
        return sendProxyError(req, reply, route.backends.length === 0 ? 'PROXY_ERR_NO_VALID_BACKENDS' : 'PROXY_ERR_NO_HEALTHY_BACKENDS');
      req.agw.endpoint = picked.endpoint;
      return undefined;
    });
  },
  { name: 'agw-gateway-pipeline' },
);
