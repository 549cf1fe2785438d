import { readFileSync } from 'node:fs';
import { SignJWT, importJWK, type JWK } from 'jose';

/** Password grant against an OpenID provider (the demo IdP or Keycloak); resolves to the access token. */
export async function passwordGrant(o: { issuer: string; user: string; password: string; clientId: string }): Promise<string> {
  const url = `${o.issuer}/protocol/openid-connect/token`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: o.clientId, username: o.user, password: o.password }),
    });
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is in its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach the token endpoint ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}${cause?.code === 'ECONNREFUSED' ? ' (is `agw local --demo` or `npm start` running? else pass --issuer)' : ''}`,
    );
  }
  const text = await res.text();
  let body: { access_token?: string; error?: string; error_description?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    /* not JSON: reported with the status below */
  }
  if (!res.ok || body.access_token === undefined) {
    // The OAuth error and description when there are some; else the start of the body (200 chars).
    const detail = body.error !== undefined ? `${body.error} ${body.error_description ?? ''}` : text.slice(0, 200);
    throw new Error(`token endpoint answered ${res.status}: ${detail}`.trim());
  }
  return body.access_token;
}

/** Signs a token with a private JWK file (needs `kid` and `alg`), for development and tests. */
export async function mintFromKey(o: { keyFile: string; claims: Record<string, unknown>; ttlSec: number }): Promise<string> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(o.keyFile, 'utf8')) as JWK;
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new Error(
      `${o.keyFile}: ${e.code === 'ENOENT' ? 'no such file' : e instanceof SyntaxError ? `not a JSON Web Key: ${e.message}` : e.message}`,
    );
  }
  if (jwk.alg === undefined || jwk.kid === undefined) throw new Error(`${o.keyFile}: the JWK needs "alg" and "kid"`);
  const key = await importJWK(jwk, jwk.alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + o.ttlSec, ...o.claims })
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
    .sign(key);
}
