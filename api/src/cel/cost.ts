import { EvaluationError } from '@marcbachmann/cel-js';
import { CelLimits } from './limits.js';

/**
 * The evaluation cost budget (see `CelLimits.maxEvaluationCost` for the unit). Evaluation is
 * synchronous and single-threaded, so one module-level counter serves every evaluation: each
 * `evaluate()` saves it, sets a fresh budget, and restores it when done (re-entrant if a function
 * ever evaluated another expression).
 */
let remaining = 0;

/**
 * Thrown when the budget is spent. One preallocated instance: `exists()`/`all()` swallow step
 * errors and keep iterating, so after the budget is spent every further step throws at once, and
 * throwing a prebuilt object costs no stack capture.
 */
export const COST_LIMIT_EXCEEDED = new EvaluationError({
  code: 'cost_limit_exceeded',
  message: `evaluation cost limit exceeded (${CelLimits.maxEvaluationCost} units)`,
});

export function startBudget(): number {
  const saved = remaining;
  remaining = CelLimits.maxEvaluationCost;
  return saved;
}

let lastCost = 0;

export function restoreBudget(saved: number): void {
  lastCost = CelLimits.maxEvaluationCost - Math.max(remaining, -1);
  remaining = saved;
  jsonMemo = undefined;
}

/** Cost units spent by the last completed evaluation (for benchmarks and metrics). */
export function lastEvaluationCost(): number {
  return lastCost;
}

/**
 * Charges work proportional to an input's size inside a function (`json()` parsing, hashing,
 * encoding, regex matching), at roughly one unit per 100 ns of that work.
 */
export function chargeUnits(units: number): void {
  if ((remaining -= units) < 0) throw COST_LIMIT_EXCEEDED;
}

/**
 * `json(x)` of the same string within one evaluation parses once: CEL values are immutable, and
 * `json(request.body).a == 1 && json(request.body).b == 2` is a common shape.
 */
let jsonMemo: { input: unknown; output: unknown } | undefined;

export function memoizedJson<T>(input: string | Uint8Array, parse: () => T): T {
  if (jsonMemo && jsonMemo.input === input) return jsonMemo.output as T;
  const output = parse();
  if (typeof input === 'string') jsonMemo = { input, output };
  return output;
}

/** Charges one node evaluation. */
export function chargeNode(): void {
  if (--remaining < 0) throw COST_LIMIT_EXCEEDED;
}

/** Charges one node evaluation that produced `v`, plus the size of `v`. */
export function chargeValue(v: unknown): void {
  let units = 1;
  if (typeof v === 'string') units += v.length >>> 6;
  else if (typeof v === 'object' && v !== null) {
    if (Array.isArray(v)) units += v.length >>> 2;
    else if (v instanceof Uint8Array) units += v.length >>> 6;
  }
  if ((remaining -= units) < 0) throw COST_LIMIT_EXCEEDED;
}

/** Refuses a produced string, bytes or list longer than `CelLimits.maxValueLength`. */
export function checkValueLength(v: unknown): void {
  const n = typeof v === 'string' || Array.isArray(v) || v instanceof Uint8Array ? v.length : 0;
  if (n > CelLimits.maxValueLength) {
    throw new EvaluationError({
      code: 'value_too_large',
      message: `value of length ${n} exceeds the limit of ${CelLimits.maxValueLength}`,
    });
  }
}
