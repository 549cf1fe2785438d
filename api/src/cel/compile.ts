import { setOwn } from '../own-property.js';
import { Environment, ParseError } from '@marcbachmann/cel-js';
import type { CelActivation } from './activation.js';
import type { CelValue } from './cel-value.js';
import { COST_LIMIT_EXCEEDED, chargeNode, chargeValue, checkValueLength, restoreBudget, startBudget } from './cost.js';
import { guarded } from './errors.js';
import { fastPathOf } from './fast-path.js';
import { registerFunctions } from './functions.js';
import type { CelAstNode, CelEvaluateFn, CelEvaluator } from './library.js';
import { CelLimits } from './limits.js';
import { MAX_COALESCE_ARGUMENTS } from './lazy.js';
import { celMatches } from './regex.js';
import * as strings from './strings.js';

/**
 * CEL expressions of agentgateway policies: compile once per config, evaluate per request.
 *
 * `compileExpression` parses (never evaluates) and refuses, with a message, what exceeds a
 * bound of `CelLimits`: longer than 16,384 characters, nested deeper than 64, an AST deeper
 * than 512. An expression that parses but cannot type-check (`1 + 'a'`) still compiles, as
 * upstream's controller accepts it; it fails at every evaluation, and `staticError` says why.
 *
 * `evaluate` never throws: every failure (missing variable, type error, `fail()`, the cost
 * budget, a stack overflow) is `{ ok: false, error, code }`. It is synchronous and bounded by
 * `CelLimits.maxEvaluationCost`, so no expression can hold the event loop for long.
 */
export interface CompiledExpression {
  readonly ok: true;
  /** The expression as written. */
  readonly source: string;
  /** Which variables the expression reads, so the caller builds (and buffers) only those. */
  readonly references: CelReferences;
  /**
   * The result depends on the verified claims alone: the expression reads no variable but `jwt`
   * and calls no random function (`uuid()`, `random()`), so a caller may keep its result per
   * verified token (the proxy does: a cache hit re-evaluates nothing).
   */
  readonly onlyJwt: boolean;
  /** Set when the expression parses but can never evaluate (a type error): the error it returns. */
  readonly staticError?: string;
  evaluate(activation: CelActivation): CelResult;
}

export interface CompileError {
  readonly ok: false;
  /** Why the expression was refused (a parse error or an exceeded bound). */
  readonly error: string;
  /** UTF-16 offset in the source where the problem was found, when known. */
  readonly offset?: number;
}

export type CompileResult = CompiledExpression | CompileError;

export type CelResult =
  | { readonly ok: true; readonly value: CelValue }
  | {
      readonly ok: false;
      readonly error: string;
      /**
       * Stable error code: the library's (`no_such_key`, `unknown_variable`,
       * `no_matching_overload`, `division_by_zero`, …) or this module's (`fail`,
       * `cost_limit_exceeded`, `value_too_large`, `invalid_regex`, `json_too_large`,
       * `json_invalid`, `stack_overflow`, …).
       */
      readonly code: string;
    };

/**
 * The roots an expression reads (upstream records the same, its `Attributes`). A body flag is
 * set when the expression reads `request.body` (or `response.body`), and also when it uses the
 * whole `request` object in a way that could reach the body (`toJson(request)`,
 * `request[name]`), so a caller that buffers bodies only when asked never misses one.
 */
export interface CelReferences {
  readonly request: boolean;
  /** `request.headers` (or the whole `request`) is read: the caller builds the header map. */
  readonly requestHeaders: boolean;
  readonly requestBody: boolean;
  readonly jwt: boolean;
  readonly source: boolean;
  readonly response: boolean;
  readonly responseBody: boolean;
  readonly metadata: boolean;
  readonly proxy: boolean;
  readonly destination: boolean;
}

const ROOTS = ['request', 'jwt', 'source', 'response', 'metadata', 'proxy', 'destination'] as const;
type Root = (typeof ROOTS)[number];

let environment: Environment | undefined;
let astNodeClass: unknown;

