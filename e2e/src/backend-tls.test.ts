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
  waitFor,
  waitForAncestor,
  type Ancestor,
  type EchoUpstream,
  type JwksServer,
  type RunningController,
  type RunningProxy,
  type SigningKey,
  TestCertificates,
  type PemPair,
} from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * TLS from the proxy to HTTPRoute backends, on the real API server: an HTTPS echo backend (its
 * certificate signed by a private CA made here with openssl) behind a Service + EndpointSlice, a
 * ConfigMap with the CA, then a Gateway API BackendTLSPolicy and an AgentgatewayPolicy
 * `backend.tls` on that Service (the AgentgatewayPolicy wins), a wrong and a missing CA; and
 * `backend.tls` on an IdP Service for the controller's JWKS fetch. Controller and proxy are the
 * built binaries; the controller runs as the chart's ServiceAccount.
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-backend-tls';
const GW = 'backend-tls-gw';
const BTLS_NAME = 'secure.internal.test';
const SVC_NAME = `secure.${NS}.svc.cluster.local`;
const IDP = 'idp.internal.test';
const ISS = 'https://idp.internal.test/realms/e2e';
const certs = new TestCertificates();
let ca: PemPair;
let wrongCa: PemPair;
let secure: EchoUpstream;
let plain: EchoUpstream;
let idp: JwksServer;
let key: SigningKey;
let controller: RunningController;
let proxy: RunningProxy;

