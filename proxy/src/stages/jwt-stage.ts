import type { FastifyReply, FastifyRequest } from 'fastify';
import { Redacted } from '@agw/api';
import { authenticate, type AuthDecision } from '../auth/jwt-authenticate.js';
import type { JwtVerifier } from '../auth/jwt-verifier.js';
import { cookieHeaderWithout, urlWithoutQueryParam, type CredentialSource } from '../auth/token-location.js';
import type { RuntimeConfig } from '../config/compile.js';
import { waitForNextConfig, type ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';
import { credentialSourceOf } from '../plugins/cel-activation.js';
import { bufferRequestBody } from '../plugins/request-body.js';
import { editsOf, setHeaderEdit } from '../plugins/request-state.js';
import { sendJwtFailure, sendProxyError } from '../plugins/responses.js';
import type { PolicyStage } from './stage.js';

export interface JwtStageOptions {
  readonly store: ConfigStore;
  readonly metrics: ProxyMetrics;
  /** Wall clock, ms since the epoch; injected for tests. */
  readonly now: () => number;
  /** Asks the key source to refetch after an unknown kid; resolves when asked (not when done). */
  readonly requestRefetch?: (remoteUrl: string, kid: string) => void;
  /** Longest wait for new keys after an unknown kid, ms (default 1000). */
  readonly refetchWaitMs: number;
  /**
   * After a wait for new keys of a URL, further unknown kids of that URL are refused at once for
   * this long, ms (default 30 000, the controller's refetch rate limit): a stream of tokens with
   * random kids must not hold every request for refetchWaitMs.
   */
  readonly refetchIntervalMs: number;
}

interface JwtRun {
  readonly runtime: RuntimeConfig;
  readonly decision: AuthDecision;
  readonly verifier: JwtVerifier;
}

/**
 * `jwtAuthentication`: the token checked by the policy's verifier (keys in memory, so synchronous);
 * a rejection answers 401/400 with agentgateway's body; a verified credential is removed from the
 * forwarded request (an edit). Only an unknown kid from an issuer with remote keys waits, bounded,
 * for a refetch, then decides again with the newest config (which the request then keeps).
 */
export function jwtStage(o: JwtStageOptions): PolicyStage<'jwt'> {
  /** Per JWKS URL: the wait under way (concurrent requests share it) and when the last one began. */
  const refetches = new Map<string, { waiting: Promise<boolean> | undefined; startedMs: number }>();
  function awaitNewKeys(remoteUrl: string, kid: string): Promise<boolean> {
    const now = o.now();
    const r = refetches.get(remoteUrl);
    if (r?.waiting !== undefined) return r.waiting;
    if (r !== undefined && now - r.startedMs < o.refetchIntervalMs) return Promise.resolve(false);
    const waiting = waitForNextConfig(o.store, o.refetchWaitMs);
    const entry = { waiting: waiting as Promise<boolean> | undefined, startedMs: now };
    refetches.set(remoteUrl, entry);
    void waiting.then(() => {
      entry.waiting = undefined;
    });
    o.requestRefetch?.(remoteUrl, kid);
    return waiting;
  }

  /** Unknown kid: asks for a refetch, waits (bounded) for new keys, and decides again with them. */
  async function retryAfterRefetch(
    req: FastifyRequest,
    src: CredentialSource,
    policyKey: string,
    refetch: { remoteUrl: string; kid: string },
    first: JwtRun,
  ): Promise<JwtRun> {
    const changed = await awaitNewKeys(refetch.remoteUrl, refetch.kid);
    const latest = o.store.current;
    const again = changed && latest !== undefined ? latest.verifiers.get(policyKey) : undefined;
    const run =
      again !== undefined && latest !== undefined
        ? { runtime: latest, verifier: again, decision: authenticate(again, src, Math.floor(o.now() / 1000), clientConnectionOf(req)) }
        : first;
    o.metrics.refetch.inc({ outcome: run.decision.action === 'pass' && run.decision.result === 'valid' ? 'found' : 'not_found' });
    return run;
  }

  /** Applies a JWT decision; true when the request was answered (rejected). */
  function apply(req: FastifyRequest, reply: FastifyReply, run: JwtRun, src: CredentialSource): boolean {
    const { decision, verifier } = run;
    req.agw.runtime = run.runtime;
    const policy = verifier.policy;
    const provider = decision.action === 'pass' ? (decision.providerId ?? '') : '';
    const code = decision.action === 'reject' ? decision.failure.code : (decision.code ?? '');
    o.metrics.countJwt(policy.policy, provider, decision.result, code);
    // No conditional spreads on this path (V8's slow path); an undefined field is left out of the log.
    req.agw.jwt = {
      policy: policy.policy,
      result: decision.result,
      provider: provider !== '' ? provider : undefined,
      code: code !== '' ? code : undefined,
    };
    if (decision.action === 'reject') {
      sendJwtFailure(req, reply, decision.failure);
      return true;
    }
    if (decision.verified !== undefined && decision.token !== undefined) {
      req.agw.verified = decision.verified;
      req.agw.token = new Redacted(decision.token);
      req.agw.cel?.invalidate();
    }
    if (decision.stripCredential) stripCredential(req, policy.location, src);
    return false;
  }

  /** Removes a verified credential from the forwarded request (an edit every later reader sees). */
  function stripCredential(req: FastifyRequest, loc: JwtVerifier['policy']['location'], src: CredentialSource): void {
    switch (loc.kind) {
      case 'header':
        setHeaderEdit(req.agw, loc.name.toLowerCase(), null);
        break;
      case 'cookie': {
        const rest = cookieHeaderWithout(src.header('cookie'), [loc.name]);
        setHeaderEdit(req.agw, 'cookie', rest === undefined ? null : [rest]);
        break;
      }
      case 'query':
        editsOf(req.agw).path = urlWithoutQueryParam(src.url, loc.name);
        req.agw.cel?.invalidate();
        break;
      case 'expression':
        break; // nothing is stripped (upstream)
    }
  }

  function decide(
    req: FastifyRequest,
    reply: FastifyReply,
    runtime: RuntimeConfig,
    verifier: JwtVerifier,
    policyKey: string,
  ): boolean | Promise<boolean> {
    const src = credentialSourceOf(req, verifier.locationExpression !== undefined);
    const decision = authenticate(verifier, src, Math.floor(o.now() / 1000), clientConnectionOf(req));
    const first = { runtime, decision, verifier };
    if (
      decision.action === 'reject' &&
      'refetch' in decision.failure &&
      decision.failure.refetch !== undefined &&
      o.requestRefetch !== undefined
    ) {
      return retryAfterRefetch(req, src, policyKey, decision.failure.refetch, first).then((run) => apply(req, reply, run, src));
    }
    return apply(req, reply, first, src);
  }

  return {
    feature: 'jwt',
    run(req, reply, policyKey) {
      const runtime = req.agw.runtime as RuntimeConfig;
      // A policy named by the config that did not compile (compile.ts left it out): fail closed.
      const verifier = runtime.verifiers.get(policyKey);
      if (verifier === undefined) {
        sendProxyError(req, reply, 'PROXY_ERR_POLICY_UNAVAILABLE');
        return true;
      }
      // A location expression that reads `request.body`: the body first (bounded).
      if (verifier.locationExpression?.references.requestBody === true && req.agw.body === undefined) {
        const read = bufferRequestBody(req, reply);
        if (read !== false) return read.then((answered) => answered || decide(req, reply, runtime, verifier, policyKey));
      }
      return decide(req, reply, runtime, verifier, policyKey);
    },
  };
}

/**
 * The client connection a request came on, for the verified-token cache's per-connection memory:
 * the socket of an HTTP/1.1 request, the session of an HTTP/2 stream (`req.raw.socket` of an
 * HTTP/2 request is a proxy object of the stream, one per request).
 */
function clientConnectionOf(req: FastifyRequest): object {
  const raw = req.raw as FastifyRequest['raw'] & { stream?: { session?: object } };
  return raw.stream?.session ?? raw.socket;
}
