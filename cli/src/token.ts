import { readFileSync } from 'node:fs';
import { SignJWT, importJWK, type JWK } from 'jose';

/** Password grant against an OpenID provider (the demo IdP or Keycloak); resolves to the access token. */
export async function passwordGrant(o: { issuer: string; user: string; password: string; clientId: string }): Promise<string> {
  const res = await fetch(`${o.issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: o.clientId, username: o.user, password: o.password }),
  });
  const body = await res.json() as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || body.access_token === undefined) throw new Error(`token endpoint answered ${res.status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
  return body.access_token;
}

/** Signs a token with a private JWK file (needs `kid` and `alg`), for development and tests. */
export async function mintFromKey(o: { keyFile: string; claims: Record<string, unknown>; ttlSec: number }): Promise<string> {
  const jwk = JSON.parse(readFileSync(o.keyFile, 'utf8')) as JWK;
  if (jwk.alg === undefined || jwk.kid === undefined) throw new Error(`${o.keyFile}: the JWK needs "alg" and "kid"`);
  const key = await importJWK(jwk, jwk.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + o.ttlSec, ...o.claims }).setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' }).sign(key);
}
