import { describe, expect, it } from 'vitest';
import { compileExpression, compileExpressionOrFailing, scanNesting, type CompiledExpression } from './compile.js';
import { lastEvaluationCost } from './cost.js';
import { CelLimits } from './limits.js';
import type { CelActivation } from './activation.js';

/** An activation with a test variable `x` besides agentgateway's (the engine accepts any name). */
const withX = (x: unknown): CelActivation => ({ x }) as unknown as CelActivation;

function compiled(expr: string): CompiledExpression {
  const c = compileExpression(expr);
  if (!c.ok) throw new Error(`${expr.slice(0, 80)}: ${c.error}`);
  return c;
}

function refused(expr: string): string {
  const c = compileExpression(expr);
  if (c.ok) throw new Error(`${expr.slice(0, 80)} compiled`);
  return c.error;
}

const chain = (n: number, term = 'x', op = ' + ') => Array(n).fill(term).join(op);
const nested = (n: number, open = '(', close = ')') => open.repeat(n) + '1' + close.repeat(n);

describe('compile: size and nesting bounds', () => {
  it(`accepts ${CelLimits.maxExpressionLength} characters and refuses one more`, () => {
    const lit = (n: number) => `'${'a'.repeat(n - 2)}'`;
    expect(compiled(lit(16_384)).evaluate({})).toEqual({ ok: true, value: 'a'.repeat(16_382) });
    expect(refused(lit(16_385))).toBe('expression is 16385 characters long, more than the limit of 16384');
  });

  it('accepts 64 nested parentheses, brackets and calls and refuses 65 before parsing', () => {
    expect(compiled(nested(64)).evaluate({})).toEqual({ ok: true, value: 1n });
    expect(compiled(nested(64, '[', ']')).ok).toBe(true);
    expect(compiled(nested(64, 'string(', ')')).evaluate({})).toEqual({ ok: true, value: '1' });
    expect(compiled(nested(64, "'x'.startsWith(", ')')).ok).toBe(true);
    expect(compileExpression(nested(65))).toEqual({ ok: false, error: 'expression nests deeper than 64 levels', offset: 64 });
    expect(compileExpression(nested(65, '{1:', '}'))).toMatchObject({ ok: false, offset: 3 * 64 });
  });

  it('refuses 8,000 nested parentheses (a 16 KiB expression) and 10,000 (longer) without recursing', () => {
    expect(compileExpression(nested(8_000))).toEqual({ ok: false, error: 'expression nests deeper than 64 levels', offset: 64 });
    expect(refused(nested(10_000))).toBe('expression is 20001 characters long, more than the limit of 16384');
  });

  it('refuses long runs of unary operators', () => {
    expect(compiled('!'.repeat(64) + 'true').evaluate({})).toEqual({ ok: true, value: true });
    expect(refused('!'.repeat(16_000) + 'true')).toBe('expression nests deeper than 64 levels');
    expect(refused('-'.repeat(65) + '1')).toBe('expression nests deeper than 64 levels');
  });

  it('ignores brackets inside string literals and comments when scanning', () => {
    expect(scanNesting(`'${'('.repeat(100)}' == "${'['.repeat(100)}"`, 64)).toBeUndefined();
    expect(scanNesting(`r'\\' + '((((('`, 2)).toBeUndefined();
    expect(scanNesting(`'''${'('.repeat(100)}'''`, 64)).toBeUndefined();
    expect(scanNesting(`1 // ${'('.repeat(100)}\n+ 1`, 64)).toBeUndefined();
    expect(compiled(`'${'('.repeat(100)}'.size()`).evaluate({})).toEqual({ ok: true, value: 100n });
  });

  it(`accepts an AST ${CelLimits.maxAstDepth} deep and refuses deeper operator chains`, () => {
    expect(compiled(chain(1_024)).evaluate(withX(1n))).toEqual({ ok: true, value: 1_024n });
    expect(refused(chain(1_025))).toBe('expression is deeper than 1024 levels (long operator chains count one level per operator)');
    expect(refused(chain(8_000, '1', '+'))).toMatch(/deeper than 1024 levels/);
  });

  it('accepts a full 16 KiB chain of realistic authorization terms', () => {
    let expr = "jwt.sub == 'a'";
    while (expr.length < 16_300) expr += " || jwt.sub == 'user-x'";
    expect(compiled(expr).evaluate({ jwt: { sub: 'a' } })).toEqual({ ok: true, value: true });
  });

  it('evaluates the deepest accepted AST from an already deep stack', () => {
    const deepest = compiled(chain(1_024));
    const descend = (n: number): unknown => (n === 0 ? deepest.evaluate(withX(1n)) : descend(n - 1));
    expect(descend(2_000)).toEqual({ ok: true, value: 1_024n });
  });

  it('reports parse errors with an offset', () => {
    expect(compileExpression('jwt.sub ==')).toMatchObject({ ok: false, offset: expect.any(Number) });
    expect(compileExpression("request.headers['x'] = 'y'").ok).toBe(false);
    // A template-style value (upstream's e2e "invalid expression" case) is not CEL.
    expect(compileExpression('{{ request.headers.foo }}').ok).toBe(false);
    expect(compileExpression('Bearer {{jwt.sub}}').ok).toBe(false);
  });

  it('compiles expressions that can never type-check, and fails them at evaluation (as upstream)', () => {
    const c = compiled('nosuchfn(x)');
    expect(c.staticError).toBe("found no matching overload for 'nosuchfn(dyn)'");
    expect(c.evaluate({ metadata: { x: 1n } })).toEqual({
      ok: false,
      error: "found no matching overload for 'nosuchfn(dyn)'",
      code: 'type_error',
    });
  });

  it('types are decided at evaluation where a static check would refuse (cel-rust has no checker)', () => {
    // A ternary with a null branch (upstream's "leave the body" idiom), mixed numeric equality.
    const refused = compiled("response.code == 429 ? 'refused' : null");
    expect(refused.staticError).toBeUndefined();
    expect(refused.evaluate({ response: { code: 429n, headers: {} } })).toEqual({ ok: true, value: 'refused' });
    expect(refused.evaluate({ response: { code: 200n, headers: {} } })).toEqual({ ok: true, value: null });
    expect(compiled('1 == 1.0').evaluate({})).toEqual({ ok: true, value: true });
    expect(compiled('1u == 1').evaluate({})).toEqual({ ok: true, value: true });
    expect(compiled("{'a': 1}.a == 1.0").evaluate({})).toEqual({ ok: true, value: true });
    expect(compiled("true ? 1 : 'a'").evaluate({})).toEqual({ ok: true, value: 1n });
    // Still an error where no overload exists for the values themselves.
    expect(compiled("1 + 'a'").evaluate({})).toMatchObject({ ok: false, code: 'no_such_overload' });
    // Literals inside strings are not touched by the re-typing.
    expect(compiled("metadata.x == 'dyn(1)' ? 'it' : null").evaluate({ metadata: { x: 'dyn(1)' } })).toEqual({ ok: true, value: 'it' });
  });

  it('stands in an always-failing expression for one that does not compile', () => {
    const c = compileExpressionOrFailing('jwt.sub ==');
    expect(c.ok).toBe(true);
    const r = c.evaluate({ jwt: { sub: 'a' } });
    expect(r).toMatchObject({ ok: false, code: 'compile_error' });
    expect(!r.ok && r.error).toMatch(/^the expression "jwt.sub ==" could not be compiled: /);
    expect(compileExpressionOrFailing('true').evaluate({})).toEqual({ ok: true, value: true });
  });
});

