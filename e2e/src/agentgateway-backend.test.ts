import {
  apply,
  condOf,
  generateSigningKey,
  getJson,
  kubectl,
  mintToken,
  request,
  startController,
  startEchoUpstream,
  startJwksServer,
  startProxy,
  TestCertificates,
  waitFor,
  waitForAncestor,
  type Cond,
  type EchoUpstream,
  type JwksServer,
  type RunningController,
  type RunningProxy,
  type SigningKey,
} from '@agw/test-kit';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * AgentgatewayBackend `spec.static {host, port}` on the real API server, the controller running
 * as the chart's ServiceAccount (its RBAC only): an HTTPRoute to a static backend (the echo
 * upstream on loopback, named `echo.localhost`), JWKS fetched from static backends (plain http,
 * and https through an AgentgatewayPolicy backend.tls targeting the backend, private CA), the
 * backends' status written by the controller, and the refusals: a backend at the cloud metadata
 * address (SSRF guard), a missing backend, a host that is not one.
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-agbe';
const GW = 'agbe-gw';
const ISS = 'https://idp.localhost/realms/agbe';
const ISS_TLS = 'https://idp.private.test/realms/agbe';
const TLS_NAME = 'idp.private.test';
const certs = new TestCertificates();
let upstream: EchoUpstream;
let idp: JwksServer;
let idpTls: JwksServer;
let key: SigningKey;
let keyTls: SigningKey;
let controller: RunningController;
let proxy: RunningProxy;

const agb = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayBackend',
  metadata: { name, namespace: NS },
  spec,
});
const AGB_REF = (name: string) => ({ group: 'agentgateway.dev', kind: 'AgentgatewayBackend', name });
const httpRoute = (name: string, hostname: string, backend: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: GW }], hostnames: [hostname], rules: [{ backendRefs: [AGB_REF(backend)] }] },
});
const get = (host: string, token?: string) =>
  request(proxy.port, { host, path: '/headers', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
async function backendConditions(name: string): Promise<Cond[]> {
  const b = await getJson<{ status?: { conditions?: Cond[] } }>(admin(), ['agentgatewaybackend', name, '-n', NS]);
  return b?.status?.conditions ?? [];
}
async function routeResolvedRefs(name: string): Promise<Cond | undefined> {
  const r = await getJson<{ status?: { parents?: Array<{ conditions: Cond[] }> } }>(admin(), ['httproute', name, '-n', NS]);
  return r?.status?.parents?.[0]?.conditions.find((c) => c.type === 'ResolvedRefs');
}

beforeAll(async () => {
  const ca = certs.ca('ca');
  const leaf = certs.leaf('idp', 'ca', TLS_NAME, [`DNS:${TLS_NAME}`]);
  [upstream, key, keyTls] = await Promise.all([
    startEchoUpstream('agbe-backend'),
    generateSigningKey('ES256', 'agbe-k1'),
    generateSigningKey('ES256', 'agbe-k2'),
  ]);
  [idp, idpTls] = await Promise.all([
    startJwksServer([key.jwk]),
    startJwksServer([keyTls.jwk], { tls: { cert: leaf.cert, key: leaf.key } }),
  ]);
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    agb('echo', { static: { host: 'echo.localhost', port: upstream.port } }),
    agb('idp', { static: { host: 'idp.localhost', port: idp.port } }),
    agb('idp-tls', { static: { host: 'idp.localhost', port: idpTls.port } }),
    // The cloud metadata address: the controller never fetches from it.
    agb('metadata', { static: { host: '169.254.169.254', port: 80 } }),
    agb('bad-host', { static: { host: 'https://idp.example.com', port: 443 } }),
    httpRoute('app', 'app.example.com', 'echo'),
    httpRoute('meta', 'meta.example.com', 'echo'),
    httpRoute('missing', 'missing.example.com', 'nope'),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'idp-ca', namespace: NS }, data: { 'ca.crt': ca.cert } },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'idp-tls', namespace: NS },
      spec: { targetRefs: [AGB_REF('idp-tls')], backend: { tls: { sni: TLS_NAME, caCertificateRefs: [{ name: 'idp-ca' }] } } },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'app' }],
        traffic: {
          jwtAuthentication: {
            providers: [
              { issuer: ISS, jwks: { remote: { backendRef: AGB_REF('idp'), jwksPath: '/realms/agbe/certs' } } },
              { issuer: ISS_TLS, jwks: { remote: { backendRef: AGB_REF('idp-tls'), jwksPath: '/realms/agbe/certs' } } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt-refused', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'meta' }],
        traffic: {
          jwtAuthentication: {
            providers: [
              { issuer: ISS, jwks: { remote: { backendRef: AGB_REF('metadata'), jwksPath: '/latest/meta-data' } } },
              { issuer: ISS, jwks: { remote: { backendRef: AGB_REF('nope'), jwksPath: '/keys' } } },
            ],
          },
        },
      },
    },
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'agbe-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'agbe-proxy' });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
  await idp?.close();
  await idpTls?.close();
  rmSync(certs.dir, { recursive: true, force: true });
});

