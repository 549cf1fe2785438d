/**
 * Whether two desired statuses (JSON-like: plain objects, arrays, strings, numbers, booleans,
 * null, undefined) are equal: same keys with equal values, arrays in the same order. Cheaper than
 * building a status patch to find nothing to write, and without the allocations of comparing JSON.
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameStatus(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) if (!Object.hasOwn(y, k) || !sameStatus(x[k], y[k])) return false;
  return true;
}
