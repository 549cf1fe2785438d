import type { PolicyRefs } from '@agw/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';
import { normalizeHost } from '../routing/hostname.js';
import { TARGET_ERROR_BODY } from '../routing/request-target.js';
import { matchRoute, pickEndpoint, selectListener } from '../routing/route-table.js';
import { jwtStage, type JwtStageOptions } from '../stages/jwt-stage.js';
import { authorizationStage } from '../stages/authorization-stage.js';
import type { PolicyStage, StageFeature } from '../stages/stage.js';
import { applyRouteFilters } from '../stages/route-filters-stage.js';
import { transformationStage } from '../stages/transformation-stage.js';
import { DEFAULT_PATH_RULES, type PathRules } from '../routing/request-target.js';
import { canonicalRequestOf } from './canonical-target.js';
import { firstHeaderValue } from './cel-activation.js';
import './request-state.js';
import { requestHasBody } from './request-body.js';
import { sendError, sendProxyError } from './responses.js';
import { upgradeOf } from './upgrade.js';
import { servernameOf } from './upstream-tls.js';

export interface PipelineOptions extends Omit<JwtStageOptions, 'store' | 'metrics'> {
  store: ConfigStore;
  metrics: ProxyMetrics;
  /** Gateway listener port this server answers for (not necessarily the socket's port). */
  listenerPort: number;
  random: () => number;
  /** Rules a transformation's `:path` is made canonical with (those of the request target). */
  pathRules?: PathRules;
}