/** The shared environment, built on first use (registering the functions takes ~ms). */
function celEnvironment(): Environment {
  if (!environment) {
    const env = new Environment({
      // Upstream resolves variables at run time: an unknown name is an evaluation error
      // (`default(missing, 'x')` falls back), never a compile error.
      unlistedVariablesAreDyn: true,
      // cel-rust accepts mixed list/map literals (`[1, 'a']`).
      homogeneousAggregateLiterals: false,
      limits: {
        // The parser counts a method call twice (its `.` and its arguments): 64 nested calls
        // need 129. Bracket nesting beyond 64 is refused by scanNesting before this.
        maxDepth: 2 * CelLimits.maxNesting + 1,
        maxAstNodes: CelLimits.maxExpressionLength * 2,
        maxListElements: CelLimits.maxExpressionLength,
        maxMapEntries: CelLimits.maxExpressionLength,
        maxCallArguments: MAX_COALESCE_ARGUMENTS,
      },
    });
    registerFunctions(env);
    astNodeClass = env.parse('x').ast.constructor;
    environment = env;
  }
  return environment;
}

/** Compiles one expression. Never throws. */
export function compileExpression(source: string): CompileResult {
  try {
    return compile(source);
  } catch (err) {
    // Fail closed on anything unforeseen (an engine change, a stack overflow in the checker).
    return { ok: false, error: `expression could not be compiled: ${(err as Error)?.message ?? String(err)}` };
  }
}

function compile(source: string): CompileResult {
  if (typeof source !== 'string') return { ok: false, error: 'expression must be a string' };
  if (source.length > CelLimits.maxExpressionLength) {
    return { ok: false, error: `expression is ${source.length} characters long, more than the limit of ${CelLimits.maxExpressionLength}` };
  }
  const tooDeep = scanNesting(source, CelLimits.maxNesting);
  if (tooDeep !== undefined) {
    return { ok: false, error: `expression nests deeper than ${CelLimits.maxNesting} levels`, offset: tooDeep };
  }
  const env = celEnvironment();
  let parsed: Parsed;
  try {
    parsed = env.parse(source);
  } catch (err) {
    if (err instanceof ParseError) {
      const offset = err.range?.start;
      return offset === undefined ? { ok: false, error: err.summary } : { ok: false, error: err.summary, offset };
    }
    if (err instanceof RangeError) return { ok: false, error: `expression nests deeper than ${CelLimits.maxNesting} levels` };
    return { ok: false, error: `expression could not be parsed: ${(err as Error).message}` };
  }
  const root = parsed.ast as unknown as CelAstNode;
  if (astDepth(root) > CelLimits.maxAstDepth) {
    return {
      ok: false,
      error: `expression is deeper than ${CelLimits.maxAstDepth} levels (long operator chains count one level per operator)`,
    };
  }
  const references = collectReferences(root);

  let staticError = typeErrorOf(parsed);
  if (staticError !== undefined) {
    // Upstream's CEL (cel-rust) has no type checker: `code == 429 ? 'refused' : null` and
    // `1 == 1.0` evaluate there. This engine checks types before it runs, so an expression that
    // fails the check is parsed again with every literal typed `dyn`, which defers the overload
    // choice to evaluation as cel-rust does. Well-typed expressions keep their static dispatch.
    const widened = parseWidened(env, source, root);
    if (widened !== undefined && typeErrorOf(widened) === undefined) {
      parsed = widened;
      staticError = undefined;
    }
  }
  if (staticError !== undefined) {
    const error = staticError;
    const failure: CelResult = { ok: false, error, code: 'type_error' };
    return { ok: true, source, references, onlyJwt: false, staticError: error, evaluate: () => failure };
  }

  // Throws (caught above: the expression is refused) on an AST this module does not
  // understand, so nothing is ever evaluated without its bounds.
  const checkedRoot = parsed.ast as unknown as CelAstNode;
  instrument(checkedRoot);
  const run = parsed as (ctx: object) => unknown;
  const fast = fastPathOf(checkedRoot);
  return {
    ok: true,
    source,
    references,
    onlyJwt: dependsOnJwtAlone(references, checkedRoot),
    evaluate(activation: CelActivation): CelResult {
      if (fast !== undefined && activation !== undefined && activation !== null) {
        const answered = fast(activation);
        if (answered !== undefined) return answered;
      }
      const saved = startBudget();
      // Errors are values here (`default(jwt.role, 'user')` catches a missing-key error on the
      // hot path); capturing a stack trace for each costs microseconds and is never read.
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        const value = run(activation ?? {});
        if (value instanceof Promise) {
          value.catch(() => {});
          return { ok: false, error: 'expression evaluated asynchronously', code: 'internal_error' };
        }
        return { ok: true, value: value as CelValue };
      } catch (err) {
        return failureOf(err);
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
        restoreBudget(saved);
      }
    },
  };
}

