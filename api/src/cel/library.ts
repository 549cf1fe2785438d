/**
 * The parts of @marcbachmann/cel-js this module relies on beyond its documented API, typed in one
 * place. The version is pinned exactly in api/package.json because of them; the tests in this
 * folder exercise each one, so an upgrade that changes them fails the tests instead of silently
 * losing a bound:
 * - AST nodes expose `op`, `args`, `meta` (`alternate` for macros expanded into comprehensions,
 *   `macro` for custom macros, `evaluate` for the operator), and `ev.run(node)` calls
 *   `node.evaluate(ev, node, ctx)`, so an own `evaluate` property on a node replaces its
 *   evaluation (compile.ts: cost accounting, RE2 `matches`, upstream string semantics).
 * - After type checking, an `rcall` node's `handle(values, ev, node)` dispatches to the
 *   library's overloads with already evaluated receiver and arguments.
 * - Type-checking contexts bind a variable with `forkWithVariable(name, type)`; at evaluation,
 *   `reuse(ctx).setIterValue(value, ev)` binds its value (as the library's own `cel.bind`).
 */
export interface CelAstNode {
  readonly op: string;
  readonly args: unknown;
  readonly pos: number;
  /** The node's source range, UTF-16 offsets (end exclusive): compile.ts re-types literals by it. */
  readonly start: number;
  readonly end: number;
  readonly meta: {
    readonly alternate?: CelAstNode;
    readonly macro?: CelMacro;
    readonly evaluate: CelEvaluateFn;
  };
  evaluate: CelEvaluateFn;
  handle?: (values: unknown[], ev: CelEvaluator, node: CelAstNode) => unknown;
}

export type CelEvaluateFn = (ev: CelEvaluator, node: CelAstNode, ctx: CelContext) => unknown;

export interface CelEvaluator {
  run(node: CelAstNode, ctx: CelContext): unknown;
}

/** A type declaration of the library (opaque here). */
export type CelType = object;

export interface CelChecker {
  check(node: CelAstNode, ctx: CelContext): CelType;
  getType(name: string): CelType;
}

export interface CelContext {
  forkWithVariable(name: string, type: CelType): CelContext;
  reuse(parent: CelContext): CelContext;
  setIterValue(value: unknown, ev: CelEvaluator): CelContext;
}

/** What a macro handler returns: evaluated lazily through its own hooks. */
export interface CelMacro {
  readonly async?: false;
  typeCheck(checker: CelChecker, macro: this, ctx: CelContext): CelType;
  evaluate(ev: CelEvaluator, macro: this, ctx: CelContext): unknown;
}

/** What a macro handler receives at parse time. */
export interface CelMacroInput {
  readonly ast: CelAstNode;
  readonly args: readonly CelAstNode[];
  readonly receiver: CelAstNode | null;
}
