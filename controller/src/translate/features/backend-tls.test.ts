import { TestCertificates } from '@agw/test-kit';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcilePass } from '../../reconcile/reconcile-pass.js';
import type { PendingCondition } from '../model.js';
import { backendTlsFeature } from './backend-tls.js';

/**
 * `backend.tls` (AgentgatewayPolicy) and BackendTLSPolicy on route backends and JWKS fetches,
 * through the reconcile pass (boundary parse, CA ConfigMaps checked at the edge, translate): the
 * compiled settings, the precedence, fail-closed CA references and the statuses.
 */
const GW = 'gateway.networking.k8s.io';
const CONTROLLER = 'agentgateway.dev/agentgateway';
const certs = new TestCertificates();
let CA = '';

beforeAll(() => {
  CA = certs.ca('ca').cert;
});
afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

const svc = (name: string, ports: Array<{ name?: string; port: number }>) => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' }, spec: { ports } },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'ns', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'FQDN',
    endpoints: [{ addresses: [`${name}.localhost`] }],
    ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: 9000 + p.port })),
  },
];
const gateway = [
  { apiVersion: `${GW}/v1`, kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: CONTROLLER } },
  {
    apiVersion: `${GW}/v1`,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'ns' },
    spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  },
];
const route = (rules: Array<{ name?: string; backend: string; port: number }>) => ({
  apiVersion: `${GW}/v1`,
  kind: 'HTTPRoute',
  metadata: { name: 'r', namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    parentRefs: [{ name: 'gw' }],
    rules: rules.map((r) => ({
      ...(r.name ? { name: r.name } : {}),
      matches: [{ path: { type: 'PathPrefix', value: `/${r.backend}-${r.port}` } }],
      backendRefs: [{ name: r.backend, port: r.port }],
    })),
  },
});
const agp = (name: string, target: Record<string, string>, tls: Record<string, unknown>, age = 0) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: 'ns', creationTimestamp: `2026-01-01T00:00:0${age}Z` },
  spec: { targetRefs: [target], backend: { tls } },
});
const btls = (name: string, service: string, validation: Record<string, unknown>) => ({
  apiVersion: `${GW}/v1`,
  kind: 'BackendTLSPolicy',
  metadata: { name, namespace: 'ns', generation: 1 },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: service }], validation },
});
const caMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns' },
  data,
});
const GW_REF = { group: GW, kind: 'Gateway', name: 'gw' };
const ROUTE_REF = { group: GW, kind: 'HTTPRoute', name: 'r' };
const SVC_REF = (name: string, sectionName?: string) => ({ group: '', kind: 'Service', name, ...(sectionName ? { sectionName } : {}) });

function run(objects: unknown[]) {
  const { parsed, out } = reconcilePass({ objects: [...gateway, ...objects], controllerName: CONTROLLER, jwks: new Map() });
  expect(parsed.problems).toEqual([]);
  const config = out.configs.get('ns/gw');
  const routeOf = (prefix: string) => config?.routes.find((r) => r.match.path.value === prefix);
  const accepted = (policy: string) => {
    const c = out.status.policies.get(policy)?.[0]?.conditions.find((x) => x.type === 'Accepted');
    return c === undefined ? undefined : `${c.status} ${c.reason}: ${c.message}`;
  };
  const btlsConditions = (key: string) =>
    (out.status.backendTlsPolicies.get(key) ?? []).map((a) => ({
      ancestor: `${a.ancestorRef.kind} ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`,
      conditions: Object.fromEntries(a.conditions.map((c: PendingCondition) => [c.type, `${c.status} ${c.reason}`])),
    }));
  return { out, config, routeOf, accepted, btlsConditions };
}

