import { setOwn } from '../own-property.js';
import type { Environment } from '@marcbachmann/cel-js';
import { boundedMemo } from '../bounded-memo.js';
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { chargeUnits, checkValueLength, memoizedJson } from './cost.js';
import { asBytes, base64Decode, base64Encode, urlDecode, urlEncode } from './encoding.js';
import { CelCidr, CelIp, parseCidr, parseIp } from './ip-cidr.js';
import { celFail as fail, guarded } from './errors.js';
import { parseJson, toJsonText } from './json.js';
import { registerLazyMacros } from './lazy.js';
import { registerMapMacros } from './maps.js';
import { celMatches, celRegexReplace } from './regex.js';
import { sha256, toHex } from './sha256.js';
import * as strings from './strings.js';

/**
 * agentgateway's functions on top of standard CEL (upstream `crates/celx`: general.rs,
 * strings.rs, cidr.rs, math; semantics and test tables in functions.test.ts):
 *
 * | function | notes |
 * |---|---|
 * | `default`, `coalesce`, `x.with(v, e)` | lazy macros, lazy.ts |
 * | `json(string \| bytes)` | ≤ 1 MiB input, integral numbers become int |
 * | `toJson(v)`, `to_json(v)` | JSON text |
 * | `base64.encode(string \| bytes)`, `base64.decode(string \| bytes)` | also `base64Encode`/`base64Decode`; decode returns bytes |
 * | `url.encode(s)`, `url.decode(s)` | RFC 3986 unreserved kept; decode requires UTF-8 |
 * | `sha256.encode(string \| bytes)` | lower-case hex |
 * | `s.regexReplace(re, replacement)` | RE2, first match, Rust `$1`/`${name}` syntax |
 * | `s.matches(re)`, `matches(s, re)` | RE2 (compile.ts routes the method form) |
 * | `fail(message)` | always an error: `fail() called: <message>` |
 * | `uuid()`, `random()` | random v4 UUID, double in [0, 1) |
 * | strings extension | `charAt`, `indexOf`, `lastIndexOf`, `join`, `lowerAscii`, `upperAscii`, `trim`, `replace`, `split`, `substring`, `stripPrefix`, `stripSuffix` |
 * | `list.contains(x)`, `map.contains(key)` | upstream's `contains` on lists and maps |
 * | `m.merge(other)` | map union, `other` wins |
 * | `m.mapValues(v, e)`, `m.filterKeys(k, p)`, `m.removeKeys(k, p)` | macros, maps.ts |
 * | `variables()` | every variable of the request as one map (compile.ts evaluates it) |
 * | `ip(s)`, `isIP(s)`, `cidr(s)` and their methods | ip-cidr.ts |
 * | `math.greatest/least/ceil/floor/round/trunc/abs/sign/isInf/isNaN/isFinite/sqrt`, `max`, `min` | math extension subset |
 *
 * Every failure is an EvaluationError with a stable `code`.
 */

function bounded<T>(v: T): T {
  checkValueLength(v);
  return v;
}

/** Namespaces: `base64.encode(…)` parses as a method on an identifier, so each is a constant. */
class Base64Namespace {}
class UrlNamespace {}
class Sha256Namespace {}
class MathNamespace {}

const MATH_VARIADIC = 16;

