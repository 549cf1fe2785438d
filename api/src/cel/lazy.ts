import type { Environment } from '@marcbachmann/cel-js';
import { COST_LIMIT_EXCEEDED, chargeNode, chargeValue } from './cost.js';
import type { CelAstNode, CelChecker, CelContext, CelEvaluator, CelMacroInput, CelType } from './library.js';

/**
 * upstream's lazy functions, as custom macros (their arguments are evaluated by the macro, not
 * before the call):
 * - `default(expr, fallback)`: `expr`, unless it is null or fails because a key or variable is
 *   missing (`no_such_key`, `unknown_variable`: `default(jwt.role, 'user')` without a token, or
 *   without the claim); then `fallback`, evaluated only in that case. Any other error of `expr`
 *   (`1 / 0`, a type error) stays an error.
 * - `coalesce(a, b, …)`: the first argument that evaluates without error to a non-null value,
 *   left to right, later ones not evaluated; if none does, null when one of them was null, else
 *   the last error. `coalesce()` with no argument does not exist.
 * - `v.with(name, expr)`: `expr` with `name` bound to `v` (upstream's binding; `cel.bind` is the
 *   library's equivalent).
 *
 * Type errors inside an argument (`coalesce(1 + 'a', 'x')`) are deferred to evaluation, where
 * they count as errors of that argument, as upstream (which never type-checks) sees them. The
 * cost-budget error is never swallowed.
 */
export const MAX_COALESCE_ARGUMENTS = 32;

const MISSING_CODES = new Set(['no_such_key', 'unknown_variable']);

function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && MISSING_CODES.has((err as { code?: unknown }).code as string);
}

/** Type-checks an argument, keeping a failure to raise when (and only if) it is evaluated. */
function checkLeniently(checker: CelChecker, node: CelAstNode, ctx: CelContext): unknown {
  try {
    checker.check(node, ctx);
    return undefined;
  } catch (err) {
    return err;
  }
}

interface LazyArgs {
  readonly nodes: readonly CelAstNode[];
  staticErrors: unknown[];
  readonly async: false;
}

function runArg(ev: CelEvaluator, m: LazyArgs, i: number, ctx: CelContext): unknown {
  const staticError = m.staticErrors[i];
  if (staticError !== undefined) throw staticError;
  return ev.run(m.nodes[i]!, ctx);
}

function lenientTypeCheck(checker: CelChecker, m: LazyArgs, ctx: CelContext): CelType {
  m.staticErrors = m.nodes.map((n) => checkLeniently(checker, n, ctx));
  return checker.getType('dyn');
}

/**
 * `default(a.b['c'], …)` on the hot path: a select chain on a variable, walked without the
 * library's missing-key exception (~5 µs each: the doc example `default(jwt.role, 'user')`
 * without the claim). Anything but plain objects, Maps and present keys returns `UNRESOLVED`,
 * and the library evaluates the chain as usual (same values, same errors).
 */
const UNRESOLVED = Symbol('unresolved');
const MISSING = Symbol('missing');

export interface SelectPath {
  readonly root: string;
  readonly keys: readonly string[];
}

/** Names the environment defines as constants (namespaces): never a variable of the activation. */
const CONSTANT_ROOTS = new Set(['cel', 'google', 'base64', 'url', 'sha256', 'math']);

export function selectPath(node: CelAstNode): SelectPath | undefined {
  const keys: string[] = [];
  let n = node;
  for (;;) {
    if (n.meta.alternate || n.meta.macro) return undefined;
    if (n.op === 'id' && typeof n.args === 'string') return CONSTANT_ROOTS.has(n.args) ? undefined : { root: n.args, keys: keys.reverse() };
    const args = n.args as [CelAstNode, unknown];
    if (n.op === '.' && typeof args[1] === 'string') keys.push(args[1]);
    else if (n.op === '[]' && (args[1] as CelAstNode).op === 'value' && typeof (args[1] as CelAstNode).args === 'string')
      keys.push((args[1] as CelAstNode).args as string);
    else return undefined;
    n = args[0];
  }
}

