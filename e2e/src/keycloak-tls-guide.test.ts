import {
  KeycloakAdmin,
  apply,
  condOf,
  freePort,
  kubectl,
  request,
  startController,
  startEchoUpstream,
  startKeycloak,
  startProxy,
  waitFor,
  waitForAncestor,
  TestCertificates,
  type EchoUpstream,
  type Keycloak,
  type RunningController,
  type RunningProxy,
} from '@agw/test-kit';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The agentgateway JWT guide over TLS end to end (issue 16, "done when"): the Gateway's listener
 * is HTTPS (a kubernetes.io/tls Secret, keys over the TLS config stream), and Keycloak serves its
 * JWKS over HTTPS with a certificate from a private CA, reached through a Gateway API
 * BackendTLSPolicy (CA in a ConfigMap, validation.hostname = the Service's cluster name). The
 * guide's policy is unchanged but for its backendRef port (Keycloak's HTTPS port). Real Keycloak.
 */
const admin = () => inject('kubeconfig');
const NS = 'tls-guide';
const KC_NS = 'keycloak-tls';
const GW = 'agentgateway-proxy';
const HOST = 'www.example.com';
const KC_NAME = `keycloak.${KC_NS}.svc.cluster.local`;
const certs = new TestCertificates();
let keycloak: Keycloak;
let kc: KeycloakAdmin;
let client: { clientId: string; clientSecret: string };
let httpbin: EchoUpstream;
let controller: RunningController;
let proxy: RunningProxy;
let port = 0;
let issuer = '';
let jwksPath = '';

/** curl as the guide runs it, over HTTPS: `--cacert` the listener's certificate, the name resolved to the proxy. */
async function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)('curl', [
      '-sS',
      '--cacert',
      join(certs.dir, 'listener.crt'),
      '--resolve',
      `${HOST}:${port}:127.0.0.1`,
      ...args,
      `https://${HOST}:${port}/headers`,
    ]);
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '' };
  }
}

const guidePolicy = (kcPort: number) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name: 'jwt-auth-policy', namespace: NS },
  spec: {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }],
    traffic: {
      jwtAuthentication: {
        mode: 'Strict',
        providers: [
          {
            issuer,
            jwks: {
              remote: {
                jwksPath,
                cacheDuration: '5m',
                backendRef: { group: '', kind: 'Service', name: 'keycloak', namespace: KC_NS, port: kcPort },
              },
            },
          },
        ],
      },
    },
  },
});