export function registerFunctions(env: Environment): void {
  registerLazyMacros(env);
  registerMapMacros(env);

  // json / toJson
  // Cost (see CelLimits.maxEvaluationCost): JSON.parse and the int conversion run at ~25 ns per
  // character, one unit per 2 characters.
  const json = guarded((v: string | Uint8Array) =>
    memoizedJson(v, () => {
      chargeUnits(v.length >>> 1);
      return parseJson(v);
    }),
  );
  env.registerFunction('json(string): dyn', json);
  env.registerFunction('json(bytes): dyn', json);
  const toJson = guarded((v: unknown) => {
    const text = bounded(toJsonText(v));
    chargeUnits(text.length >>> 1);
    return text;
  });
  env.registerFunction('toJson(dyn): string', toJson);
  env.registerFunction('to_json(dyn): string', toJson);

  // base64
  const b64encode = guarded((v: string | Uint8Array) => {
    chargeUnits(v.length >>> 1);
    return bounded(base64Encode(asBytes(v)));
  });
  const b64decode = guarded((v: string | Uint8Array) => {
    chargeUnits(v.length >>> 2);
    try {
      return base64Decode(typeof v === 'string' ? v : new TextDecoder('latin1').decode(v));
    } catch (err) {
      return fail('invalid_base64', `base64.decode(): ${(err as Error).message}`);
    }
  });
  env.registerType('agw.base64', Base64Namespace).registerConstant('base64', 'agw.base64', new Base64Namespace());
  for (const t of ['string', 'bytes']) {
    env.registerFunction(`agw.base64.encode(${t}): string`, (_ns: unknown, v: string | Uint8Array) => b64encode(v));
    env.registerFunction(`agw.base64.decode(${t}): bytes`, (_ns: unknown, v: string | Uint8Array) => b64decode(v));
    env.registerFunction(`base64Encode(${t}): string`, b64encode);
    env.registerFunction(`base64Decode(${t}): bytes`, b64decode);
  }

  // url
  env.registerType('agw.url', UrlNamespace).registerConstant('url', 'agw.url', new UrlNamespace());
  env.registerFunction(
    'agw.url.encode(string): string',
    guarded((_ns: unknown, s: string) => {
      chargeUnits(s.length >>> 2);
      return bounded(urlEncode(s));
    }),
  );
  env.registerFunction(
    'agw.url.decode(string): string',
    guarded((_ns: unknown, s: string) => {
      chargeUnits(s.length >>> 2);
      try {
        return urlDecode(s);
      } catch {
        return fail('invalid_url_encoding', 'url.decode(): the decoded bytes are not valid UTF-8');
      }
    }),
  );

  // sha256
  env.registerType('agw.sha256', Sha256Namespace).registerConstant('sha256', 'agw.sha256', new Sha256Namespace());
  for (const t of ['string', 'bytes']) {
    // Cost: the pure SHA-256 runs at ~15 ns per byte.
    env.registerFunction(`agw.sha256.encode(${t}): string`, (_ns: unknown, v: string | Uint8Array) => {
      chargeUnits(v.length >>> 2);
      return toHex(sha256(asBytes(v)));
    });
  }

  // regular expressions (RE2)
  env.registerFunction(
    'string.regexReplace(string, string): string',
    guarded((s: string, re: string, rep: string) => bounded(celRegexReplace(s, re, rep))),
  );
  env.registerFunction('matches(string, string): bool', guarded(celMatches));

  // fail, uuid, random
  env.registerFunction('fail(string): dyn', (msg: string) => fail('fail', `fail() called: ${msg}`));
  env.registerFunction('uuid(): string', () => globalThis.crypto.randomUUID());
  // Evaluated by compile.ts, which reads the activation; this overload only types the call.
  env.registerFunction('variables(): map', () => fail('internal_error', 'variables() is evaluated by the compiler'));
  env.registerFunction('random(): double', () => Math.random());

  // strings extension (the names the library lacks; compile.ts routes the others)
  env.registerFunction('string.charAt(int): string', guarded(strings.charAt));
  env.registerFunction('string.stripPrefix(string): string', strings.stripPrefix);
  env.registerFunction('string.stripSuffix(string): string', strings.stripSuffix);
  env.registerFunction(
    'string.replace(string, string): string',
    guarded((s: string, a: string, b: string) => strings.replace(s, a, b)),
  );
  env.registerFunction('string.replace(string, string, int): string', guarded(strings.replace));

  // contains on lists (element) and maps (key), merge
  env.registerFunction('list.contains(dyn): bool', (list: readonly unknown[] | ReadonlySet<unknown>, x: unknown) => {
    for (const item of list) if (celEquals(item, x)) return true;
    return false;
  });
  env.registerFunction('map.contains(dyn): bool', (m: object, k: unknown) =>
    m instanceof Map ? m.has(k) : typeof k === 'string' && Object.hasOwn(m, k) && (m as Record<string, unknown>)[k] !== undefined,
  );
  env.registerFunction('map.merge(map): map', (a: object, b: object) => {
    const out: Record<string, unknown> = {};
    for (const src of [a, b]) {
      const entries = src instanceof Map ? src.entries() : Object.entries(src);
      for (const [k, v] of entries) if (v !== undefined) setOwn(out, String(k), v);
    }
    return out;
  });

  registerIpFunctions(env);
  registerMath(env);
}