type Parsed = ReturnType<Environment['parse']>;

/** The type checker's verdict: undefined when the expression checks, else its message. */
function typeErrorOf(parsed: Parsed): string | undefined {
  try {
    const checked = parsed.check();
    return checked.valid ? undefined : ((checked.error as { summary?: string } | undefined)?.summary ?? String(checked.error?.message));
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * `source` parsed again with each literal wrapped in `dyn(…)` (literals are leaves: their source
 * ranges never overlap), or undefined when there is no literal or the result does not parse
 * (one more level of nesting per literal can cross the parser's depth bound).
 */
function parseWidened(env: Environment, source: string, root: CelAstNode): Parsed | undefined {
  const literals: { start: number; end: number }[] = [];
  const stack: CelAstNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.op === 'value') literals.push(node);
    else stack.push(...children(node, false));
  }
  if (literals.length === 0) return undefined;
  literals.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const { start, end } of literals) {
    if (start < at || end <= start) return undefined;
    out += `${source.slice(at, start)}dyn(${source.slice(start, end)})`;
    at = end;
  }
  out += source.slice(at);
  try {
    return env.parse(out);
  } catch {
    return undefined;
  }
}

/**
 * Compiles, or stands in an expression that always fails when `source` does not compile
 * (upstream's `new_permissive`: an authorization rule that cannot compile denies, a header whose
 * value cannot compile is removed, and the rest of the policy still applies).
 */
export function compileExpressionOrFailing(source: string): CompiledExpression {
  const compiled = compileExpression(source);
  if (compiled.ok) return compiled;
  const failure: CelResult = {
    ok: false,
    error: `the expression ${JSON.stringify(source)} could not be compiled: ${compiled.error}`,
    code: 'compile_error',
  };
  return { ok: true, source, references: NO_REFERENCES, onlyJwt: false, staticError: failure.error, evaluate: () => failure };
}

const NO_REFERENCES: CelReferences = Object.freeze({
  request: false,
  requestHeaders: false,
  requestBody: false,
  jwt: false,
  source: false,
  response: false,
  responseBody: false,
  metadata: false,
  proxy: false,
  destination: false,
});

function failureOf(err: unknown): CelResult {
  if (err === COST_LIMIT_EXCEEDED) return { ok: false, error: COST_LIMIT_EXCEEDED.summary, code: COST_LIMIT_EXCEEDED.code };
  if (err instanceof RangeError) {
    // A stack overflow or an over-long string from deep inside the engine: bounded, reported.
    return { ok: false, error: `evaluation exceeded an engine limit: ${err.message}`, code: 'stack_overflow' };
  }
  if (typeof err === 'object' && err !== null) {
    const e = err as { summary?: unknown; message?: unknown; code?: unknown };
    const message = typeof e.summary === 'string' ? e.summary : typeof e.message === 'string' ? e.message : String(err);
    return { ok: false, error: message, code: typeof e.code === 'string' ? e.code : 'evaluation_error' };
  }
  return { ok: false, error: String(err), code: 'evaluation_error' };
}

/**
 * Linear pre-scan: the first offset where brackets (`( [ {`) nest deeper than `max`, or a run of
 * unary `!`/`-` is longer than `max`, outside string literals and `//` comments; undefined if
 * none. Runs before the recursive-descent parser so that 10,000 `(` are refused without
 * recursing 10,000 deep.
 */