describe('evaluate never throws', () => {
  class Opaque {
    x = 1;
  }
  const cyclic: Record<string, unknown> = { a: 1n };
  cyclic['self'] = cyclic;
  const cyclic2: Record<string, unknown> = { a: 1n };
  cyclic2['self'] = cyclic2;
  it.each<[string, Record<string, unknown>]>([
    ['x.y', { x: () => 1 }],
    ['x.x', { x: new Opaque() }],
    ['x', { x: Symbol('s') }],
    ['toJson(x)', { x: cyclic }],
    ['x == y', { x: cyclic, y: cyclic2 }],
    ['x.size()', { x: undefined }],
    ['x[0]', { x: [] }],
    ['int(x)', { x: 'nope' }],
    ['x / 0', { x: 1n }],
    ['9223372036854775807 + x', { x: 1n }],
    ['jwt.sub', { jwt: null }],
    ['jwt.sub', { jwt: 'token' }],
  ])('%s', (expr, activation) => {
    const r = compiled(expr).evaluate(activation as never);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(typeof r.error).toBe('string');
      expect(typeof r.code).toBe('string');
    }
  });

  it('restores Error.stackTraceLimit after evaluating', () => {
    const before = Error.stackTraceLimit;
    compiled('x.y').evaluate({});
    expect(Error.stackTraceLimit).toBe(before);
  });
});

