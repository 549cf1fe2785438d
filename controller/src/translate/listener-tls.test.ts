import { Gateway, ReferenceGrant } from '@agw/api';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTlsSecret } from '../resources/tls-secrets.js';
import { validateListeners } from './listener-tls.js';
import type { TlsSecretCheck } from './model.js';

/** Test-only certificates (controller/testdata/tls/README.md); the checks are those reconcilePass runs. */
const fixture = (f: string) => readFileSync(new URL(`../../testdata/tls/${f}`, import.meta.url), 'utf8');
const tlsSecret = (ns: string, name: string, crt: string, key: string): [string, TlsSecretCheck] => [
  `${ns}/${name}`,
  checkTlsSecret({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns },
    type: 'kubernetes.io/tls',
    data: {},
    stringData: { 'tls.crt': crt, 'tls.key': key },
  }),
];
const crt = fixture('example.crt.pem');
const key = fixture('example.key.pem');
const secrets = new Map([
  tlsSecret('gw-ns', 'good', crt, key),
  tlsSecret('certs', 'remote', crt, key),
  tlsSecret('gw-ns', 'mismatched', crt, fixture('other.key.pem')),
  tlsSecret('gw-ns', 'garbage', 'not a certificate', key),
]);

const gateway = (listeners: unknown[]) =>
  Gateway.parse({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'gw-ns', generation: 1 },
    spec: { gatewayClassName: 'c', listeners },
  });
const https = (refs: unknown[], extra: Record<string, unknown> = {}) => ({
  name: 'https',
  port: 443,
  protocol: 'HTTPS',
  tls: { certificateRefs: refs },
  ...extra,
});
const grant = (from: { kind: string; namespace: string }, to: { name?: string }) =>
  ReferenceGrant.parse({
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: 'g', namespace: 'certs' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', ...from }], to: [{ group: '', kind: 'Secret', ...to }] },
  });

/** `type status reason` of each condition, and the served certificates, of the first listener. */
function judge(listeners: unknown[], grants: ReferenceGrant[] = []) {
  const [v] = validateListeners(gateway(listeners), secrets, grants);
  return {
    conditions: v?.conditions.map((c) => `${c.type} ${c.status} ${c.reason}`),
    served: v?.served === undefined ? undefined : (v.served.certificates?.map((c) => c.name) ?? v.served.protocol),
    messages: v?.conditions.filter((c) => c.status === 'False' || c.type === 'Conflicted').map((c) => c.message),
  };
}
const OK = ['Accepted True Accepted', 'ResolvedRefs True ResolvedRefs'];
const notServed = (resolved: string) => ['Accepted True Accepted', resolved, 'Programmed False Invalid'];

