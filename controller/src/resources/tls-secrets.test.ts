import type { Gateway, Secret } from '@agw/api';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTlsSecret, referencedTlsSecrets } from './tls-secrets.js';

/** Fixtures: test-only self-signed certificates (controller/testdata/tls/README.md). */
const fixture = (f: string) => readFileSync(new URL(`../../testdata/tls/${f}`, import.meta.url), 'utf8');
const crt = fixture('example.crt.pem');
const key = fixture('example.key.pem');
const otherKey = fixture('other.key.pem');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const secret = (o: {
  name?: string;
  ns?: string;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: o.name ?? 's', namespace: o.ns ?? 'n' },
  type: o.type ?? 'kubernetes.io/tls',
  data: o.data ?? {},
  ...(o.stringData ? { stringData: o.stringData } : {}),
});

const problemOf = (s: Secret) => {
  const c = checkTlsSecret(s);
  return c.ok ? 'ok' : c.problem;
};

describe('checkTlsSecret', () => {
  it('accepts a certificate and its key, from base64 data or stringData, and keeps the PEM as given', () => {
    expect(checkTlsSecret(secret({ data: { 'tls.crt': b64(crt), 'tls.key': b64(key) } }))).toEqual({
      ok: true,
      certChainPem: crt,
      privateKeyPem: key,
    });
    expect(checkTlsSecret(secret({ stringData: { 'tls.crt': crt, 'tls.key': key } }))).toEqual({
      ok: true,
      certChainPem: crt,
      privateKeyPem: key,
    });
    // stringData wins over data per key (as when the API server stores it).
    expect(problemOf(secret({ data: { 'tls.crt': b64(crt), 'tls.key': b64(otherKey) }, stringData: { 'tls.key': key } }))).toBe('ok');
  });

  it.each([
    ['no tls.crt', { stringData: { 'tls.key': key } }, 'Secret n/s has no tls.crt'],
    ['no tls.key', { stringData: { 'tls.crt': crt } }, 'Secret n/s has no tls.key'],
    ['empty tls.key', { stringData: { 'tls.crt': crt, 'tls.key': '  ' } }, 'Secret n/s has no tls.key'],
    ['data not base64', { data: { 'tls.crt': '%%%', 'tls.key': b64(key) } }, 'Secret n/s: data.tls.crt is not valid base64'],
    ['garbage certificate', { stringData: { 'tls.crt': 'hello', 'tls.key': key } }, 'Secret n/s: tls.crt holds no PEM certificate'],
    [
      'a PEM block that is no certificate',
      { stringData: { 'tls.crt': '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n', 'tls.key': key } },
      'Secret n/s: tls.crt: certificate 1 of 1 is not a valid X.509 certificate',
    ],
    [
      'garbage key',
      { stringData: { 'tls.crt': crt, 'tls.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' } },
      'Secret n/s: tls.key is not a valid PEM private key',
    ],
    [
      'a key of another certificate',
      { stringData: { 'tls.crt': crt, 'tls.key': otherKey } },
      'Secret n/s: tls.key does not match the certificate of tls.crt (the first one, the leaf)',
    ],
  ])('%s', (_what, o, problem) => {
    expect(problemOf(secret(o))).toBe(problem);
  });

  it('refuses a freshly generated key that does not match, and an encrypted key, without quoting either', () => {
    const fresh = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const encrypted = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pw',
    }) as string;
    const mismatch = problemOf(secret({ stringData: { 'tls.crt': crt, 'tls.key': fresh } }));
    const enc = problemOf(secret({ stringData: { 'tls.crt': crt, 'tls.key': encrypted } }));
    expect([mismatch, enc]).toEqual([
      'Secret n/s: tls.key does not match the certificate of tls.crt (the first one, the leaf)',
      'Secret n/s: tls.key is encrypted (a passphrase-protected key is not supported)',
    ]);
    for (const p of [mismatch, enc]) expect(p).not.toMatch(/BEGIN|[A-Za-z0-9+/]{40}/);
  });
});

describe('referencedTlsSecrets', () => {
  const gw = (refs: Array<Record<string, string>>): Gateway =>
    ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: 'n' },
      spec: {
        gatewayClassName: 'c',
        listeners: [
          {
            name: 'https',
            port: 443,
            protocol: 'HTTPS',
            allowedRoutes: { namespaces: { from: 'Same' } },
            tls: { mode: 'Terminate', certificateRefs: refs.map((r) => ({ group: '', kind: 'Secret', ...r })) },
          },
        ],
      },
    }) as Gateway;
  const ok = { 'tls.crt': crt, 'tls.key': key };

  it("keeps only kubernetes.io/tls Secrets that a listener names (namespace default: the Gateway's), checked", () => {
    const out = referencedTlsSecrets(
      [gw([{ name: 'a' }, { name: 'b', namespace: 'other' }, { name: 'opaque' }, { name: 'cm', kind: 'ConfigMap' }])],
      [
        secret({ name: 'a', stringData: ok }),
        secret({ name: 'b', ns: 'other', stringData: { 'tls.crt': crt } }),
        secret({ name: 'unreferenced', stringData: ok }),
        secret({ name: 'opaque', type: 'Opaque', stringData: ok }),
        secret({ name: 'cm', stringData: ok }),
      ],
    );
    expect([...out.keys()]).toEqual(['n/a', 'other/b']);
    expect(out.get('n/a')?.ok).toBe(true);
    expect(out.get('other/b')).toEqual({ ok: false, problem: 'Secret other/b has no tls.key' });
  });
});