export function scanNesting(src: string, max: number): number | undefined {
  let depth = 0;
  let unaryRun = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      i = skipString(src, i);
      unaryRun = 0;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      if (++depth > max) return i;
    } else if (c === ')' || c === ']' || c === '}') {
      depth--;
    }
    if (c === '!' || c === '-') {
      if (++unaryRun > max) return i;
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      unaryRun = 0;
    }
  }
  return undefined;
}

/** Index of the last character of the string literal opening at `i` (or the end of input). */
function skipString(src: string, i: number): number {
  const q = src[i]!;
  const prev = i > 0 ? src[i - 1]! : '';
  const prev2 = i > 1 ? src[i - 2]! : '';
  // r'…', R'…', br'…', rb'…': backslashes are not escapes.
  const raw = prev === 'r' || prev === 'R' || ((prev === 'b' || prev === 'B') && (prev2 === 'r' || prev2 === 'R'));
  const triple = src[i + 1] === q && src[i + 2] === q;
  let j = triple ? i + 3 : i + 1;
  for (; j < src.length; j++) {
    const c = src[j]!;
    if (c === '\\' && !raw) {
      j++;
      continue;
    }
    if (c === q && (!triple || (src[j + 1] === q && src[j + 2] === q))) return triple ? j + 2 : j;
    if (c === '\n' && !triple) return j;
  }
  return src.length;
}

/** Children of a node: AST nodes in its arguments and, with `withMeta`, in its macro expansion. */
function children(node: CelAstNode, withMeta: boolean): CelAstNode[] {
  let out: CelAstNode[];
  const args = node.args as never;
  switch (node.op) {
    case 'value':
    case 'id':
    case 'accuValue':
    case 'accuInc':
      out = [];
      break;
    case '.':
    case '.?':
      out = [(args as [CelAstNode])[0]];
      break;
    case '!_':
    case '-_':
    case 'accuPush':
      out = [args as CelAstNode];
      break;
    case 'call':
      out = [...(args as [string, CelAstNode[]])[1]];
      break;
    case 'rcall':
      out = [(args as [string, CelAstNode])[1], ...(args as [string, CelAstNode, CelAstNode[]])[2]];
      break;
    case 'map':
      out = (args as [CelAstNode, CelAstNode][]).flat();
      break;
    case 'comprehension': {
      const c = args as { iterable: CelAstNode; init: CelAstNode; step: CelAstNode };
      out = [c.iterable, c.init, c.step];
      break;
    }
    default:
      // Binary operators, `?:`, `[]`, list literals: an array of nodes. Anything else is
      // searched generically (an operator this module does not know yet).
      out = Array.isArray(args) && (args as unknown[]).every(isAstNode) ? [...(args as CelAstNode[])] : findNodes(args);
  }
  if (withMeta) {
    const meta = node.meta;
    if (meta.alternate) out.push(meta.alternate);
    if (meta.macro) out.push(...findNodes(meta.macro));
  }
  return out;
}

function isAstNode(v: unknown): v is CelAstNode {
  return v instanceof (astNodeClass as new () => object);
}

/** AST nodes anywhere in `v` (arrays and plain objects, a few levels deep). */
function findNodes(v: unknown, out: CelAstNode[] = [], level = 0): CelAstNode[] {
  if (typeof v !== 'object' || v === null || level > 4) return out;
  if (isAstNode(v)) out.push(v);
  else if (Array.isArray(v)) for (const x of v) findNodes(x, out, level + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) findNodes(x, out, level + 1);
  return out;
}

/**
 * The AST's depth, iteratively (a recursive walk would overflow exactly where it matters). Walks
 * the parse tree (`args` only): macro expansions share their argument nodes, and walking them as
 * well would visit nested macros exponentially often; they add a constant few levels each.
 */
function astDepth(root: CelAstNode): number {
  let max = 0;
  const stack: [CelAstNode, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) max = depth;
    if (max > CelLimits.maxAstDepth) return max;
    for (const child of children(node, false)) stack.push([child, depth + 1]);
  }
  return max;
}

