import { AgentgatewayPolicy, DEFAULT_CREDENTIAL_TARGET, type AgentgatewayPolicyInput } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { backendAuthFeature, credentialTarget } from './backend-auth.js';

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

describe('backendAuth feature', () => {
  it('is most-specific, backend scope, Route phase only', () => {
    expect(backendAuthFeature.merge).toBe('most-specific');
    expect(backendAuthFeature.scope).toBe('backend');
    expect([...backendAuthFeature.phases]).toEqual(['Route']);
  });

  it("passthrough without location: upstream's default Authorization: Bearer", () => {
    const p = testPolicy({ targetRefs: [GW_REF], backend: { auth: { passthrough: {} } } });
    expect(backendAuthFeature.translate(p, ctx)).toEqual({
      compiled: { policy: 'ns/p', passthrough: true, target: DEFAULT_CREDENTIAL_TARGET },
      errors: [],
      notes: [],
      jwksRequests: [],
    });
  });

  it('location: header name lower-cased and prefix kept; query parameter; cookie', () => {
    expect(credentialTarget({ header: { name: 'X-Token', prefix: 'Token ' } })).toEqual({
      kind: 'header',
      name: 'x-token',
      prefix: 'Token ',
    });
    expect(credentialTarget({ header: { name: 'X-Token' } })).toEqual({ kind: 'header', name: 'x-token' });
    expect(credentialTarget({ queryParameter: { name: 'access_token' } })).toEqual({ kind: 'query', name: 'access_token' });
    expect(credentialTarget({ cookie: { name: 'Session' } })).toEqual({ kind: 'cookie', name: 'Session' });
  });

  it('a policy without backend.auth does not carry the feature', () => {
    const p = testPolicy({ targetRefs: [GW_REF], traffic: { authorization: { policy: { matchExpressions: ['true'] } } } });
    expect(backendAuthFeature.translate(p, ctx)).toBeUndefined();
  });
});