/** Methods named in the answer to `OPTIONS *` (RFC 9110 §9.3.7): what listeners forward. */
const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * The request pipeline, in one onRequest hook (before any body is read): the canonical target
 * (made by canonical-target.ts before Fastify's router) → listener match → the listener's
 * PreRouting stages → route match → the route's stages → the route's HTTPRoute filters → upstream choice. Stages run in upstream's
 * order (jwt → authorization → rate limit → transformation), each only where the config names a
 * policy of its feature. A rejection answers here; the upstream plugin forwards what passes, with
 * the stages' edits. All decisions use the config current when the request started.
 */
export const gatewayPipeline = fp<PipelineOptions>(
  async (app: FastifyInstance, opts) => {
    app.decorateRequest('agw', null as never);
    // Upstream's order (reference §1): jwt → authorization → transformation. Backend auth is not a
    // stage: forwarding writes it (plugins/upstream.ts).
    const stages: readonly PolicyStage[] = [
      jwtStage(opts),
      authorizationStage({ metrics: opts.metrics }),
      transformationStage({ pathRules: opts.pathRules ?? DEFAULT_PATH_RULES }),
    ] as readonly PolicyStage<StageFeature>[] as readonly PolicyStage[];

    /** Runs one stage with what `refs` names for its feature. */
    const runOne = (stage: PolicyStage, req: FastifyRequest, reply: FastifyReply, ref: NonNullable<PolicyRefs[StageFeature]>) =>
      (stage.run as (req: FastifyRequest, reply: FastifyReply, ref: unknown) => boolean | Promise<boolean>)(req, reply, ref);

    /** Runs the stages `refs` names, in order; true when one answered. Synchronous unless a stage waits. */
    function runStages(req: FastifyRequest, reply: FastifyReply, refs: PolicyRefs | undefined): boolean | Promise<boolean> {
      if (refs === undefined) return false;
      for (let i = 0; i < stages.length; i++) {
        const stage = stages[i] as PolicyStage;
        const ref = refs[stage.feature];
        if (ref === undefined) continue;
        const answered = runOne(stage, req, reply, ref);
        if (answered instanceof Promise) return answered.then((a) => a || runStagesFrom(req, reply, refs, i + 1));
        if (answered) return true;
      }
      return false;
    }
    async function runStagesFrom(req: FastifyRequest, reply: FastifyReply, refs: PolicyRefs, from: number): Promise<boolean> {
      for (let i = from; i < stages.length; i++) {
        const stage = stages[i] as PolicyStage;
        const ref = refs[stage.feature];
        if (ref !== undefined && (await runOne(stage, req, reply, ref))) return true;
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
      // An upgrade request's body would follow on a socket Node's parser has left (plugins/upgrade.ts).
      if (upgradeOf(req.raw) !== undefined && requestHasBody(req)) {
        req.agw = { host: canonical.host };
        return sendProxyError(req, reply, 'PROXY_ERR_UPGRADE_WITH_BODY');
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

      req.agw.listener = listener.listener;

      const pre = runStages(req, reply, listener.listener.preRouting);
      if (pre instanceof Promise ? await pre : pre) return reply;

      // The route is matched on the request as the PreRouting stages left it (reference §3:
      // claim-based routing): their header, path, method and authority edits.
      const edits = req.agw.edits;
      let path = canonical.path;
      let query = canonical.query;
      if (edits?.path !== undefined) {
        const q = edits.path.indexOf('?');
        path = q < 0 ? edits.path : edits.path.slice(0, q);
        query = q < 0 ? '' : edits.path.slice(q);
      }
      const match = matchRoute(listener, {
        host: edits?.authority !== undefined ? normalizeHost(edits.authority) : host,
        method: edits?.method ?? req.method,
        path,
        header: (name) => firstHeaderValue(req, name),
        query: new URLSearchParams(query.slice(1)),
      });
      if (match.kind !== 'route') return sendProxyError(req, reply, 'PROXY_ERR_ROUTE_NOT_FOUND');
      const route = match.route;
      req.agw.route = route;
      // A PreRouting expression may have read `proxy` before a route was chosen: the route's see it.
      req.agw.cel?.invalidate();

      const onRoute = runStages(req, reply, route.policies);
      if (onRoute instanceof Promise ? await onRoute : onRoute) return reply;

      // HTTPRoute filters, after the route's policies (a redirect never bypasses its JWT or
      // authorization) and before a backend is chosen (a redirect rule has none).
      const filters = runtime.routeFilters.get(route);
      if (filters !== undefined) {
        const l = listener.listener;
        if (applyRouteFilters(req, reply, filters, { scheme: l.protocol === 'HTTPS' ? 'https' : 'http', port: l.port })) return reply;
      }

      if (route.invalid !== undefined) return sendProxyError(req, reply, 'PROXY_ERR_INVALID_BACKEND', route.invalid);
      const picked = pickEndpoint(route.backends, opts.random);
      // agentgateway's words: NoValidBackends (500), NoHealthyEndpoints (503).
      if (picked === undefined)
        return sendProxyError(req, reply, route.backends.length === 0 ? 'PROXY_ERR_NO_VALID_BACKENDS' : 'PROXY_ERR_NO_HEALTHY_BACKENDS');
      req.agw.endpoint = picked.endpoint;
      if (picked.backend.protocol === 'h2c') req.agw.upstreamProtocol = 'h2c';
      // Backend TLS: the backend's own policy replaces the route's. Named but unavailable, or
      // settings the controller could not resolve (a CA ConfigMap missing): fail closed, never plaintext.
      const backendTls = picked.backend.policies?.backendTls ?? route.policies?.backendTls;
      if (backendTls !== undefined) {
        const tls = runtime.backendTls.get(backendTls);
        if (tls === undefined) return sendProxyError(req, reply, 'PROXY_ERR_POLICY_UNAVAILABLE');
        if (tls.settings.invalid !== undefined) {
          req.log.warn(
            { backend: picked.backend.name, tlsPolicy: tls.settings.policy, reason: tls.settings.invalid },
            'backend TLS settings invalid: call refused',
          );
          return sendProxyError(req, reply, 'PROXY_ERR_BACKEND_TLS_INVALID');
        }
        req.agw.upstreamTls = {
          tls,
          servername: servernameOf(tls.settings, picked.backend.hostname, picked.endpoint.host),
          backend: picked.backend.name,
        };
      }
      // Backend auth: the backend's own policy replaces the route's. Named but unavailable: fail closed.
      const backendAuth = picked.backend.policies?.backendAuth ?? route.policies?.backendAuth;
      if (backendAuth !== undefined) {
        const policy = req.agw.runtime?.backendAuth.get(backendAuth);
        if (policy === undefined) return sendProxyError(req, reply, 'PROXY_ERR_POLICY_UNAVAILABLE');
        req.agw.backendAuth = policy;
      }
      return undefined;
    });
  },
  { name: 'agw-gateway-pipeline' },
);
