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

/**
 * A bounded LRU of tokens that passed every check, keyed by the SHA-256 of the token (the token
 * itself is never kept). An entry is valid until `validUntilSec` (the token's exp plus leeway);
 * a new key set builds a new verifier and with it a new, empty cache, so rotation invalidates.
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
  hits = 0;
  misses = 0;

  /** @param maxEntries bound on entries (memory); the least recently used entry is evicted first; ≤ 0 disables the cache. */
  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    // One-shot hash: no Hash object per request (measurably cheaper on the hot path than createHash).
    return hash('sha256', token, 'base64url');
  }

  get(key: string, nowSec: number): V | undefined {
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
    return e.value;
  }

  set(key: string, value: V, validUntilSec: number): void {
    if (this.maxEntries <= 0) return;
    const e = this.entries.get(key);
    if (e !== undefined) {
      e.value = value;
      e.validUntilSec = validUntilSec;
      if (e !== this.newest) {
        this.unlink(e);
        this.linkNewest(e);
      }
      return;
    }
    if (this.entries.size >= this.maxEntries && this.oldest !== undefined) this.remove(this.oldest);
    const added: Entry<V> = { key, value, validUntilSec, newer: undefined, older: undefined };
    this.entries.set(key, added);
    this.linkNewest(added);
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