describe('hostile expressions are bounded', () => {
  const list1000 = `[${Array.from({ length: 1000 }, (_, i) => i).join(',')}]`;

  it('catastrophic-backtracking regexes answer at once (RE2, linear time)', () => {
    const input = 'a'.repeat(100_000) + '!';
    expect(compiled(`x.matches('(a+)+b')`).evaluate(withX(input))).toEqual({ ok: true, value: false });
    expect(compiled(`x.matches('(a|aa)*c')`).evaluate(withX(input))).toEqual({ ok: true, value: false });
    expect(compiled(`matches(x, '^(a+)+$')`).evaluate(withX(input))).toEqual({ ok: true, value: false });
    expect(compiled(`x.regexReplace('(a*)*b', 'y') == x`).evaluate(withX(input))).toEqual({ ok: true, value: true });
    // The same attack written into a 16 KiB expression.
    expect(compiled(`'${'a'.repeat(16_000)}!'.matches('(a+)+b')`).evaluate({})).toEqual({ ok: true, value: false });
  });

  it('a regex too large for its input is refused before it runs, and compiling patterns is charged', () => {
    // ~3,000 instructions × 10,000 characters: ~0.4 s in re2js's NFA; refused up front.
    expect(compiled(`x.matches('.{1000}.{1000}.{1000}')`).evaluate(withX('a'.repeat(10_000)))).toMatchObject({
      ok: false,
      code: 'cost_limit_exceeded',
    });
    expect(compiled(`x.matches('.{1000}.{1000}.{1000}')`).evaluate(withX('a'.repeat(100)))).toEqual({ ok: true, value: false });
    // Patterns built from data: at most ~50 distinct compilations per evaluation.
    expect(compiled(`${list1000}.map(x, 'a'.matches('^' + string(x))).size()`).evaluate({})).toMatchObject({
      ok: false,
      code: 'cost_limit_exceeded',
    });
    expect(compiled(`[1, 2, 3].map(x, 'a1'.matches('a' + string(x))).filter(b, b).size()`).evaluate({})).toEqual({ ok: true, value: 1n });
  });

  it(`json() accepts ${CelLimits.maxJsonInputLength} characters and refuses one more`, () => {
    const body = (n: number) => `{"k":"${'x'.repeat(n - 8)}"}`;
    const c = compiled('json(request.body).k.size()');
    expect(c.evaluate({ request: { body: body(1_048_576) } as never })).toEqual({ ok: true, value: 1_048_568n });
    expect(c.evaluate({ request: { body: body(1_048_577) } as never })).toEqual({
      ok: false,
      code: 'json_too_large',
      error: 'json() input of 1048577 characters exceeds the limit of 1048576',
    });
    expect(c.evaluate({ request: { body: new TextEncoder().encode(body(1_048_577)) } as never })).toMatchObject({
      ok: false,
      code: 'json_too_large',
    });
  });

  it(`json() accepts ${CelLimits.maxJsonDepth} levels of nesting and refuses more`, () => {
    const c = compiled('json(x) != null');
    expect(c.evaluate(withX('['.repeat(128) + ']'.repeat(128)))).toEqual({ ok: true, value: true });
    expect(c.evaluate(withX('['.repeat(129) + ']'.repeat(129)))).toMatchObject({ ok: false, code: 'json_too_deep' });
    expect(c.evaluate(withX('['.repeat(100_000) + ']'.repeat(100_000)))).toMatchObject({ ok: false, code: 'json_too_deep' });
  });

  it('a json() of a 1 MiB body with a scan of its items fits the budget', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `item${i}` }));
    const body = JSON.stringify({ items });
    expect(body.length).toBeLessThan(1_048_576);
    const r = compiled("json(request.body).items.exists(i, i.name == 'item19999') && json(request.body).items.size() == 20000").evaluate({
      request: { body } as never,
    });
    expect(r).toEqual({ ok: true, value: true });
    expect(lastEvaluationCost()).toBeLessThan(CelLimits.maxEvaluationCost);
  });

  it('nested comprehensions stop at the cost budget', () => {
    const r = compiled(`${list1000}.map(x, ${list1000}.map(y, x + y)).size()`).evaluate({});
    expect(r).toEqual({ ok: false, code: 'cost_limit_exceeded', error: 'evaluation cost limit exceeded (1000000 units)' });
    // exists() swallows errors of its steps: the budget error still ends it.
    expect(compiled(`${list1000}.exists(x, ${list1000}.exists(y, ${list1000}.exists(z, x + y + z < 0)))`).evaluate({})).toMatchObject({
      ok: false,
      code: 'cost_limit_exceeded',
    });
    // Neither coalesce() nor default() swallows it.
    expect(compiled(`coalesce(${list1000}.map(x, ${list1000}.map(y, y)), 'fallback')`).evaluate({})).toMatchObject({
      code: 'cost_limit_exceeded',
    });
    expect(compiled(`default(${list1000}.map(x, ${list1000}.map(y, y)), 'fallback')`).evaluate({})).toMatchObject({
      code: 'cost_limit_exceeded',
    });
  });

  it('value-doubling is bounded by length or by cost', () => {
    const doubling = (seed: string, n: number) => {
      let src = '';
      for (let i = 0; i < n; i++) src += `cel.bind(v${i}, ${i === 0 ? seed : `v${i - 1} + v${i - 1}`}, `;
      return `${src}v${n - 1}.size()${')'.repeat(n)}`;
    };
    expect(compiled(doubling(`'${'a'.repeat(16)}'`, 40)).evaluate({})).toEqual({
      ok: false,
      code: 'value_too_large',
      error: 'value of length 8388608 exceeds the limit of 4194304',
    });
    expect(compiled(doubling('[1,2,3,4,5,6,7,8]', 40)).evaluate({})).toMatchObject({ ok: false, code: 'cost_limit_exceeded' });
    expect(compiled(`x.replace('', '${'y'.repeat(16)}')`).evaluate(withX('x'.repeat(1 << 20)))).toMatchObject({
      ok: false,
      code: 'value_too_large',
    });
  });

  it('repeated scans of a large value stop at the cost budget', () => {
    const body = 'x'.repeat(1 << 20);
    expect(compiled(`${list1000}.map(x, request.body.contains('zzz')).size()`).evaluate({ request: { body } as never })).toMatchObject({
      code: 'cost_limit_exceeded',
    });
    expect(compiled(`${list1000}.map(x, json(request.body + string(x))).size()`).evaluate({ request: { body } as never })).toMatchObject({
      ok: false,
    });
  });

  it('each evaluation gets a fresh budget', () => {
    const heavy = compiled(`${list1000}.map(x, ${list1000}.map(y, y)).size()`);
    const light = compiled('x + 1');
    expect(heavy.evaluate({})).toMatchObject({ code: 'cost_limit_exceeded' });
    expect(light.evaluate(withX(1n))).toEqual({ ok: true, value: 2n });
    expect(lastEvaluationCost()).toBeLessThan(10);
  });
});