beforeAll(async () => {
  const ca = certs.ca('private-ca');
  const kcLeaf = certs.leaf('keycloak', 'private-ca', KC_NAME, [`DNS:${KC_NAME}`]);
  const listener = certs.selfSigned('listener', HOST, [`DNS:${HOST}`]);
  certs.selfSigned('xds', 'agentgateway', ['DNS:agentgateway.agentgateway-system.svc', 'IP:127.0.0.1']);
  [keycloak, httpbin] = await Promise.all([
    startKeycloak({ name: 'tls-keycloak', https: { certFile: kcLeaf.certFile, keyFile: kcLeaf.keyFile } }),
    startEchoUpstream('httpbin'),
  ]);
  kc = new KeycloakAdmin(keycloak.url);
  client = await kc.configureGuide();
  const discovery = (await (await fetch(`${keycloak.url}/realms/master/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  issuer = discovery.issuer;
  jwksPath = new URL(discovery.jwks_uri).pathname;
  port = await freePort();
  for (const ns of [NS, KC_NS]) expect((await kubectl(admin(), ['create', 'namespace', ns])).code).toBe(0);
  await apply(admin(), [
    // Keycloak's HTTPS port behind its Service; a BackendTLSPolicy says how to verify it.
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'keycloak', namespace: KC_NS },
      spec: { ports: [{ name: 'https', port: 8443 }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'keycloak-1', namespace: KC_NS, labels: { 'kubernetes.io/service-name': 'keycloak' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['keycloak.localhost'] }],
      ports: [{ name: 'https', port: keycloak.httpsPort }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'private-ca', namespace: KC_NS }, data: { 'ca.crt': ca.cert } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'BackendTLSPolicy',
      metadata: { name: 'keycloak-tls', namespace: KC_NS },
      spec: {
        targetRefs: [{ group: '', kind: 'Service', name: 'keycloak' }],
        validation: { hostname: KC_NAME, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'private-ca' }] },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'listener-cert', namespace: NS },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': listener.cert, 'tls.key': listener.key },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'httpbin', namespace: NS }, spec: { ports: [{ name: 'http', port: 8000 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'httpbin-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'httpbin' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['httpbin.localhost'] }],
      ports: [{ name: 'http', port: httpbin.port }],
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: {
        gatewayClassName: 'agentgateway',
        listeners: [
          {
            protocol: 'HTTPS',
            port: 443,
            name: 'https',
            tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'listener-cert' }] },
          },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'httpbin', namespace: NS },
      spec: { parentRefs: [{ name: GW }], hostnames: [HOST], rules: [{ backendRefs: [{ name: 'httpbin', port: 8000 }] }] },
    },
    guidePolicy(8443),
  ]);
  controller = await startController({
    kubeconfig: inject('controllerKubeconfig'),
    name: 'tls-guide-controller',
    extraArgs: [`--xds-tls-cert=${join(certs.dir, 'xds.crt')}`, `--xds-tls-key=${join(certs.dir, 'xds.key')}`],
  });
  proxy = await startProxy({
    adminKubeconfig: admin(),
    xdsPort: controller.xdsPort,
    gateway: `${NS}/${GW}`,
    name: 'tls-guide-proxy',
    listenerPort: 443,
    port,
    extraArgs: [`--controller-ca=${join(certs.dir, 'xds.crt')}`, '--controller-server-name=agentgateway.agentgateway-system.svc'],
  });
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await keycloak?.stop();
  await httpbin?.close();
});

describe('the JWT guide over HTTPS, with Keycloak behind a private CA', () => {
  it("the policy is Valid: Keycloak's key set was fetched over TLS, verified against the private CA", async () => {
    const a = await waitForAncestor(admin(), NS, 'jwt-auth-policy', GW, (x) => condOf(x, 'Accepted')?.reason === 'Valid', 60_000);
    expect(condOf(a, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
    // The controller fetched it from the https URL that BackendTLSPolicy's hostname names.
    const metrics = (await request(controller.adminPort, { path: '/metrics' })).body;
    expect(metrics).toContain(`url="https://${KC_NAME}:8443${jwksPath}"`);
  });

  it('curl --cacert: 401 "authentication failure: no bearer token found" without a token; 200 with a Keycloak token, over HTTP/1.1 and HTTP/2', async () => {
    await waitFor(
      'the HTTPS listener enforcing the policy',
      async () => (await curl(['-o', '/dev/null', '-w', '%{http_code}'])).stdout === '401',
      60_000,
      200,
    );
    const denied = await curl(['--http1.1', '-w', '\n%{http_code}']);
    expect(denied.stdout).toBe('authentication failure: no bearer token found\n401');
    const token = await kc.token('user1', client);
    for (const version of ['--http1.1', '--http2']) {
      const ok = await curl([version, '-H', `Authorization: Bearer ${token}`, '-w', '\n%{http_code} %{http_version}']);
      expect(ok.stdout).toMatch(new RegExp(`\\n200 ${version === '--http2' ? '2' : '1\\.1'}$`));
      expect(ok.stdout).toContain('"headers"');
    }
  });

  it('the BackendTLSPolicy names another host: the certificate does not match, the policy says so, and requests fail closed (401)', async () => {
    await apply(admin(), [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'BackendTLSPolicy',
        metadata: { name: 'keycloak-tls', namespace: KC_NS },
        spec: {
          targetRefs: [{ group: '', kind: 'Service', name: 'keycloak' }],
          validation: { hostname: 'wrong.example.com', caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'private-ca' }] },
        },
      },
    ]);
    const a = await waitForAncestor(
      admin(),
      NS,
      'jwt-auth-policy',
      GW,
      (x) => /altnames/.test(condOf(x, 'Accepted')?.message ?? ''),
      60_000,
    );
    // The new URL (the SNI and the name verified) was never fetched; the policy says why, in its words and TLS's.
    expect(condOf(a, 'Accepted')?.message).toContain(
      `jwks keyset for "https://wrong.example.com:8443${jwksPath}" isn't available (not yet fetched or fetch failed): last error: fetching jwks from https://wrong.example.com:8443${jwksPath}: Hostname/IP does not match certificate's altnames`,
    );
    const token = await kc.token('user2', client);
    await waitFor(
      'the provider left out (no keys)',
      async () => (await curl(['-H', `Authorization: Bearer ${token}`, '-o', '/dev/null', '-w', '%{http_code}'])).stdout === '401',
      30_000,
      200,
    );
  });
});
