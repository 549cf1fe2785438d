import { boundedMemo, compileExpression } from '@agw/api';
import type { ExpressionProblem } from './feature.js';

/**
 * True when a CEL expression parses (and is within the CEL module's bounds). Parse only, as
 * upstream's controller: an expression that parses but cannot type-check is accepted and fails at
 * evaluation. Memoized, since translate() runs on every change and expressions rarely change.
 */
export const celParses: (source: string) => boolean = boundedMemo((source) => compileExpression(source).ok, 4096);

/** The problem for `source` at `path`, with upstream's message `<prefix>: <source>`, or nothing when it parses. */
export function celProblem(path: ReadonlyArray<string | number>, source: string, prefix: string): ExpressionProblem[] {
  return celParses(source) ? [] : [{ path, message: `${prefix}: ${source}` }];
}