function registerIpFunctions(env: Environment): void {
  env.registerType('net.IP', CelIp).registerType('net.CIDR', CelCidr);
  const ip = guarded((s: string) => parseIpOrFail(s));
  const cidr = guarded((s: string) => parseCidrOrFail(s));
  env.registerFunction('ip(string): net.IP', ip);
  env.registerFunction('isIP(string): bool', (s: string) => parseIp(s) !== undefined);
  env.registerFunction('cidr(string): net.CIDR', cidr);
  env.registerFunction('string(net.IP): string', (v: CelIp) => v.toString());
  env.registerFunction('string(net.CIDR): string', (v: CelCidr) => v.toString());
  env.registerFunction('net.IP.family(): int', (v: CelIp) => BigInt(v.family));
  env.registerFunction('net.IP.isUnspecified(): bool', (v: CelIp) => v.isUnspecified());
  env.registerFunction('net.IP.isLoopback(): bool', (v: CelIp) => v.isLoopback());
  env.registerFunction('net.IP.isLinkLocalMulticast(): bool', (v: CelIp) => v.isLinkLocalMulticast());
  env.registerFunction('net.IP.isLinkLocalUnicast(): bool', (v: CelIp) => v.isLinkLocalUnicast());
  env.registerFunction('net.IP.isGlobalUnicast(): bool', (v: CelIp) => v.isGlobalUnicast());
  env.registerFunction('net.CIDR.containsIP(net.IP): bool', (c: CelCidr, v: CelIp) => c.containsIp(v));
  env.registerFunction(
    'net.CIDR.containsIP(string): bool',
    guarded((c: CelCidr, s: string) => c.containsIp(parseIpOrFail(s))),
  );
  env.registerFunction('net.CIDR.containsCIDR(net.CIDR): bool', (c: CelCidr, o: CelCidr) => c.containsCidr(o));
  env.registerFunction(
    'net.CIDR.containsCIDR(string): bool',
    guarded((c: CelCidr, s: string) => c.containsCidr(parseCidrOrFail(s))),
  );
  env.registerFunction('net.CIDR.ip(): net.IP', (c: CelCidr) => c.address);
  env.registerFunction('net.CIDR.masked(): net.CIDR', (c: CelCidr) => c.masked());
  env.registerFunction('net.CIDR.prefixLength(): int', (c: CelCidr) => BigInt(c.prefixLength));
  env.registerOperator('net.IP == net.IP', (a: CelIp, b: CelIp) => a.equals(b));
  env.registerOperator('net.CIDR == net.CIDR', (a: CelCidr, b: CelCidr) => a.equals(b));
}

/**
 * Parsed `ip()`/`cidr()` arguments are memoized (at most 1,024 each):
 * `cidr('10.0.0.0/8').containsIP(source.address)` parses a literal on every request otherwise.
 */
const parseIpMemo = boundedMemo(parseIp, 1024);
const parseCidrMemo = boundedMemo(parseCidr, 1024);

function parseIpOrFail(s: string): CelIp {
  return parseIpMemo(s) ?? fail('invalid_ip', `invalid IP address: ${s}`);
}

function parseCidrOrFail(s: string): CelCidr {
  return parseCidrMemo(s) ?? fail('invalid_cidr', `invalid CIDR: ${s}`);
}

type CelNumber = bigint | number | { valueOf(): bigint };

function isNumber(v: unknown): v is CelNumber {
  return typeof v === 'bigint' || typeof v === 'number' || v instanceof UnsignedInt;
}

/** Numeric value for ordering across int, uint and double (JS compares bigint with number exactly). */
function num(v: CelNumber): bigint | number {
  return typeof v === 'object' ? v.valueOf() : v;
}

