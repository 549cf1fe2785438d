import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcilePass } from '../reconcile/reconcile-pass.js';
import type { PendingCondition } from './model.js';

/**
 * BackendTLSPolicy on a `jwks.remote.backendRef` Service, through the reconcile pass (boundary
 * parse, CA bundles checked at the edge, translate): the JWKS URL and TLS settings, fail-closed
 * references, and the BackendTLSPolicy's ancestors status (Gateway API v1.4 reasons).
 */
const GW = 'gateway.networking.k8s.io';
const CONTROLLER = 'agentgateway.dev/agentgateway';
const dir = mkdtempSync(join(tmpdir(), 'agw-btls-'));
let CA = '';

beforeAll(() => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=ca',
      '-days',
      '1',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  CA = readFileSync(join(dir, 'ca.crt'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = () => [
  { apiVersion: `${GW}/v1`, kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: CONTROLLER } },
  {
    apiVersion: `${GW}/v1`,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'ns' },
    spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'idp', namespace: 'ns' }, spec: { ports: [{ name: 'https', port: 8443 }] } },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'idp-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'idp' } },
    addressType: 'FQDN',
    endpoints: [{ addresses: ['idp.localhost'] }],
    ports: [{ name: 'https', port: 9443 }],
  },
  {
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayPolicy',
    metadata: { name: 'jwt', namespace: 'ns' },
    spec: {
      targetRefs: [{ group: GW, kind: 'Gateway', name: 'gw' }],
      traffic: {
        jwtAuthentication: {
          providers: [
            { issuer: 'https://idp.example.test', jwks: { remote: { backendRef: { name: 'idp', port: 8443 }, jwksPath: '/keys' } } },
          ],
        },
      },
    },
  },
];
const btls = (name: string, validation: Record<string, unknown>, sectionName?: string, age = 0) => ({
  apiVersion: `${GW}/v1`,
  kind: 'BackendTLSPolicy',
  metadata: { name, namespace: 'ns', generation: 2, creationTimestamp: `2026-01-01T00:00:0${age}Z` },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: 'idp', ...(sectionName ? { sectionName } : {}) }], validation },
});
const caMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns' },
  data,
});
const URL = 'https://idp.example.test:8443/keys';

function run(objects: unknown[], jwksErrors?: Map<string, string>) {
  const { parsed, out } = reconcilePass({
    objects: [...base(), ...objects],
    controllerName: CONTROLLER,
    jwks: new Map(),
    ...(jwksErrors ? { jwksErrors } : {}),
  });
  expect(parsed.problems).toEqual([]);
  const conditions = (key: string) =>
    (out.status.backendTlsPolicies.get(key) ?? []).map((a) => ({
      ancestor: `${a.ancestorRef.kind} ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`,
      conditions: Object.fromEntries(a.conditions.map((c: PendingCondition) => [c.type, `${c.status} ${c.reason}: ${c.message}`])),
    }));
  const policyMessage = out.status.policies.get('ns/jwt')?.[0]?.conditions.find((c) => c.type === 'Accepted')?.message;
  return { out, conditions, policyMessage };
}

