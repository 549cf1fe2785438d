#!/usr/bin/env node
/**
 * The verified-token cache alone (issue 18): a hit on one hot key while the cache holds N entries
 * (1,000 and 10,000, the default bound), filled first with distinct keys and claim-like values.
 * Compares, in one process and interleaved rounds, the shipped cache (exact LRU on a doubly-linked
 * list beside the Map) with the former one (exact LRU kept in the Map's order by delete + re-set
 * on every hit, evicting `keys().next()`) and with CLOCK on the Map's order (a hit sets a bit).
 * Per design and N: µs per `get` (same key string), µs per `keyOf + get` (a fresh hash per lookup,
 * as the verifier does), GC count and time during each (`PerformanceObserver('gc')`), heap held by
 * the filled cache (`heapUsed` after a GC, with --expose-gc), µs per
 * insert of a new key at the bound (the cache-miss path: every insert evicts), and µs per hit
 * along the first hits after the fill (the sawtooth that gives the cause away).
 *   node --expose-gc bench/dist/token-cache-bench.js [--ops 100000] [--rounds 3]
 */
import { VerifiedTokenCache } from '@agw/proxy';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } });
const OPS = Number(values.ops);
const ROUNDS = Number(values.rounds);
const NOW = 2_000_000_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

interface Cache<V> {
  get(key: string, nowSec: number): V | undefined;
  set(key: string, value: V, validUntilSec: number): void;
  readonly size: number;
}

/** The cache as it was before issue 18 (copied verbatim): exact LRU, delete + re-set on every hit. */
class DeleteSetLru<V> implements Cache<V> {
  private readonly entries = new Map<string, { value: V; validUntilSec: number }>();
  hits = 0;
  misses = 0;
  constructor(private readonly maxEntries: number) {}
  get(key: string, nowSec: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.validUntilSec < nowSec) {
      if (e !== undefined) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
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
  get size(): number {
    return this.entries.size;
  }
}

/**
 * CLOCK (second chance) on the Map's insertion order, the other design measured: a hit sets a bit;
 * an insert at the bound evicts the oldest entry, unless its bit is set: then it is cleared and the
 * entry moved to the back (at most 32 moves per insert).
 */
class ClockOnMap<V> implements Cache<V> {
  private readonly entries = new Map<string, { value: V; validUntilSec: number; used: boolean }>();
  hits = 0;
  misses = 0;
  constructor(private readonly maxEntries: number) {}
  get(key: string, nowSec: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.validUntilSec < nowSec) {
      if (e !== undefined) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    e.used = true;
    this.hits++;
    return e.value;
  }
  set(key: string, value: V, validUntilSec: number): void {
    if (this.maxEntries <= 0) return;
    if (!this.entries.delete(key) && this.entries.size >= this.maxEntries) this.evictOne();
    this.entries.set(key, { value, validUntilSec, used: false });
  }
  private evictOne(): void {
    let chances = 32;
    for (const [key, e] of this.entries) {
      this.entries.delete(key);
      if (!e.used || chances === 0) return;
      chances--;
      e.used = false;
      this.entries.set(key, e);
    }
  }
  get size(): number {
    return this.entries.size;
  }
}

const designs: Record<string, (n: number) => Cache<unknown>> = {
  'shipped: LRU on a linked list': (n) => new VerifiedTokenCache<unknown>(n),
  'before: LRU by Map delete + re-set': (n) => new DeleteSetLru<unknown>(n),
  'CLOCK on Map order': (n) => new ClockOnMap<unknown>(n),
};

/** A value shaped like the verifier's JwtSuccess, distinct per entry (claims kept alive as in the proxy). */
const valueOf = (i: number) => ({
  ok: true,
  claims: JSON.parse(`{"iss":"https://bench","sub":"user-${i}","jti":"bench-${i}","iat":${NOW - 60},"exp":${NOW + 3600}}`) as unknown,
  providerId: 'bench#0',
});
const tokenOf = (i: number) => `eyJhbGciOiJSUzI1NiJ9.token-${i}.signature`;

const gcEntries: PerformanceEntry[] = [];
new PerformanceObserver((list) => {
  gcEntries.push(...list.getEntries());
}).observe({ entryTypes: ['gc'] });
/** GC count and total ms between two performance.now() stamps (observer entries arrive later, on a timer's turn). */
async function gcBetween(t0: number, t1: number): Promise<{ count: number; ms: number }> {
  await new Promise<void>((r) => setTimeout(r, 50));
  const inside = gcEntries.filter((e) => e.startTime >= t0 && e.startTime <= t1);
  return { count: inside.length, ms: inside.reduce((s, e) => s + e.duration, 0) };
}

/** A cache of `design` filled to `n` entries (and its keys), the hot key being the last inserted. */
function filled(design: string, n: number): { cache: Cache<unknown>; keys: string[] } {
  const cache = (designs[design] as (n: number) => Cache<unknown>)(n);
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = VerifiedTokenCache.keyOf(tokenOf(i));
    keys.push(key);
    cache.set(key, valueOf(i), NOW + 3600);
  }
  return { cache, keys };
}

