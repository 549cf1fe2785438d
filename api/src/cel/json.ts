import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { CelLimits } from './limits.js';
import { toCelValueInPlace, type CelValue } from './cel-value.js';
import { CelCidr, CelIp } from './ip-cidr.js';
import { base64Encode, utf8Decode } from './encoding.js';

/** A failure of `json()`/`toJson()`, with a stable code (see errors in functions.ts). */
export class CelJsonError extends Error {
  constructor(
    readonly code: 'json_too_large' | 'json_invalid' | 'json_too_deep' | 'json_unsupported',
    message: string,
  ) {
    super(message);
  }
}

/**
 * CEL `json(string | bytes)`: parses JSON text into CEL values (integral numbers as int, see
 * toCelValue). Bounded: input longer than `CelLimits.maxJsonInputLength` (1 MiB) is refused
 * before parsing; nesting deeper than `CelLimits.maxJsonDepth` (128) is refused after.
 */
export function parseJson(input: string | Uint8Array): CelValue {
  if (input.length > CelLimits.maxJsonInputLength) {
    throw new CelJsonError(
      'json_too_large',
      `json() input of ${input.length} ${typeof input === 'string' ? 'characters' : 'bytes'} exceeds the limit of ${CelLimits.maxJsonInputLength}`,
    );
  }
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8Decode(input);
  } catch {
    throw new CelJsonError('json_invalid', 'json() input is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CelJsonError('json_invalid', `json() input is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return toCelValueInPlace(parsed, CelLimits.maxJsonDepth);
  } catch {
    throw new CelJsonError('json_too_deep', `json() input nests deeper than ${CelLimits.maxJsonDepth} levels`);
  }
}

/**
 * CEL `toJson(value)`: JSON text of a CEL value, keys in insertion order (as upstream, which keeps
 * a body's key order through `json()`/`merge`/`toJson`). int/uint print as integers, doubles as
 * serde_json prints them (`1.0` stays `1.0`), bytes as standard base64, timestamps as RFC 3339,
 * ip/cidr as text; NaN and ±Infinity print as `null`. Nesting deeper than
 * `CelLimits.maxToJsonDepth` is an error.
 */
export function toJsonText(value: unknown): string {
  // Fast path: the native serializer, with a replacer for CEL's representations. Values it
  // cannot print exactly (an integral double, an int beyond 2^53) or too deep a value fall back
  // to the exact serializer below, which also reports the errors.
  try {
    const text = JSON.stringify(value, fastReplacer);
    if (text !== undefined) return text;
  } catch (err) {
    if (err !== FALLBACK && !(err instanceof RangeError)) throw err;
  }
  const parts: string[] = [];
  write(value, parts, CelLimits.maxToJsonDepth);
  return parts.join('');
}

const FALLBACK = Symbol('fallback');

function fastReplacer(_key: string, v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw FALLBACK;
      return Number(v);
    case 'number':
      if (Number.isInteger(v)) throw FALLBACK;
      return v;
    case 'object': {
      if (v === null || Array.isArray(v)) return v;
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) return v;
      if (v instanceof Uint8Array) return base64Encode(v);
      if (v instanceof Map) {
        const o: Record<string, unknown> = Object.create(null);
        for (const [k, x] of v) o[String(k)] = x;
        return o;
      }
      if (v instanceof Set) return [...v];
      if (v instanceof Duration) return v.toString();
      throw FALLBACK;
    }
    default:
      return v;
  }
}

function write(v: unknown, out: string[], depth: number): void {
  switch (typeof v) {
    case 'string':
      out.push(JSON.stringify(v));
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(v.toString());
      return;
    case 'number':
      out.push(formatDouble(v));
      return;
    case 'undefined':
      out.push('null');
      return;
    case 'object':
      break;
    default:
      throw new CelJsonError('json_unsupported', `toJson(): unsupported value of type ${typeof v}`);
  }
  if (v === null) {
    out.push('null');
    return;
  }
  if (depth <= 0) throw new CelJsonError('json_too_deep', `toJson(): value nests deeper than ${CelLimits.maxToJsonDepth} levels`);
  if (v instanceof Uint8Array) {
    out.push(JSON.stringify(base64Encode(v)));
    return;
  }
  if (v instanceof CelIp || v instanceof CelCidr) {
    out.push(JSON.stringify(v.toString()));
    return;
  }
  if (v instanceof Date) {
    out.push(JSON.stringify(v.toISOString()));
    return;
  }
  if (Array.isArray(v) || v instanceof Set) {
    out.push('[');
    let first = true;
    for (const item of v as Iterable<unknown>) {
      if (!first) out.push(',');
      first = false;
      write(item, out, depth - 1);
    }
    out.push(']');
    return;
  }
  if (v instanceof UnsignedInt) {
    out.push(v.toString());
    return;
  }
  if (v instanceof Duration) {
    out.push(JSON.stringify(v.toString()));
    return;
  }
  const proto: unknown = v instanceof Map ? null : Object.getPrototypeOf(v);
  if (proto !== null && proto !== Object.prototype) {
    throw new CelJsonError(
      'json_unsupported',
      `toJson(): unsupported value of type ${(v as { constructor?: { name?: string } }).constructor?.name ?? 'object'}`,
    );
  }
  const entries: Iterable<[unknown, unknown]> = v instanceof Map ? v.entries() : plainEntries(v);
  out.push('{');
  let first = true;
  for (const [k, item] of entries) {
    if (item === undefined) continue;
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(typeof k === 'string' ? k : String(k)), ':');
    write(item, out, depth - 1);
  }
  out.push('}');
}

function* plainEntries(v: object): Iterable<[string, unknown]> {
  for (const k of Object.keys(v)) yield [k, (v as Record<string, unknown>)[k]];
}

/** serde_json/ryu style: integral doubles keep a `.0`, exponents have no `+`, NaN/Inf are null. */
function formatDouble(v: number): string {
  if (!Number.isFinite(v)) return 'null';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return Object.is(v, -0) ? '-0.0' : `${v}.0`;
  return String(v).replace('e+', 'e');
}
