import type { AgentgatewayPolicy, CompiledAuthorizationPolicy } from '@agw/api';
import { keyOf } from '../model.js';
import { celProblem } from './cel-check.js';
import type { ExpressionProblem, PolicyFeature } from './feature.js';

const MESSAGE = 'authorization matchExpression is not a valid CEL expression';

/** Every matchExpression that does not parse, with upstream's message. */
export function authorizationExpressionProblems(policy: AgentgatewayPolicy): ExpressionProblem[] {
  const auth = policy.spec.traffic?.authorization;
  if (auth === undefined) return [];
  return auth.policy.matchExpressions.flatMap((e, i) =>
    celProblem(['spec', 'traffic', 'authorization', 'policy', 'matchExpressions', i], e, MESSAGE),
  );
}

/**
 * `spec.traffic.authorization` → one rule per matchExpression, in the set named by `action`
 * (default Allow). A rule whose expression does not parse is still pushed as written: the proxy
 * makes it always false (an Allow or Require then denies, a Deny never denies), and the policy is
 * PartiallyValid (upstream). Rules of every applicable policy at every level are merged (oldest
 * policy first); the proxy evaluates the merged set.
 */
export function translateAuthorization(policy: AgentgatewayPolicy): CompiledAuthorizationPolicy | undefined {
  const auth = policy.spec.traffic?.authorization;
  if (auth === undefined) return undefined;
  return { policy: keyOf(policy), rules: auth.policy.matchExpressions.map((expression) => ({ action: auth.action, expression })) };
}

export const authorizationFeature: PolicyFeature<'authorization'> = {
  name: 'authorization',
  scope: 'traffic',
  phases: new Set(['PreRouting', 'Route']),
  merge: 'merge-all',
  translate(policy) {
    const compiled = translateAuthorization(policy);
    if (compiled === undefined) return undefined;
    return { compiled, errors: authorizationExpressionProblems(policy).map((p) => p.message), notes: [], jwksRequests: [] };
  },
  expressionProblems: authorizationExpressionProblems,
};
