import { boundedMemo, type Jwk } from '@agw/api';

/**
 * The one JWKS parser, for inline key sets (translate) and fetched ones (the JWKS fetcher), so the
 * same key gets the same verdict wherever it came from. Pure.
 *
 * - A key set is a JSON object with a `keys` array of objects with a string `kty`.
 * - Only asymmetric keys verify tokens here (upstream: RSA, EC, OKP): any other `kty` makes the
 *   whole set invalid, as upstream fails the whole provider. An `oct` key is a shared secret
 *   published in a key set: refused by name, never kept.
 * - Only public parameters are kept: private ones (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, and
 *   `k`) never leave this function, so they are never stored, logged, or pushed to proxies; their
 *   removal is reported as a note.
 */
export type JwksParse =
  { readonly ok: true; readonly keys: Jwk[]; readonly notes: readonly string[] } | { readonly ok: false; readonly error: string };

const KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);
const PUBLIC_PARAMS = new Set(['kty', 'kid', 'alg', 'use', 'key_ops', 'crv', 'n', 'e', 'x', 'y', 'x5c', 'x5t', 'x5t#S256', 'x5u']);
const PRIVATE_PARAMS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** Memoized by text (up to 2,000 key sets): every reconcile reads every inline key set. */
export const parseJwks: (text: string) => JwksParse = boundedMemo(parse, 2_000);

function parse(text: string): JwksParse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const keys = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) return { ok: false, error: 'no "keys" array' };
  const out: Jwk[] = [];
  let privateDropped = false;
  for (const [i, k] of keys.entries()) {
    if (k === null || typeof k !== 'object' || Array.isArray(k)) return { ok: false, error: `key ${i} is not an object` };
    const kty = (k as { kty?: unknown }).kty;
    if (typeof kty !== 'string') return { ok: false, error: `key ${i} has no "kty"` };
    if (kty === 'oct') return { ok: false, error: `key ${i}: symmetric (oct) keys are not accepted` };
    if (!KEY_TYPES.has(kty)) return { ok: false, error: `key ${i}: unsupported kty ${JSON.stringify(kty.slice(0, 32))}` };
    const kept: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(k)) {
      if (PUBLIC_PARAMS.has(name)) kept[name] = value;
      else if (PRIVATE_PARAMS.has(name)) privateDropped = true;
    }
    out.push(kept as Jwk);
  }
  return { ok: true, keys: out, notes: privateDropped ? ['private key parameters removed (only public keys are used)'] : [] };
}