function resolvePath(path: SelectPath, ctx: CelContext): unknown {
  let v: unknown = (ctx as unknown as { getValue(name: string): unknown }).getValue(path.root);
  if (v === undefined) return MISSING;
  chargeNode();
  for (const key of path.keys) {
    if (typeof v !== 'object' || v === null) return UNRESOLVED;
    if (v instanceof Map) v = v.get(key);
    else {
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return UNRESOLVED;
      v = Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
    }
    chargeNode();
    if (v === undefined) return MISSING;
  }
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'number':
      chargeValue(v);
      return v;
    default:
      return UNRESOLVED;
  }
}

function defaultMacro({ args }: CelMacroInput) {
  return {
    nodes: args,
    staticErrors: [] as unknown[],
    path: undefined as SelectPath | undefined,
    async: false as const,
    typeCheck(checker: CelChecker, m: LazyArgs & { path: SelectPath | undefined }, ctx: CelContext): CelType {
      const type = lenientTypeCheck(checker, m, ctx);
      if (m.staticErrors[0] === undefined) m.path = selectPath(m.nodes[0]!);
      return type;
    },
    evaluate(ev: CelEvaluator, m: LazyArgs & { path: SelectPath | undefined }, ctx: CelContext): unknown {
      if (m.path) {
        const fast = resolvePath(m.path, ctx);
        if (fast === MISSING) return runArg(ev, m, 1, ctx);
        if (fast !== UNRESOLVED) return fast;
      }
      let v: unknown;
      try {
        v = runArg(ev, m, 0, ctx);
      } catch (err) {
        if (err === COST_LIMIT_EXCEEDED || !isMissing(err)) throw err;
        return runArg(ev, m, 1, ctx);
      }
      return v === null ? runArg(ev, m, 1, ctx) : v;
    },
  };
}

function coalesceMacro({ args }: CelMacroInput) {
  return {
    nodes: args,
    staticErrors: [] as unknown[],
    async: false as const,
    typeCheck: lenientTypeCheck,
    evaluate(ev: CelEvaluator, m: LazyArgs, ctx: CelContext): unknown {
      let lastError: unknown;
      let sawNull = false;
      for (let i = 0; i < m.nodes.length; i++) {
        try {
          const v = runArg(ev, m, i, ctx);
          if (v !== null) return v;
          sawNull = true;
        } catch (err) {
          if (err === COST_LIMIT_EXCEEDED) throw err;
          lastError = err;
        }
      }
      if (sawNull) return null;
      throw lastError;
    },
  };
}

interface WithMacro {
  readonly receiver: CelAstNode;
  readonly name: string;
  readonly body: CelAstNode;
  bodyCtx: CelContext | undefined;
  readonly async: false;
}

function withMacro({ args, receiver }: CelMacroInput) {
  const ident = args[0]!;
  if (ident.op !== 'id' || typeof ident.args !== 'string') throw new Error('with(name, expr): the first argument must be an identifier');
  return {
    receiver: receiver!,
    name: ident.args,
    body: args[1]!,
    bodyCtx: undefined as CelContext | undefined,
    async: false as const,
    typeCheck(checker: CelChecker, m: WithMacro, ctx: CelContext): CelType {
      m.bodyCtx = ctx.forkWithVariable(m.name, checker.check(m.receiver, ctx));
      return checker.check(m.body, m.bodyCtx);
    },
    evaluate(ev: CelEvaluator, m: WithMacro, ctx: CelContext): unknown {
      const v = ev.run(m.receiver, ctx);
      return ev.run(m.body, m.bodyCtx!.reuse(ctx).setIterValue(v, ev));
    },
  };
}

export function registerLazyMacros(env: Environment): void {
  env.registerFunction('default(ast, ast): dyn', defaultMacro);
  for (let n = 1; n <= MAX_COALESCE_ARGUMENTS; n++) {
    env.registerFunction(`coalesce(${Array(n).fill('ast').join(', ')}): dyn`, coalesceMacro);
  }
  env.registerFunction('dyn.with(ast, ast): dyn', withMacro);
}
