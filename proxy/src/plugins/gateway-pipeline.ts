import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { authenticate, type AuthDecision } from '../auth/jwt-authenticate.js';
import type { JwtVerifier } from '../auth/jwt-verifier.js';
import { rawHeaderSource, urlWithoutQueryParam } from '../auth/token-location.js';
import type { RuntimeConfig } from '../config/compile.js';
import { waitForNextConfig, type ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';
import { normalizeHost } from '../routing/hostname.js';
import { matchRoute, pickEndpoint, selectListener } from '../routing/route-table.js';
import './request-state.js';
import { sendError, sendJwtFailure } from './responses.js';

export interface PipelineOptions {
  store: ConfigStore;
  metrics: ProxyMetrics;
  /** Gateway listener port this server answers for (not necessarily the socket's port). */
  listenerPort: number;
  /** Wall clock, ms since the epoch; injected for tests. */
  now: () => number;
  random: () => number;
  /** Asks the key source to refetch after an unknown kid; resolves when asked (not when done). */
  requestRefetch?: (remoteUrl: string, kid: string) => void;
  /** Longest wait for new keys after an unknown kid, ms (default 1000). */
  refetchWaitMs: number;
  /**
   * After a wait for new keys of a URL, further unknown kids of that URL are refused at once for
   * this long, ms (default 30 000, the controller's refetch rate limit): a stream of tokens with
   * random kids must not hold every request for refetchWaitMs.
   */
  refetchIntervalMs: number;
}

/**
 * The request pipeline, in one onRequest hook (before any body is read): listener and route
 * match → PreRouting JWT → route JWT → upstream choice. A rejection answers here; the upstream
 * plugin forwards what passes. All decisions use the config current when the request started.
 */
export const gatewayPipeline = fp<PipelineOptions>(async (app: FastifyInstance, opts) => {
  app.decorateRequest('agw', null as never);

  /** Per JWKS URL: the wait under way (concurrent requests share it) and when the last one began. */
  const refetches = new Map<string, { waiting: Promise<boolean> | undefined; startedMs: number }>();
  function awaitNewKeys(remoteUrl: string, kid: string): Promise<boolean> {
    const now = opts.now();
    const r = refetches.get(remoteUrl);
    if (r?.waiting !== undefined) return r.waiting;
    if (r !== undefined && now - r.startedMs < opts.refetchIntervalMs) return Promise.resolve(false);
    const waiting = waitForNextConfig(opts.store, opts.refetchWaitMs);
    const entry = { waiting: waiting as Promise<boolean> | undefined, startedMs: now };
    refetches.set(remoteUrl, entry);
    void waiting.then(() => { entry.waiting = undefined; });
    opts.requestRefetch?.(remoteUrl, kid);
    return waiting;
  }

  /** Runs one JWT policy; only an unknown kid with a remote key source waits (for a refetch). */
  async function runJwt(req: FastifyRequest, runtime: RuntimeConfig, policyKey: string): Promise<{ runtime: RuntimeConfig; decision: AuthDecision; verifier: JwtVerifier } | undefined> {
    let verifier = runtime.verifiers.get(policyKey);
    if (verifier === undefined) return undefined;
    const src = rawHeaderSource(req.raw.rawHeaders, req.raw.url ?? '/');
    let decision = authenticate(verifier, src, Math.floor(opts.now() / 1000));
    // Unknown kid from an issuer with remote keys: ask for a refetch and wait (bounded) for new keys.
    if (decision.action === 'reject' && 'refetch' in decision.failure && decision.failure.refetch !== undefined && opts.requestRefetch !== undefined) {
      const { remoteUrl, kid } = decision.failure.refetch;
      const changed = await awaitNewKeys(remoteUrl, kid);
      const latest = opts.store.current;
      const again = changed && latest !== undefined ? latest.verifiers.get(policyKey) : undefined;
      if (again !== undefined && latest !== undefined) {
        runtime = latest;
        verifier = again;
        decision = authenticate(verifier, src, Math.floor(opts.now() / 1000));
      }
      opts.metrics.refetch.inc({ outcome: decision.action === 'pass' && decision.result === 'valid' ? 'found' : 'not_found' });
    }
    return { runtime, decision, verifier };
  }

  /** Applies a JWT decision; true when the request was answered (rejected). */
  function applyDecision(req: FastifyRequest, reply: FastifyReply, verifier: JwtVerifier, decision: AuthDecision): boolean {
    const policy = verifier.policy;
    const provider = decision.action === 'pass' ? decision.providerId ?? '' : '';
    const code = decision.action === 'reject' ? decision.failure.code : decision.code ?? '';
    opts.metrics.countJwt(policy.policy, provider, decision.result, code);
    req.agw.jwt = { policy: policy.policy, result: decision.result, ...(provider !== '' ? { provider } : {}), ...(code !== '' ? { code } : {}) };
    if (decision.action === 'reject') {
      sendJwtFailure(req, reply, decision.failure);
      return true;
    }
    if (decision.claims !== undefined) req.agw.claims = decision.claims;
    if (decision.stripCredential) {
      const loc = policy.location;
      if (loc.kind === 'header') req.agw.jwt.stripHeader = loc.name.toLowerCase();
      if (loc.kind === 'cookie') req.agw.jwt.stripCookie = loc.name;
      if (loc.kind === 'query') req.raw.url = urlWithoutQueryParam(req.raw.url ?? '/', loc.name);
    }
    return false;
  }

  app.addHook('onRequest', async (req, reply) => {
    req.agw = { host: req.headers.host ?? '' };
    let runtime = opts.store.current;
    if (runtime === undefined) return sendError(req, reply, 503, 'no configuration loaded yet', 14);
    const host = normalizeHost(req.headers.host);
    const listener = selectListener(runtime.table, opts.listenerPort, host);
    if (listener === undefined) return sendError(req, reply, 404, 'listener not found', 5);

    const pre = listener.listener.preRoutingJwtPolicy;
    if (pre !== undefined) {
      const r = await runJwt(req, runtime, pre);
      if (r !== undefined) {
        runtime = r.runtime;
        if (applyDecision(req, reply, r.verifier, r.decision)) return reply;
      }
    }

    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const match = matchRoute(listener, {
      host,
      method: req.method,
      path: q < 0 ? url : url.slice(0, q),
      header: (name) => { const v = req.headers[name]; return Array.isArray(v) ? v[0] : v; },
      query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    });
    if (match.kind !== 'route') return sendError(req, reply, 404, 'route not found', 5);
    const route = match.route;
    req.agw.route = route;

    if (route.jwtPolicy !== undefined) {
      const r = await runJwt(req, runtime, route.jwtPolicy);
      if (r !== undefined && applyDecision(req, reply, r.verifier, r.decision)) return reply;
    }

    if (route.invalid !== undefined) return sendError(req, reply, 500, route.invalid, 13);
    const picked = pickEndpoint(route.backends, opts.random);
    if (picked === undefined) return sendError(req, reply, route.backends.length === 0 ? 500 : 503, route.backends.length === 0 ? 'route has no backends' : 'no healthy upstream', 14);
    req.agw.endpoint = picked.endpoint;
    return undefined;
  });
}, { name: 'agw-gateway-pipeline' });
