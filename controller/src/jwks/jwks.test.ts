import type { Jwk } from '@agw/api';
import { generateSigningKey, startJwksServer, type JwksServer } from '@agw/test-kit';
import { createServer, type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryDelayMs } from '../backoff.js';
import { fetchJwks, guardedLookup, type ResolveAll } from './fetch-jwks.js';
import { JwksCache, REFETCH_MIN_INTERVAL_MS } from './jwks-cache.js';

describe('retry backoff', () => {
  it.each([
    [0, 100, 200],
    [1, 200, 400],
    [2, 400, 800],
    [6, 6400, 12800],
    [7, 7500, 15000],
    [50, 7500, 15000],
    [10_000, 7500, 15000],
  ])('attempt %i waits between %i and %i ms', (attempt, lo, hi) => {
    expect(retryDelayMs(attempt, () => 0)).toBe(lo);
    expect(retryDelayMs(attempt, () => 0.999999)).toBe(hi);
  });
});

describe('fetchJwks against a real HTTP server', () => {
  let idp: JwksServer;
  let key: Jwk;
  beforeAll(async () => {
    key = (await generateSigningKey('RS256', 'k1')).jwk as Jwk;
    idp = await startJwksServer([key as never]);
  });
  afterAll(async () => {
    await idp.close();
  });

  it('200 with a JWKS: the keys', async () => {
    expect(await fetchJwks({ url: idp.url })).toEqual({ ok: true, keys: [key], notes: [] });
  });

  it('connects to the resolved endpoint but keeps the canonical URL path and Host', async () => {
    const r = await fetchJwks({
      url: 'http://keycloak.keycloak.svc.cluster.local:8080/keys',
      connect: { host: '127.0.0.1', port: idp.port },
    });
    expect(r.ok).toBe(true);
  });

  it('drops private parameters a careless IdP publishes', async () => {
    idp.setKeys([{ ...key, d: 'private' } as never]);
    const r = await fetchJwks({ url: idp.url });
    expect(r.ok && r.keys[0]).not.toHaveProperty('d');
    idp.setKeys([key as never]);
  });

  it.each([
    ['503', () => idp.failWith(503), `unexpected status code from jwks endpoint at URL: 503`],
    ['not JSON', () => idp.serveRaw('<html>'), 'invalid jwks from URL: not JSON'],
    ['no keys array', () => idp.serveRaw('{"keys":{}}'), 'invalid jwks from URL: no "keys" array'],
    ['key without kty', () => idp.serveRaw('{"keys":[{"kid":"x"}]}'), 'invalid jwks from URL: key 0 has no "kty"'],
    [
      'a symmetric key',
      () => idp.serveRaw('{"keys":[{"kty":"RSA","kid":"a","n":"x","e":"AQAB"},{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}'),
      'invalid jwks from URL: key 1: symmetric (oct) keys are not accepted',
    ],
    [
      'an unknown key type',
      () => idp.serveRaw('{"keys":[{"kty":"RSB","kid":"x"}]}'),
      'invalid jwks from URL: key 0: unsupported kty "RSB"',
    ],
  ])('%s is a failure with a precise message', async (_n, arrange, message) => {
    arrange();
    const r = await fetchJwks({ url: idp.url });
    idp.failWith(undefined);
    idp.serveRaw(undefined);
    expect(r).toEqual({ ok: false, error: message.replace('URL', idp.url) });
  });

  it('a body over the size cap is refused', async () => {
    idp.serveRaw(JSON.stringify({ keys: [{ kty: 'RSA', pad: 'x'.repeat(2000) }] }));
    const r = await fetchJwks({ url: idp.url }, { connectTimeoutMs: 1000, totalTimeoutMs: 2000, maxBytes: 1000 });
    idp.serveRaw(undefined);
    expect(r).toEqual({ ok: false, error: `jwks response from ${idp.url} exceeds 1000 bytes` });
  });

  it('a server that never answers times out', async () => {
    const silent: Server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/keys`;
    const r = await fetchJwks({ url }, { connectTimeoutMs: 1000, totalTimeoutMs: 300, maxBytes: 1000 });
    silent.closeAllConnections();
    silent.close();
    expect(r).toEqual({ ok: false, error: `fetching jwks from ${url}: timed out after 300 ms` });
  });

  // Refused before a request exists: a refusal from the lookup hook or a failed connect would
  // read `fetching jwks from URL: ...`; this bare message only comes from the literal check.
  it.each([
    [{ url: 'http://169.254.169.254/latest/keys' }, 'address 169.254.169.254 is blocked (link-local or metadata service)'],
    [
      { url: 'http://[::ffff:169.254.169.254]/jwks' },
      'address ::ffff:a9fe:a9fe (169.254.169.254) is blocked (link-local or metadata service)',
    ],
    [
      { url: 'http://[64:ff9b::169.254.169.254]/jwks' },
      'address 64:ff9b::a9fe:a9fe (169.254.169.254) is blocked (link-local or metadata service)',
    ],
    [{ url: 'http://2852039166/jwks' }, 'address 169.254.169.254 is blocked (link-local or metadata service)'],
    [{ url: 'http://0.0.0.0:1/jwks' }, 'address 0.0.0.0 is blocked (unspecified address)'],
    [{ url: 'http://[::]:1/jwks' }, 'address :: is blocked (unspecified address)'],
    [
      { url: 'http://idp.svc/jwks', connect: { host: '0xa9fea9fe', port: 80 } },
      'address 0xa9fea9fe (169.254.169.254) is blocked (link-local or metadata service)',
    ],
    [
      { url: 'http://idp.svc/jwks', connect: { host: 'fe80::1%eth0', port: 80 } },
      'address fe80::1%eth0 is blocked (link-local or metadata service)',
    ],
  ])('%j is refused without connecting', async (target, error) => {
    expect(await fetchJwks(target)).toEqual({ ok: false, error });
  });

  it.each([
    ['a decimal URL host', () => `http://2130706433:${idp.port}/keys`, undefined],
    // not an IP to Node: resolved by getaddrinfo (inet_aton, no DNS query) through the hook
    ['a hex host through the lookup hook', () => 'http://idp.svc/keys', { host: '0x7f000001', port: 0 }],
  ])('loopback stays allowed: %s', async (_n, url, connect) => {
    const target = connect ? { url: url(), connect: { ...connect, port: idp.port } } : { url: url() };
    expect(await fetchJwks(target)).toEqual({ ok: true, keys: [key], notes: [] });
  });
});