describe('references', () => {
  const none = {
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
  };
  it.each<[string, Partial<typeof none>]>([
    ['jwt.sub', { jwt: true }],
    ["default(jwt.role, 'user')", { jwt: true }],
    ["request.headers['x'] == 'y'", { request: true, requestHeaders: true }],
    ["request.method != 'TRACE'", { request: true }],
    ['request.path.startsWith(jwt.sub)', { request: true, jwt: true }],
    ['json(request.body).a', { request: true, requestBody: true }],
    ["request['headers'].size()", { request: true, requestHeaders: true }],
    ["request['body'].size()", { request: true, requestBody: true }],
    ["request['path'].size()", { request: true }],
    ['toJson(request)', { request: true, requestHeaders: true, requestBody: true }],
    ['request.with(r, r.body)', { request: true, requestHeaders: true, requestBody: true }],
    ['has(response.body)', { response: true, responseBody: true }],
    ['response.code == 200', { response: true }],
    ["cidr('10.0.0.0/8').containsIP(source.address)", { source: true }],
    ['metadata.a + proxy.gateway + destination.address', { metadata: true, proxy: true, destination: true }],
    ["[1].exists(x, x == 1) && 'jwt' == 'request'", {}],
    ['requestx.body', {}],
  ])('%s', (expr, want) => {
    expect(compiled(expr).references).toEqual({ ...none, ...want });
  });

  it.each<[string, boolean]>([
    ['jwt.sub', true],
    ["default(jwt.role, 'user') == 'admin'", true],
    ["jwt.scope.split(' ').exists(s, s == 'read')", true],
    ['jwt.sub + uuid()', false],
    ['jwt.n > random()', false],
    ["jwt.sub == request.headers['x']", false],
    ["'x'", false],
    ['variables().jwt.sub', false],
  ])('%s depends on jwt alone: %s', (expr, want) => {
    expect(compiled(expr).onlyJwt).toBe(want);
  });

  it('variables() references everything', () => {
    expect(Object.values(compiled('variables()').references).every(Boolean)).toBe(true);
  });
});
