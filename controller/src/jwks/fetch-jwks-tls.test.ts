import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TestCertificates } from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJwks, type FetchTarget, type FetchTls } from './fetch-jwks.js';
import { JwksCache } from './jwks-cache.js';

/**
 * JWKS over TLS with a private CA (BackendTLSPolicy): a real https server on 127.0.0.1 whose
 * certificate a private CA made by openssl signed; the fetcher connects to the endpoint and
 * verifies against the CA bundle, with the policy's hostname as SNI and as the name checked.
 */
const HOST = 'idp.private.test';
const JWK = {
  kty: 'EC',
  crv: 'P-256',
  kid: 'k1',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};
const certs = new TestCertificates();
let server: Server;
let port = 0;
let ca = '';
let otherCa = '';
let sni: string | undefined;

beforeAll(async () => {
  ca = certs.ca('ca').cert;
  otherCa = certs.ca('other-ca').cert;
  // A leaf for HOST (and a SPIFFE URI), signed by `ca`.
  const leaf = certs.leaf('leaf', 'ca', HOST, [`DNS:${HOST}`, 'URI:spiffe://private.test/idp']);
  server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    sni = (req.socket as { servername?: string }).servername;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [JWK] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
}, 30_000);

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(certs.dir, { recursive: true, force: true });
});

const fetchWith = (tls: FetchTls, host = HOST) => fetchJwks({ url: `https://${host}:443/keys`, connect: { host: '127.0.0.1', port }, tls });

describe('fetchJwks over TLS with a private CA', () => {
  it('the right CA: the keys, with the hostname as SNI', async () => {
    const r = await fetchWith({ servername: HOST, caPem: ca });
    expect(r).toMatchObject({ ok: true, keys: [{ kid: 'k1' }] });
    expect(sni).toBe(HOST);
  });

  it('a bundle of two CAs (the right one second) is enough', async () => {
    expect((await fetchWith({ servername: HOST, caPem: `${otherCa}\n${ca}` })).ok).toBe(true);
  });

  it.each([
    [
      'another CA',
      { servername: HOST, caPem: 'other' },
      HOST,
      /: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/,
    ],
    ['the system store (private CA unknown to it)', { servername: HOST }, HOST, /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/],
    [
      'a hostname the certificate does not name',
      { servername: 'other.private.test', caPem: 'ca' },
      'other.private.test',
      /: Hostname\/IP does not match certificate's altnames: Host: other\.private\.test\. is not in the cert's altnames: DNS:idp\.private\.test, URI:spiffe:\/\/private\.test\/idp \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
    [
      'subjectAltNames the certificate does not carry',
      { servername: HOST, caPem: 'ca', subjectAltNames: { hostnames: ['nope.private.test'], uris: ['spiffe://private.test/other'] } },
      HOST,
      /match none of the subjectAltNames: nope\.private\.test, spiffe:\/\/private\.test\/other \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    ],
  ] as const)('%s: refused, and the message says why', async (_name, tls, host, message) => {
    // The table is built before the CAs exist: names stand for them.
    const caPem = 'caPem' in tls ? (tls.caPem === 'ca' ? ca : otherCa) : undefined;
    const r = await fetchWith({ ...tls, ...(caPem !== undefined ? { caPem } : {}) }, host);
    expect(r.ok).toBe(false);
    const error = (r as { error: string }).error;
    expect(error.startsWith(`fetching jwks from https://${host}:443/keys: `)).toBe(true);
    expect(error).toMatch(message);
  });

  it.each([
    ['a DNS name (the hostname is then not used)', { hostnames: ['idp.private.test'], uris: [] }],
    ['a URI', { hostnames: [], uris: ['spiffe://private.test/idp'] }],
  ])('subjectAltNames matching %s: accepted', async (_name, subjectAltNames) => {
    expect((await fetchWith({ servername: 'sni-only.private.test', caPem: ca, subjectAltNames }, 'sni-only.private.test')).ok).toBe(true);
  });

  it('insecureSkipVerify Hostname (backend.tls): a name mismatch passes, an unknown CA does not', async () => {
    const mismatch = await fetchWith({ servername: 'other.private.test', caPem: ca, insecureSkipVerify: 'Hostname' }, 'other.private.test');
    expect(mismatch).toMatchObject({ ok: true, keys: [{ kid: 'k1' }] });
    const unknownCa = await fetchWith({ servername: HOST, caPem: otherCa, insecureSkipVerify: 'Hostname' });
    expect(unknownCa.ok).toBe(false);
    expect((unknownCa as { error: string }).error).toMatch(/\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
  });

  it('insecureSkipVerify All (backend.tls): neither the CA nor the name is verified', async () => {
    const r = await fetchWith({ servername: 'other.private.test', insecureSkipVerify: 'All' }, 'other.private.test');
    expect(r).toMatchObject({ ok: true, keys: [{ kid: 'k1' }] });
    expect(sni).toBe('other.private.test');
  });

  it('the SSRF guard still applies to the endpoint dialed', async () => {
    const r = await fetchJwks({
      url: `https://${HOST}/keys`,
      connect: { host: '169.254.169.254', port: 443 },
      tls: { servername: HOST, caPem: ca },
    });
    expect(r).toMatchObject({ ok: false });
    expect((r as { error: string }).error).toMatch(/link-local or metadata service/);
  });
});

describe('JwksCache and TLS settings', () => {
  const until = async (p: () => boolean) => {
    for (let i = 0; i < 200 && !p(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(p()).toBe(true);
  };
  const cache = (fetch: (t: FetchTarget) => ReturnType<typeof fetchJwks>) =>
    new JwksCache({
      fetch,
      now: () => 1_000_000,
      random: () => 0,
      setTimer: (fn, ms) => setTimeout(fn, Math.min(ms, 60_000)),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onChange: () => undefined,
    });
  const url = `https://${HOST}:443/keys`;

  it('passes the TLS settings to the fetch; new ones (another CA) are fetched at once, the last good keys serving meanwhile', async () => {
    const seen: Array<FetchTls | undefined> = [];
    const c = cache((t) => {
      seen.push(t.tls);
      return fetchJwks({ ...t, connect: { host: '127.0.0.1', port } });
    });
    c.sync([{ url, refreshMs: 3_600_000, owners: ['a'], tls: { servername: HOST, caPem: ca } }]);
    await until(() => c.keys().get(url) !== undefined);
    c.sync([{ url, refreshMs: 3_600_000, owners: ['a'], tls: { servername: HOST, caPem: otherCa } }]);
    await until(() => c.keys().get(url)?.stale !== undefined);
    expect(seen.map((t) => t?.caPem === ca)).toEqual([true, false]);
    expect(c.keys().get(url)?.stale?.lastError).toMatch(/\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
    expect(c.errors().size).toBe(0); // it has keys: stale, not unavailable
    c.stop();
  });

  it('errors(): the last error of a URL never fetched successfully', async () => {
    const c = cache((t) => fetchJwks({ ...t, connect: { host: '127.0.0.1', port } }));
    c.sync([{ url, refreshMs: 3_600_000, owners: ['a'], tls: { servername: HOST, caPem: otherCa } }]);
    await until(() => c.errors().has(url));
    expect(c.errors().get(url)).toBe(`fetching jwks from ${url}: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
    c.stop();
  });
});