function collectReferences(root: CelAstNode): CelReferences {
  const refs: Record<keyof CelReferences, boolean> = { ...NO_REFERENCES };
  const stack: [CelAstNode, CelAstNode | undefined][] = [[root, undefined]];
  const seen = new Set<CelAstNode>();
  while (stack.length > 0) {
    const [node, parent] = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    if (node.op === 'id' && typeof node.args === 'string' && (ROOTS as readonly string[]).includes(node.args)) {
      const name = node.args as Root;
      refs[name] = true;
      if ((name === 'request' || name === 'response') && mayReachField(node, parent, 'body'))
        refs[name === 'request' ? 'requestBody' : 'responseBody'] = true;
      if (name === 'request' && mayReachField(node, parent, 'headers')) refs.requestHeaders = true;
    }
    if (node.op === 'call' && Array.isArray(node.args) && node.args[0] === 'variables') {
      for (const k of Object.keys(refs) as (keyof CelReferences)[]) refs[k] = true;
    }
    for (const child of children(node, false)) stack.push([child, node]);
  }
  return Object.freeze(refs);
}

/** False only when `node` (the `request`/`response` identifier) is used as `x.field` or `x['field']` with another field. */
function mayReachField(node: CelAstNode, parent: CelAstNode | undefined, field: string): boolean {
  if (!parent || !Array.isArray(parent.args) || parent.args[0] !== node) return true;
  if (parent.op === '.') return parent.args[1] === field;
  if (parent.op === '[]') {
    const index = parent.args[1] as CelAstNode;
    return !(index.op === 'value' && typeof index.args === 'string' && index.args !== field);
  }
  return true;
}

/** Functions whose result is not a function of their arguments: an expression calling one is never kept. */
const RANDOM_FUNCTIONS = new Set(['uuid', 'random']);

function dependsOnJwtAlone(refs: CelReferences, root: CelAstNode): boolean {
  if (!refs.jwt) return false;
  for (const k of Object.keys(refs) as (keyof CelReferences)[]) if (k !== 'jwt' && refs[k]) return false;
  const stack: CelAstNode[] = [root];
  const seen = new Set<CelAstNode>();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    if (node.op === 'call' && RANDOM_FUNCTIONS.has((node.args as [string])[0])) return false;
    stack.push(...children(node, true));
  }
  return true;
}

/**
 * `variables()`: every variable the request has, as one map (upstream: "exposes all of the
 * variables available as a value"; collectReferences marks every root read, so all are built).
 */
const variables: CelEvaluateFn = (_ev, _n, ctx) => {
  const out: Record<string, unknown> = {};
  const lookup = ctx as unknown as { getValue(name: string): unknown };
  for (const root of ROOTS) {
    const v = lookup.getValue(root);
    if (v !== undefined) setOwn(out, root, v);
  }
  return out;
};

/** Node kinds whose result is charged by size: what reads or produces a (possibly large) value. */
const SIZED = new Set(['id', '.', '[]', 'call', 'rcall']);

/**
 * Gives every node of a checked AST its own `evaluate` that charges the cost budget, bounds the
 * length of `+` results, and, for method calls whose library semantics differ from upstream's,
 * routes to this module's implementation (`matches` on RE2, the strings extension).
 */
function instrument(root: CelAstNode): void {
  const seen = new Set<CelAstNode>();
  const stack: CelAstNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    wrap(node);
    for (const child of children(node, true)) stack.push(child);
  }
}

function wrap(node: CelAstNode): void {
  const meta = node.meta;
  if (meta.alternate) {
    const alt = meta.alternate;
    node.evaluate = (ev, _n, ctx) => alt.evaluate(ev, alt, ctx);
    return;
  }
  if (meta.macro) {
    const macro = meta.macro;
    node.evaluate = (ev, _n, ctx) => {
      chargeNode();
      return macro.evaluate(ev, macro, ctx);
    };
    return;
  }
  const inner: CelEvaluateFn =
    node.op === 'rcall'
      ? overriddenMethod(node, meta.evaluate)
      : node.op === 'call'
        ? overriddenFunction(node, meta.evaluate)
        : meta.evaluate;
  if (typeof inner !== 'function') throw new Error(`node ${node.op} has no evaluator`);
  if (node.op === '+') {
    node.evaluate = (ev, n, ctx) => {
      chargeNode();
      const v = inner.call(n, ev, n, ctx);
      chargeValue(v);
      checkValueLength(v);
      return v;
    };
  } else if (SIZED.has(node.op)) {
    node.evaluate = (ev, n, ctx) => {
      chargeNode();
      const v = inner.call(n, ev, n, ctx);
      chargeValue(v);
      return v;
    };
  } else {
    node.evaluate = (ev, n, ctx) => {
      chargeNode();
      return inner.call(n, ev, n, ctx);
    };
  }
}