describe('backendTls feature', () => {
  it('is most-specific, backend scope, Route phase only', () => {
    expect(backendTlsFeature.merge).toBe('most-specific');
    expect(backendTlsFeature.scope).toBe('backend');
    expect([...backendTlsFeature.phases]).toEqual(['Route']);
  });

  it('on a Gateway, system CAs: every route names it, each backend carries its Service DNS name (the default SNI)', () => {
    const { config, routeOf, accepted } = run([
      ...svc('a', [{ name: 'http', port: 80 }]),
      route([{ backend: 'a', port: 80 }]),
      agp('gw-tls', GW_REF, {}),
    ]);
    expect(routeOf('/a-80')?.policies).toEqual({ backendTls: 'ns/gw-tls' });
    expect(routeOf('/a-80')?.backends).toEqual([
      { name: 'ns/a:80', weight: 1, endpoints: [{ host: 'a.localhost', port: 9080 }], hostname: 'a.ns.svc.cluster.local' },
    ]);
    expect(config?.policies.backendTls).toEqual({ 'ns/gw-tls': { policy: 'ns/gw-tls' } });
    expect(accepted('ns/gw-tls')).toBe('True Valid: Policy accepted');
  });

  it('a CA ConfigMap, sni, verifySubjectAltNames (DNS names and URIs apart), insecureSkipVerify: compiled as written', () => {
    const { config } = run([
      ...svc('a', [{ name: 'http', port: 80 }]),
      route([{ backend: 'a', port: 80 }]),
      caMap('corp-ca', { 'ca.crt': CA }),
      agp('sans', ROUTE_REF, {
        caCertificateRefs: [{ name: 'corp-ca' }],
        sni: 'api.corp.test',
        verifySubjectAltNames: ['api.corp.test', 'spiffe://corp/api'],
      }),
      agp('skip', GW_REF, { insecureSkipVerify: 'Hostname' }),
    ]);
    expect(config?.policies.backendTls).toEqual({
      'ns/sans': {
        policy: 'ns/sans',
        sni: 'api.corp.test',
        caPem: CA,
        subjectAltNames: { hostnames: ['api.corp.test'], uris: ['spiffe://corp/api'] },
      },
    });
    expect(config?.routes[0]?.policies).toEqual({ backendTls: 'ns/sans' }); // the route's replaces the Gateway's
  });

  it.each([
    ['a missing ConfigMap', [], 'caCertificateRefs[0]: ConfigMap ns/corp-ca not found'],
    ['a ConfigMap without ca.crt', [caMap('corp-ca', { other: 'x' })], 'caCertificateRefs[0]: ConfigMap ns/corp-ca has no ca.crt'],
    [
      'a ca.crt that is not PEM',
      [caMap('corp-ca', { 'ca.crt': 'hello' })],
      'caCertificateRefs[0]: ConfigMap ns/corp-ca: ca.crt holds no PEM certificate',
    ],
  ])('%s: PartiallyValid with the reason, and compiled to refuse every call (no plaintext, no system CAs)', (_n, extra, problem) => {
    const { config, routeOf, accepted } = run([
      ...svc('a', [{ name: 'http', port: 80 }]),
      route([{ backend: 'a', port: 80 }]),
      ...extra,
      agp('p', SVC_REF('a'), { caCertificateRefs: [{ name: 'corp-ca' }], sni: 'a.corp.test' }),
    ]);
    expect(accepted('ns/p')).toBe(`True PartiallyValid: backend.tls: ${problem}; connections to its backends fail`);
    expect(config?.policies.backendTls).toEqual({ 'ns/p': { policy: 'ns/p', invalid: `AgentgatewayPolicy ns/p backend.tls: ${problem}` } });
    expect(routeOf('/a-80')?.backends[0]?.policies).toEqual({ backendTls: 'ns/p' });
  });
});

