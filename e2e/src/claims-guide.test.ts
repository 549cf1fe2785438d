import {
  apply,
  condOf,
  KeycloakAdmin,
  kubectl,
  request,
  startController,
  startEchoUpstream,
  startKeycloak,
  startProxy,
  waitFor,
  waitForAncestor,
  type EchoUpstream,
  type Keycloak,
  type RunningController,
  type RunningProxy,
} from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * After the signature check, with real Keycloak (its `group` claim mapper: user1 in `users`,
 * user2 in `admins`) on the real API server: the claims in headers for the backend
 * (transformation), access by claims (authorization), routing by a claim (PreRouting
 * transformation + an HTTPRoute header match) and the token passed through to the backend, with
 * the manifests of agentgateway's docs.
 */
const admin = () => inject('kubeconfig');
const NS = 'claims';
const GW = 'claims-gw';
const HOST = 'claims.example.com';
let keycloak: Keycloak;
let kc: KeycloakAdmin;
let client: { clientId: string; clientSecret: string };
let issuer = '';
let jwksPath = '';
let standard: EchoUpstream;
let premium: EchoUpstream;
let controller: RunningController;
let proxy: RunningProxy;

type Echo = { headers: Record<string, string> };
const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
  request(proxy.port, { host: HOST, path, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
const echoed = (body: string) => (JSON.parse(body) as Echo).headers;
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
const user = (name: string) => kc.token(name, client);
const policy = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS },
  spec,
});
const onGateway = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }];
const jwtAuthentication = () => ({
  mode: 'Strict',
  providers: [
    {
      issuer,
      jwks: {
        remote: {
          jwksPath,
          cacheDuration: '5m',
          backendRef: { group: '', kind: 'Service', name: 'keycloak', namespace: NS, port: 8080 },
        },
      },
    },
  ],
});
const service = (name: string, port: number, host: string, targetPort: number) => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ name: 'http', port }] } },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: NS, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'FQDN',
    endpoints: [{ addresses: [host] }],
    ports: [{ name: 'http', port: targetPort }],
  },
];
/** Waits until a request answers `want` (policies reach the proxy asynchronously). */
const until = (what: string, probe: () => Promise<boolean>) => waitFor(what, probe, 30_000, 100);