describe('validateListeners: HTTPS', () => {
  it.each([
    ['a valid certificate (mode Terminate by default)', [https([{ name: 'good' }])], [], OK, ['gw-ns/good']],
    [
      'cross-namespace with a ReferenceGrant from Gateways of gw-ns',
      [https([{ name: 'remote', namespace: 'certs' }])],
      [grant({ kind: 'Gateway', namespace: 'gw-ns' }, {})],
      OK,
      ['certs/remote'],
    ],
    [
      'a grant naming the Secret',
      [https([{ name: 'remote', namespace: 'certs' }])],
      [grant({ kind: 'Gateway', namespace: 'gw-ns' }, { name: 'remote' })],
      OK,
      ['certs/remote'],
    ],
    [
      'cross-namespace without a grant',
      [https([{ name: 'remote', namespace: 'certs' }])],
      [],
      notServed('ResolvedRefs False RefNotPermitted'),
      undefined,
    ],
    [
      'a grant for HTTPRoutes only',
      [https([{ name: 'remote', namespace: 'certs' }])],
      [grant({ kind: 'HTTPRoute', namespace: 'gw-ns' }, {})],
      notServed('ResolvedRefs False RefNotPermitted'),
      undefined,
    ],
    [
      'a grant naming another Secret',
      [https([{ name: 'remote', namespace: 'certs' }])],
      [grant({ kind: 'Gateway', namespace: 'gw-ns' }, { name: 'x' })],
      notServed('ResolvedRefs False RefNotPermitted'),
      undefined,
    ],
    ['a missing Secret', [https([{ name: 'absent' }])], [], notServed('ResolvedRefs False InvalidCertificateRef'), undefined],
    ['a key not matching', [https([{ name: 'mismatched' }])], [], notServed('ResolvedRefs False InvalidCertificateRef'), undefined],
    ['garbage PEM', [https([{ name: 'garbage' }])], [], notServed('ResolvedRefs False InvalidCertificateRef'), undefined],
    ['a ConfigMap', [https([{ kind: 'ConfigMap', name: 'good' }])], [], notServed('ResolvedRefs False InvalidCertificateRef'), undefined],
    [
      'another group',
      [https([{ group: 'example.com', kind: 'Secret', name: 'good' }])],
      [],
      notServed('ResolvedRefs False InvalidCertificateRef'),
      undefined,
    ],
    [
      'no certificateRefs',
      [{ name: 'https', port: 443, protocol: 'HTTPS' }],
      [],
      notServed('ResolvedRefs False InvalidCertificateRef'),
      undefined,
    ],
    [
      'one good ref among bad ones: served with it, ResolvedRefs False',
      [https([{ name: 'absent' }, { name: 'good' }, { name: 'good' }])],
      [],
      ['Accepted True Accepted', 'ResolvedRefs False InvalidCertificateRef'],
      ['gw-ns/good'],
    ],
  ])('%s', (_what, listeners, grants, conditions, served) => {
    const j = judge(listeners, grants);
    expect([j.conditions, j.served]).toEqual([conditions, served]);
  });

  it('says which Secret and what is wrong, never key material', () => {
    const { messages } = judge([https([{ name: 'mismatched' }, { name: 'absent' }, { name: 'remote', namespace: 'certs' }])]);
    expect(messages).toEqual([
      'tls.certificateRefs[0]: Secret gw-ns/mismatched: tls.key does not match the certificate of tls.crt (the first one, the leaf); ' +
        'tls.certificateRefs[1]: Secret gw-ns/absent not found (only Secrets of type kubernetes.io/tls are read); ' +
        'tls.certificateRefs[2]: Secret certs/remote is in another namespace and no ReferenceGrant in certs allows Gateways of gw-ns to refer to it',
      'listener https is not served: no valid certificate (see its other conditions)',
    ]);
  });

  it("Passthrough is Accepted=False UnsupportedValue (it is protocol TLS's mode); TLS and TCP stay UnsupportedProtocol", () => {
    expect(judge([https([{ name: 'good' }], { tls: { mode: 'Passthrough' } })])).toEqual({
      conditions: ['Accepted False UnsupportedValue', 'ResolvedRefs True ResolvedRefs', 'Programmed False Invalid'],
      served: undefined,
      messages: [
        'tls.mode Passthrough is not supported for protocol HTTPS: Passthrough is the mode of protocol TLS (TLSRoute, not served here); HTTPS terminates TLS (mode Terminate)',
        'listener https is not served: tls.mode Passthrough (see its other conditions)',
      ],
    });
    for (const protocol of ['TLS', 'TCP', 'UDP'])
      expect(judge([{ name: 'l', port: 1, protocol }]).conditions).toEqual([
        'Accepted False UnsupportedProtocol',
        'ResolvedRefs True ResolvedRefs',
        'Programmed False Invalid',
      ]);
  });

  it('HTTP and HTTPS on one port: Conflicted=True ProtocolConflict on both, neither served; other ports unaffected', () => {
    const v = validateListeners(
      gateway([
        { name: 'plain', port: 8080, protocol: 'HTTP' },
        https([{ name: 'good' }], { name: 'secure', port: 8080 }),
        https([{ name: 'good' }], { name: 'a', port: 443, hostname: 'a.example.test' }),
        https([{ name: 'good' }], { name: 'b', port: 443, hostname: 'b.example.test' }),
      ]),
      secrets,
      [],
    );
    expect(
      v.map((x) => [x.listener.name, x.served?.protocol ?? x.problem, x.conditions.find((c) => c.type === 'Conflicted')?.reason]),
    ).toEqual([
      ['plain', 'protocol conflict on port 8080', 'ProtocolConflict'],
      ['secure', 'protocol conflict on port 8080', 'ProtocolConflict'],
      ['a', 'HTTPS', undefined],
      ['b', 'HTTPS', undefined],
    ]);
  });
});
