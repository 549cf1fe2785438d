import type { PhaseSummary, Outcome, RequestRecord } from './request-record.js';
import { slopePerHour, type ResourceSample } from './resource-samples.js';

export interface FaultResult {
  readonly fault: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ProcessReport {
  readonly instance: string;
  readonly samples: ResourceSample[];
  /** MiB per hour after WARMUP_MS of the process's life; null below MIN_SPAN_MS of samples after it (warm-up, not a leak) */
  readonly rssSlopeMiBPerHour: number | null;
  readonly heapSlopeMiBPerHour: number | null;
  readonly maxEventLoopP99Ms: number;
  readonly maxOpenFds: number;
}

export interface Criterion {
  readonly name: string;
  readonly pass: boolean;
  readonly value: string;
}

export interface SoakReport {
  readonly command: string;
  readonly startedAt: string;
  readonly minutes: number;
  readonly ratePerSecond: number;
  readonly requests: {
    sent: number;
    answered: number;
    skipped: number;
    wrong: number;
    wrongValid: number;
    noAnswer: number;
    serverErrors: number;
  };
  readonly leakedToBackend: number;
  readonly longestValidGapMs: number;
  readonly phases: PhaseSummary[];
  readonly faults: FaultResult[];
  readonly processes: ProcessReport[];
  /** `${route} ${credential} ${status}` → count */
  readonly answers: Record<string, number>;
  readonly wrongExamples: Outcome[];
  readonly criteria: Criterion[];
  readonly pass: boolean;
}

/** Heap growth per hour of a long-lived process beyond which the run fails (a leak, not noise). */
export const HEAP_SLOPE_LIMIT_MIB_PER_HOUR = 20;
/** RSS growth per hour beyond which the run fails (RSS is noisier than the heap: allocator, JIT). */
export const RSS_SLOPE_LIMIT_MIB_PER_HOUR = 50;
/** The longest time without a successful valid request that passes, ms. */
export const VALID_GAP_LIMIT_MS = 5_000;
/**
 * A process's warm-up, ms: 15 minutes. RSS climbs for ~30 minutes to a plateau (young generation,
 * code, allocator pages) with heap flat: the 60-minute run of bench/README.md shows it per process.
 */
export const WARMUP_MS = 15 * 60_000;

export function processReport(instance: string, samples: ResourceSample[]): ProcessReport {
  return {
    instance,
    samples,
    rssSlopeMiBPerHour: slopePerHour(samples, (s) => s.rssMiB, WARMUP_MS) ?? null,
    heapSlopeMiBPerHour: slopePerHour(samples, (s) => s.heapUsedMiB, WARMUP_MS) ?? null,
    maxEventLoopP99Ms: Math.max(0, ...samples.map((s) => s.eventLoopP99Ms)),
    maxOpenFds: Math.max(0, ...samples.map((s) => s.openFds)),
  };
}

/** The pass criteria of issue 19, each with the measured value. */
export function soakCriteria(o: {
  record: RequestRecord;
  sent: number;
  skipped: number;
  expectedSent: number;
  leaked: number;
  faults: FaultResult[];
  processes: ProcessReport[];
}): Criterion[] {
  const r = o.record;
  const slopes = o.processes.filter((p) => p.heapSlopeMiBPerHour !== null);
  return [
    { name: 'zero wrong answers to valid requests', pass: r.wrongValid === 0, value: String(r.wrongValid) },
    { name: 'no rejected request reached the backend', pass: o.leaked === 0, value: String(o.leaked) },
    {
      name: 'every other answer as expected (401 / 200 by mode)',
      pass: r.wrong - r.wrongValid === 0,
      value: String(r.wrong - r.wrongValid),
    },
    { name: 'no 5xx (no backend was down on purpose in this run)', pass: r.serverErrors === 0, value: String(r.serverErrors) },
    {
      name: 'every fault injected and recovered from',
      pass: o.faults.every((f) => f.ok),
      value: `${o.faults.filter((f) => f.ok).length} of ${o.faults.length}`,
    },
    {
      name: `longest gap in valid-request success ≤ ${VALID_GAP_LIMIT_MS} ms`,
      pass: r.longestValidGapMs <= VALID_GAP_LIMIT_MS,
      value: `${Math.round(r.longestValidGapMs)} ms`,
    },
    {
      name: 'the load held its rate (nothing skipped, ≥ 98% of rate × time sent)',
      pass: o.skipped === 0 && o.sent >= 0.98 * o.expectedSent,
      value: `${o.sent} sent of ${o.expectedSent}, ${o.skipped} skipped`,
    },
    {
      name: `no memory slope: heap ≤ ${HEAP_SLOPE_LIMIT_MIB_PER_HOUR} MiB/h, RSS ≤ ${RSS_SLOPE_LIMIT_MIB_PER_HOUR} MiB/h (least squares over each process's samples after its first 15 min, when it has ≥ 20 min of them)`,
      pass: slopes.every(
        (p) => (p.heapSlopeMiBPerHour ?? 0) <= HEAP_SLOPE_LIMIT_MIB_PER_HOUR && (p.rssSlopeMiBPerHour ?? 0) <= RSS_SLOPE_LIMIT_MIB_PER_HOUR,
      ),
      value:
        slopes.length === 0
          ? 'not measurable: no process has 20 minutes of samples after a 15-minute warm-up (short run)'
          : slopes.map((p) => `${p.instance} heap ${p.heapSlopeMiBPerHour} rss ${p.rssSlopeMiBPerHour}`).join('; '),
    },
  ];
}