interface Row {
  hitUs: number[];
  keyOfHitUs: number[];
  insertUs: number[];
  gcCount: number[];
  gcMs: number[];
  keyOfGcCount: number[];
  keyOfGcMs: number[];
  heapKiB: number[];
}

async function measure(design: string, n: number, row: Row): Promise<void> {
  const hotToken = tokenOf(n - 1);
  // get() with the key string kept: the Map's own work. GC counted over this loop.
  {
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const { cache, keys } = filled(design, n);
    const hot = keys[n - 1] as string;
    for (let i = 0; i < 2000; i++) cache.get(hot, NOW);
    gc();
    row.heapKiB.push((process.memoryUsage().heapUsed - heapBefore) / 1024);
    const t0 = performance.now();
    for (let i = 0; i < OPS; i++) if (cache.get(hot, NOW) === undefined) throw new Error('miss on the hot key');
    const t1 = performance.now();
    row.hitUs.push(((t1 - t0) * 1000) / OPS);
    const g = await gcBetween(t0, t1);
    row.gcCount.push(g.count);
    row.gcMs.push(g.ms);
  }
  // keyOf + get: a fresh key string per lookup, as JwtVerifier.verify does on a hit.
  {
    const { cache } = filled(design, n);
    gc();
    const t0 = performance.now();
    for (let i = 0; i < OPS; i++)
      if (cache.get(VerifiedTokenCache.keyOf(hotToken), NOW) === undefined) throw new Error('miss on the hot key');
    const t1 = performance.now();
    row.keyOfHitUs.push(((t1 - t0) * 1000) / OPS);
    const g = await gcBetween(t0, t1);
    row.keyOfGcCount.push(g.count);
    row.keyOfGcMs.push(g.ms);
  }
  // Insert at the bound: a stream of new tokens (the cache-miss rows of the proxy bench), every insert evicts.
  {
    const { cache } = filled(design, n);
    const fresh = Array.from({ length: Math.min(OPS, 50_000) }, (_, i) => VerifiedTokenCache.keyOf(tokenOf(n + i)));
    const value = valueOf(-1);
    gc();
    const t0 = performance.now();
    for (let i = 0; i < fresh.length; i++) cache.set(fresh[i] as string, value, NOW + 3600);
    row.insertUs.push(((performance.now() - t0) * 1000) / fresh.length);
    if (cache.size !== n) throw new Error(`size ${cache.size} after inserts, bound ${n}`);
  }
}

/** µs per hit for consecutive batches after the fill: where the cost of a hit goes as hits accumulate. */
function sawtooth(design: string, n: number, batches: number, batch: number): number[] {
  const { cache, keys } = filled(design, n);
  const hot = keys[n - 1] as string;
  const out: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) cache.get(hot, NOW);
    out.push(((performance.now() - t0) * 1000) / batch);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const SIZES = [1_000, 10_000];
const rows = new Map<string, Row>();
for (let round = 0; round < ROUNDS; round++) {
  for (const n of SIZES) {
    for (const design of Object.keys(designs)) {
      const k = `${design}|${n}`;
      const row = rows.get(k) ?? {
        hitUs: [],
        keyOfHitUs: [],
        insertUs: [],
        gcCount: [],
        gcMs: [],
        keyOfGcCount: [],
        keyOfGcMs: [],
        heapKiB: [],
      };
      rows.set(k, row);
      await measure(design, n, row);
    }
  }
}

const out: string[] = [
  `Node ${process.version}, ${OPS.toLocaleString('en')} hits per measure, median of ${ROUNDS} interleaved rounds${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for a GC before each measure)'}.`,
  '',
  '| design | entries | heap held, KiB | get µs/hit | GCs (ms) during the gets | keyOf + get µs/hit | GCs (ms) during keyOf + get | insert of a new key (evicts) µs/op |',
  '|---|---|---|---|---|---|---|---|',
];
for (const [k, r] of rows) {
  const [design, n] = k.split('|') as [string, string];
  out.push(
    `| ${design} | ${Number(n).toLocaleString('en')} | ${median(r.heapKiB).toFixed(0)} | ${median(r.hitUs).toFixed(3)} | ${median(r.gcCount)} (${median(r.gcMs).toFixed(1)}) | ${median(r.keyOfHitUs).toFixed(3)} | ${median(r.keyOfGcCount)} (${median(r.keyOfGcMs).toFixed(1)}) | ${median(r.insertUs).toFixed(3)} |`,
  );
}
out.push('', 'µs per hit in consecutive batches of 2,000 hits right after the fill (hits 0–2k, 2k–4k, …):', '');
for (const n of SIZES) {
  for (const design of Object.keys(designs)) {
    out.push(
      `- ${design}, ${n.toLocaleString('en')} entries: ${sawtooth(design, n, 30, 2000)
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  }
}
process.stdout.write(`${out.join('\n')}\n`);