describe('precedence on route backends: Service port > Service (AgentgatewayPolicy, then BackendTLSPolicy) > route rule > route > listener > Gateway', () => {
  it('each backend gets the most specific; the BackendTLSPolicy that an AgentgatewayPolicy overrides is not used', () => {
    const { config, routeOf, btlsConditions } = run([
      ...svc('a', [
        { name: 'http', port: 80 },
        { name: 'alt', port: 81 },
      ]),
      ...svc('b', [{ name: 'http', port: 80 }]),
      ...svc('c', [{ name: 'http', port: 80 }]),
      caMap('corp-ca', { 'ca.crt': CA }),
      route([
        { name: 'r0', backend: 'a', port: 80 },
        { backend: 'a', port: 81 },
        { backend: 'b', port: 80 },
        { backend: 'c', port: 80 },
      ]),
      agp('t-gw', GW_REF, {}, 0),
      agp('t-listener', { ...GW_REF, sectionName: 'http' }, {}, 1),
      agp('t-route', ROUTE_REF, {}, 2),
      agp('t-rule', { ...ROUTE_REF, sectionName: 'r0' }, {}, 3),
      agp('t-svc-a', SVC_REF('a'), { sni: 'a.corp.test' }, 4),
      agp('t-port-a', SVC_REF('a', 'http'), { sni: 'a-http.corp.test' }, 5),
      btls('btls-a', 'a', { hostname: 'a.example.test', wellKnownCACertificates: 'System' }),
      btls('btls-b', 'b', { hostname: 'b.example.test', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'corp-ca' }] }),
    ]);
    expect(routeOf('/a-80')?.policies?.backendTls).toBe('ns/t-rule');
    expect(routeOf('/a-80')?.backends[0]?.policies).toEqual({ backendTls: 'ns/t-port-a' });
    expect(routeOf('/a-81')?.policies?.backendTls).toBe('ns/t-route');
    expect(routeOf('/a-81')?.backends[0]?.policies).toEqual({ backendTls: 'ns/t-svc-a' });
    expect(routeOf('/b-80')?.backends[0]?.policies).toEqual({ backendTls: 'BackendTLSPolicy/ns/btls-b' });
    expect(routeOf('/c-80')?.backends[0]).toMatchObject({ hostname: 'c.ns.svc.cluster.local' });
    expect(routeOf('/c-80')?.backends[0]?.policies).toBeUndefined(); // the route's t-route applies
    expect(config?.policies.backendTls['BackendTLSPolicy/ns/btls-b']).toEqual({
      policy: 'BackendTLSPolicy/ns/btls-b',
      sni: 'b.example.test',
      caPem: CA,
    });
    expect(Object.keys(config?.policies.backendTls ?? {}).sort()).toEqual([
      'BackendTLSPolicy/ns/btls-b',
      'ns/t-port-a',
      'ns/t-route',
      'ns/t-rule',
      'ns/t-svc-a',
    ]);
    // A BackendTLSPolicy used by a route backend has the route's Gateway as ancestor; one overridden has none.
    expect(btlsConditions('ns/btls-b')).toEqual([
      { ancestor: 'Gateway ns/gw', conditions: { Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' } },
    ]);
    expect(btlsConditions('ns/btls-a')).toEqual([]);
  });

  it('a BackendTLSPolicy with an invalid CA reference on a route backend: its status says so, the backend refuses every call', () => {
    const { config, routeOf, btlsConditions } = run([
      ...svc('b', [{ name: 'http', port: 80 }]),
      route([{ backend: 'b', port: 80 }]),
      btls('btls-b', 'b', { hostname: 'b.example.test', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'gone' }] }),
    ]);
    expect(btlsConditions('ns/btls-b')).toEqual([
      { ancestor: 'Gateway ns/gw', conditions: { Accepted: 'False NoValidCACertificate', ResolvedRefs: 'False InvalidCACertificateRef' } },
    ]);
    expect(routeOf('/b-80')?.backends[0]).toMatchObject({
      hostname: 'b.ns.svc.cluster.local',
      policies: { backendTls: 'BackendTLSPolicy/ns/btls-b' },
    });
    expect(config?.policies.backendTls).toEqual({
      'BackendTLSPolicy/ns/btls-b': {
        policy: 'BackendTLSPolicy/ns/btls-b',
        invalid: 'BackendTLSPolicy ns/btls-b: caCertificateRefs[0]: ConfigMap ns/gone not found',
      },
    });
  });

  it('without any TLS policy the config is as before: no hostname, no backendTls', () => {
    const { config } = run([...svc('a', [{ name: 'http', port: 80 }]), route([{ backend: 'a', port: 80 }])]);
    expect(config?.routes[0]?.backends[0]).toEqual({ name: 'ns/a:80', weight: 1, endpoints: [{ host: 'a.localhost', port: 9080 }] });
    expect(config?.policies.backendTls).toEqual({});
  });
});