beforeAll(async () => {
  [keycloak, standard, premium] = await Promise.all([startKeycloak(), startEchoUpstream('standard'), startEchoUpstream('premium')]);
  kc = new KeycloakAdmin(keycloak.url);
  client = await kc.configureGuide();
  const discovery = (await (await fetch(`${keycloak.url}/realms/master/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  issuer = discovery.issuer;
  jwksPath = new URL(discovery.jwks_uri).pathname;
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    ...service('keycloak', 8080, 'keycloak.localhost', keycloak.port),
    ...service('standard', 8000, 'standard.localhost', standard.port),
    ...service('premium', 8000, 'premium.localhost', premium.port),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ protocol: 'HTTP', port: 80, name: 'http' }] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'app', namespace: NS },
      spec: {
        parentRefs: [{ name: GW }],
        hostnames: [HOST],
        rules: [
          // Claim-based routing: the PreRouting transformation sets x-user-group from the token.
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-user-group', value: 'admins' }] }],
            backendRefs: [{ name: 'premium', port: 8000 }],
          },
          { backendRefs: [{ name: 'standard', port: 8000 }] },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'admin', namespace: NS },
      spec: {
        parentRefs: [{ name: GW }],
        hostnames: [HOST],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'standard', port: 8000 }] }],
      },
    },
    policy('jwt', { targetRefs: onGateway, traffic: { jwtAuthentication: jwtAuthentication() } }),
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'claims-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'claims-proxy' });
  await until('JWT enforced', async () => (await get('/headers')).status === 401);
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await keycloak?.stop();
  await standard?.close();
  await premium?.close();
});

describe('claims, access and routing by claims, with real Keycloak', () => {
  it("the docs' claims-to-headers policy: x-user-id, x-auth-issuer, x-user-role reach the backend; a client's own x-user-id does not", async () => {
    await apply(admin(), [
      policy('jwt-claims-to-headers', {
        targetRefs: onGateway,
        traffic: {
          transformation: {
            request: {
              set: [
                { name: 'x-user-id', value: 'jwt.sub' },
                { name: 'x-auth-issuer', value: 'jwt.iss' },
                { name: 'x-user-role', value: "default(jwt.role, 'user')" },
              ],
            },
          },
        },
      }),
    ]);
    const token = await user('user1');
    await until('claims in headers', async () => {
      const r = await get('/headers', token);
      return r.status === 200 && echoed(r.body)['X-User-Id'] !== undefined;
    });
    const headers = echoed((await get('/headers', token, { 'x-user-id': 'forged-admin' })).body);
    expect(headers['X-User-Id']).toBe(claimsOf(token)['sub']);
    expect(headers['X-Auth-Issuer']).toContain('realms/master');
    expect(headers['X-User-Role']).toBe('user');
    expect(headers['Authorization']).toBeUndefined();
    const a = await waitForAncestor(admin(), NS, 'jwt-claims-to-headers', GW, (x) => condOf(x, 'Programmed')?.status === 'True');
    expect(condOf(a, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
  });

  it('an expression that does not parse: Accepted=True PartiallyValid with upstream message, and that header is removed (never the client value)', async () => {
    await apply(admin(), [
      policy('jwt-claims-to-headers', {
        targetRefs: onGateway,
        traffic: { transformation: { request: { set: [{ name: 'x-user-id', value: 'jwt.sub ==' }] } } },
      }),
    ]);
    const a = await waitForAncestor(admin(), NS, 'jwt-claims-to-headers', GW, (x) => condOf(x, 'Accepted')?.reason === 'PartiallyValid');
    expect(condOf(a, 'Accepted')).toMatchObject({ status: 'True', message: 'header value is not a valid CEL expression: jwt.sub ==' });
    const token = await user('user1');
    await until(
      'header removed',
      async () => echoed((await get('/headers', token, { 'x-user-id': 'forged' })).body)['X-User-Id'] === undefined,
    );
    expect((await kubectl(admin(), ['delete', 'agentgatewaypolicy', 'jwt-claims-to-headers', '-n', NS])).code).toBe(0);
  });

  it("authorization on the admin route: `jwt.group == 'admins'` lets user2 in; user1 gets 403 `authorization failed` with an insufficient_scope challenge; no token is still 401", async () => {
    await apply(admin(), [
      policy('admins-only', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'admin' }],
        traffic: { authorization: { policy: { matchExpressions: ["has(jwt.group) && jwt.group == 'admins'"] } } },
      }),
    ]);
    const [user1, user2] = await Promise.all([user('user1'), user('user2')]);
    await until('authorization enforced', async () => (await get('/admin', user1)).status === 403);
    const denied = await get('/admin', user1);
    expect([denied.status, denied.body, denied.headers['content-type']]).toEqual([403, 'authorization failed', 'text/plain']);
    expect(denied.headers['www-authenticate']).toMatch(/^Bearer .*error="insufficient_scope"/);
    expect((await get('/admin', user2)).status).toBe(200);
    expect((await get('/admin')).status).toBe(401);
    // The other route has no authorization policy.
    expect((await get('/headers', user1)).status).toBe(200);
  });

  it('backend.auth.passthrough: the validated Keycloak token reaches the backend as Authorization: Bearer', async () => {
    await apply(admin(), [
      policy('passthrough', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'app' }],
        backend: { auth: { passthrough: {} } },
      }),
    ]);
    const token = await user('user1');
    await until('token passed through', async () => echoed((await get('/headers', token)).body)['Authorization'] === `Bearer ${token}`);
    expect((await kubectl(admin(), ['delete', 'agentgatewaypolicy', 'passthrough', '-n', NS])).code).toBe(0);
    await until('passthrough removed', async () => echoed((await get('/headers', token)).body)['Authorization'] === undefined);
  });

  it('claim-based routing: a PreRouting JWT + transformation sets x-user-group before route selection; user2 (admins) reaches premium, user1 standard', async () => {
    await apply(admin(), [
      policy('jwt', {
        targetRefs: onGateway,
        traffic: {
          phase: 'PreRouting',
          jwtAuthentication: jwtAuthentication(),
          transformation: { request: { set: [{ name: 'x-user-group', value: "default(jwt.group, 'none')" }] } },
        },
      }),
    ]);
    const [user1, user2] = await Promise.all([user('user1'), user('user2')]);
    await until('routing by claim', async () => (await get('/headers', user2)).headers['x-upstream'] === 'premium');
    const r2 = await get('/headers', user2, { 'x-user-group': 'users' });
    expect([r2.status, r2.headers['x-upstream'], echoed(r2.body)['X-User-Group']]).toEqual([200, 'premium', 'admins']);
    // A client claiming the admins group without being in it is routed by its token, not by its header.
    const r1 = await get('/headers', user1, { 'x-user-group': 'admins' });
    expect([r1.status, r1.headers['x-upstream'], echoed(r1.body)['X-User-Group']]).toEqual([200, 'standard', 'users']);
    expect((await get('/headers', undefined, { 'x-user-group': 'admins' })).status).toBe(401);
  });
});
