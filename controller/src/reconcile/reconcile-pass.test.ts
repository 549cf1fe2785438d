import { describe, expect, it } from 'vitest';
import { newParseMemo, type ParseMemo } from '../resources/parse-objects.js';
import { reconcilePass, type ReconcilePass } from './reconcile-pass.js';

/**
 * A pass after a change confined to HTTPRoutes and policies compiles only the Gateways the change
 * touches and keeps the others' configs (change-scope.ts, translate.ts). Whatever it keeps, its output must be the
 * output of a pass from scratch: every step below compares both, configs (with versions) and
 * every status.
 */
const GW = 'gateway.networking.k8s.io';
const CONTROLLER = 'agentgateway.dev/agentgateway';
const NS = 'scale';
const GATEWAYS = 4;
const KEY = {
  kty: 'RSA',
  kid: 'k',
  alg: 'RS256',
  e: 'AQAB',
  n: 'sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw',
};

const gatewayClass = {
  apiVersion: `${GW}/v1`,
  kind: 'GatewayClass',
  metadata: { name: 'agentgateway' },
  spec: { controllerName: CONTROLLER },
};
const gateway = (g: number) => ({
  apiVersion: `${GW}/v1`,
  kind: 'Gateway',
  metadata: { name: `gw-${g}`, namespace: NS, generation: 1 },
  spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
});
const route = (name: string, parents: number[], path = `/${name}`, extra: Record<string, unknown> = {}) => ({
  apiVersion: `${GW}/v1`,
  kind: 'HTTPRoute',
  metadata: { name, namespace: NS, generation: 1, creationTimestamp: '2026-11-30T00:00:00Z' },
  spec: {
    parentRefs: parents.map((g) => ({ name: `gw-${g}` })),
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: path, ...extra } }], backendRefs: [{ name: 'svc', port: 80 }] }],
  },
});
const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'svc', namespace: NS },
  spec: { ports: [{ name: 'http', port: 80 }] },
};
const slice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'svc-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'svc' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.0.0.1'] }],
  ports: [{ name: 'http', port: 8080 }],
};
const policy = (name: string, target: { kind: string; name: string }, issuer = 'https://idp') => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS, generation: 1 },
  spec: {
    targetRefs: [{ group: target.kind === 'Service' ? '' : GW, ...target }],
    traffic: { jwtAuthentication: { providers: [{ issuer, jwks: { inline: JSON.stringify({ keys: [KEY] }) } }] } },
  },
});

/** A policy of other features: authorization and a header from claims, or (on a Service) backend passthrough. */
const otherFeatures = (name: string, target: { kind: string; name: string; sectionName?: string }) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS, generation: 1 },
  spec: {
    targetRefs: [{ group: target.kind === 'Service' ? '' : GW, ...target }],
    ...(target.kind === 'Service'
      ? { backend: { auth: { passthrough: {} } } }
      : {
          traffic: {
            authorization: { action: 'Allow', policy: { matchExpressions: [`has(jwt.sub) && jwt.sub == '${name}'`] } },
            transformation: { request: { set: [{ name: 'x-user', value: 'jwt.sub' }] } },
          },
        }),
  },
});

/**
 * 4 Gateways, 24 routes (every fourth attached to two Gateways, every fifth with a named rule),
 * JWT policies on routes and a Gateway; authorization and transformation on a listener and a
 * route rule; backend passthrough on the Service.
 */
function world(): unknown[] {
  const objects: unknown[] = [gatewayClass, service, slice];
  for (let g = 0; g < GATEWAYS; g++) objects.push(gateway(g));
  for (let i = 0; i < 24; i++) {
    const r = route(`r-${i}`, i % 4 === 0 ? [i % GATEWAYS, (i + 1) % GATEWAYS] : [i % GATEWAYS]);
    if (i % 5 === 0) (r.spec.rules[0] as { name?: string }).name = 'main';
    objects.push(r);
  }
  for (let i = 0; i < 24; i += 3) objects.push(policy(`p-${i}`, { kind: 'HTTPRoute', name: `r-${i}` }));
  objects.push(policy('gw-level', { kind: 'Gateway', name: 'gw-2' }));
  objects.push(otherFeatures('listener-level', { kind: 'Gateway', name: 'gw-1', sectionName: 'http' }));
  objects.push(otherFeatures('rule-level', { kind: 'HTTPRoute', name: 'r-10', sectionName: 'main' }));
  objects.push(otherFeatures('service-level', { kind: 'Service', name: 'svc' }));
  return objects;
}

