import type { Jwk } from '@agw/api';

export type JwksParse = { readonly ok: true; readonly keys: Jwk[] } | { readonly ok: false; readonly error: string };

/** Keys kept by the cache: public parameters only (a private `d` in a JWKS is dropped, never forwarded). */
const PUBLIC_PARAMS = ['kty', 'kid', 'alg', 'use', 'key_ops', 'crv', 'n', 'e', 'x', 'y', 'x5c', 'x5t', 'x5t#S256'];

/** Validates a fetched JWKS body: a JSON object with a `keys` array of objects that have `kty`. */
export function parseJwksDocument(body: string): JwksParse {
  let v: unknown;
  try { v = JSON.parse(body); } catch { return { ok: false, error: 'response is not JSON' }; }
  const keys = (v as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return { ok: false, error: 'response has no "keys" array' };
  const out: Jwk[] = [];
  for (const k of keys) {
    if (k === null || typeof k !== 'object' || typeof (k as { kty?: unknown }).kty !== 'string') return { ok: false, error: 'a key has no "kty"' };
    out.push(Object.fromEntries(Object.entries(k).filter(([p]) => PUBLIC_PARAMS.includes(p))) as Jwk);
  }
  return { ok: true, keys: out };
}

/** Stable identity of a key set, to tell a real change from a refresh that returned the same keys. */
export function keySetFingerprint(keys: readonly Jwk[]): string {
  return JSON.stringify([...keys].map((k) => JSON.stringify(Object.entries(k).sort())).sort());
}
