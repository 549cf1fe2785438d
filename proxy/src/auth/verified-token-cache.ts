import { hash } from 'node:crypto';

/**
 * A bounded LRU of tokens that passed every check, keyed by the SHA-256 of the token (the token
 * itself is never kept). An entry is valid until `validUntilSec` (the token's exp plus leeway);
 * a new key set builds a new verifier and with it a new, empty cache, so rotation invalidates.
 */
export class VerifiedTokenCache<V> {
  private readonly entries = new Map<string, { value: V; validUntilSec: number }>();
  hits = 0;
  misses = 0;

  /** @param maxEntries bound on memory; the least recently used entry is evicted first. */
  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    // One-shot hash: no Hash object per request (measurably cheaper on the hot path than createHash).
    return hash('sha256', token, 'base64url');
  }

  get(key: string, nowSec: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.validUntilSec < nowSec) {
      if (e !== undefined) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    // Re-insert: Map iteration order is insertion order, so the first key is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: string, value: V, validUntilSec: number): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, validUntilSec });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number { return this.entries.size; }
}
