import { round } from './request-record.js';

/** One reading of a process's /metrics (prom-client's default metrics). */
export interface ResourceSample {
  /** ms since the load started */
  readonly atMs: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly openFds: number;
  /** event-loop delay p99, ms (prom-client samples it over its monitoring window) */
  readonly eventLoopP99Ms: number;
}

const MiB = 1024 * 1024;

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * The shortest line a slope is drawn on, ms: 20 minutes. The first 60-minute run drew them on 10
 * (after a 5-minute warm-up) and called a proxy that lived 18 minutes a leak at +106 MiB/h of RSS:
 * its RSS was still climbing to the plateau every long-lived process reached (~30 minutes in).
 */
export const MIN_SPAN_MS = 20 * 60_000;

/** A sample from the text of a /metrics answer; undefined when a series is missing. */
export function parseResourceSample(atMs: number, text: string): ResourceSample | undefined {
  const rss = metric(text, 'process_resident_memory_bytes');
  const heap = metric(text, 'nodejs_heap_size_used_bytes');
  const fds = metric(text, 'process_open_fds');
  const lag = metric(text, 'nodejs_eventloop_lag_p99_seconds');
  if (rss === undefined || heap === undefined || fds === undefined || lag === undefined) return undefined;
  return { atMs, rssMiB: round(rss / MiB), heapUsedMiB: round(heap / MiB), openFds: fds, eventLoopP99Ms: round(lag * 1000) };
}

/**
 * Least-squares slope of `value` over time, in units per hour, from the samples after the first
 * `warmupMs` of the process's life (JIT, caches and pools fill first). Undefined with fewer than
 * three samples or under MIN_SPAN_MS of span: a shorter line measures warm-up, not a leak.
 */
export function slopePerHour(
  samples: readonly ResourceSample[],
  value: (s: ResourceSample) => number,
  warmupMs: number,
): number | undefined {
  const first = samples[0];
  if (!first) return undefined;
  const used = samples.filter((s) => s.atMs - first.atMs >= warmupMs);
  const firstUsed = used[0],
    lastUsed = used[used.length - 1];
  if (used.length < 3 || !firstUsed || !lastUsed || lastUsed.atMs - firstUsed.atMs < MIN_SPAN_MS) return undefined;
  const n = used.length;
  const mx = used.reduce((a, s) => a + s.atMs, 0) / n;
  const my = used.reduce((a, s) => a + value(s), 0) / n;
  let num = 0,
    den = 0;
  for (const s of used) {
    num += (s.atMs - mx) * (value(s) - my);
    den += (s.atMs - mx) ** 2;
  }
  return den === 0 ? 0 : round((num / den) * 3_600_000);
}
