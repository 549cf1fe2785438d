import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/**
 * A small OpenID provider for the quickstart, shaped like Keycloak's `master` realm: discovery,
 * JWKS and a password-grant token endpoint with users user1 and user2 (password `password`).
 * For development only: users and keys live in memory; a restart makes new keys.
 */
export interface DemoIdp {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly port: number;
  /** Adds a new signing key (used from now on); the old key stays published, as Keycloak does. */
  rotateKey(): Promise<string>;
  mint(user: string, clientId?: string, ttlSec?: number): Promise<string>;
  close(): Promise<void>;
}

const USERS: Record<string, { sub: string; email: string; group: string }> = {
  user1: { sub: '6f0f6ab0-0000-4000-8000-000000000001', email: 'user1@example.com', group: 'users' },
  user2: { sub: '6f0f6ab0-0000-4000-8000-000000000002', email: 'user2@example.com', group: 'admins' },
};
const PASSWORD = 'password';
const REALM_PATH = '/realms/master';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** @param publicBase how clients reach it, e.g. http://localhost:8081 (the issuer is derived from it). */
export async function startDemoIdp(o: { port: number; host?: string; publicBase?: string }): Promise<DemoIdp> {
  const keys: SigningKey[] = [await newKey()];
  let issuer = '';
  const current = () => keys[keys.length - 1] as SigningKey;
  const mint = (user: string, clientId = 'agw-client', ttlSec = 300) => {
    const u = USERS[user];
    if (u === undefined) throw new Error(`unknown user ${user}`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: u.sub,
      preferred_username: user,
      email: u.email,
      email_verified: true,
      group: u.group,
      azp: clientId,
      typ: 'Bearer',
      scope: 'openid email profile',
      aud: 'account',
    })
      .setProtectedHeader({ alg: 'RS256', kid: current().kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSec)
      .setJti(randomUUID())
      .sign(current().privateKey);
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const json = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && path === `${REALM_PATH}/.well-known/openid-configuration`) {
      json(200, {
        issuer,
        jwks_uri: `${issuer}/protocol/openid-connect/certs`,
        token_endpoint: `${issuer}/protocol/openid-connect/token`,
        grant_types_supported: ['password'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
      return;
    }
    if (req.method === 'GET' && path === `${REALM_PATH}/protocol/openid-connect/certs`) {
      json(200, { keys: keys.map((k) => k.jwk) });
      return;
    }
    if (req.method === 'POST' && path === `${REALM_PATH}/protocol/openid-connect/token`) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const user = form.get('username') ?? '';
        if (form.get('grant_type') !== 'password') {
          json(400, { error: 'unsupported_grant_type' });
          return;
        }
        if (USERS[user] === undefined || form.get('password') !== PASSWORD) {
          json(401, { error: 'invalid_grant', error_description: 'Invalid user credentials' });
          return;
        }
        void mint(user, form.get('client_id') ?? 'agw-client').then((access_token) =>
          json(200, { access_token, expires_in: 300, token_type: 'Bearer', scope: 'openid email profile' }),
        );
      });
      return;
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  issuer = `${o.publicBase ?? `http://localhost:${port}`}${REALM_PATH}`;
  return {
    issuer,
    port,
    jwksUri: `${issuer}/protocol/openid-connect/certs`,
    tokenEndpoint: `${issuer}/protocol/openid-connect/token`,
    rotateKey: async () => {
      const k = await newKey();
      keys.push(k);
      return k.kid;
    },
    mint,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
