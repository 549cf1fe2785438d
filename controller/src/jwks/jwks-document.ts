import type { Jwk } from '@agw/api';
import { parseJwks, type JwksParse } from '../translate/jwks-keys.js';

export type { JwksParse };

/** A fetched JWKS body, through the one parser inline key sets use (translate/jwks-keys.ts). */
export const parseJwksDocument = (body: string): JwksParse => parseJwks(body);

/** Stable identity of a key set, to tell a real change from a refresh that returned the same keys. */
export function keySetFingerprint(keys: readonly Jwk[]): string {
  return JSON.stringify([...keys].map((k) => JSON.stringify(Object.entries(k).sort())).sort());
}
