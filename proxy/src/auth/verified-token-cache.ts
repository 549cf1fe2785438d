import { hash } from 'node:crypto';

/** One verified token in the recency list. */
interface Entry<V> {
  readonly key: string;
  value: V;
  validUntilSec: number;
  /** Neighbours in recency order; undefined at the ends. */
  newer: Entry<V> | undefined;
  older: Entry<V> | undefined;
}

/** What a connection's last verified request carried: its token and the entry that token found. */
interface Remembered<V> {
  readonly token: string;
  readonly entry: Entry<V>;
}

/**
 * A bounded LRU of tokens that passed every check, keyed by the SHA-256 of the token (the LRU never
 * keeps a token). An entry is valid until `validUntilSec` (the token's exp plus leeway); a new key
 * set builds a new verifier and with it a new, empty cache, so rotation invalidates.
 *
 * In front of it, each client connection's last verified token (`remembered`): a keep-alive
 * connection sends one client's token request after request, and the same token again is then a
 * string comparison instead of a SHA-256 and a lookup (measured: the hash was ~11 µs of the ~12 µs
 * a cache hit cost per request under load, bench/README.md, issue 18). It holds one token per live
 * connection, the one that connection keeps sending, and lets go with the connection (WeakMap); a
 * different token on the connection takes the hashed path. The same bound, expiry and rotation
 * apply: a disabled cache (≤ 0 entries) remembers nothing.
 *
 * Recency is a doubly-linked list beside the `Map`: a hit relinks at most two neighbours (none
 * when the entry is already the newest) and never writes to the Map; an insert at the bound
 * evicts the list's oldest end. Both are O(1) whatever the Map's history. Measured why
 * (`npm run bench:cache`, bench/README.md, issue 18): the former LRU kept order in the Map itself,
 * and V8's `Map` keeps deleted entries in its table until it rehashes (every capacity − size
 * writes: ~22,800 at 10,000 entries, a 32,768-entry table), so
 * - `delete` + `set` of the hot key on every hit lengthened that key's bucket chain by one
 *   deleted entry per hit, and each `set` walked the chain: +26 µs per request with the cache full;
 * - evicting `keys().next()` skipped every deleted entry at the table's front: ~10 µs per miss.
 */
export class VerifiedTokenCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private newest: Entry<V> | undefined;
  private oldest: Entry<V> | undefined;
  /** Per client connection (a socket, an HTTP/2 session): its last verified token. */
  private readonly remembered = new WeakMap<object, Remembered<V>>();
  hits = 0;
  misses = 0;

  /** @param maxEntries bound on entries (memory); the least recently used entry is evicted first; ≤ 0 disables the cache. */
  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    // One-shot hash: no Hash object per request (measurably cheaper on the hot path than createHash).
    return hash('sha256', token, 'base64url');
  }

  /**
   * The value `connection`'s last verified request found, when this request carries the same token
   * and it is still valid: a hit without hashing (counted as one). Undefined: hash and `get`.
   */
  getRemembered(connection: object | undefined, token: string, nowSec: number): V | undefined {
    if (connection === undefined) return undefined;
    const r = this.remembered.get(connection);
    // Tokens of one issuer share their first ~100 characters and differ in the signature: the last
    // character first (a different token almost always differs there), then the whole string.
    if (r === undefined || r.token.charCodeAt(r.token.length - 1) !== token.charCodeAt(token.length - 1) || r.token !== token)
      return undefined;
    const e = r.entry;
    if (e.validUntilSec < nowSec) {
      this.remembered.delete(connection);
      return undefined;
    }
    // Still in the LRU (not evicted since): the most recently used again, as a hashed hit makes it.
    if (e !== this.newest && this.entries.get(e.key) === e) {
      this.unlink(e);
      this.linkNewest(e);
    }
    this.hits++;
    return e.value;
  }

  /** `connection` and `token` (the token this key was hashed from): remembered on a hit (getRemembered). */
  get(key: string, nowSec: number, connection?: object, token?: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.validUntilSec < nowSec) {
      if (e !== undefined) this.remove(e);
      this.misses++;
      return undefined;
    }
    if (e !== this.newest) {
      this.unlink(e);
      this.linkNewest(e);
    }
    this.hits++;
    if (connection !== undefined && token !== undefined) this.remembered.set(connection, { token, entry: e });
    return e.value;
  }

  /** `connection` and `token` (the token this key was hashed from): remembered (getRemembered). */
  set(key: string, value: V, validUntilSec: number, connection?: object, token?: string): void {
    if (this.maxEntries <= 0) return;
    let e = this.entries.get(key);
    if (e !== undefined) {
      e.value = value;
      e.validUntilSec = validUntilSec;
      if (e !== this.newest) {
        this.unlink(e);
        this.linkNewest(e);
      }
    } else {
      if (this.entries.size >= this.maxEntries && this.oldest !== undefined) this.remove(this.oldest);
      e = { key, value, validUntilSec, newer: undefined, older: undefined };
      this.entries.set(key, e);
      this.linkNewest(e);
    }
    if (connection !== undefined && token !== undefined) this.remembered.set(connection, { token, entry: e });
  }

  get size(): number {
    return this.entries.size;
  }

  private remove(e: Entry<V>): void {
    this.unlink(e);
    this.entries.delete(e.key);
  }

  private unlink(e: Entry<V>): void {
    if (e.newer === undefined) this.newest = e.older;
    else e.newer.older = e.older;
    if (e.older === undefined) this.oldest = e.newer;
    else e.older.newer = e.newer;
    e.newer = e.older = undefined;
  }

  private linkNewest(e: Entry<V>): void {
    e.older = this.newest;
    if (this.newest === undefined) this.oldest = e;
    else this.newest.newer = e;
    this.newest = e;
  }
}