describe('JWKS fetch from a Service: an AgentgatewayPolicy backend.tls on it wins over its BackendTLSPolicy', () => {
  const jwt = {
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayPolicy',
    metadata: { name: 'jwt', namespace: 'ns' },
    spec: {
      targetRefs: [GW_REF],
      traffic: {
        jwtAuthentication: {
          providers: [
            { issuer: 'https://idp.example.test', jwks: { remote: { backendRef: { name: 'idp', port: 8443 }, jwksPath: '/keys' } } },
          ],
        },
      },
    },
  };
  const idp = () => [...svc('idp', [{ name: 'https', port: 8443 }]), jwt, caMap('idp-ca', { 'ca.crt': CA })];
  const bt = () => btls('idp-btls', 'idp', { hostname: 'btls.example.test', wellKnownCACertificates: 'System' });

  it('https to sni, trusting its CA, with insecureSkipVerify; the BackendTLSPolicy is not used; the TLS policy is attached through the JWT policy', () => {
    const { out, accepted, btlsConditions } = run([
      ...idp(),
      bt(),
      agp('idp-tls', SVC_REF('idp'), { caCertificateRefs: [{ name: 'idp-ca' }], sni: 'idp.corp.test', insecureSkipVerify: 'Hostname' }),
    ]);
    expect(out.jwksRequests).toEqual([
      {
        url: 'https://idp.corp.test:8443/keys',
        refreshMs: 300_000,
        owners: ['AgentgatewayPolicy/ns/jwt#spec.traffic.jwtAuthentication.providers[0].jwks.remote'],
        connect: { host: 'idp.localhost', port: 17443 },
        tls: { servername: 'idp.corp.test', caPem: CA, insecureSkipVerify: 'Hostname' },
      },
    ]);
    expect(btlsConditions('ns/idp-btls')).toEqual([]);
    expect(accepted('ns/idp-tls')).toBe('True Valid: Policy accepted');
    const ancestors = out.status.policies
      .get('ns/idp-tls')
      ?.map((a) => `${a.ancestorRef.kind} ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`);
    expect(ancestors).toEqual(['Gateway ns/gw']);
  });

  it('without sni: https to the Service DNS name; a port-level policy wins over the whole Service; verifySubjectAltNames passed on', () => {
    const { out } = run([
      ...idp(),
      agp('whole', SVC_REF('idp'), { insecureSkipVerify: 'All' }, 0),
      agp('port', SVC_REF('idp', 'https'), { verifySubjectAltNames: ['idp.corp.test'] }, 1),
    ]);
    expect(out.jwksRequests[0]?.url).toBe('https://idp.ns.svc.cluster.local:8443/keys');
    expect(out.jwksRequests[0]?.tls).toEqual({
      servername: 'idp.ns.svc.cluster.local',
      subjectAltNames: { hostnames: ['idp.corp.test'], uris: [] },
    });
  });

  it('its CA ConfigMap missing: no fetch (no fallback to the BackendTLSPolicy or to plain http), the JWT policy says why', () => {
    const { out, accepted } = run([...idp(), bt(), agp('idp-tls', SVC_REF('idp'), { caCertificateRefs: [{ name: 'nope' }] })]);
    expect(out.jwksRequests).toEqual([]);
    expect(accepted('ns/jwt')).toBe(
      'True PartiallyValid: AgentgatewayPolicy ns/idp-tls backend.tls: caCertificateRefs[0]: ConfigMap ns/nope not found, policy ns/jwt',
    );
    expect(accepted('ns/idp-tls')).toBe(
      'True PartiallyValid: backend.tls: caCertificateRefs[0]: ConfigMap ns/nope not found; connections to its backends fail',
    );
  });

  it('only the BackendTLSPolicy: used as before', () => {
    const { out, btlsConditions } = run([...idp(), bt()]);
    expect(out.jwksRequests[0]?.url).toBe('https://btls.example.test:8443/keys');
    expect(btlsConditions('ns/idp-btls')).toEqual([
      { ancestor: 'Gateway ns/gw', conditions: { Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' } },
    ]);
  });
});
