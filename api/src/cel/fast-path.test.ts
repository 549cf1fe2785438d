import { describe, expect, it } from 'vitest';
import type { CelActivation } from './activation.js';
import { compileExpression, type CompiledExpression } from './compile.js';

const compile = (source: string): CompiledExpression => {
  const c = compileExpression(source);
  if (!c.ok) throw new Error(c.error);
  return c;
};
/** The same expression the fast path does not recognise (`[x][0]` is `x` to the interpreter): the reference answer. */
const viaInterpreter = (path: string) => `[${path}][0]`;

const activations: Record<string, CelActivation> = {
  'string claims': { jwt: { sub: 'alice', group: 'admins' } },
  'non-string claim': { jwt: { sub: 7n, group: ['a', 'b'] } },
  'missing claim': { jwt: { other: 'x' } },
  'no token': {},
  'null claim': { jwt: { sub: null } },
  'headers as a Map': { request: { headers: new Map<string, string | readonly string[]>([['x-tier', 'premium']]) } as never },
  'repeated header': { request: { headers: new Map<string, string | readonly string[]>([['x-tier', ['a', 'b']]]) } as never },
};

describe('CEL fast path: the same answer as the interpreter, for every shape it takes and every value it meets', () => {
  const cases: Array<[string, string]> = [
    ['jwt.sub', 'jwt.sub'],
    ["jwt.sub == 'alice'", `${viaInterpreter('jwt.sub')} == 'alice'`],
    ["'alice' == jwt.sub", `'alice' == ${viaInterpreter('jwt.sub')}`],
    ["jwt.sub != 'alice'", `${viaInterpreter('jwt.sub')} != 'alice'`],
    ["jwt.group == 'admins'", `${viaInterpreter('jwt.group')} == 'admins'`],
    ["request.headers['x-tier']", viaInterpreter("request.headers['x-tier']")],
    ["request.headers['x-tier'] == 'premium'", `${viaInterpreter("request.headers['x-tier']")} == 'premium'`],
    // `default(x, …)` with `x` wrapped: the interpreter's lazy default, on a list index it cannot walk.
    ["default(jwt.sub, 'user')", "default([jwt.sub][0], 'user')"],
    ["default(jwt.group, 'none')", "default([jwt.group][0], 'none')"],
    ["default(jwt.sub.inner, 'x')", "default([jwt.sub][0].inner, 'x')"],
    ["default(request.headers['x-tier'], 'free')", "default([request.headers['x-tier']][0], 'free')"],
  ];
  for (const [name, activation] of Object.entries(activations)) {
    it.each(cases)(`${name}: %s`, (fastShape, reference) => {
      const got = compile(fastShape).evaluate(activation);
      const want = compile(reference).evaluate(activation);
      // Error texts name the expression's position; the outcome and the code must match.
      expect(got.ok ? { ok: true, value: got.value } : { ok: false, code: got.code }).toEqual(
        want.ok ? { ok: true, value: want.value } : { ok: false, code: want.code },
      );
    });
  }

  it('answers a string claim without the interpreter: a getter it would read is not needed', () => {
    let reads = 0;
    const jwt = {
      sub: 'alice',
      get other() {
        reads++;
        return 'x';
      },
    };
    expect(compile("jwt.sub == 'alice'").evaluate({ jwt } as never)).toEqual({ ok: true, value: true });
    expect(reads).toBe(0);
  });
});
