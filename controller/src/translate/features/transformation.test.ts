import { AgentgatewayPolicy, type AgentgatewayPolicyInput } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { transformationExpressionProblems, transformationFeature } from './transformation.js';

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
const empty = { metadata: [], add: [], set: [], remove: [] };

describe('transformation feature', () => {
  it('is most-specific, traffic, in both phases', () => {
    expect(transformationFeature.merge).toBe('most-specific');
    expect(transformationFeature.scope).toBe('traffic');
    expect([...transformationFeature.phases]).toEqual(['PreRouting', 'Route']);
  });

  it('without conditional: one entry without condition; header names lower-cased, pseudo-headers kept', () => {
    const p = testPolicy({
      targetRefs: [GW_REF],
      traffic: {
        transformation: {
          request: {
            metadata: { UserTier: "default(jwt.tier, 'free')" },
            add: [{ name: 'X-Added', value: "'a'" }],
            set: [
              { name: 'X-User-Id', value: 'jwt.sub' },
              { name: ':authority', value: "'internal'" },
            ],
            remove: ['Cookie'],
            body: "'b'",
          },
          response: { set: [{ name: 'Response-Gateway', value: "'goodbye'" }] },
        },
      },
    });
    expect(transformationFeature.translate(p, ctx)).toEqual({
      compiled: {
        policy: 'ns/p',
        entries: [
          {
            request: {
              metadata: [{ name: 'UserTier', value: "default(jwt.tier, 'free')" }],
              add: [{ name: 'x-added', value: "'a'" }],
              set: [
                { name: 'x-user-id', value: 'jwt.sub' },
                { name: ':authority', value: "'internal'" },
              ],
              remove: ['cookie'],
              body: "'b'",
            },
            response: { ...empty, set: [{ name: 'response-gateway', value: "'goodbye'" }] },
          },
        ],
      },
      errors: [],
      notes: [],
      jwksRequests: [],
    });
  });

  it('conditional: the entries in order, the fallback (no condition) last', () => {
    const p = testPolicy({
      targetRefs: [GW_REF],
      traffic: {
        transformation: {
          conditional: [
            { condition: "request.headers['x-a'] == '1'", policy: { request: { remove: ['X-A'] } } },
            { condition: "request.headers['x-b'] == '1'", policy: { response: { remove: ['X-B'] } } },
            { policy: { request: { remove: ['X-C'] } } },
          ],
        },
      },
    });
    expect(transformationFeature.translate(p, ctx)?.compiled.entries).toEqual([
      { condition: "request.headers['x-a'] == '1'", request: { ...empty, remove: ['x-a'] } },
      { condition: "request.headers['x-b'] == '1'", response: { ...empty, remove: ['x-b'] } },
      { request: { ...empty, remove: ['x-c'] } },
    ]);
  });

  it("each kind of expression that does not parse: upstream's message, pushed as written", () => {
    const p = testPolicy({
      targetRefs: [GW_REF],
      traffic: {
        transformation: {
          conditional: [
            {
              condition: "request.headers['x' ==",
              policy: {
                request: {
                  set: [{ name: 'x-set', value: "{{ request.headers['x'] }}" }],
                  add: [{ name: 'x-add', value: 'f(' }],
                  body: 'json(request.body',
                  metadata: { m: "'open" },
                },
              },
            },
            { policy: { response: { set: [{ name: 'x-r', value: 'a.' }] } } },
          ],
        },
      },
    });
    const t = transformationFeature.translate(p, ctx);
    expect(t?.errors).toEqual([
      "condition CEL expression is invalid: request.headers['x' ==",
      "header value is not a valid CEL expression: {{ request.headers['x'] }}",
      'invalid header value: f(',
      'body value is not a valid CEL expression: json(request.body',
      "metadata value is not a valid CEL expression: 'open",
      'header value is not a valid CEL expression: a.',
    ]);
    expect(t?.compiled.entries[0]?.condition).toBe("request.headers['x' ==");
    expect(t?.compiled.entries[0]?.request?.set).toEqual([{ name: 'x-set', value: "{{ request.headers['x'] }}" }]);
    expect(transformationExpressionProblems(p).map((e) => e.path.join('.'))).toEqual([
      'spec.traffic.transformation.conditional.0.condition',
      'spec.traffic.transformation.conditional.0.policy.request.set.0.value',
      'spec.traffic.transformation.conditional.0.policy.request.add.0.value',
      'spec.traffic.transformation.conditional.0.policy.request.body',
      'spec.traffic.transformation.conditional.0.policy.request.metadata.m',
      'spec.traffic.transformation.conditional.1.policy.response.set.0.value',
    ]);
  });
});
