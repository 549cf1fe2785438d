import type { CompiledRoute, PolicyRefs } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { parseObjects } from '../../resources/parse-objects.js';
import { translate } from '../translate.js';

/**
 * Merge rules end to end (policies.ts attaches, gateways.ts picks): authorization merges every
 * policy at every level, oldest first; transformation and backendAuth take the most specific
 * (Service > route rule > route > listener > Gateway; among equals the oldest).
 */
const GW = 'gateway.networking.k8s.io';
const base = [
  {
    apiVersion: `${GW}/v1`,
    kind: 'GatewayClass',
    metadata: { name: 'agentgateway' },
    spec: { controllerName: 'agentgateway.dev/agentgateway' },
  },
  {
    apiVersion: `${GW}/v1`,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'ns' },
    spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'svc', namespace: 'ns' },
    spec: {
      ports: [
        { name: 'http', port: 80 },
        { name: 'alt', port: 81 },
      ],
    },
  },
  {
    apiVersion: `${GW}/v1`,
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'ns' },
    spec: {
      parentRefs: [{ name: 'gw' }],
      rules: [
        { name: 'named', matches: [{ path: { type: 'PathPrefix', value: '/named' } }], backendRefs: [{ name: 'svc', port: 80 }] },
        { backendRefs: [{ name: 'svc', port: 81 }] },
      ],
    },
  },
];

type Target = 'gateway' | 'listener' | 'route' | 'rule' | 'service' | 'service-port';
const refOf = (t: Target) =>
  ({
    gateway: { group: GW, kind: 'Gateway', name: 'gw' },
    listener: { group: GW, kind: 'Gateway', name: 'gw', sectionName: 'http' },
    route: { group: GW, kind: 'HTTPRoute', name: 'r' },
    rule: { group: GW, kind: 'HTTPRoute', name: 'r', sectionName: 'named' },
    service: { group: '', kind: 'Service', name: 'svc' },
    'service-port': { group: '', kind: 'Service', name: 'svc', sectionName: 'http' },
  })[t];

/** A policy named after its target, created at second `age` (lower is older). */
const policy = (name: string, target: Target, age: number, spec: Record<string, unknown>) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: 'ns', creationTimestamp: `2026-01-01T00:00:${String(age).padStart(2, '0')}Z` },
  spec: { targetRefs: [refOf(target)], ...spec },
});
const authz = (expr: string, phase?: 'PreRouting') => ({
  traffic: { ...(phase ? { phase } : {}), authorization: { policy: { matchExpressions: [expr] } } },
});
const transform = (header: string) => ({ traffic: { transformation: { request: { set: [{ name: header, value: "'v'" }] } } } });
const passthrough = { backend: { auth: { passthrough: {} } } };

function run(policies: unknown[]) {
  const parsed = parseObjects([...base, ...policies]);
  expect(parsed.problems).toEqual([]);
  const out = translate({ ...parsed, controllerName: 'agentgateway.dev/agentgateway', jwks: new Map() });
  const config = out.configs.get('ns/gw');
  if (config === undefined) throw new Error('no config');
  const route = (i: number): CompiledRoute => {
    const r = config.routes.find((x) => x.id === `ns/r/${i}/0`);
    if (r === undefined) throw new Error(`no route ${i}`);
    return r;
  };
  return { config, named: route(0), unnamed: route(1), status: out.status.policies };
}
const refs = (r: CompiledRoute): PolicyRefs | undefined => r.policies;

describe('authorization: merge-all, oldest first, across Gateway, listener, route and rule', () => {
  it('every level, ordered by age (not by level)', () => {
    const { named, unnamed, config } = run([
      policy('at-gateway', 'gateway', 4, authz('a')),
      policy('at-listener', 'listener', 1, authz('b')),
      policy('at-rule', 'rule', 2, authz('c')),
      policy('at-route', 'route', 3, authz('d')),
      policy('at-route-too', 'route', 0, authz('e')),
    ]);
    expect(refs(named)?.authorization).toEqual(['ns/at-route-too', 'ns/at-listener', 'ns/at-rule', 'ns/at-route', 'ns/at-gateway']);
    expect(refs(unnamed)?.authorization).toEqual(['ns/at-route-too', 'ns/at-listener', 'ns/at-route', 'ns/at-gateway']);
    expect(Object.keys(config.policies.authorization).sort()).toHaveLength(5);
  });

  it('PreRouting ones merge on the listener and stay out of the routes', () => {
    const { config, named } = run([
      policy('pre-gateway', 'gateway', 2, authz('a', 'PreRouting')),
      policy('pre-listener', 'listener', 1, authz('b', 'PreRouting')),
      policy('route-phase', 'gateway', 0, authz('c')),
    ]);
    expect(config.listeners[0]?.preRouting).toEqual({ authorization: ['ns/pre-listener', 'ns/pre-gateway'] });
    expect(refs(named)).toEqual({ authorization: ['ns/route-phase'] });
  });
});