describe('AgentgatewayBackend static (real API server)', () => {
  it('jwks.remote.backendRef to a static backend: its keys are fetched over http; a token of that IdP 200, none 401', async () => {
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    await waitFor('token accepted', async () => (await get('app.example.com', token)).status === 200, 30_000, 100);
    const none = await get('app.example.com');
    expect([none.status, none.body]).toEqual([401, 'authentication failure: no bearer token found']);
    expect(idp.hits.get('/realms/agbe/certs')).toBeGreaterThan(0);
  });

  it('https when an AgentgatewayPolicy backend.tls targets the backend (private CA, sni): that IdP’s token 200; the policies Valid', async () => {
    const token = await mintToken(keyTls, { claims: { iss: ISS_TLS, sub: 'bob' } });
    await waitFor('TLS token accepted', async () => (await get('app.example.com', token)).status === 200, 30_000, 100);
    expect(idpTls.hits.get('/realms/agbe/certs')).toBeGreaterThan(0);
    const a = await waitForAncestor(admin(), NS, 'jwt', GW, (x) => condOf(x, 'Accepted')?.reason === 'Valid');
    expect(condOf(a, 'Accepted')?.message).toBe('Policy accepted');
    // The backend.tls policy is in use through the fetch: the JWT policy's Gateway is its ancestor.
    const t = await waitForAncestor(admin(), NS, 'idp-tls', GW, (x) => condOf(x, 'Accepted')?.status === 'True');
    expect(condOf(t, 'Accepted')).toMatchObject({ reason: 'Valid', message: 'Policy accepted' });
  });

  it('an HTTPRoute to a static backend forwards to static.host:static.port through the proxy: 200 from the upstream, ResolvedRefs True', async () => {
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    const r = await get('app.example.com', token);
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream']).toBe('agbe-backend');
    expect((JSON.parse(r.body) as { headers: Record<string, string> }).headers['Host']).toBe('app.example.com');
    expect(await routeResolvedRefs('app')).toMatchObject({ status: 'True', reason: 'ResolvedRefs', message: 'All references resolved' });
  });

  it('each backend has its status, written by the controller: Accepted True, or False with the reason', async () => {
    let conds: Cond[] = [];
    await waitFor('backend status', async () => (conds = await backendConditions('echo')).length > 0, 30_000, 200);
    expect(conds).toEqual([
      expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Backend accepted', observedGeneration: 1 }),
    ]);
    expect(await backendConditions('idp')).toEqual([expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' })]);
    expect(await backendConditions('bad-host')).toEqual([
      expect.objectContaining({
        type: 'Accepted',
        status: 'False',
        reason: 'Invalid',
        message: 'static.host "https://idp.example.com" is not a host name or IP address',
      }),
    ]);
    const table = await kubectl(admin(), ['get', 'agbe', '-n', NS]);
    expect(table.stdout).toMatch(/\necho\s+True\s/);
    expect(table.stdout).toMatch(/\nbad-host\s+False\s/);
  });

  it('a backend at the metadata address is refused by the SSRF guard, a missing one is "not found": the policy says both, requests fail closed', async () => {
    const url = 'http://169.254.169.254:80/latest/meta-data';
    const a = await waitForAncestor(admin(), NS, 'jwt-refused', GW, (x) => /is blocked/.test(condOf(x, 'Accepted')?.message ?? ''));
    expect(condOf(a, 'Accepted')).toMatchObject({
      status: 'True',
      reason: 'PartiallyValid',
      message:
        `jwks keyset for "${url}" isn't available (not yet fetched or fetch failed): last error: ` +
        `address 169.254.169.254 is blocked (link-local or metadata service); backend ${NS}/nope not found, policy ${NS}/jwt-refused`,
    });
    // No provider left: Strict refuses every request, even one with a token another route accepts.
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    expect((await get('meta.example.com', token)).status).toBe(401);
  });

  it('an HTTPRoute to a missing backend: ResolvedRefs False BackendNotFound, and 500', async () => {
    let c: Cond | undefined;
    await waitFor('route status', async () => (c = await routeResolvedRefs('missing'))?.status === 'False', 30_000, 200);
    expect(c).toMatchObject({ reason: 'BackendNotFound', message: `AgentgatewayBackend ${NS}/nope not found` });
    expect((await get('missing.example.com')).status).toBe(500);
  });

  it('the backend is created: the route resolves and serves (level-based, from the watch)', async () => {
    await apply(admin(), [agb('nope', { static: { host: 'echo.localhost', port: upstream.port } })]);
    await waitFor('route served', async () => (await get('missing.example.com')).status === 200, 30_000, 100);
    expect(await routeResolvedRefs('missing')).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('the controller never got a 403 (its RBAC lists and watches AgentgatewayBackends and patches their status)', () => {
    // An event for an object in a namespace another suite is deleting is refused with 403 ("being
    // terminated"): that is the namespace's lifecycle, not RBAC.
    const log = controller
      .log()
      .split('\n')
      .filter((line) => !line.includes('because it is being terminated'))
      .join('\n');
    expect(log).not.toMatch(/\b403\b|forbidden/i);
  });
});