describe('BackendTLSPolicy on a jwks.remote.backendRef Service', () => {
  it('without one: plain http to the Service name, as before', () => {
    const { out } = run([]);
    expect(out.jwksRequests.map((r) => [r.url, r.tls])).toEqual([['http://idp.ns.svc.cluster.local:8443/keys', undefined]]);
  });

  it('caCertificateRefs: https to validation.hostname on the Service port, connecting to the endpoint, trusting the ConfigMap ca.crt', () => {
    const { out, conditions } = run([
      caMap('idp-ca', { 'ca.crt': CA }),
      btls('idp-tls', { hostname: 'idp.example.test', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'idp-ca' }] }),
    ]);
    expect(out.jwksRequests).toEqual([
      {
        url: URL,
        refreshMs: 300_000,
        owners: ['AgentgatewayPolicy/ns/jwt#spec.traffic.jwtAuthentication.providers[0].jwks.remote'],
        connect: { host: 'idp.localhost', port: 9443 },
        tls: { servername: 'idp.example.test', caPem: CA },
      },
    ]);
    expect(conditions('ns/idp-tls')).toEqual([
      {
        ancestor: 'Gateway ns/gw',
        conditions: { Accepted: 'True Accepted: Policy accepted', ResolvedRefs: 'True ResolvedRefs: Resolved all references' },
      },
    ]);
    expect(out.status.backendTlsPolicies.get('ns/idp-tls')?.[0]?.conditions.every((c) => c.observedGeneration === 2)).toBe(true);
  });

  it('wellKnownCACertificates: System: the system store (no CA bundle); subjectAltNames passed on', () => {
    const { out } = run([
      btls('idp-tls', {
        hostname: 'idp.example.test',
        wellKnownCACertificates: 'System',
        subjectAltNames: [{ type: 'URI', uri: 'spiffe://x/idp' }],
      }),
    ]);
    expect(out.jwksRequests[0]?.tls).toEqual({
      servername: 'idp.example.test',
      subjectAltNames: { hostnames: [], uris: ['spiffe://x/idp'] },
    });
  });

  it.each([
    ['a missing ConfigMap', [], 'caCertificateRefs[0]: ConfigMap ns/idp-ca not found'],
    ['a ConfigMap without ca.crt', [caMap('idp-ca', { other: CA })], 'caCertificateRefs[0]: ConfigMap ns/idp-ca has no ca.crt'],
    [
      'a ca.crt that is not PEM',
      [caMap('idp-ca', { 'ca.crt': 'hello' })],
      'caCertificateRefs[0]: ConfigMap ns/idp-ca: ca.crt holds no PEM certificate',
    ],
    [
      'a PEM block that is not a certificate',
      [caMap('idp-ca', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' })],
      'caCertificateRefs[0]: ConfigMap ns/idp-ca: ca.crt: certificate 1 of 1 is not a valid X.509 certificate',
    ],
  ])(
    '%s: ResolvedRefs False InvalidCACertificateRef, Accepted False NoValidCACertificate; no fetch, the provider left out',
    (_n, extra, message) => {
      const { out, conditions, policyMessage } = run([
        ...extra,
        btls('idp-tls', { hostname: 'idp.example.test', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'idp-ca' }] }),
      ]);
      expect(out.jwksRequests).toEqual([]);
      expect(conditions('ns/idp-tls')).toEqual([
        {
          ancestor: 'Gateway ns/gw',
          conditions: {
            Accepted: 'False NoValidCACertificate: No valid CA certificate: every caCertificateRef is invalid',
            ResolvedRefs: `False InvalidCACertificateRef: ${message}`,
          },
        },
      ]);
      expect(policyMessage).toBe(`BackendTLSPolicy ns/idp-tls: ${message}, policy ns/jwt`);
    },
  );

  it('an unsupported kind: InvalidKind; with a valid ref too, still Accepted but connections fail (fail closed)', () => {
    const { out, conditions } = run([
      caMap('idp-ca', { 'ca.crt': CA }),
      btls('idp-tls', {
        hostname: 'idp.example.test',
        caCertificateRefs: [
          { group: '', kind: 'ConfigMap', name: 'idp-ca' },
          { group: '', kind: 'Secret', name: 'idp-ca' },
        ],
      }),
    ]);
    expect(out.jwksRequests).toEqual([]);
    expect(conditions('ns/idp-tls')[0]?.conditions).toEqual({
      Accepted: 'True Accepted: Policy accepted',
      ResolvedRefs: 'False InvalidKind: caCertificateRefs[1]: unsupported kind Secret (only ConfigMap)',
    });
  });

  it("a port's policy (sectionName) wins over the whole Service's; two on the same target: the older wins, the other is Conflicted", () => {
    const sys = { hostname: 'port.example.test', wellKnownCACertificates: 'System' };
    const { out, conditions } = run([
      btls('whole', { hostname: 'whole.example.test', wellKnownCACertificates: 'System' }),
      btls('port-old', sys, 'https', 1),
      btls('port-new', { ...sys, hostname: 'new.example.test' }, 'https', 2),
    ]);
    expect(out.jwksRequests.map((r) => r.url)).toEqual(['https://port.example.test:8443/keys']);
    expect(conditions('ns/whole')).toEqual([]); // not used: no ancestors
    expect(conditions('ns/port-old')[0]?.conditions['Accepted']).toBe('True Accepted: Policy accepted');
    expect(conditions('ns/port-new')[0]?.conditions['Accepted']).toBe(
      'False Conflicted: Service ns/idp is already the target of BackendTLSPolicy ns/port-old (older)',
    );
  });

  it("a key set never fetched: upstream's message, then the last fetch error (a TLS failure said where users look)", () => {
    const error = `fetching jwks from ${URL}: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`;
    const { policyMessage } = run(
      [
        caMap('idp-ca', { 'ca.crt': CA }),
        btls('idp-tls', { hostname: 'idp.example.test', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'idp-ca' }] }),
      ],
      new Map([[URL, error]]),
    );
    expect(policyMessage).toBe(`jwks keyset for "${URL}" isn't available (not yet fetched or fetch failed): last error: ${error}`);
  });

  it('only referenced ConfigMaps reach translate (a policy in another namespace does not see this one)', () => {
    const { out } = run([
      caMap('idp-ca', { 'ca.crt': CA }),
      {
        ...btls('idp-tls', { hostname: 'idp.example.test', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'idp-ca' }] }),
        metadata: { name: 'idp-tls', namespace: 'other' },
      },
    ]);
    expect(out.jwksRequests[0]?.url).toBe('http://idp.ns.svc.cluster.local:8443/keys');
    expect(out.status.backendTlsPolicies.get('other/idp-tls')).toEqual([]);
  });
});
