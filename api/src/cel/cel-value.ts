import { setOwn } from '../own-property.js';
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
/**
 * How CEL values look in JavaScript (the representation of @marcbachmann/cel-js):
 *
 * | CEL       | JS                                                    |
 * |-----------|-------------------------------------------------------|
 * | int       | `bigint`                                              |
 * | uint      | the library's UnsignedInt (only from `1u` literals)   |
 * | double    | `number`                                              |
 * | string    | `string`                                              |
 * | bytes     | `Uint8Array`                                          |
 * | bool/null | `boolean` / `null`                                    |
 * | list      | `Array` (or `Set`)                                    |
 * | map       | plain object (own enumerable properties) or `Map`     |
 * | ip/cidr   | `CelIp` / `CelCidr` (ip-cidr.ts)                      |
 *
 * A map field whose value is `undefined` is absent (`has()` is false, access is `no_such_key`),
 * so an activation can leave optional fields undefined. Objects must be plain (`{…}` literals,
 * `JSON.parse` output or `Object.create(null)`): a class instance is "unsupported type".
 * Getters on a plain object are read on access only, so a proxy can pass lazily built fields.
 */
export type CelValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | readonly CelValue[]
  | { readonly [key: string]: CelValue | undefined }
  | ReadonlyMap<string, CelValue>
  | object;

/**
 * Converts JSON data (JWT claims, parsed bodies) to CEL values, as upstream's serde conversion
 * does for the cases that matter: an integral number becomes an int (`bigint`), so
 * `string(jwt.exp)` is `"1700000000"`, `jwt.exp + 60` is int arithmetic and `jwt.level == 2`
 * holds; any other number stays a double. Differences from upstream, by necessity of
 * `JSON.parse`: an integral number beyond ±2^53 stays a double (its digits are already rounded),
 * and `1.0` in JSON text becomes int 1 (upstream: double). Upstream types non-negative integers
 * as `uint`; here they are `int`, which compares and converts the same (`string()`, `==`, `<`
 * against int, uint and double literals) and additionally allows arithmetic with int literals.
 *
 * Returns a new value (the input is not modified). Nesting deeper than `maxDepth` throws.
 */
export function toCelValue(json: unknown, maxDepth = 128): CelValue {
  return convert(json, maxDepth, false);
}

/**
 * The same conversion applied in place, for freshly parsed JSON owned by the caller (`json()`),
 * which avoids copying a 1 MiB document.
 */
export function toCelValueInPlace(json: unknown, maxDepth = 128): CelValue {
  return convert(json, maxDepth, true);
}

function convert(v: unknown, depth: number, inPlace: boolean): CelValue {
  switch (typeof v) {
    case 'number':
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'object': {
      if (v === null) return null;
      if (depth <= 0) throw new RangeError('JSON nesting too deep');
      if (Array.isArray(v)) {
        const out = inPlace ? v : new Array<CelValue>(v.length);
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          // Strings and booleans need no conversion: skip the write (most of a large body).
          if (!inPlace || typeof item === 'number' || (typeof item === 'object' && item !== null))
            out[i] = convert(item, depth - 1, inPlace);
        }
        return out;
      }
      if (v instanceof Uint8Array) return v;
      const src = v as Record<string, unknown>;
      const out: Record<string, CelValue> = inPlace ? (src as Record<string, CelValue>) : {};
      for (const key in src) {
        if (!Object.hasOwn(src, key)) continue;
        const value = src[key];
        if (value === undefined) {
          if (inPlace) delete src[key];
          continue;
        }
        if (inPlace) {
          // An own "__proto__" data property (JSON.parse makes one) is assigned as a plain key.
          if (typeof value === 'number' || (typeof value === 'object' && value !== null)) out[key] = convert(value, depth - 1, true);
        } else if (key === '__proto__') {
          setOwn(out, key, convert(value, depth - 1, false));
        } else {
          out[key] = convert(value, depth - 1, false);
        }
      }
      return out;
    }
    default:
      return null;
  }
}

/** An int or uint CEL value as a bigint; undefined for any other value (a double, a string, a map). */
export function celIntegerOf(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (v instanceof UnsignedInt) return v.valueOf() as bigint;
  return undefined;
}