describe('guardedLookup: the decision is on every address the connection may dial', () => {
  const answer =
    (addresses: LookupAddress[]): ResolveAll =>
    (_h, options, cb) => {
      expect(options.all).toBe(true);
      cb(null, addresses);
    };
  const call = (resolve: ResolveAll, all: boolean) =>
    new Promise<{ err: Error | null; address: unknown; family: number | undefined }>((r) => {
      guardedLookup(resolve)('idp.svc', { all }, (err, address, family) => r({ err, address, family }));
    });
  const v4 = (address: string) => ({ address, family: 4 });
  const v6 = (address: string) => ({ address, family: 6 });

  it.each([false, true])('all: %s gets its own shape back', async (all) => {
    const got = await call(answer([v4('10.0.0.7'), v6('fd12::7')]), all);
    expect(got).toEqual(
      all ? { err: null, address: [v4('10.0.0.7'), v6('fd12::7')], family: undefined } : { err: null, address: '10.0.0.7', family: 4 },
    );
  });

  it.each([
    [[v4('10.0.0.7'), v6('::ffff:a9fe:a9fe')], 'address ::ffff:a9fe:a9fe (169.254.169.254) is blocked (link-local or metadata service)'],
    [[v6('fd00:ec2::254'), v4('10.0.0.7')], 'address fd00:ec2::254 is blocked (link-local or metadata service)'],
    [[v4('10.0.0.7'), v4('not-an-address')], 'address not-an-address is blocked (not an IP address)'],
    [[], 'no address for idp.svc'],
  ])('%j is refused whole, in both shapes', async (addresses, message) => {
    for (const all of [false, true]) expect((await call(answer(addresses), all)).err?.message).toBe(message);
  });

  it('passes a resolver error through', async () => {
    const failing: ResolveAll = (_h, _o, cb) => {
      cb(Object.assign(new Error('getaddrinfo ENOTFOUND idp.svc'), { code: 'ENOTFOUND' }), []);
    };
    expect((await call(failing, true)).err?.message).toBe('getaddrinfo ENOTFOUND idp.svc');
  });

  it.each([
    ['127.0.0.1', true, '127.0.0.1'],
    ['169.254.169.254', false, 'address 169.254.169.254 is blocked (link-local or metadata service)'],
  ])('with the real dns.lookup (numeric, no DNS query): %s allowed: %s', async (host, allowed, detail) => {
    const got = await new Promise<{ err: Error | null; address: unknown }>((r) => {
      guardedLookup()(host, { all: true }, (err, address) => r({ err, address }));
    });
    expect(allowed ? got.address : got.err?.message).toEqual(allowed ? [v4(detail)] : detail);
  });
});