function extreme(values: readonly unknown[], pick: 'greatest' | 'least'): unknown {
  if (values.length === 0) fail('invalid_argument', `math.${pick}(): no arguments`);
  let best: CelNumber | undefined;
  for (const v of values) {
    if (!isNumber(v)) fail('invalid_argument', `math.${pick}(): not a number`);
    if (best === undefined || (pick === 'greatest' ? num(v) > num(best) : num(v) < num(best))) best = v;
  }
  return best;
}

function registerMath(env: Environment): void {
  env.registerType('agw.math', MathNamespace).registerConstant('math', 'agw.math', new MathNamespace());
  for (const pick of ['greatest', 'least'] as const) {
    const global = pick === 'greatest' ? 'max' : 'min';
    env.registerFunction(`agw.math.${pick}(list): dyn`, (_ns: unknown, l: readonly unknown[]) => extreme([...l], pick));
    env.registerFunction(`${global}(list): dyn`, (l: readonly unknown[]) => extreme([...l], pick));
    for (let n = 2; n <= MATH_VARIADIC; n++) {
      const params = Array(n).fill('dyn').join(', ');
      env.registerFunction(`agw.math.${pick}(${params}): dyn`, (_ns: unknown, ...args: unknown[]) => extreme(args, pick));
      env.registerFunction(`${global}(${params}): dyn`, (...args: unknown[]) => extreme(args, pick));
    }
    for (const t of ['int', 'uint', 'double']) {
      env.registerFunction(`agw.math.${pick}(${t}): ${t}`, (_ns: unknown, v: unknown) => v);
      env.registerFunction(`${global}(${t}): ${t}`, (v: unknown) => v);
    }
  }
  const dbl = (name: string, f: (x: number) => number) =>
    env.registerFunction(`agw.math.${name}(double): double`, (_ns: unknown, x: number) => f(x));
  dbl('ceil', Math.ceil);
  dbl('floor', Math.floor);
  dbl('trunc', Math.trunc);
  // Round half away from zero (as cel-go and Rust's f64::round), not JS's half-up.
  dbl('round', (x) => Math.sign(x) * Math.round(Math.abs(x)));
  dbl('sqrt', Math.sqrt);
  env.registerFunction('agw.math.sqrt(int): double', (_ns: unknown, x: bigint) => Math.sqrt(Number(x)));
  env.registerFunction('agw.math.isInf(double): bool', (_ns: unknown, x: number) => x === Infinity || x === -Infinity);
  env.registerFunction('agw.math.isNaN(double): bool', (_ns: unknown, x: number) => Number.isNaN(x));
  env.registerFunction('agw.math.isFinite(double): bool', (_ns: unknown, x: number) => Number.isFinite(x));
  env.registerFunction('agw.math.abs(uint): uint', (_ns: unknown, x: unknown) => x);
  env.registerFunction('agw.math.abs(double): double', (_ns: unknown, x: number) => Math.abs(x));
  env.registerFunction('agw.math.abs(int): int', (_ns: unknown, x: bigint) => {
    if (x === -(2n ** 63n)) fail('numeric_overflow', 'math.abs(): integer overflow');
    return x < 0n ? -x : x;
  });
  env.registerFunction('agw.math.sign(double): double', (_ns: unknown, x: number) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0));
  env.registerFunction('agw.math.sign(int): int', (_ns: unknown, x: bigint) => (x > 0n ? 1n : x < 0n ? -1n : 0n));
}

/** CEL equality for `contains`: numbers compare across int/uint/double, aggregates deeply. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // `==` (not `===`) compares a bigint with a number by value.
  if (isNumber(a) && isNumber(b)) return num(a) == num(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (a instanceof CelIp && b instanceof CelIp) return a.equals(b);
  if (a instanceof CelCidr && b instanceof CelCidr) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  if (Array.isArray(a) || Array.isArray(b)) return false;
  const ea = a instanceof Map ? [...a.entries()] : Object.entries(a).filter(([, v]) => v !== undefined);
  const eb = b instanceof Map ? new Map(b) : new Map(Object.entries(b).filter(([, v]) => v !== undefined));
  return ea.length === eb.size && ea.every(([k, v]) => eb.has(k) && celEquals(v, eb.get(k)));
}
