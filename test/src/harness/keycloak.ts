import { keycloakDir } from './infra.js';
import { freePort, startProcess, waitFor, type Managed } from './process.js';

export interface Keycloak {
  /** http://127.0.0.1:<port>: one host string everywhere, since it becomes the token's `iss`. */
  readonly url: string;
  readonly port: number;
  /** The TLS port, when started with `https`. */
  readonly httpsPort?: number;
  readonly proc: Managed;
  stop(): Promise<void>;
}

/**
 * Real Keycloak (Quarkus distribution from Maven Central) in dev mode on loopback (INFRA.md §4).
 * Ready when the master realm's discovery document answers 200. By default its database is in
 * memory; with `dataDir` it is an H2 file there, so a Keycloak started again with the same
 * `dataDir` and `port` is the same IdP (same realm, clients, users and signing keys, same issuer).
 */
export async function startKeycloak(
  o: { port?: number; dataDir?: string; name?: string; https?: { certFile: string; keyFile: string; port?: number } } = {},
): Promise<Keycloak> {
  const port = o.port ?? (await freePort());
  const httpsPort = o.https === undefined ? undefined : (o.https.port ?? (await freePort()));
  // With `https`, Keycloak also serves TLS with that certificate (the admin calls stay on http).
  const https =
    o.https === undefined
      ? []
      : [`--https-port=${httpsPort}`, `--https-certificate-file=${o.https.certFile}`, `--https-certificate-key-file=${o.https.keyFile}`];
  const db =
    o.dataDir === undefined ? ['--db=dev-mem'] : ['--db=dev-file', `--db-url=jdbc:h2:file:${o.dataDir}/keycloakdb;NON_KEYWORDS=VALUE`];
  const proc = startProcess(
    o.name ?? 'keycloak',
    `${keycloakDir()}/bin/kc.sh`,
    ['start-dev', '--http-host=127.0.0.1', `--http-port=${port}`, ...db, ...https, `--http-management-port=${await freePort()}`],
    {
      JAVA_HOME: '/usr/lib/jvm/temurin-25-jdk-amd64',
      KC_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      KC_BOOTSTRAP_ADMIN_PASSWORD: 'admin',
      JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx512m',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('Keycloak discovery', async () => (await fetch(`${url}/realms/master/.well-known/openid-configuration`)).ok, 180_000, 500);
  return { url, port, ...(httpsPort !== undefined ? { httpsPort } : {}), proc, stop: () => proc.stop() };
}

/** The admin REST calls of the agentgateway JWT guide, against a real Keycloak. */
export class KeycloakAdmin {
  constructor(readonly url: string) {}

  private async adminToken(): Promise<string> {
    const r = await fetch(`${this.url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
    });
    if (!r.ok) throw new Error(`admin token: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { access_token: string }).access_token;
  }

  /** An admin API call; throws with Keycloak's answer on a non-2xx status. */
  async call<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token ?? (await this.adminToken())}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    const text = await r.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * The guide's setup: an initial access token, a client registered with it, direct access grants
   * and redirect URIs, a `group` protocol mapper, and users user1/user2 (password `password`) with
   * first/last name and a verified email (else "Account is not fully set up").
   */
  async configureGuide(clientId = 'agw-client'): Promise<{ clientId: string; clientSecret: string }> {
    const initial = await this.call<{ token: string }>('POST', '/admin/realms/master/clients-initial-access', {
      count: 2,
      expiration: 3600,
    });
    const registered = await this.call<{ id: string; secret: string }>(
      'POST',
      '/realms/master/clients-registrations/default',
      { clientId },
      initial.token,
    );
    await this.call('PUT', `/admin/realms/master/clients/${registered.id}`, {
      clientId,
      directAccessGrantsEnabled: true,
      redirectUris: ['*'],
    });
    await this.call('POST', `/admin/realms/master/clients/${registered.id}/protocol-mappers/models`, {
      name: 'group',
      protocol: 'openid-connect',
      protocolMapper: 'oidc-usermodel-attribute-mapper',
      config: {
        'claim.name': 'group',
        'user.attribute': 'group',
        'access.token.claim': 'true',
        'id.token.claim': 'true',
        'jsonType.label': 'String',
      },
    });
    // Keycloak 26 keeps only declared user attributes unless unmanaged ones are enabled.
    const profile = await this.call<Record<string, unknown>>('GET', '/admin/realms/master/users/profile');
    await this.call('PUT', '/admin/realms/master/users/profile', { ...profile, unmanagedAttributePolicy: 'ENABLED' });
    for (const [user, group] of [
      ['user1', 'users'],
      ['user2', 'admins'],
    ] as const) {
      await this.call('POST', '/admin/realms/master/users', {
        username: user,
        email: `${user}@example.com`,
        firstName: 'User',
        lastName: user,
        emailVerified: true,
        enabled: true,
        attributes: { group: [group] },
        credentials: [{ type: 'password', value: 'password', temporary: false }],
      });
    }
    return { clientId, clientSecret: registered.secret };
  }

  /** Password grant, as the guide's curl does. */
  async token(user: string, client: { clientId: string; clientSecret: string }): Promise<string> {
    const r = await fetch(`${this.url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: client.clientId,
        client_secret: client.clientSecret,
        username: user,
        password: 'password',
      }),
    });
    if (!r.ok) throw new Error(`token for ${user}: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { access_token: string }).access_token;
  }

  /** Access tokens of the master realm live this long (Keycloak's default is 60 s). */
  async setAccessTokenLifespan(seconds: number): Promise<void> {
    await this.call('PUT', '/admin/realms/master', { accessTokenLifespan: seconds });
  }

  /**
   * A confidential client with direct access grants and the given secret; `audience` adds an
   * audience mapper (the token's `aud` then holds it); `lifespanSeconds` overrides the realm's
   * access-token lifespan for this client.
   */
  async createClient(o: {
    clientId: string;
    secret: string;
    audience?: string;
    lifespanSeconds?: number;
  }): Promise<{ clientId: string; clientSecret: string }> {
    await this.call('POST', '/admin/realms/master/clients', {
      clientId: o.clientId,
      secret: o.secret,
      publicClient: false,
      directAccessGrantsEnabled: true,
      ...(o.lifespanSeconds !== undefined ? { attributes: { 'access.token.lifespan': String(o.lifespanSeconds) } } : {}),
      ...(o.audience !== undefined
        ? {
            protocolMappers: [audienceMapper(o.audience)],
          }
        : {}),
    });
    return { clientId: o.clientId, clientSecret: o.secret };
  }

  /** Adds the audience mapper to an existing client (by clientId): its access tokens' `aud` holds `audience`. */
  async addAudienceMapper(clientId: string, audience: string): Promise<void> {
    const found = await this.call<Array<{ id: string }>>('GET', `/admin/realms/master/clients?clientId=${encodeURIComponent(clientId)}`);
    const id = found[0]?.id;
    if (id === undefined) throw new Error(`no Keycloak client ${clientId}`);
    await this.call('POST', `/admin/realms/master/clients/${id}/protocol-mappers/models`, audienceMapper(audience));
  }

  /** The realm's RSA signing key providers (component ids and names), highest priority first. */
  async signingKeyProviders(): Promise<Array<{ id: string; name: string; priority: number }>> {
    const realm = await this.call<{ id: string }>('GET', '/admin/realms/master');
    const all = await this.call<Array<{ id: string; name: string; providerId: string; config?: { priority?: string[] } }>>(
      'GET',
      `/admin/realms/master/components?parent=${realm.id}&type=org.keycloak.keys.KeyProvider`,
    );
    return all
      .filter((c) => c.providerId === 'rsa-generated')
      .map((c) => ({ id: c.id, name: c.name, priority: Number(c.config?.priority?.[0] ?? 0) }))
      .sort((a, b) => b.priority - a.priority);
  }

  /** Removes a key provider: its key leaves the realm's JWKS. */
  async removeKeyProvider(id: string): Promise<void> {
    await this.call('DELETE', `/admin/realms/master/components/${id}`);
  }

  /**
   * Rotates the realm's signing key: a new rsa-generated provider with a priority above every
   * existing one signs from now on (Keycloak signs with the highest priority; the others stay in
   * the JWKS until removed).
   */
  async rotateSigningKey(): Promise<void> {
    const realm = await this.call<{ id: string }>('GET', '/admin/realms/master');
    const top = Math.max(100, ...(await this.signingKeyProviders()).map((p) => p.priority));
    await this.call('POST', '/admin/realms/master/components', {
      name: `rsa-rotated-${Date.now()}`,
      providerId: 'rsa-generated',
      providerType: 'org.keycloak.keys.KeyProvider',
      parentId: realm.id,
      config: {
        priority: [String(top + 100)],
        keySize: ['2048'],
        active: ['true'],
        enabled: ['true'],
        algorithm: ['RS256'],
      },
    });
  }
}

/** An `oidc-audience-mapper`: the client's access tokens carry `audience` in `aud`. */
function audienceMapper(audience: string) {
  return {
    name: 'audience',
    protocol: 'openid-connect',
    protocolMapper: 'oidc-audience-mapper',
    config: { 'included.custom.audience': audience, 'access.token.claim': 'true', 'id.token.claim': 'false' },
  };
}
