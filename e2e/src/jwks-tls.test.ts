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
 * JWKS over TLS with a private CA on the real API server: an https IdP (certificate signed by a
 * CA made here with openssl) behind a Service + EndpointSlice, a ConfigMap with the CA, a Gateway
 * API BackendTLSPolicy on the Service, and an AgentgatewayPolicy whose jwks.remote.backendRef is
 * that Service. The controller runs as the chart's ServiceAccount (its RBAC only).
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-jwks-tls';
const GW = 'jwks-tls-gw';
const HOST = 'idp.private.test';
const ISS = 'https://idp.private.test/realms/e2e';
const JWKS_URL = `https://${HOST}:8443/realms/e2e/certs`;
const certs = new TestCertificates();
let ca: PemPair;
let wrongCa: PemPair;
let upstream: EchoUpstream;
let idp: JwksServer;
let key: SigningKey;
let controller: RunningController;
let proxy: RunningProxy;

const caConfigMap = (crt: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'idp-ca', namespace: NS },
  data: { 'ca.crt': crt },
});
const get = (token?: string) =>
  request(proxy.port, { host: 'app.example.com', path: '/headers', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
async function backendTlsAncestors(): Promise<Ancestor[]> {
  const p = await getJson<{ status?: { ancestors?: Ancestor[] } }>(admin(), ['backendtlspolicy', 'idp-tls', '-n', NS]);
  return p?.status?.ancestors ?? [];
}

beforeAll(async () => {
  ca = certs.ca('ca');
  wrongCa = certs.ca('wrong-ca');
  const leaf = certs.leaf('idp', 'ca', HOST, [`DNS:${HOST}`]);
  [upstream, key] = await Promise.all([startEchoUpstream('jwks-tls-backend'), generateSigningKey('ES256', 'tls-k1')]);
  idp = await startJwksServer([key.jwk], { tls: { cert: leaf.cert, key: leaf.key } });
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: NS }, spec: { ports: [{ name: 'http', port: 80 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'backend-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'backend' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['backend.localhost'] }],
      ports: [{ name: 'http', port: upstream.port }],
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'app', namespace: NS },
      spec: { parentRefs: [{ name: GW }], hostnames: ['app.example.com'], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] },
    },
    // The IdP: Service port 8443 (named https), its endpoint the https JWKS server on loopback.
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'idp', namespace: NS }, spec: { ports: [{ name: 'https', port: 8443 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'idp-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'idp' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['idp.localhost'] }],
      ports: [{ name: 'https', port: idp.port }],
    },
    caConfigMap(ca.cert),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'BackendTLSPolicy',
      metadata: { name: 'idp-tls', namespace: NS },
      spec: {
        targetRefs: [{ group: '', kind: 'Service', name: 'idp' }],
        validation: { hostname: HOST, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'idp-ca' }] },
      },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }],
        traffic: {
          jwtAuthentication: {
            providers: [{ issuer: ISS, jwks: { remote: { backendRef: { name: 'idp', port: 8443 }, jwksPath: '/realms/e2e/certs' } } }],
          },
        },
      },
    },
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'jwks-tls-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'jwks-tls-proxy' });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
  await idp?.close();
});

describe('JWKS over HTTPS from an IdP behind a private CA (BackendTLSPolicy)', () => {
  it('the key set is fetched over TLS (SNI = validation.hostname): a token of that IdP gets 200, none 401', async () => {
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    await waitFor('token accepted', async () => (await get(token)).status === 200, 30_000, 100);
    expect((await get()).status).toBe(401);
    expect(idp.hits.get('/realms/e2e/certs')).toBeGreaterThan(0);
    const a = await waitForAncestor(admin(), NS, 'jwt', GW, (x) => condOf(x, 'Accepted')?.reason === 'Valid');
    expect(condOf(a, 'Accepted')?.message).toBe('Policy accepted');
  });

  it('the BackendTLSPolicy has our ancestor entry (the Gateway): Accepted and ResolvedRefs True', async () => {
    let ancestors: Ancestor[] = [];
    await waitFor('BackendTLSPolicy status', async () => (ancestors = await backendTlsAncestors()).length > 0, 30_000, 200);
    expect(ancestors).toHaveLength(1);
    expect(ancestors[0]).toMatchObject({
      ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS, name: GW },
      controllerName: 'agentgateway.dev/agentgateway',
    });
    expect(condOf(ancestors[0], 'Accepted')).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(condOf(ancestors[0], 'ResolvedRefs')).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('the ConfigMap gets a CA that did not sign the IdP: refetched at once, the policy says why; ResolvedRefs stays True (the CA parses)', async () => {
    await apply(admin(), [caConfigMap(wrongCa.cert)]);
    const a = await waitForAncestor(admin(), NS, 'jwt', GW, (x) =>
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(condOf(x, 'Accepted')?.message ?? ''),
    );
    // The last good keys keep serving (as for an IdP outage); the message names the URL and the TLS failure.
    expect(condOf(a, 'Accepted')?.message).toMatch(
      new RegExp(
        `^Policy accepted \\(jwks keyset for "${JWKS_URL.replace(/[.]/g, '\\.')}" is served stale: last fetched \\S+, last error: fetching jwks from ${JWKS_URL.replace(/[.]/g, '\\.')}: unable to verify the first certificate \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)\\)$`,
      ),
    );
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    expect((await get(token)).status).toBe(200);
    const ancestors = await backendTlsAncestors();
    expect(condOf(ancestors[0], 'ResolvedRefs')).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
  });

  it('the ConfigMap loses ca.crt: ResolvedRefs False InvalidCACertificateRef, Accepted False NoValidCACertificate; no TLS fetch, the provider left out (401)', async () => {
    await kubectl(admin(), ['delete', 'configmap', 'idp-ca', '-n', NS]);
    await apply(admin(), [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'idp-ca', namespace: NS }, data: { other: 'x' } }]);
    let ancestors: Ancestor[] = [];
    await waitFor(
      'ResolvedRefs False',
      async () => condOf((ancestors = await backendTlsAncestors())[0], 'ResolvedRefs')?.status === 'False',
      30_000,
      200,
    );
    expect(condOf(ancestors[0], 'ResolvedRefs')).toMatchObject({
      reason: 'InvalidCACertificateRef',
      message: `caCertificateRefs[0]: ConfigMap ${NS}/idp-ca has no ca.crt`,
    });
    expect(condOf(ancestors[0], 'Accepted')).toMatchObject({ status: 'False', reason: 'NoValidCACertificate' });
    const a = await waitForAncestor(admin(), NS, 'jwt', GW, (x) => condOf(x, 'Accepted')?.reason === 'PartiallyValid');
    expect(condOf(a, 'Accepted')?.message).toBe(
      `BackendTLSPolicy ${NS}/idp-tls: caCertificateRefs[0]: ConfigMap ${NS}/idp-ca has no ca.crt, policy ${NS}/jwt`,
    );
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    await waitFor('fail closed', async () => (await get(token)).status === 401, 20_000, 100);
  });

  it('the controller never got a 403 (its RBAC lists and watches BackendTLSPolicies and ConfigMaps, patches the status)', () => {
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
