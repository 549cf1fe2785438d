import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { KeyObject, constants, sign, type webcrypto } from 'node:crypto';

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  /** Public JWK with kid (and alg unless `withAlg: false`). */
  readonly jwk: JWK;
}

/** A fresh key pair for `alg` (RS256, PS256, ES256, ES384, ES512, EdDSA, …). */
export async function generateSigningKey(alg: string, kid: string, opts: { withAlg?: boolean } = {}): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(
    alg,
    alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true },
  );
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', ...(opts.withAlg === false ? {} : { alg }) };
  return { kid, alg, privateKey, jwk };
}

export const jwks = (...keys: SigningKey[]): { keys: JWK[] } => ({ keys: keys.map((k) => k.jwk) });

export interface MintOptions {
  /** Claims; `exp` defaults to now + 1 h, `iat` to now. Set a claim to undefined to omit it. */
  claims?: JWTPayload & Record<string, unknown>;
  /** Header overrides (e.g. `{kid: undefined}`, `{crit: ['x']}`). */
  header?: Record<string, unknown>;
  nowSec?: number;
}

/** Signs a JWT with `key`. */
export async function mintToken(key: SigningKey, o: MintOptions = {}): Promise<string> {
  const now = o.nowSec ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iat: now, exp: now + 3600, ...o.claims };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'JWT', ...o.header };
  for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** Builds an unsigned-looking token from raw parts (for attack tests). */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

/**
 * Signs arbitrary header and payload with an RSA key as RS256 or PS256, bypassing jose's own
 * checks (for tokens jose refuses to make: unknown `crit`, algorithm not bound to the key…).
 */
export function signRaw(
  key: SigningKey,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  scheme: 'RS256' | 'PS256' = 'RS256',
): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc(header)}.${enc(payload)}`;
  const keyObject = KeyObject.from(key.privateKey as unknown as webcrypto.CryptoKey);
  const sig =
    scheme === 'RS256'
      ? sign('sha256', Buffer.from(input), keyObject)
      : sign('sha256', Buffer.from(input), { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${input}.${sig.toString('base64url')}`;
}
