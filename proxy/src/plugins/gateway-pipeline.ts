import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { authenticate, type AuthDecision } from '../auth/jwt-authenticate.js';
import type { JwtVerifier } from '../auth/jwt-verifier.js';
import { rawHeaderSource, urlWithoutQueryParam, type CredentialSource } from '../auth/token-location.js';
import type { RuntimeConfig } from '../config/compile.js';
import { waitForNextConfig, type ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';
import { normalizeHost } from '../routing/hostname.js';
import { TARGET_ERROR_BODY } from '../routing/request-target.js';
import { matchRoute, pickEndpoint, selectListener } from '../routing/route-table.js';
import { canonicalRequestOf } from './canonical-target.js';
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

/** The answer for a route or listener whose JWT policy the proxy could not compile (never served without it). */
const POLICY_UNAVAILABLE = 'policy unavailable';

/** Methods named in the answer to `OPTIONS *` (RFC 9110 §9.3.7): what listeners forward. */
const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * The request pipeline, in one onRequest hook (before any body is read): the canonical target
 * (made by canonical-target.ts before Fastify's router) → listener match → PreRouting JWT → route
 * match → route JWT → upstream choice. A rejection answers here; the upstream
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

  interface JwtRun { runtime: RuntimeConfig; decision: AuthDecision; verifier: JwtVerifier }

  /**
   * Runs one JWT policy, synchronously: keys are in memory, so the common case costs no promise.
   * Only an unknown kid from an issuer with remote keys returns a promise (a bounded wait for a refetch).
   */
  function runJwt(req: FastifyRequest, runtime: RuntimeConfig, policyKey: string): JwtRun | Promise<JwtRun> | undefined {
    // A policy named by the config that did not compile (compile.ts left it out): fail closed.
    const verifier = runtime.verifiers.get(policyKey);
    if (verifier === undefined) return undefined;
    const src = rawHeaderSource(req.raw.rawHeaders, req.raw.url ?? '/');
    const decision = authenticate(verifier, src, Math.floor(opts.now() / 1000));
    if (decision.action === 'reject' && 'refetch' in decision.failure && decision.failure.refetch !== undefined && opts.requestRefetch !== undefined) {
      return retryAfterRefetch(src, policyKey, decision.failure.refetch, { runtime, decision, verifier });
    }
    return { runtime, decision, verifier };
  }

  /** Unknown kid: asks for a refetch, waits (bounded) for new keys, and decides again with them. */
  async function retryAfterRefetch(src: CredentialSource, policyKey: string, refetch: { remoteUrl: string; kid: string }, first: JwtRun): Promise<JwtRun> {
    const changed = await awaitNewKeys(refetch.remoteUrl, refetch.kid);
    const latest = opts.store.current;
    const again = changed && latest !== undefined ? latest.verifiers.get(policyKey) : undefined;
    const run = again !== undefined && latest !== undefined
      ? { runtime: latest, verifier: again, decision: authenticate(again, src, Math.floor(opts.now() / 1000)) }
      : first;
    opts.metrics.refetch.inc({ outcome: run.decision.action === 'pass' && run.decision.result === 'valid' ? 'found' : 'not_found' });
    return run;
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
    const canonical = canonicalRequestOf(req.raw);
    if (canonical.kind !== 'origin') {
      req.agw = { host: '' };
      // `OPTIONS *` asks about the server itself: answered here, never forwarded under a route.
      if (canonical.kind === 'asterisk') return reply.code(200).header('allow', ALLOW).send();
      req.agw.targetError = canonical.code;
      return sendError(req, reply, 400, TARGET_ERROR_BODY[canonical.code], 3);
    }
    req.agw = { host: canonical.host };
    let runtime = opts.store.current;
    if (runtime === undefined) return sendError(req, reply, 503, 'no configuration loaded yet', 14);
    const host = normalizeHost(canonical.host);
    const listener = selectListener(runtime.table, opts.listenerPort, host);
    if (listener === undefined) return sendError(req, reply, 404, 'listener not found', 5);

    const pre = listener.listener.preRoutingJwtPolicy;
    if (pre !== undefined) {
      const pending = runJwt(req, runtime, pre);
      const r = pending instanceof Promise ? await pending : pending;
      if (r === undefined) return sendError(req, reply, 500, POLICY_UNAVAILABLE, 13);
      runtime = r.runtime;
      if (applyDecision(req, reply, r.verifier, r.decision)) return reply;
    }

    const match = matchRoute(listener, {
      host,
      method: req.method,
      path: canonical.path,
      header: (name) => { const v = req.headers[name]; return Array.isArray(v) ? v[0] : v; },
      query: new URLSearchParams(canonical.query.slice(1)),
    });
    if (match.kind !== 'route') return sendError(req, reply, 404, 'route not found', 5);
    const route = match.route;
    req.agw.route = route;

    if (route.jwtPolicy !== undefined) {
      const pending = runJwt(req, runtime, route.jwtPolicy);
      const r = pending instanceof Promise ? await pending : pending;
      if (r === undefined) return sendError(req, reply, 500, POLICY_UNAVAILABLE, 13);
      if (applyDecision(req, reply, r.verifier, r.decision)) return reply;
    }

    if (route.invalid !== undefined) return sendError(req, reply, 500, route.invalid, 13);
    const picked = pickEndpoint(route.backends, opts.random);
    // agentgateway's words: NoValidBackends (500), NoHealthyEndpoints (503).
    if (picked === undefined) return route.backends.length === 0 ? sendError(req, reply, 500, 'no valid backends', 13) : sendError(req, reply, 503, 'no healthy backends', 14);
    req.agw.endpoint = picked.endpoint;
    return undefined;
  });
}, { name: 'agw-gateway-pipeline' });