describe('transformation: the most specific replaces, among equals the oldest', () => {
  it.each([
    [['gateway', 'listener', 'route', 'rule'] as Target[], 'ns/t-rule', 'ns/t-route'],
    [['gateway', 'listener', 'route'] as Target[], 'ns/t-route', 'ns/t-route'],
    [['gateway', 'listener'] as Target[], 'ns/t-listener', 'ns/t-listener'],
    [['gateway'] as Target[], 'ns/t-gateway', 'ns/t-gateway'],
  ])('attached at %j: named rule %s, other rule %s', (targets, onNamed, onOther) => {
    // The most specific is also the newest: age must not decide.
    const { named, unnamed, config } = run(targets.map((t, i) => policy(`t-${t}`, t, 10 - i, transform(`x-${t}`))));
    expect(refs(named)?.transformation).toBe(onNamed);
    expect(refs(unnamed)?.transformation).toBe(onOther);
    // Only the policies used are in the config.
    expect(Object.keys(config.policies.transformation).sort()).toEqual([...new Set([onNamed, onOther])].sort());
  });

  it('two at the same level: the oldest', () => {
    const { named } = run([policy('newer', 'route', 5, transform('x-a')), policy('older', 'route', 1, transform('x-b'))]);
    expect(refs(named)?.transformation).toBe('ns/older');
  });
});

describe('backendAuth: Service > route rule > route > listener > Gateway', () => {
  it('route-level refs on the route; a Service-level policy on the backend (port level over Service level)', () => {
    const { named, unnamed, config, status } = run([
      policy('b-gateway', 'gateway', 0, passthrough),
      policy('b-route', 'route', 1, passthrough),
      policy('b-rule', 'rule', 2, passthrough),
      policy('b-service', 'service', 3, passthrough),
      policy('b-port', 'service-port', 4, passthrough),
    ]);
    expect(refs(named)?.backendAuth).toBe('ns/b-rule');
    expect(refs(unnamed)?.backendAuth).toBe('ns/b-route');
    expect(named.backends[0]?.policies).toEqual({ backendAuth: 'ns/b-port' }); // svc:80 = port "http"
    expect(unnamed.backends[0]?.policies).toEqual({ backendAuth: 'ns/b-service' }); // svc:81
    expect(Object.keys(config.policies.backendAuth).sort()).toEqual(['ns/b-port', 'ns/b-route', 'ns/b-rule', 'ns/b-service']);
    // A Service policy's ancestors: the Gateways of the routes that use the Service.
    expect(status.get('ns/b-service')?.map((a) => a.ancestorRef.name)).toEqual(['gw']);
  });

  it("a PreRouting policy's backend part applies at its level to every route (not on the listener)", () => {
    const { config, named } = run([
      policy('pre', 'listener', 0, {
        traffic: { phase: 'PreRouting', authorization: { policy: { matchExpressions: ['true'] } } },
        ...passthrough,
      }),
    ]);
    expect(config.listeners[0]?.preRouting).toEqual({ authorization: ['ns/pre'] });
    expect(refs(named)).toEqual({ backendAuth: 'ns/pre' });
  });

  it('a sectionName that names a port number works too; one that names no port is not attached', () => {
    const numbered = policy('by-number', 'service', 0, passthrough);
    (numbered.spec.targetRefs[0] as { sectionName?: string }).sectionName = '81';
    const bad = policy('bad', 'service', 1, passthrough);
    (bad.spec.targetRefs[0] as { sectionName?: string }).sectionName = 'nope';
    const { named, unnamed, status } = run([numbered, bad]);
    expect(named.backends[0]?.policies).toBeUndefined();
    expect(unnamed.backends[0]?.policies).toEqual({ backendAuth: 'ns/by-number' });
    expect(status.get('ns/bad')?.[0]?.conditions[1]?.message).toBe(
      'Policy is not attached: sectionName "nope" not found in Service ns/svc',
    );
  });
});
