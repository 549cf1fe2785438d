import { AgentgatewayPolicy, type AgentgatewayPolicyInput } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { jwtExpressionProblems, jwtFeature } from './jwt.js';

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
const JWKS = '{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":"sXch","e":"AQAB"}]}';
const withLocation = (expression: string) =>
  testPolicy({
    targetRefs: [GW_REF],
    traffic: { jwtAuthentication: { location: { expression }, providers: [{ issuer: 'x', jwks: { inline: JWKS } }] } },
  });

describe('jwt feature: location.expression', () => {
  it('compiles to an expression location', () => {
    const t = jwtFeature.translate(withLocation("request.headers['x-token']"), ctx);
    expect(t?.compiled.location).toEqual({ kind: 'expression', expression: "request.headers['x-token']" });
    expect(t?.errors).toEqual([]);
  });

  it("one that does not parse: upstream's message (PartiallyValid), pushed anyway with its providers", () => {
    const p = withLocation("request.headers['x-token'");
    const t = jwtFeature.translate(p, ctx);
    expect(t?.errors).toEqual(["jwtAuthentication location expression is not a valid CEL expression: request.headers['x-token'"]);
    expect(t?.compiled.location).toEqual({ kind: 'expression', expression: "request.headers['x-token'" });
    expect(t?.compiled.providers).toHaveLength(1);
    expect(jwtExpressionProblems(p)).toEqual([
      {
        path: ['spec', 'traffic', 'jwtAuthentication', 'location', 'expression'],
        message: "jwtAuthentication location expression is not a valid CEL expression: request.headers['x-token'",
      },
    ]);
  });
});
