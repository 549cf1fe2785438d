import { compileExpressionOrFailing, type CompiledAuthorizationPolicy, type CompiledExpression } from '@agw/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RuntimeConfig } from '../config/compile.js';
import type { ProxyMetrics } from '../metrics.js';
import { activationOf, evaluatesTrue } from '../plugins/cel-activation.js';
import { bufferRequestBody } from '../plugins/request-body.js';
import { REALM, sendProxyError } from '../plugins/responses.js';
import type { PolicyStage } from './stage.js';

/** One rule, compiled once per config: its policy, its index in that policy's `rules` (for the access log). */
export interface AuthorizationRule {
  readonly policy: string;
  readonly index: number;
  readonly action: 'Allow' | 'Deny' | 'Require';
  readonly expression: CompiledExpression;
}

/** An authorization policy compiled once per config (reused while its JSON is unchanged). */
export interface CompiledAuthorization {
  readonly policy: CompiledAuthorizationPolicy;
  readonly rules: readonly AuthorizationRule[];
  /** Expressions that never evaluate (did not compile, or cannot type-check): they are false. */
  readonly warnings: readonly string[];
}

/**
 * The merged rules of every policy a route or listener names (merge-all, reference §1), by action,
 * built once per config for each `authorization` list.
 */
export interface AuthorizationSet {
  readonly deny: readonly AuthorizationRule[];
  readonly require: readonly AuthorizationRule[];
  readonly allow: readonly AuthorizationRule[];
  /** Some rule reads `request.body`: it is buffered before the rules run. */
  readonly needsBody: boolean;
  /** Some Allow rule reads `jwt` (the insufficient_scope challenge of a default deny). */
  readonly allowReadsJwt: boolean;
  /** A named policy the proxy does not have (it did not parse): the whole set fails closed. */
  readonly unavailable?: string;
}

/** Compiles each rule's expression once; one that does not compile is false at every evaluation (upstream). */
export function compileAuthorization(policy: CompiledAuthorizationPolicy): CompiledAuthorization {
  const warnings: string[] = [];
  const rules = policy.rules.map((r, index): AuthorizationRule => {
    const expression = compileExpressionOrFailing(r.expression);
    if (expression.staticError !== undefined) warnings.push(`rule ${index} (${r.action}) is always false: ${expression.staticError}`);
    return { policy: policy.policy, index, action: r.action, expression };
  });
  return { policy, rules, warnings };
}

/** The rules of the policies `keys` names, merged (every rule of every policy, in order). */
export function mergeAuthorization(keys: readonly string[], policies: ReadonlyMap<string, CompiledAuthorization>): AuthorizationSet {
  const deny: AuthorizationRule[] = [];
  const require: AuthorizationRule[] = [];
  const allow: AuthorizationRule[] = [];
  let unavailable: string | undefined;
  for (const key of keys) {
    const p = policies.get(key);
    if (p === undefined) {
      unavailable ??= key;
      continue;
    }
    for (const r of p.rules) (r.action === 'Deny' ? deny : r.action === 'Require' ? require : allow).push(r);
  }
  const all = [...deny, ...require, ...allow];
  return {
    deny,
    require,
    allow,
    needsBody: all.some((r) => r.expression.references.requestBody),
    allowReadsJwt: allow.some((r) => r.expression.references.jwt),
    ...(unavailable !== undefined ? { unavailable } : {}),
  };
}

export type AuthorizationDecision =
  | { readonly allow: true; readonly rule?: AuthorizationRule }
  | { readonly allow: false; readonly rule?: AuthorizationRule; readonly readsJwt: boolean };

const ALLOW_NO_RULE: AuthorizationDecision = { allow: true };

/**
 * Upstream's evaluation of a merged rule set (reference §2), in order: no rules → allow; any Deny
 * true → deny; any Require not true → deny; any Allow true → allow; otherwise deny if at least one
 * Allow rule exists, else allow. An error or a non-boolean result is false. `rule` is the rule
 * that decided (none for "no rules", the default deny and the deny-list's default allow).
 */
export function decideAuthorization(
  set: AuthorizationSet,
  activation: Parameters<CompiledExpression['evaluate']>[0],
): AuthorizationDecision {
  for (const r of set.deny)
    if (evaluatesTrue(r.expression, activation)) return { allow: false, rule: r, readsJwt: r.expression.references.jwt };
  for (const r of set.require)
    if (!evaluatesTrue(r.expression, activation)) return { allow: false, rule: r, readsJwt: r.expression.references.jwt };
  for (const r of set.allow) if (evaluatesTrue(r.expression, activation)) return { allow: true, rule: r };
  return set.allow.length > 0 ? { allow: false, readsJwt: set.allowReadsJwt } : ALLOW_NO_RULE;
}

/**
 * `authorization`: the merged rules of every policy the route (or listener, PreRouting) names.
 * Synchronous, unless a rule reads `request.body` (then the body is buffered first, bounded).
 * A denial answers 403 `authorization failed` (gRPC: status 7); when a verified token is present
 * and the deciding rule reads `jwt`, with an RFC 6750 §3.1 `insufficient_scope` challenge.
 */
export function authorizationStage(o: { readonly metrics: ProxyMetrics }): PolicyStage<'authorization'> {
  function decide(req: FastifyRequest, reply: FastifyReply, set: AuthorizationSet): boolean {
    const d = decideAuthorization(set, activationOf(req));
    const policy = d.rule?.policy ?? '';
    o.metrics.countAuthorization(policy, d.allow ? 'allow' : 'deny');
    req.agw.authorization = { result: d.allow ? 'allow' : 'deny', policy: d.rule?.policy, rule: d.rule?.index };
    if (d.allow) return false;
    if (d.readsJwt && req.agw.verified !== undefined)
      reply.header('www-authenticate', `Bearer realm="${REALM}", error="insufficient_scope"`);
    sendProxyError(req, reply, 'PROXY_ERR_AUTHZ_DENIED');
    return true;
  }

  return {
    feature: 'authorization',
    run(req, reply, keys) {
      const runtime = req.agw.runtime as RuntimeConfig;
      const set = runtime.authorizationSets.get(keys) ?? mergeAuthorization(keys, runtime.authorization);
      if (set.unavailable !== undefined) {
        sendProxyError(req, reply, 'PROXY_ERR_POLICY_UNAVAILABLE');
        return true;
      }
      if (set.needsBody && req.agw.body === undefined) {
        const read = bufferRequestBody(req, reply);
        if (read !== false) return read.then((answered) => answered || decide(req, reply, set));
      }
      return decide(req, reply, set);
    },
  };
}