const configMap = (name: string, crt: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: NS },
  data: { 'ca.crt': crt },
});
const service = (name: string, portName: string, port: number, target: number) => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ name: portName, port }] } },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: NS, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'FQDN',
    endpoints: [{ addresses: [`${name}.localhost`] }],
    ports: [{ name: portName, port: target }],
  },
];
const httpRoute = (name: string, host: string, backend: string, port: number) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: GW }], hostnames: [host], rules: [{ backendRefs: [{ name: backend, port }] }] },
});
const backendTls = (name: string, target: string, tls: Record<string, unknown>) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: target }], backend: { tls } },
});
const get = (host: string, token?: string) =>
  request(proxy.port, { host, path: '/anything', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
async function btlsAncestors(name: string): Promise<Ancestor[]> {
  const p = await getJson<{ status?: { ancestors?: Ancestor[] } }>(admin(), ['backendtlspolicy', name, '-n', NS]);
  return p?.status?.ancestors ?? [];
}
/** Waits until the proxy answers `host` with `status` (a new config reaches the proxy within a second or two). */
async function until(host: string, probe: (r: Awaited<ReturnType<typeof get>>) => boolean) {
  let last: Awaited<ReturnType<typeof get>> | undefined;
  try {
    await waitFor(`answer of ${host}`, async () => probe((last = await get(host))), 30_000, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last answer: ${last?.status} ${last?.body}`);
  }
  return last as Awaited<ReturnType<typeof get>>;
}

beforeAll(async () => {
  ca = certs.ca('ca');
  wrongCa = certs.ca('wrong-ca');
  const leaf = certs.leaf('secure', 'ca', BTLS_NAME, [`DNS:${BTLS_NAME}`, `DNS:${SVC_NAME}`]);
  const idpLeaf = certs.leaf('idp', 'ca', IDP, [`DNS:${IDP}`]);
  [secure, plain, key] = await Promise.all([
    startEchoUpstream('secure-backend', { tls: { cert: leaf.cert, key: leaf.key } }),
    startEchoUpstream('plain-backend'),
    generateSigningKey('ES256', 'btls-k1'),
  ]);
  idp = await startJwksServer([key.jwk], { tls: { cert: idpLeaf.cert, key: idpLeaf.key } });
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    ...service('secure', 'https', 443, secure.port),
    ...service('plain', 'http', 80, plain.port),
    ...service('idp', 'https', 8443, idp.port),
    configMap('corp-ca', ca.cert),
    configMap('other-ca', wrongCa.cert),
    httpRoute('secure-app', 'secure.example.com', 'secure', 443),
    httpRoute('jwt-app', 'jwt.example.com', 'plain', 80),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'BackendTLSPolicy',
      metadata: { name: 'secure-btls', namespace: NS },
      spec: {
        targetRefs: [{ group: '', kind: 'Service', name: 'secure' }],
        validation: { hostname: BTLS_NAME, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'corp-ca' }] },
      },
    },
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'backend-tls-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'backend-tls-proxy' });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  for (const s of [secure, plain]) await s?.close();
  await idp?.close();
});

describe('TLS to an HTTPRoute backend behind a private CA', () => {
  it('(a) a BackendTLSPolicy on the Service: 200 over TLS with SNI validation.hostname; its status has the Gateway as ancestor', async () => {
    const r = await until('secure.example.com', (x) => x.status === 200);
    expect(r.headers['x-upstream']).toBe('secure-backend');
    expect(r.headers['x-tls-servername']).toBe(BTLS_NAME);
    expect(JSON.parse(r.body)).toMatchObject({ upstream: 'secure-backend', url: '/anything', headers: { host: 'secure.example.com' } });
    let ancestors: Ancestor[] = [];
    await waitFor('BackendTLSPolicy status', async () => (ancestors = await btlsAncestors('secure-btls')).length > 0, 30_000, 200);
    expect(ancestors).toHaveLength(1);
    expect(ancestors[0]?.ancestorRef).toMatchObject({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS, name: GW });
    expect(condOf(ancestors[0], 'Accepted')).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(condOf(ancestors[0], 'ResolvedRefs')).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('(b) an AgentgatewayPolicy backend.tls on the same Service wins: SNI is now the Service DNS name (no sni set); Accepted Valid', async () => {
    await apply(admin(), [backendTls('secure-tls', 'secure', { caCertificateRefs: [{ name: 'corp-ca' }] })]);
    const r = await until('secure.example.com', (x) => x.headers['x-tls-servername'] === SVC_NAME);
    expect(r.status).toBe(200);
    const a = await waitForAncestor(admin(), NS, 'secure-tls', GW, (x) => condOf(x, 'Accepted')?.reason === 'Valid');
    expect(condOf(a, 'Accepted')?.message).toBe('Policy accepted');
    expect(condOf(a, 'Attached')).toMatchObject({ status: 'True', reason: 'Attached' });
  });

  it('a CA that did not sign the backend: 503 PROXY_ERR_UPSTREAM_TLS (never plaintext); the policy stays Valid (the CA itself parses)', async () => {
    await apply(admin(), [backendTls('secure-tls', 'secure', { caCertificateRefs: [{ name: 'other-ca' }] })]);
    const r = await until('secure.example.com', (x) => x.status === 503);
    expect(r.body).toBe('upstream call failed: TLS handshake failed');
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers['x-upstream']).toBeUndefined();
    const a = await waitForAncestor(admin(), NS, 'secure-tls', GW, (x) => condOf(x, 'Accepted') !== undefined);
    expect(condOf(a, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid', message: 'Policy accepted' });
  });

  it('insecureSkipVerify Hostname with sni the certificate does not carry: the chain is verified, the name is not: 200', async () => {
    await apply(admin(), [
      backendTls('secure-tls', 'secure', {
        caCertificateRefs: [{ name: 'corp-ca' }],
        sni: 'elsewhere.internal.test',
        insecureSkipVerify: 'Hostname',
      }),
    ]);
    const r = await until('secure.example.com', (x) => x.status === 200 && x.headers['x-tls-servername'] === 'elsewhere.internal.test');
    expect(r.headers['x-upstream']).toBe('secure-backend');
  });

  it('a CA ConfigMap that does not exist: the policy says so (PartiallyValid) and the backend fails closed: 500 invalid backend TLS settings', async () => {
    await apply(admin(), [backendTls('secure-tls', 'secure', { caCertificateRefs: [{ name: 'missing-ca' }] })]);
    const a = await waitForAncestor(admin(), NS, 'secure-tls', GW, (x) => condOf(x, 'Accepted')?.reason === 'PartiallyValid');
    expect(condOf(a, 'Accepted')).toMatchObject({
      status: 'True',
      message: `backend.tls: caCertificateRefs[0]: ConfigMap ${NS}/missing-ca not found; connections to its backends fail`,
    });
    const r = await until('secure.example.com', (x) => x.status === 500);
    expect(r.body).toBe('invalid backend TLS settings');
  });

  it('the AgentgatewayPolicy removed: the BackendTLSPolicy applies again (200, SNI validation.hostname)', async () => {
    await kubectl(admin(), ['delete', 'agentgatewaypolicy', 'secure-tls', '-n', NS]);
    const r = await until('secure.example.com', (x) => x.status === 200);
    expect(r.headers['x-tls-servername']).toBe(BTLS_NAME);
  });
});

describe('backend.tls for the JWKS fetch from an IdP Service', () => {
  it('an AgentgatewayPolicy backend.tls on the IdP Service (over a BackendTLSPolicy there that would fail): keys fetched over TLS, a token gets 200, none 401', async () => {
    await apply(admin(), [
      // This one would fail (the system CAs do not know the private CA): the AgentgatewayPolicy wins.
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'BackendTLSPolicy',
        metadata: { name: 'idp-btls', namespace: NS },
        spec: {
          targetRefs: [{ group: '', kind: 'Service', name: 'idp' }],
          validation: { hostname: IDP, wellKnownCACertificates: 'System' },
        },
      },
      backendTls('idp-tls', 'idp', { caCertificateRefs: [{ name: 'corp-ca' }], sni: IDP }),
      {
        apiVersion: 'agentgateway.dev/v1alpha1',
        kind: 'AgentgatewayPolicy',
        metadata: { name: 'jwt', namespace: NS },
        spec: {
          targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'jwt-app' }],
          traffic: {
            jwtAuthentication: {
              providers: [{ issuer: ISS, jwks: { remote: { backendRef: { name: 'idp', port: 8443 }, jwksPath: '/realms/e2e/certs' } } }],
            },
          },
        },
      },
    ]);
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    // The JWT policy is in force (no token: 401), then its keys arrive (the token: 200).
    await waitFor('no token refused', async () => (await get('jwt.example.com')).status === 401, 30_000, 100);
    await waitFor('token accepted', async () => (await get('jwt.example.com', token)).status === 200, 30_000, 100);
    expect((await get('jwt.example.com')).status).toBe(401);
    expect(idp.hits.get('/realms/e2e/certs')).toBeGreaterThan(0);
    const jwt = await waitForAncestor(admin(), NS, 'jwt', GW, (x) => condOf(x, 'Accepted')?.reason === 'Valid');
    expect(condOf(jwt, 'Accepted')?.message).toBe('Policy accepted');
    // The TLS policy is in use through the JWT policy's Gateway, though no route has the IdP as backend.
    const tls = await waitForAncestor(admin(), NS, 'idp-tls', GW, (x) => condOf(x, 'Attached')?.status === 'True');
    expect(condOf(tls, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
  });

  it('its CA ConfigMap pointing at a CA that did not sign the IdP: the JWT policy message names the TLS failure', async () => {
    await apply(admin(), [backendTls('idp-tls', 'idp', { caCertificateRefs: [{ name: 'other-ca' }], sni: IDP })]);
    const a = await waitForAncestor(admin(), NS, 'jwt', GW, (x) =>
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(condOf(x, 'Accepted')?.message ?? ''),
    );
    const url = `https://${IDP}:8443/realms/e2e/certs`.replace(/[.]/g, '\\.');
    expect(condOf(a, 'Accepted')?.message).toMatch(
      new RegExp(
        `^Policy accepted \\(jwks keyset for "${url}" is served stale: last fetched \\S+, last error: fetching jwks from ${url}: unable to verify the first certificate \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)\\)$`,
      ),
    );
  });

  it('the controller never got a 403 (its RBAC covers ConfigMaps and BackendTLSPolicies)', () => {
    const log = controller
      .log()
      .split('\n')
      .filter((line) => !line.includes('because it is being terminated'))
      .join('\n');
    expect(log).not.toMatch(/\b403\b|forbidden/i);
  });
});
