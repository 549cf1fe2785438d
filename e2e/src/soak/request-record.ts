import type { Credential, RouteMode } from './traffic-mix.js';

/** One answered (or failed) soak request. `status` 0 means no answer: connection error or timeout. */
export interface Outcome {
  /** ms since the load started */
  readonly atMs: number;
  readonly id: number;
  readonly proxy: string;
  readonly route: RouteMode;
  readonly credential: Credential;
  readonly expected: number;
  readonly status: number;
  /** ms from send to the end of the answer */
  readonly latencyMs: number;
  /** the phase (fault) running when the request was sent, or 'steady' */
  readonly phase: string;
  /** on status 0: what failed */
  readonly error?: string;
}

/**
 * Latencies in log-spaced buckets (~2% wide, 10 µs to 100 s): p50/p99 of millions of requests in
 * constant memory. A quantile is the upper edge of its bucket (errs by at most one bucket, high).
 */
export class LatencyHistogram {
  private static readonly MIN_MS = 0.01;
  private static readonly GROWTH = 1.02;
  private readonly buckets = new Float64Array(Math.ceil(Math.log(1e7) / Math.log(LatencyHistogram.GROWTH)) + 1);
  count = 0;
  maxMs = 0;

  add(ms: number): void {
    const i =
      ms <= LatencyHistogram.MIN_MS
        ? 0
        : Math.min(this.buckets.length - 1, Math.ceil(Math.log(ms / LatencyHistogram.MIN_MS) / Math.log(LatencyHistogram.GROWTH)));
    this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** The q-quantile (0..1) in ms; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] ?? 0;
      if (seen >= rank) return Math.min(this.maxMs, LatencyHistogram.MIN_MS * LatencyHistogram.GROWTH ** i);
    }
    return this.maxMs;
  }
}

export interface PhaseSummary {
  readonly phase: string;
  readonly requests: number;
  readonly wrong: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** How many wrong answers are kept with their details (all are counted). */
const WRONG_KEPT = 200;

/**
 * Every outcome is counted; wrong ones (status ≠ expected) are kept (the first 200) with their
 * details. Also tracked: 5xx answers, the longest time without a successful valid request, and
 * the counts by route × credential × status that the report prints.
 */
export class RequestRecord {
  total = 0;
  wrong = 0;
  wrongValid = 0;
  serverErrors = 0;
  noAnswer = 0;
  readonly wrongKept: Outcome[] = [];
  /** `${route} ${credential} ${status}` → count */
  readonly counts = new Map<string, number>();
  private readonly phases = new Map<string, { hist: LatencyHistogram; wrong: number }>();
  private lastValidOkMs: number | undefined;
  longestValidGapMs = 0;
  longestValidGapEndMs = 0;

  add(o: Outcome): void {
    this.total++;
    const key = `${o.route} ${o.credential} ${o.status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let phase = this.phases.get(o.phase);
    if (!phase) this.phases.set(o.phase, (phase = { hist: new LatencyHistogram(), wrong: 0 }));
    phase.hist.add(o.latencyMs);
    if (o.status >= 500) this.serverErrors++;
    if (o.status === 0) this.noAnswer++;
    if (o.status !== o.expected) {
      this.wrong++;
      phase.wrong++;
      if (o.credential === 'valid') this.wrongValid++;
      if (this.wrongKept.length < WRONG_KEPT) this.wrongKept.push(o);
    }
    if (o.credential === 'valid' && o.status === 200) {
      const done = o.atMs + o.latencyMs;
      if (this.lastValidOkMs !== undefined && done - this.lastValidOkMs > this.longestValidGapMs) {
        this.longestValidGapMs = done - this.lastValidOkMs;
        this.longestValidGapEndMs = done;
      }
      this.lastValidOkMs = Math.max(this.lastValidOkMs ?? 0, done);
    }
  }

  phaseSummaries(): PhaseSummary[] {
    return [...this.phases].map(([phase, { hist, wrong }]) => ({
      phase,
      requests: hist.count,
      wrong,
      p50Ms: round(hist.quantile(0.5)),
      p99Ms: round(hist.quantile(0.99)),
      maxMs: round(hist.maxMs),
    }));
  }
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** One CSV line of the full record (header: OUTCOME_CSV_HEADER). */
export function outcomeCsv(o: Outcome): string {
  return `${Math.round(o.atMs)},${o.id},${o.proxy},${o.route},${o.credential},${o.expected},${o.status},${o.latencyMs.toFixed(2)},${o.phase}${o.error !== undefined ? `,${o.error.replaceAll(',', ';')}` : ''}\n`;
}
export const OUTCOME_CSV_HEADER = 'at_ms,id,proxy,route,credential,expected,status,latency_ms,phase,error\n';
