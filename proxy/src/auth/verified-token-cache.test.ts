import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VerifiedTokenCache } from './verified-token-cache.js';

const NOW = 2_000_000_000; // frozen clock, seconds
const UNTIL = NOW + 3600;
const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A cache of `bound` entries holding `k0 … k{bound-1}` (value = key), inserted in that order. */
function full(bound: number): VerifiedTokenCache<string> {
  const c = new VerifiedTokenCache<string>(bound);
  for (const k of keys(bound)) c.set(k, k, UNTIL);
  return c;
}
/** Which of `ks` are still cached (reads them, which makes them the most recently used: call last). */
const present = (c: VerifiedTokenCache<string>, ks: readonly string[]) => ks.filter((k) => c.get(k, NOW) !== undefined);

describe('VerifiedTokenCache: keys', () => {
  it('keyOf is the base64url SHA-256 of the token, never the token', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    const key = VerifiedTokenCache.keyOf(token);
    expect(key).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(key).toHaveLength(43);
    expect(key).not.toContain('eyJ');
  });
});

describe('VerifiedTokenCache: expiry and counts', () => {
  it('serves an entry up to validUntilSec inclusive, then misses and drops it', () => {
    const c = new VerifiedTokenCache<string>(10);
    c.set('a', 'A', NOW + 10);
    expect(c.get('a', NOW)).toBe('A');
    expect(c.get('a', NOW + 10)).toBe('A');
    expect(c.get('a', NOW + 11)).toBeUndefined();
    expect(c.size).toBe(0);
    expect([c.hits, c.misses]).toEqual([2, 1]);
  });

  it('an unknown key is a miss', () => {
    const c = new VerifiedTokenCache<string>(10);
    expect(c.get('nope', NOW)).toBeUndefined();
    expect([c.hits, c.misses]).toEqual([0, 1]);
  });

  it('set on a cached key replaces its value and validity without evicting anything', () => {
    const c = full(3);
    c.set('k1', 'new', NOW + 5);
    expect(c.size).toBe(3);
    expect(c.get('k1', NOW)).toBe('new');
    expect(c.get('k1', NOW + 6)).toBeUndefined();
    expect(present(c, ['k0', 'k2'])).toEqual(['k0', 'k2']);
  });

  it.each([0, -1])('maxEntries %i disables the cache', (bound) => {
    const c = new VerifiedTokenCache<string>(bound);
    c.set('a', 'A', UNTIL);
    expect(c.size).toBe(0);
    expect(c.get('a', NOW)).toBeUndefined();
  });
});

describe('VerifiedTokenCache: bound and eviction (LRU)', () => {
  it.each([1, 2, 5, 100])('never holds more than its bound of %i, and keeps the newest insert', (bound) => {
    const c = new VerifiedTokenCache<string>(bound);
    for (const k of keys(bound * 3 + 1)) {
      c.set(k, k, UNTIL);
      expect(c.size).toBeLessThanOrEqual(bound);
      expect(c.get(k, NOW)).toBe(k);
    }
    expect(c.size).toBe(bound);
  });

  it('without hits, the oldest entry goes first', () => {
    const c = full(4);
    c.set('n0', 'n0', UNTIL);
    c.set('n1', 'n1', UNTIL);
    expect(present(c, [...keys(4), 'n0', 'n1'])).toEqual(['k2', 'k3', 'n0', 'n1']);
  });

  it('a hit makes an entry the most recently used: the least recently used goes', () => {
    const c = full(4);
    c.get('k0', NOW); // order, least recent first: k1 k2 k3 k0
    c.get('k2', NOW); // k1 k3 k0 k2
    c.set('n0', 'n0', UNTIL); // k1 goes
    c.set('n1', 'n1', UNTIL); // k3 goes
    c.set('n2', 'n2', UNTIL); // k0 goes
    expect(present(c, [...keys(4), 'n0', 'n1', 'n2'])).toEqual(['k2', 'n0', 'n1', 'n2']);
  });

  it.each([1, 2, 3, 4, 5])('hits on the newest, the oldest and a middle entry keep the order exact (%i inserts after)', (inserts) => {
    const c = full(5);
    c.get('k4', NOW); // already the newest: k0 k1 k2 k3 k4
    c.get('k0', NOW); // the oldest:         k1 k2 k3 k4 k0
    c.get('k3', NOW); // a middle one:       k1 k2 k4 k0 k3
    for (const k of keys(inserts, 'n')) c.set(k, k, UNTIL);
    expect(present(c, keys(5))).toEqual(['k1', 'k2', 'k4', 'k0', 'k3'].slice(inserts).sort());
  });

  it('set on a cached key makes it the most recently used', () => {
    const c = full(3);
    c.set('k0', 'again', UNTIL); // k1 k2 k0
    c.set('n0', 'n0', UNTIL); // k1 goes
    expect(present(c, ['k0', 'k1', 'k2', 'n0'])).toEqual(['k0', 'k2', 'n0']);
  });

  it('a token in use survives a stream of one-time tokens many times the bound', () => {
    const c = full(100);
    for (const k of keys(2_000, 'once')) {
      c.set(k, k, UNTIL);
      expect(c.get('k50', NOW)).toBe('k50');
    }
    expect(c.size).toBe(100);
  });

  it('an expired entry is dropped on lookup, frees its place, and its key can be cached again', () => {
    const c = new VerifiedTokenCache<string>(2);
    c.set('a', 'A', NOW + 1);
    c.set('b', 'B', UNTIL);
    expect(c.get('a', NOW + 2)).toBeUndefined();
    expect(c.size).toBe(1);
    c.set('c', 'C', UNTIL); // room left by a: nothing evicted
    expect(present(c, ['b', 'c'])).toEqual(['b', 'c']);
    c.set('a', 'A2', UNTIL); // b is now the least recently used
    expect(present(c, ['a', 'b', 'c'])).toEqual(['a', 'c']);
  });

  it('the newest and the oldest entry can expire and be dropped without breaking the order', () => {
    const c = new VerifiedTokenCache<string>(3);
    c.set('old', 'o', NOW + 1);
    c.set('mid', 'm', UNTIL);
    c.set('new', 'n', NOW + 1);
    expect(c.get('new', NOW + 2)).toBeUndefined();
    expect(c.get('old', NOW + 2)).toBeUndefined();
    c.set('x', 'x', UNTIL);
    c.set('y', 'y', UNTIL);
    c.set('z', 'z', UNTIL); // mid is the least recently used
    expect(present(c, ['mid', 'x', 'y', 'z'])).toEqual(['x', 'y', 'z']);
  });
});

