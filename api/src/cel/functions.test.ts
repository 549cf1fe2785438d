import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CelActivation } from './activation.js';
import { compileExpression, type CelResult } from './compile.js';
import { CelCidr, CelIp } from './ip-cidr.js';
import { sha256, toHex } from './sha256.js';

/**
 * Golden tables of expression → result, from upstream's function tests
 * (agentgateway/agentgateway `crates/celx/src/function_tests.rs` and the strings extension tests
 * in `crates/celx/src/strings.rs`) plus the docs' examples. Upstream compares JSON renderings;
 * these tables compare exact CEL values (int is `bigint`, double is `number`), and ip/cidr
 * values by their text, as upstream's JSON does.
 */
function run(expr: string, activation: CelActivation = {}): CelResult {
  const compiled = compileExpression(expr);
  if (!compiled.ok) throw new Error(`${expr}: ${compiled.error}`);
  return compiled.evaluate(activation);
}

function value(expr: string, activation?: CelActivation): unknown {
  const r = run(expr, activation);
  if (!r.ok) throw new Error(`${expr}: [${r.code}] ${r.error}`);
  return r.value instanceof CelIp || r.value instanceof CelCidr ? r.value.toString() : r.value;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('upstream general functions', () => {
  it.each<[string, unknown]>([
    [`json('{"hi":1}').hi`, 1n],
    [`json('{"hi":1.5}').hi`, 1.5],
    [`json(b'{"a":[true,null,"x"]}').a`, [true, null, 'x']],
    [`json('[1, {"b": -2}]')`, [1n, { b: -2n }]],
    [`toJson({"hello": "world"})`, '{"hello":"world"}'],
    [`toJson([1, 2.5, "x", true, null])`, '[1,2.5,"x",true,null]'],
    [`toJson(1.0)`, '1.0'],
    [`toJson({"b": b"hi"})`, '{"b":"aGk="}'],
    [`to_json({"a": 1})`, '{"a":1}'],
    [`toJson(json('{"z":1,"a":{"y":[1,2]}}'))`, '{"z":1,"a":{"y":[1,2]}}'],
    [`base64.encode('hello')`, 'aGVsbG8='],
    [`base64Encode('hello')`, 'aGVsbG8='],
    [`base64.encode(b'hello')`, 'aGVsbG8='],
    [`string(base64.decode("aGVsbG8="))`, 'hello'],
    [`string(base64.decode(base64.encode("hello")))`, 'hello'],
    [`string(base64Decode(base64Encode("hello")))`, 'hello'],
    [`string(base64.decode('Zg=='))`, 'f'],
    [`string(base64.decode('Zg'))`, 'f'],
    [`base64.decode('aGk=')`, utf8('hi')],
    [`url.encode("hello world/?x=1&y=2")`, 'hello%20world%2F%3Fx%3D1%26y%3D2'],
    [`url.encode("abc-._~")`, 'abc-._~'],
    [`url.encode("!")`, '%21'],
    [`url.encode("*'()")`, '%2A%27%28%29'],
    [`url.encode("é")`, '%C3%A9'],
    [`url.decode("hello%20world%2F%3Fx%3D1%26y%3D2")`, 'hello world/?x=1&y=2'],
    [`url.decode("a+b")`, 'a+b'],
    [`url.decode("100%")`, '100%'],
    [`url.decode(url.encode("hello world"))`, 'hello world'],
    [`url.encode("hello")`, 'hello'],
    [`sha256.encode("hello")`, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'],
    [`sha256.encode(b"hello")`, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'],
    [`sha256.encode("")`, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    [`default(a, "b")`, 'b'],
    [`default({"a":1}["a"], 2)`, 1n],
    [`default({"a":1}["b"], 2)`, 2n],
    [`default(a.b, "b")`, 'b'],
    [`default(null, "b")`, 'b'],
    [`default("", "b")`, ''],
    [`coalesce(a, "b")`, 'b'],
    [`coalesce({"a":1}["b"], {"a":2}["a"], 3)`, 2n],
    [`coalesce(fail("bad"), 1 / 0, "fallback")`, 'fallback'],
    [`coalesce(null, "fallback")`, 'fallback'],
    [`coalesce(null)`, null],
    [`coalesce(1 + 'a', 'typed later')`, 'typed later'],
    [`"/path/1/id/499c81c2/bar".regexReplace("/path/([0-9]+?)/id/([0-9a-z]{8})/bar", "/path/{n}/id/{id}/bar")`, '/path/{n}/id/{id}/bar'],
    [`"blah id=1234 bar".regexReplace("id=(.+?) ", "[$1] ")`, 'blah [1234] bar'],
    [`"/id/1234/data".regexReplace("/id/[0-9]*/", "/id/{id}/")`, '/id/{id}/data'],
    [`"ab".regexReplace("a" + "b", "12")`, '12'],
    [`"a1 b2".regexReplace("[0-9]", "#")`, 'a# b2'],
    [`"john smith".regexReplace("(?P<first>\\\\w+) (?P<last>\\\\w+)", "\${last}, $first")`, 'smith, john'],
    [`"abc".regexReplace("b", "$$")`, 'a$c'],
    [`"abc".regexReplace("(b)", "$1a")`, 'ac'],
    [`"abc".regexReplace("(b)", "\${1}a")`, 'abac'],
    [`"abc".regexReplace("x", "y")`, 'abc'],
    [`{"a":2}.merge({"b":3})`, { a: 2n, b: 3n }],
    [`{"a":2}.merge({"a":3})`, { a: 3n }],
    [`[1,2].with(a, a + a)`, [1n, 2n, 1n, 2n]],
    [`json('{"type":"sum","val1":2,"val2":3}').with(b, b.type == "sum" ? b.val1 + b.val2 : b.val3)`, 5n],
    [`'hello'.matches('h.*o')`, true],
    [`'hello'.matches('^ell')`, false],
    [`'hello'.matches('ell')`, true],
    [`matches('hello', '^h')`, true],
    [`[1, 2, 3].contains(2)`, true],
    [`[1, 2, 3].contains(2.0)`, true],
    [`["a", "b"].contains("c")`, false],
    [`{"k": 1}.contains("k")`, true],
    [`"abc".contains("b")`, true],
    [`size(uuid())`, 36n],
    [`uuid().matches('^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')`, true],
    [`random() >= 0.0 && random() < 1.0`, true],
  ])('%s', (expr, want) => {
    expect(value(expr)).toEqual(want);
  });

  it.each<[string, string]>([
    [`json('{"hi":1}').unknown`, 'no_such_key'],
    [`json('{')`, 'json_invalid'],
    [`json(b'\\xff')`, 'json_invalid'],
    [`url.decode("%FF")`, 'invalid_url_encoding'],
    [`base64.decode('a')`, 'invalid_base64'],
    [`base64.decode('a*==')`, 'invalid_base64'],
    [`coalesce(fail("bad"), 1 / 0)`, 'division_by_zero'],
    [`default(1 / 0, 2)`, 'division_by_zero'],
    [`default([1][5], 2)`, 'index_out_of_bounds'],
    [`fail("bad")`, 'fail'],
    [`'abc'.matches('(?=a)')`, 'invalid_regex'],
    [`'abc'.matches('[')`, 'invalid_regex'],
    [`'abc'.regexReplace('(', 'x')`, 'invalid_regex'],
    [`"x".matches(1)`, 'no_matching_overload'], // the type is decided at evaluation, as in cel-rust
  ])('%s fails with %s', (expr, code) => {
    const r = run(expr);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });

  it('coalesce() without arguments does not compile to a callable function', () => {
    const c = compileExpression('coalesce()');
    expect(c.ok && c.staticError).toBeTruthy();
  });

  it('fail() says what was called', () => {
    expect(run(`fail("bad")`)).toEqual({ ok: false, code: 'fail', error: 'fail() called: bad' });
  });

  it('json() keeps a "__proto__" key as data', () => {
    expect(value(`json('{"__proto__": {"x": 1}}')["__proto__"].x`)).toBe(1n);
    expect(value(`toJson(json('{"__proto__": 1}'))`)).toBe('{"__proto__":1}');
  });
});

describe('upstream strings extension', () => {
  it.each<[string, unknown]>([
    [`'abc'.charAt(1)`, 'b'],
    [`'hello mellow'.indexOf('')`, 0n],
    [`'hello mellow'.indexOf('ello')`, 1n],
    [`'hello mellow'.indexOf('jello')`, -1n],
    [`'hello mellow'.indexOf('', 2)`, 2n],
    [`'hello mellow'.indexOf('ello', 20)`, -1n],
    [`'hello mellow'.lastIndexOf('')`, 12n],
    [`'hello mellow'.lastIndexOf('ello')`, 7n],
    [`'hello mellow'.lastIndexOf('jello')`, -1n],
    [`'hello mellow'.lastIndexOf('ello', 6)`, 1n],
    [`'hello mellow'.lastIndexOf('ello', 20)`, -1n],
    [`'abcabc'.lastIndexOf('bc', 5)`, 4n],
    [`'abcabc'.lastIndexOf('abc', 0)`, 0n],
    [`'abcabc'.lastIndexOf('abc', 4)`, 3n],
    [`['hello', 'mellow'].join()`, 'hellomellow'],
    [`[].join()`, ''],
    [`['hello', 'mellow'].join(' ')`, 'hello mellow'],
    [`'TacoCat'.lowerAscii()`, 'tacocat'],
    [`'TacoCÆt Xii'.lowerAscii()`, 'tacocÆt xii'],
    [`'hello'.startsWith('he')`, true],
    [`'hello'.startsWith('lo')`, false],
    [`'hello'.startsWith('')`, true],
    [`'hello'.endsWith('lo')`, true],
    [`'hello'.endsWith('he')`, false],
    [`'hello'.endsWith('')`, true],
    [`'hello'.stripPrefix('he')`, 'llo'],
    [`'hello'.stripPrefix('hi')`, 'hello'],
    [`'hello'.stripPrefix('')`, 'hello'],
    [`'hello'.stripSuffix('lo')`, 'hel'],
    [`'hello'.stripSuffix('hi')`, 'hello'],
    [`'hello'.stripSuffix('')`, 'hello'],
    [`'TacoCat'.upperAscii()`, 'TACOCAT'],
    [`'TacoCÆt Xii'.upperAscii()`, 'TACOCÆT XII'],
    [`'  trim\\n    '.trim()`, 'trim'],
    [`'hello hello'.replace('he', 'we')`, 'wello wello'],
    [`'hello hello'.replace('he', 'we', -1)`, 'wello wello'],
    [`'hello hello'.replace('he', 'we', 1)`, 'wello hello'],
    [`'hello hello'.replace('he', 'we', 0)`, 'hello hello'],
    [`'hello hello'.replace('', '_')`, '_h_e_l_l_o_ _h_e_l_l_o_'],
    [`'hello hello'.replace('h', '')`, 'ello ello'],
    [`'hello hello hello'.split(' ')`, ['hello', 'hello', 'hello']],
    [`'hello hello hello'.split(' ', 0)`, []],
    [`'hello hello hello'.split(' ', 1)`, ['hello hello hello']],
    [`'hello hello hello'.split(' ', 2)`, ['hello', 'hello hello']],
    [`'hello hello hello'.split(' ', -1)`, ['hello', 'hello', 'hello']],
    [`'tacocat'.substring(4)`, 'cat'],
    [`'tacocat'.substring(0, 4)`, 'taco'],
    [`'ta©o©αT'.substring(2, 6)`, '©o©α'],
    [`'tacocat'.substring(4, 100)`, 'cat'],
    [`'café_query'.indexOf('query', 4)`, 5n],
    [`'café_query'.indexOf('query')`, 5n],
    [`'résumé'.indexOf('é', 2)`, 5n],
    [`'résumé'.lastIndexOf('é')`, 5n],
    [`'🎉hello'.indexOf('hello')`, 1n],
    [`'🎉hello🎉'.indexOf('🎉', 1)`, 6n],
    [`'hello🎉world🎉'.lastIndexOf('🎉')`, 11n],
    [`'🎉hello'.size()`, 6n],
    [`size('🎉hello')`, 6n],
    [`'🎉ab'.charAt(1)`, 'a'],
  ])('%s', (expr, want) => {
    expect(value(expr)).toEqual(want);
  });

  it.each<[string, string]>([
    [`'abc'.charAt(3)`, 'index_out_of_range'],
    [`'abc'.charAt(-1)`, 'invalid_argument'],
    [`'tacocat'.substring(4, 2)`, 'index_out_of_range'],
  ])('%s fails with %s', (expr, code) => {
    const r = run(expr);
    expect(r.ok ? r : r.code).toBe(code);
  });
});

describe('upstream ip() and cidr()', () => {
  it.each<[string, unknown]>([
    [`ip('192.168.0.1')`, '192.168.0.1'],
    [`ip("192.168.0.1").family()`, 4n],
    [`isIP('192.168.0.1')`, true],
    [`isIP('192.168.0.1.0')`, false],
    [`isIP('01.2.3.4')`, false],
    [`ip("0.0.0.0").isUnspecified()`, true],
    [`ip("127.0.0.1").isUnspecified()`, false],
    [`ip("127.0.0.1").isLoopback()`, true],
    [`ip("1.2.3.4").isLoopback()`, false],
    [`ip("224.0.0.1").isLinkLocalMulticast()`, true],
    [`ip("224.0.1.1").isLinkLocalMulticast()`, false],
    [`ip("169.254.169.254").isLinkLocalUnicast()`, true],
    [`ip("192.168.0.1").isLinkLocalUnicast()`, false],
    [`ip("192.168.0.1").isGlobalUnicast()`, true],
    [`ip("255.255.255.255").isGlobalUnicast()`, false],
    [`ip("2001:db8::68")`, '2001:db8::68'],
    [`ip("2001:DB8:0:0:0:0:0:68")`, '2001:db8::68'],
    [`ip("::ffff:10.0.0.1")`, '::ffff:10.0.0.1'],
    [`ip("1:0:0:1:0:0:0:1")`, '1:0:0:1::1'],
    [`isIP("2001:db8::68")`, true],
    [`isIP("2001:db8:::68")`, false],
    [`isIP("fe80::1%eth0")`, false],
    [`ip("2001:db8::68").family()`, 6n],
    [`ip("::").isUnspecified()`, true],
    [`ip("::1").isUnspecified()`, false],
    [`ip("::1").isLoopback()`, true],
    [`ip("2001:db8::abcd").isLoopback()`, false],
    [`ip("ff02::1").isLinkLocalMulticast()`, true],
    [`ip("fd00::1").isLinkLocalMulticast()`, false],
    [`ip("fe80::1").isLinkLocalUnicast()`, true],
    [`ip("fd80::1").isLinkLocalUnicast()`, false],
    [`ip("2001:db8::abcd").isGlobalUnicast()`, true],
    [`ip("ff00::1").isGlobalUnicast()`, false],
    [`string(ip("192.168.0.1"))`, '192.168.0.1'],
    [`ip("10.0.0.1") == ip("10.0.0.1")`, true],
    [`cidr('127.0.0.1/8')`, '127.0.0.1/8'],
    [`cidr('127.0.0.1/8').containsIP(ip('127.0.0.1'))`, true],
    [`cidr('127.0.0.1/8').containsIP(ip('128.0.0.1'))`, false],
    [`cidr('127.0.0.1/8').containsCIDR(cidr('128.0.0.1/32'))`, false],
    [`cidr('127.0.0.1/8').containsCIDR(cidr('127.0.0.1/27'))`, true],
    [`cidr('127.0.0.1/8').containsCIDR(cidr('127.0.0.1/32'))`, true],
    [`cidr('127.0.0.0/8').masked()`, '127.0.0.0/8'],
    [`cidr('127.0.7.1/8').masked()`, '127.0.0.0/8'],
    [`cidr('127.0.7.1/8').prefixLength()`, 8n],
    [`cidr('::1/128').prefixLength()`, 128n],
    [`cidr('127.0.0.1/8').containsIP('127.0.0.1')`, true],
    [`cidr('10.0.0.0/8').containsIP('::ffff:10.0.0.1')`, false],
    [`cidr('2001:db8::/32').containsIP('2001:db8:1::5')`, true],
    [`cidr('0.0.0.0/0').containsIP('203.0.113.9')`, true],
    [`cidr('10.1.2.3/8').ip()`, '10.1.2.3'],
  ])('%s', (expr, want) => {
    expect(value(expr)).toEqual(want);
  });

  it.each<[string, string]>([
    [`ip('192.168.0.1.0')`, 'invalid_ip'],
    [`ip("2001:db8:::68")`, 'invalid_ip'],
    [`cidr('10.0.0.0')`, 'invalid_cidr'],
    [`cidr('10.0.0.0/33')`, 'invalid_cidr'],
    [`cidr('10.0.0.0/8').containsIP('nope')`, 'invalid_ip'],
    [`isIP(cidr("192.168.0.0/24"))`, 'type_error'],
  ])('%s fails with %s', (expr, code) => {
    const r = run(expr);
    expect(r.ok ? r : r.code).toBe(code);
  });
});

describe('upstream math extension (subset)', () => {
  it.each<[string, unknown]>([
    [`math.least(1)`, 1n],
    [`math.greatest(1, 2)`, 2n],
    [`math.least([-42.0, -21.5, -100.0])`, -100],
    [`math.greatest(-42.0, -21.5, -100.0)`, -21.5],
    [`math.least(1, -2.0) == -2.0`, true],
    [`math.least(2, 1u) == 1u`, true],
    [`math.least(1.5, -2) == -2`, true],
    [`math.least(1u, -2) == -2`, true],
    [`math.greatest(1, -2.0) == 1`, true],
    [`math.greatest(1.5, 2) == 2`, true],
    [`math.greatest(1u, -2) == 1u`, true],
    [`math.greatest(2u, 2.5) == 2.5`, true],
    [`math.greatest([1u, 0.0, 0u]) == 1`, true],
    [`max(1, 5, 3)`, 5n],
    [`min([4, 2])`, 2n],
    [`math.ceil(1.2)`, 2],
    [`math.floor(-1.2)`, -2],
    [`math.round(1.5)`, 2],
    [`math.round(-1.5)`, -2],
    [`math.trunc(-1.3)`, -1],
    [`math.abs(-1)`, 1n],
    [`math.abs(-1.5)`, 1.5],
    [`math.sign(-42)`, -1n],
    [`math.sign(0)`, 0n],
    [`math.sign(42)`, 1n],
    [`math.sign(-0.3)`, -1],
    [`math.isNaN(0.0 / 0.0)`, true],
    [`math.isInf(1.0 / 0.0)`, true],
    [`math.isFinite(0.0 / 0.0)`, false],
    [`math.isFinite(1.2)`, true],
    [`math.sqrt(81)`, 9],
    [`math.sqrt(82)`, 9.055385138137417],
    [`math.isNaN(math.sqrt(-15.34))`, true],
  ])('%s', (expr, want) => {
    expect(value(expr)).toEqual(want);
  });

  it.each([`math.greatest([])`, `math.least("string")`])('%s fails', (expr) => {
    expect(run(expr).ok).toBe(false);
  });
});

describe('sha256', () => {
  it.each([0, 1, 55, 56, 63, 64, 65, 119, 1000, 65_537])('matches node:crypto for %i bytes', (n) => {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
    expect(toHex(sha256(data))).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

describe("upstream's map functions and variables()", () => {
  const vars = { foo: 'hello', bar: 'world' };
  it.each<[string, unknown]>([
    // upstream's docs (schema/cel-functions.md) and function tests
    ['{"a": 1, "b": 2}.mapValues(v, v * 2)', { a: 2n, b: 4n }],
    ["vars.mapValues(v, v + ' hi')", { foo: 'hello hi', bar: 'world hi' }],
    ['{"a": 1, "b": 2}.filterKeys(k, k == "a")', { a: 1n }],
    ['{"a":1,"b":2}.removeKeys(k, k == "b")', { a: 1n }],
    ['{"a":2,"k":"v"}.merge({"a":3})', { a: 3n, k: 'v' }],
    // the docs' body filter: drop x_ keys, add one
    [`toJson(json('{"x_a":1,"b":2}').filterKeys(k, !k.startsWith("x_")).merge({"model": "m"}))`, '{"b":2,"model":"m"}'],
    ['{}.mapValues(v, v)', {}],
  ])('%s', (expr, want) => {
    expect(value(expr, { vars } as CelActivation)).toEqual(want);
  });

  it.each<[string, string]>([
    ['{"a":1}.filterKeys(k, 1)', 'the predicate must evaluate to bool'],
    ['[1].removeKeys(k, true)', 'the receiver is not a map'],
    ["ip('1.2.3.4').mapValues(v, v)", 'the receiver is not a map'],
    ["duration('1s').filterKeys(k, true)", 'the receiver is not a map'],
  ])('%s fails: %s', (expr, message) => {
    const r = run(expr);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(message);
  });

  it('a map of 100,000 entries is charged per entry (bounded by the cost budget)', () => {
    const big = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
    const r = run('vars.mapValues(v, v).filterKeys(k, k.size() > 0).mapValues(v, [v, v, v].map(x, [x, x, x]))', {
      vars: big,
    } as CelActivation);
    expect(r).toMatchObject({ ok: false, code: 'cost_limit_exceeded' });
  });

  it('variables() is every variable the request has, as one map', () => {
    const activation = { request: { path: '/x' }, jwt: { sub: 'alice' } } as CelActivation;
    expect(value('variables().request.path', activation)).toBe('/x');
    expect(value('variables().jwt.sub', activation)).toBe('alice');
    expect(value("'source' in variables()", activation)).toBe(false);
    const compiled = compileExpression('variables()');
    expect(compiled.ok && compiled.references).toMatchObject({ request: true, requestBody: true, jwt: true, source: true });
  });
});