const NOT_HANDLED = Symbol('not handled');
type MethodImpl = (receiver: unknown, args: unknown[]) => unknown;

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is bigint => typeof v === 'bigint';

/**
 * Methods the library has with other semantics than upstream's. They are type-checked by the
 * library's declarations and evaluated here; a receiver or argument of another type falls back
 * to the library's dispatch (which reports "no matching overload").
 */
const METHOD_OVERRIDES: Readonly<Record<string, MethodImpl>> = {
  // RE2 instead of JS RegExp: linear time, RE2 syntax.
  matches: guarded((s, a) => (isStr(s) && a.length === 1 && isStr(a[0]) ? celMatches(s, a[0]) : NOT_HANDLED)),
  lowerAscii: (s, a) => (isStr(s) && a.length === 0 ? strings.lowerAscii(s) : NOT_HANDLED),
  upperAscii: (s, a) => (isStr(s) && a.length === 0 ? strings.upperAscii(s) : NOT_HANDLED),
  indexOf: guarded((s, a) =>
    isStr(s) && isStr(a[0]) && (a.length === 1 || (a.length === 2 && isInt(a[1])))
      ? strings.indexOf(s, a[0], a[1] as bigint | undefined)
      : NOT_HANDLED,
  ),
  lastIndexOf: guarded((s, a) =>
    isStr(s) && isStr(a[0]) && (a.length === 1 || (a.length === 2 && isInt(a[1])))
      ? strings.lastIndexOf(s, a[0], a[1] as bigint | undefined)
      : NOT_HANDLED,
  ),
  // Same result as the library's, without its per-character iterator (15 ms per MiB).
  size: (s, a) => (isStr(s) && a.length === 0 ? strings.codePointCount(s) : NOT_HANDLED),
  substring: guarded((s, a) =>
    isStr(s) && isInt(a[0]) && (a.length === 1 || (a.length === 2 && isInt(a[1])))
      ? strings.substring(s, a[0], a[1] as bigint | undefined)
      : NOT_HANDLED,
  ),
};

function overriddenMethod(node: CelAstNode, inner: CelEvaluateFn): CelEvaluateFn {
  const [name, receiver, argNodes] = node.args as [string, CelAstNode, CelAstNode[]];
  const impl = Object.hasOwn(METHOD_OVERRIDES, name) ? METHOD_OVERRIDES[name] : undefined;
  if (!impl) return inner;
  return (ev: CelEvaluator, n: CelAstNode, ctx) => {
    const recv = ev.run(receiver, ctx);
    const args = argNodes.map((a) => ev.run(a, ctx));
    const result = impl(recv, args);
    if (result !== NOT_HANDLED) return result;
    if (!n.handle) throw new Error(`no dispatch for method ${name}`);
    return n.handle([recv, ...args], ev, n);
  };
}

/** Global functions routed here: only `size(string)` (see `size` above). */
function overriddenFunction(node: CelAstNode, inner: CelEvaluateFn): CelEvaluateFn {
  const [name, argNodes] = node.args as [string, CelAstNode[]];
  if (name === 'variables' && argNodes.length === 0) return variables;
  if (name !== 'size' || argNodes.length !== 1) return inner;
  const arg = argNodes[0]!;
  return (ev: CelEvaluator, n: CelAstNode, ctx) => {
    const v = ev.run(arg, ctx);
    if (typeof v === 'string') return strings.codePointCount(v);
    if (!n.handle) throw new Error(`no dispatch for function ${name}`);
    // A call node's dispatch takes (values, node, evaluator), a method's (values, evaluator, node).
    return (n.handle as unknown as (values: unknown[], node: CelAstNode, ev: CelEvaluator) => unknown)([v], n, ev);
  };
}