describe('VerifiedTokenCache: each connection remembers its last token', () => {
  it('a remembered token is a hit (counted) until validUntilSec; another token or connection is not', () => {
    const c = new VerifiedTokenCache<string>(10);
    const [a, b] = [{}, {}];
    c.set('ka', 'A', NOW + 10, a, 'token-a');
    expect(c.getRemembered(a, 'token-a', NOW)).toBe('A');
    expect(c.getRemembered(a, 'token-a', NOW + 10)).toBe('A');
    expect(c.getRemembered(a, 'token-b', NOW)).toBeUndefined();
    expect(c.getRemembered(a, 'tokem-a', NOW)).toBeUndefined(); // the same last character, not the same token
    expect(c.getRemembered(a, 'token-a ', NOW)).toBeUndefined();
    expect(c.getRemembered(b, 'token-a', NOW)).toBeUndefined();
    expect(c.getRemembered(undefined, 'token-a', NOW)).toBeUndefined();
    expect(c.hits).toBe(2);
    expect(c.getRemembered(a, 'token-a', NOW + 11)).toBeUndefined();
    // Forgotten once expired, even if asked again at an earlier time.
    expect(c.getRemembered(a, 'token-a', NOW)).toBeUndefined();
  });

  it('a hashed hit remembers the connection; the latest token of a connection replaces the one before', () => {
    const c = new VerifiedTokenCache<string>(10);
    const conn = {};
    c.set('ka', 'A', UNTIL);
    c.set('kb', 'B', UNTIL);
    expect(c.getRemembered(conn, 'token-a', NOW)).toBeUndefined();
    expect(c.get('ka', NOW, conn, 'token-a')).toBe('A');
    expect(c.getRemembered(conn, 'token-a', NOW)).toBe('A');
    expect(c.get('kb', NOW, conn, 'token-b')).toBe('B');
    expect(c.getRemembered(conn, 'token-b', NOW)).toBe('B');
    expect(c.getRemembered(conn, 'token-a', NOW)).toBeUndefined();
  });

  it('a remembered hit makes the entry the most recently used, as a hashed hit does', () => {
    const c = full(3); // k0 oldest … k2 newest
    const conn = {};
    expect(c.get('k0', NOW, conn, 'token-0')).toBe('k0'); // k1 is now the oldest
    c.get('k1', NOW);
    c.get('k2', NOW); // order: k0, k1, k2 (k0 oldest)
    expect(c.getRemembered(conn, 'token-0', NOW)).toBe('k0'); // k0 newest again
    c.set('k3', 'k3', UNTIL); // evicts the oldest: k1
    expect(present(c, ['k0', 'k1', 'k2', 'k3'])).toEqual(['k0', 'k2', 'k3']);
  });

  it('a disabled cache (0 entries) remembers nothing', () => {
    const c = new VerifiedTokenCache<string>(0);
    const conn = {};
    c.set('ka', 'A', UNTIL, conn, 'token-a');
    expect(c.getRemembered(conn, 'token-a', NOW)).toBeUndefined();
  });
});
