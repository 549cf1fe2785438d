import { EvaluationError } from '@marcbachmann/cel-js';
import { CelJsonError } from './json.js';
import { CelRegexError } from './regex.js';
import { CelStringError } from './strings.js';

/** Throws an evaluation error with a stable `code` (what callers and `default()` match on). */
export function celFail(code: string, message: string): never {
  throw new EvaluationError({ code, message });
}

/** Wraps a function so this module's own errors surface as EvaluationErrors with their code. */
export function guarded<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A) => {
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof EvaluationError) throw err;
      if (err instanceof CelJsonError || err instanceof CelStringError || err instanceof CelRegexError) celFail(err.code, err.message);
      celFail('function_error', (err as Error).message);
    }
  };
}