const isNamed = (name: string) => (o: unknown) => (o as { metadata: { name: string } }).metadata.name === name;

/** A pass from scratch (no memo, no previous): the reference. */
const fromScratch = (objects: readonly unknown[]) => reconcilePass({ objects, controllerName: CONTROLLER, jwks: new Map() });

// namesUnique: the cluster's caches (only the changed part of each list is compared), or files.
describe.each([false, true])('reconcile pass after a change confined to HTTPRoutes and policies (namesUnique: %s)', (namesUnique) => {
  const memo: ParseMemo = newParseMemo();
  let objects = world();
  let previous: ReconcilePass = reconcilePass({ objects, controllerName: CONTROLLER, jwks: new Map(), memo, namesUnique });

  /** Applies a change, runs the incremental pass, checks it against a pass from scratch, and returns it. */
  const step = (change: (objs: unknown[]) => unknown[]) => {
    objects = change([...objects]);
    const pass = reconcilePass({ objects, controllerName: CONTROLLER, jwks: new Map(), memo, previous, namesUnique });
    const reference = fromScratch(objects);
    expect(pass.configs).toEqual(reference.configs);
    expect(pass.out.status).toEqual(reference.out.status);
    expect(pass.out.jwksRequests).toEqual(reference.out.jwksRequests);
    const before = previous;
    previous = pass;
    return { pass, before };
  };
  const replaceRoute = (name: string, next: unknown) => (objs: unknown[]) => objs.map((o) => (isNamed(name)(o) ? next : o));

  it('the first pass compiles every Gateway', () => {
    expect(previous.compiled).toBe('all');
    expect(previous.configs.size).toBe(GATEWAYS);
    expect(previous.parsed.problems).toEqual([]);
    // Every policy is attached somewhere (the listener, rule and Service levels included).
    for (const name of ['gw-level', 'listener-level', 'rule-level', 'service-level', 'p-3'])
      expect(previous.out.status.policies.get(`${NS}/${name}`)?.[0]?.conditions.find((c) => c.type === 'Attached')?.status).toBe('True');
  });

  it('a route edited: only its Gateway is compiled, the others keep their config objects and versions', () => {
    const { pass, before } = step(replaceRoute('r-3', route('r-3', [3], '/moved-path')));
    expect(pass.compiled).toEqual(new Set([`${NS}/gw-3`]));
    for (const g of [0, 1, 2]) expect(pass.configs.get(`${NS}/gw-${g}`)).toBe(before.configs.get(`${NS}/gw-${g}`));
    expect(pass.configs.get(`${NS}/gw-3`)?.version).not.toBe(before.configs.get(`${NS}/gw-3`)?.version);
  });

  it('a route moved from one Gateway to another: both are compiled', () => {
    const { pass } = step(replaceRoute('r-5', route('r-5', [2])));
    expect(pass.compiled).toEqual(new Set([`${NS}/gw-1`, `${NS}/gw-2`]));
  });

  it('a route deleted, and a route added to two Gateways', () => {
    expect(step((objs) => objs.filter((o) => !isNamed('r-7')(o))).pass.compiled).toEqual(new Set([`${NS}/gw-3`]));
    expect(step((objs) => [...objs, route('r-new', [0, 1])]).pass.compiled).toEqual(new Set([`${NS}/gw-0`, `${NS}/gw-1`]));
  });

  it('a route with a policy on it, edited into one whose regex the proxy refuses (its rule left out)', () => {
    const { pass } = step(replaceRoute('r-6', route('r-6', [2], '/(a+)+\\1', { type: 'RegularExpression' })));
    expect(pass.compiled).toEqual(new Set([`${NS}/gw-2`]));
  });

  it('a route naming a Gateway that does not exist, then an unchanged pass: nothing is compiled', () => {
    expect(step((objs) => [...objs, route('orphan', [9])]).pass.compiled).toEqual(new Set());
    expect(step((objs) => objs).pass.compiled).toEqual(new Set());
  });

  const gws = (...g: number[]) => new Set(g.map((n) => `${NS}/gw-${n}`));
  const replacePolicy = (name: string, next: unknown) => (objs: unknown[]) =>
    objs.map((o) => ((o as { kind: string }).kind === 'AgentgatewayPolicy' && isNamed(name)(o) ? next : o));

  it('a policy edited: only the Gateways of its route are compiled', () => {
    expect(step(replacePolicy('p-3', policy('p-3', { kind: 'HTTPRoute', name: 'r-3' }, 'https://other'))).pass.compiled).toEqual(gws(3));
    // r-12 is attached to two Gateways.
    expect(step(replacePolicy('p-12', policy('p-12', { kind: 'HTTPRoute', name: 'r-12' }, 'https://other'))).pass.compiled).toEqual(
      gws(0, 1),
    );
  });

  it('a policy moved to a route of another Gateway: the Gateways of the old and the new target', () => {
    expect(step(replacePolicy('p-6', policy('p-6', { kind: 'HTTPRoute', name: 'r-9' }))).pass.compiled).toEqual(gws(2, 1));
  });

  it('policies added on a Gateway and deleted from a listener; one made invalid (its status says why)', () => {
    expect(step((objs) => [...objs, policy('gw0-level', { kind: 'Gateway', name: 'gw-0' })]).pass.compiled).toEqual(gws(0));
    expect(step((objs) => objs.filter((o) => !isNamed('listener-level')(o))).pass.compiled).toEqual(gws(1));
    const invalid = { ...policy('p-9', { kind: 'HTTPRoute', name: 'r-9' }), spec: { targetRefs: [], traffic: { nonsense: true } } };
    const { pass } = step(replacePolicy('p-9', invalid));
    expect(pass.compiled).toEqual(gws(1));
    expect(pass.parsed.problems.map((p) => p.ref)).toEqual([`AgentgatewayPolicy ${NS}/p-9`]);
  });

  it('a policy on the Service: every Gateway with a route to it; a route and a policy in one pass', () => {
    const edited = {
      ...otherFeatures('service-level', { kind: 'Service', name: 'svc' }),
      metadata: { name: 'service-level', namespace: NS, generation: 2 },
    };
    expect(step(replacePolicy('service-level', edited)).pass.compiled).toEqual(gws(0, 1, 2, 3));
    const both = step((objs) => [
      ...replaceRoute('r-11', route('r-11', [3], '/both'))(objs),
      policy('p-2', { kind: 'HTTPRoute', name: 'r-2' }),
    ]);
    expect(both.pass.compiled).toEqual(gws(3, 2));
  });

  it('200 random changes of routes and policies (seeded; selector policies, relabelled routes, creation times): every pass equals a pass from scratch', () => {
    let seed = 18;
    /** mulberry32: a small seeded generator, so a failure replays. */
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const named = (kind: string) => (objs: unknown[]) =>
      objs.filter((o) => (o as { kind: string }).kind === kind).map((o) => (o as { metadata: { name: string } }).metadata.name);
    const someGateways = () => [...new Set([Math.floor(random() * GATEWAYS), Math.floor(random() * GATEWAYS)])];
    /** A route created at a random second (routes are ordered older first, then by name). */
    const aged = (r: ReturnType<typeof route>) => ({
      ...r,
      metadata: { ...r.metadata, creationTimestamp: `2026-11-30T00:00:${String(Math.floor(random() * 60)).padStart(2, '0')}Z` },
    });
    const target = (objs: unknown[]) =>
      random() < 0.6
        ? { kind: 'HTTPRoute', name: pick(named('HTTPRoute')(objs)) }
        : { kind: 'Gateway', name: `gw-${Math.floor(random() * GATEWAYS)}`, ...(random() < 0.5 ? { sectionName: 'http' } : {}) };
    let kept = 0;
    for (let i = 0; i < 200; i++) {
      const { pass } = step((objs) => {
        const routes = named('HTTPRoute')(objs);
        const policies = named('AgentgatewayPolicy')(objs).filter((n) => n !== 'service-level');
        switch (Math.floor(random() * 8)) {
          case 0: {
            const name = pick(routes);
            return replaceRoute(name, aged(route(name, someGateways(), `/r${i}`)))(objs);
          }
          case 1:
            return objs.filter((o) => !((o as { kind: string }).kind === 'HTTPRoute' && isNamed(pick(routes))(o)));
          case 2:
            return [...objs, aged(route(`new-${i}`, someGateways()))];
          case 3: {
            const name = pick(policies);
            return replacePolicy(name, policy(name, target(objs), random() < 0.5 ? 'https://idp' : `https://idp-${i}`))(objs);
          }
          case 4:
            return objs.filter((o) => !((o as { kind: string }).kind === 'AgentgatewayPolicy' && isNamed(pick(policies))(o)));
          case 5: {
            // A route relabelled: a selector policy's targets change with it.
            const name = pick(routes);
            const r = route(name, someGateways(), `/l${i}`);
            return replaceRoute(name, { ...r, metadata: { ...r.metadata, labels: { team: pick(['a', 'b']) } } })(objs);
          }
          case 6: {
            const selector = { ...policy(`sel-${i}`, { kind: 'HTTPRoute', name: 'unused' }) };
            const { targetRefs: _unused, ...spec } = selector.spec;
            return [
              ...objs,
              {
                ...selector,
                spec: { ...spec, targetSelectors: [{ group: GW, kind: 'HTTPRoute', matchLabels: { team: pick(['a', 'b']) } }] },
              },
            ];
          }
          default:
            return [...objs, random() < 0.5 ? policy(`new-p-${i}`, target(objs)) : otherFeatures(`new-o-${i}`, target(objs))];
        }
      });
      if (pass.compiled !== 'all') kept += GATEWAYS - pass.compiled.size;
    }
    // The narrowing happened (not every pass compiled every Gateway), and selector policies attached.
    expect(kept).toBeGreaterThan(0);
    const attachedSelectors = [...previous.out.status.policies].filter(
      ([k, ancestors]) =>
        k.includes('/sel-') && ancestors.some((a) => a.conditions.some((c) => c.type === 'Attached' && c.status === 'True')),
    );
    expect(attachedSelectors.length).toBeGreaterThan(0);
  });

  it('objects replaced by status-only updates (our own status writes): nothing is compiled; a spec change beside a status change is seen', () => {
    const withStatus = (o: unknown, rv: string, extra: Record<string, unknown> = {}) => {
      const x = o as { metadata: Record<string, unknown> };
      return {
        ...x,
        ...extra,
        metadata: { ...x.metadata, resourceVersion: rv, managedFields: [{ manager: 'agentgateway-ts' }] },
        status: { written: rv },
      };
    };
    const statusOnly = step((objs) =>
      objs.map((o) => {
        const kind = (o as { kind: string }).kind;
        return kind === 'Gateway' || kind === 'HTTPRoute' || kind === 'AgentgatewayPolicy' ? withStatus(o, '900') : o;
      }),
    );
    expect(statusOnly.pass.compiled).toEqual(new Set());
    // Any route still there (the random changes above may have removed some), its spec and status changed.
    const r0 = objects.find((o) => (o as { kind: string }).kind === 'HTTPRoute') as ReturnType<typeof route>;
    const parents = r0.spec.parentRefs.map((p) => Number(p.name.slice(3)));
    const specToo = step(replaceRoute(r0.metadata.name, withStatus(route(r0.metadata.name, parents, '/spec-and-status'), '901')));
    expect(specToo.pass.compiled).not.toEqual(new Set());
  });

  // Files only: a cache cannot hold two objects of one name.
  if (!namesUnique)
    it('two routes of one name (two files in local mode): every Gateway is compiled', () => {
      // A twin of a route there now (the tests above changed the world).
      const existing = objects.find((o) => (o as { kind: string }).kind === 'HTTPRoute') as { metadata: { name: string } };
      const twin = route(existing.metadata.name, [3], '/twin');
      expect(step((objs) => [...objs, twin]).pass.compiled).toBe('all');
      expect(step((objs) => objs.filter((o) => o !== twin)).pass.compiled).toBe('all');
    });

  // Files only: a cache cannot hold two objects of one name.
  if (!namesUnique)
    it("two policies of one name (two files in local mode): the newer one's status, its own ancestors and messages", () => {
      const at = (t: string, p: ReturnType<typeof policy>) => ({ ...p, metadata: { ...p.metadata, creationTimestamp: t } });
      const older = at('2026-01-01T00:00:00Z', policy('dup', { kind: 'Gateway', name: 'gw-0' }));
      const bySelector = {
        ...older,
        spec: { ...older.spec, targetRefs: undefined, targetSelectors: [{ group: GW, kind: 'Gateway', matchLabels: { none: 'x' } }] },
      };
      const newer = at('2026-01-02T00:00:00Z', policy('dup', { kind: 'Gateway', name: 'gw-1' }));
      newer.spec.targetRefs.push({ group: GW, kind: 'Gateway', name: 'gw-missing' });
      const { pass } = step((objs) => [...objs, bySelector, newer]);
      try {
        const ancestors = pass.out.status.policies.get(`${NS}/dup`) ?? [];
        // gw-1, and the summary ancestor that carries what is not attached (not the older one's selector message).
        expect(ancestors.map((a) => a.ancestorRef.name)).toEqual(['gw-1', 'StatusSummary']);
        const messages = ancestors.flatMap((a) => a.conditions.map((c) => c.message));
        expect(messages.some((m) => m.includes(`Gateway ${NS}/gw-missing not found`))).toBe(true);
      } finally {
        step((objs) => objs.filter((o) => o !== bySelector && o !== newer));
      }
    });

  it('a Service or a Gateway changed: every Gateway is compiled', () => {
    expect(
      step((objs) => objs.map((o) => (o === service ? { ...service, spec: { ports: [{ name: 'http', port: 81 }] } } : o))).pass.compiled,
    ).toBe('all');
    expect(
      step((objs) => objs.map((o) => (isNamed('gw-0')(o) ? { ...gateway(0), metadata: { ...gateway(0).metadata, generation: 2 } } : o)))
        .pass.compiled,
    ).toBe('all');
  });

  it('while a BackendTLSPolicy exists, a route change compiles every Gateway (its ancestors are recorded per compiled Gateway)', () => {
    const backendTls = {
      apiVersion: `${GW}/v1`,
      kind: 'BackendTLSPolicy',
      metadata: { name: 'svc-tls', namespace: NS, generation: 1 },
      spec: {
        targetRefs: [{ group: '', kind: 'Service', name: 'svc' }],
        validation: { wellKnownCACertificates: 'System', hostname: 'svc.example' },
      },
    };
    // The Service back on port 80 (the routes' backendRef port), and the policy on it.
    const isService = (o: unknown) => (o as { kind: string }).kind === 'Service';
    expect(step((objs) => [...objs.map((o) => (isService(o) ? service : o)), backendTls]).pass.compiled).toBe('all');
    const { pass } = step(replaceRoute('r-9', route('r-9', [1], '/tls-moved')));
    expect(pass.compiled).toBe('all');
    expect(pass.out.status.backendTlsPolicies.get(`${NS}/svc-tls`)?.map((a) => a.ancestorRef.name)).toEqual([
      'gw-0',
      'gw-1',
      'gw-2',
      'gw-3',
    ]);
    expect(step((objs) => objs.filter((o) => o !== backendTls)).pass.compiled).toBe('all');
  });

  it("a policy's backend.tls added, then removed: every Gateway is compiled both times (JWKS fetches may have used it)", () => {
    const tls = {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'svc-backend-tls', namespace: NS, generation: 1 },
      spec: { targetRefs: [{ group: '', kind: 'Service', name: 'svc' }], backend: { tls: { sni: 'svc.example' } } },
    };
    const added = step((objs) => [...objs, tls]).pass;
    expect(added.compiled).toBe('all');
    expect(added.parsed.problems).toEqual([]);
    expect(step((objs) => objs.filter((o) => o !== tls)).pass.compiled).toBe('all');
    expect(step((objs) => objs).pass.compiled).toEqual(new Set());
  });

  it("a ConfigMap no object names (the controller's persisted key sets) changed: nothing is compiled; a CA bundle an AgentgatewayBackend names: every Gateway", () => {
    const keySets = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'agw-jwks-1', namespace: 'agentgateway-system' },
      data: { keys: '{"keys":[]}' },
    };
    expect(step((objs) => [...objs, keySets]).pass.compiled).toEqual(new Set());
    const refreshed = { ...keySets, data: { keys: '{"keys":[{}]}' } };
    expect(step((objs) => objs.map((o) => (o === keySets ? refreshed : o))).pass.compiled).toEqual(new Set());
    const ca = (pem: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'idp-ca', namespace: NS },
      data: { 'ca.crt': pem },
    });
    const backend = {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayBackend',
      metadata: { name: 'idp', namespace: NS, generation: 1 },
      spec: { static: { host: 'idp.example', port: 443 }, policies: { tls: { caCertificateRefs: [{ name: 'idp-ca' }] } } },
    };
    const first = ca('not a certificate');
    const added = step((objs) => [...objs, first, backend]).pass;
    expect(added.compiled).toBe('all');
    expect(added.parsed.problems).toEqual([]);
    expect(step((objs) => objs.map((o) => (o === first ? ca('still not one') : o))).pass.compiled).toBe('all');
    expect(step((objs) => objs.filter((o) => o !== backend && o !== refreshed)).pass.compiled).toBe('all');
  });

  it('a key set changed: every Gateway is compiled', () => {
    const jwks = new Map([['https://idp/jwks', { keys: [KEY as never] }]]);
    const pass = reconcilePass({ objects, controllerName: CONTROLLER, jwks, memo, previous, namesUnique });
    expect(pass.compiled).toBe('all');
    expect(reconcilePass({ objects, controllerName: CONTROLLER, jwks: new Map(jwks), memo, previous: pass, namesUnique }).compiled).toEqual(
      new Set(),
    );
  });
});