describe('JwksCache with a real JWKS server', () => {
  let idp: JwksServer;
  let k1: Jwk, k2: Jwk;
  let clock = 1_000_000;
  const changes: string[] = [];
  const cache = () =>
    new JwksCache({
      fetch: (t) => fetchJwks(t),
      now: () => clock,
      random: () => 0,
      setTimer: (fn, ms) => setTimeout(fn, Math.min(ms, 60_000)),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onChange: (url) => changes.push(url),
    });
  const until = async (p: () => boolean) => {
    for (let i = 0; i < 200 && !p(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(p()).toBe(true);
  };

  beforeAll(async () => {
    k1 = (await generateSigningKey('RS256', 'k1')).jwk as Jwk;
    k2 = (await generateSigningKey('RS256', 'k2')).jwk as Jwk;
    idp = await startJwksServer([k1 as never]);
  });
  afterAll(async () => {
    await idp.close();
  });

  it('fetches once per URL, keeps stale keys through an outage, and recovers', async () => {
    const c = cache();
    c.sync([{ url: idp.url, refreshMs: 50, owners: ['a', 'b'] }]);
    await until(() => c.keys().get(idp.url) !== undefined);
    expect(changes).toEqual([idp.url]);
    idp.failWith(503);
    await until(() => c.entriesView()[0]?.lastError !== undefined);
    expect(
      c
        .keys()
        .get(idp.url)
        ?.keys.map((k) => k.kid),
    ).toEqual(['k1']);
    expect(c.entriesView()[0]?.lastError).toBe(`unexpected status code from jwks endpoint at ${idp.url}: 503`);
    idp.failWith(undefined);
    await until(() => c.entriesView()[0]?.lastError === undefined);
    expect(c.entriesView()[0]?.consecutiveFailures).toBe(0);
    c.stop();
  });

  it('refetch on unknown kid: single-flight, at most once per 30 s per URL, negative cache', async () => {
    idp.setKeys([k1 as never]);
    const c = cache();
    c.sync([{ url: idp.url, refreshMs: 3_600_000, owners: ['a'] }]);
    await until(() => c.keys().get(idp.url) !== undefined);
    idp.setKeys([k1 as never, k2 as never]); // the IdP rotates
    const before = idp.hits.get('/keys') ?? 0;
    const flood = await Promise.all(Array.from({ length: 50 }, () => c.refetch(idp.url, 'k2')));
    expect(flood.every((o) => o === 'fetched')).toBe(true);
    expect((idp.hits.get('/keys') ?? 0) - before).toBe(1);
    expect(
      c
        .keys()
        .get(idp.url)
        ?.keys.map((k) => k.kid),
    ).toEqual(['k1', 'k2']);
    // A kid the IdP does not have: one fetch, then the negative cache and the rate limit answer.
    clock += REFETCH_MIN_INTERVAL_MS;
    expect(await c.refetch(idp.url, 'ghost')).toBe('fetched');
    expect(await c.refetch(idp.url, 'ghost')).toBe('known_unknown');
    expect(await c.refetch(idp.url, 'other-ghost')).toBe('rate_limited');
    expect(await c.refetch('http://unknown/keys', 'x')).toBe('unknown_url');
    expect((idp.hits.get('/keys') ?? 0) - before).toBe(2);
    c.stop();
  });

  it('a fresh persisted key set delays the first fetch; a URL no longer requested is dropped', async () => {
    const c = cache();
    c.seed(idp.url, [k1], clock - 1000);
    const before = idp.hits.get('/keys') ?? 0;
    c.sync([{ url: idp.url, refreshMs: 3_600_000, owners: ['a'] }]);
    await new Promise((r) => setTimeout(r, 100));
    expect(idp.hits.get('/keys') ?? 0).toBe(before);
    expect(
      c
        .keys()
        .get(idp.url)
        ?.keys.map((k) => k.kid),
    ).toEqual(['k1']);
    c.sync([]);
    expect(c.keys().size).toBe(0);
    c.stop();
  });
});
