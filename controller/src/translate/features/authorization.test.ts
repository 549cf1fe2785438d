import { AgentgatewayPolicy, type AgentgatewayPolicyInput } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { authorizationExpressionProblems, authorizationFeature } from './authorization.js';

/** A parsed AgentgatewayPolicy (defaults filled in, CRD rules checked). */
const testPolicy = (spec: AgentgatewayPolicyInput['spec'], name = 'p'): AgentgatewayPolicy =>
  AgentgatewayPolicy.parse({
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayPolicy',
    metadata: { name, namespace: 'ns' },
    spec,
  });
const GW_REF = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' } as const;
const ctx = { backends: { services: new Map(), slices: new Map(), grants: [], agentgatewayBackends: new Map() }, jwks: new Map() };

describe('authorization feature', () => {
  it('is merge-all, traffic, in both phases', () => {
    expect(authorizationFeature.merge).toBe('merge-all');
    expect(authorizationFeature.scope).toBe('traffic');
    expect([...authorizationFeature.phases]).toEqual(['PreRouting', 'Route']);
  });

  it('each matchExpression is its own rule of the action (default Allow)', () => {
    const p = testPolicy({
      targetRefs: [GW_REF],
      traffic: { authorization: { policy: { matchExpressions: ['a == 1', "jwt.sub == 'x'"] } } },
    });
    expect(authorizationFeature.translate(p, ctx)).toEqual({
      compiled: {
        policy: 'ns/p',
        rules: [
          { action: 'Allow', expression: 'a == 1' },
          { action: 'Allow', expression: "jwt.sub == 'x'" },
        ],
      },
      errors: [],
      notes: [],
      jwksRequests: [],
    });
  });

  it.each(['Deny', 'Require'] as const)('keeps action %s', (action) => {
    const p = testPolicy({ targetRefs: [GW_REF], traffic: { authorization: { action, policy: { matchExpressions: ['true'] } } } });
    expect(authorizationFeature.translate(p, ctx)?.compiled.rules).toEqual([{ action, expression: 'true' }]);
  });

  it('an expression that does not parse: an error with upstream message, the rule still pushed unchanged', () => {
    const p = testPolicy({
      targetRefs: [GW_REF],
      traffic: { authorization: { action: 'Deny', policy: { matchExpressions: ['true', 'request.path.startsWith(', '1 + '] } } },
    });
    const t = authorizationFeature.translate(p, ctx);
    expect(t?.compiled.rules.map((r) => r.expression)).toEqual(['true', 'request.path.startsWith(', '1 + ']);
    expect(t?.errors).toEqual([
      'authorization matchExpression is not a valid CEL expression: request.path.startsWith(',
      'authorization matchExpression is not a valid CEL expression: 1 + ',
    ]);
    expect(authorizationExpressionProblems(p).map((e) => e.path)).toEqual([
      ['spec', 'traffic', 'authorization', 'policy', 'matchExpressions', 1],
      ['spec', 'traffic', 'authorization', 'policy', 'matchExpressions', 2],
    ]);
  });

  it('a type error is not a parse error (accepted, as upstream)', () => {
    const p = testPolicy({ targetRefs: [GW_REF], traffic: { authorization: { policy: { matchExpressions: ["1 + 'a'"] } } } });
    expect(authorizationFeature.translate(p, ctx)?.errors).toEqual([]);
  });

  it('a policy without authorization does not carry the feature', () => {
    const p = testPolicy({ targetRefs: [GW_REF], backend: { auth: { passthrough: {} } } });
    expect(authorizationFeature.translate(p, ctx)).toBeUndefined();
  });
});
