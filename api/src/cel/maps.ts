import { setOwn } from '../own-property.js';
import type { Environment } from '@marcbachmann/cel-js';
import { chargeNode } from './cost.js';
import { celFail as fail } from './errors.js';
import type { CelAstNode, CelChecker, CelContext, CelEvaluator, CelMacroInput, CelType } from './library.js';

/**
 * upstream's map functions (its `celx` general.rs), as macros that bind a name per entry:
 * - `m.mapValues(v, expr)`: the same keys, each value replaced by `expr` with `v` bound to it
 *   (standard CEL's `map` only maps keys into a list);
 * - `m.filterKeys(k, pred)`: the entries whose key makes `pred` true;
 * - `m.removeKeys(k, pred)`: the entries whose key does not.
 * A predicate that is not a bool is an error (upstream: "must evaluate to bool"). Each entry is
 * charged to the evaluation's cost budget, so a map of a 1 MiB JSON body stays bounded.
 */
type Kind = 'mapValues' | 'filterKeys' | 'removeKeys';

interface EntryMacro {
  readonly kind: Kind;
  readonly receiver: CelAstNode;
  readonly name: string;
  readonly body: CelAstNode;
  bodyCtx: CelContext | undefined;
  readonly async: false;
  typeCheck(checker: CelChecker, m: EntryMacro, ctx: CelContext): CelType;
  evaluate(ev: CelEvaluator, m: EntryMacro, ctx: CelContext): unknown;
}

/** A CEL map's entries: a Map, or a plain object (an ip, a duration or another typed value is not a map). */
function entries(m: unknown, kind: Kind): Iterable<[unknown, unknown]> {
  if (m instanceof Map) return m.entries();
  if (typeof m === 'object' && m !== null) {
    const proto: unknown = Object.getPrototypeOf(m);
    if (proto === Object.prototype || proto === null) return Object.entries(m);
  }
  return fail('no_matching_overload', `${kind}(): the receiver is not a map`);
}

function put(out: Record<string, unknown>, key: unknown, value: unknown): void {
  setOwn(out, String(key), value);
}

function entryMacro(kind: Kind) {
  return ({ args, receiver }: CelMacroInput): EntryMacro => {
    const ident = args[0]!;
    if (ident.op !== 'id' || typeof ident.args !== 'string')
      throw new Error(`${kind}(name, expr): the first argument must be an identifier`);
    return {
      kind,
      receiver: receiver!,
      name: ident.args,
      body: args[1]!,
      bodyCtx: undefined,
      async: false,
      typeCheck(checker: CelChecker, m: EntryMacro, ctx: CelContext): CelType {
        checker.check(m.receiver, ctx);
        m.bodyCtx = ctx.forkWithVariable(m.name, checker.getType('dyn'));
        checker.check(m.body, m.bodyCtx);
        return checker.getType('dyn');
      },
      evaluate(ev: CelEvaluator, m: EntryMacro, ctx: CelContext): unknown {
        const out: Record<string, unknown> = {};
        for (const [key, value] of entries(ev.run(m.receiver, ctx), m.kind)) {
          chargeNode();
          const r = ev.run(m.body, m.bodyCtx!.reuse(ctx).setIterValue(m.kind === 'mapValues' ? value : key, ev));
          if (m.kind === 'mapValues') {
            put(out, key, r);
            continue;
          }
          if (typeof r !== 'boolean') fail('no_matching_overload', `${m.kind}(): the predicate must evaluate to bool`);
          if (r === (m.kind === 'filterKeys')) put(out, key, value);
        }
        return out;
      },
    };
  };
}

export function registerMapMacros(env: Environment): void {
  for (const kind of ['mapValues', 'filterKeys', 'removeKeys'] as const)
    env.registerFunction(`dyn.${kind}(ast, ast): dyn`, entryMacro(kind));
}
