import {
  apply,
  generateSigningKey,
  jwks,
  kubectl,
  mintToken,
  request,
  startController,
  startEchoUpstream,
  startProxy,
  waitFor,
  type EchoUpstream,
  type RunningController,
  type RunningProxy,
  type SigningKey,
} from '@agw/test-kit';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * A cluster that does not serve a kind the controller watches (AgentgatewayBackend's CRD deleted,
 * as after a `helm upgrade`, which does not update CRDs): the controller still becomes ready,
 * says once which kind is missing and how to install it, enforces everything else, and picks the
 * kind up without a restart once its CRD is applied.
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-missing-crd';
const GW = 'missing-crd-gw';
const ISS = 'https://missing-crd.example';
const CRD_FILE = resolve(process.cwd(), 'crds/agentgateway.dev_agentgatewaybackends.yaml');
let upstream: EchoUpstream;
let key: SigningKey;
let controller: RunningController;
let proxy: RunningProxy;

const get = (host: string, token?: string) =>
  request(proxy.port, { host, path: '/headers', ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}) });

beforeAll(async () => {
  [upstream, key] = await Promise.all([startEchoUpstream('missing-crd'), generateSigningKey('ES256', 'mc1')]);
  const del = await kubectl(admin(), ['delete', 'crd', 'agentgatewaybackends.agentgateway.dev', '--wait=true']);
  expect(del.code, del.stderr).toBe(0);
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
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }],
        traffic: { jwtAuthentication: { providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(key)) } }] } },
      },
    },
  ]);
  // startController waits for /readyz: it must come although one watched kind is not served.
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'missing-crd-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'missing-crd-proxy' });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
  // Whatever happened above, the CRD is back for the suites after this one.
  await kubectl(admin(), ['apply', '--server-side', '-f', CRD_FILE]);
  await kubectl(admin(), ['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentgatewaybackends.agentgateway.dev']);
});

describe('a watched CRD the cluster does not serve', () => {
  it('the controller is ready and enforces the rest: 401 without a token, 200 with one', async () => {
    await waitFor('policy enforced', async () => (await get('app.example.com')).status === 401, 30_000, 100);
    expect((await get('app.example.com', await mintToken(key, { claims: { iss: ISS, sub: 'a' } }))).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${controller.adminPort}/readyz`)).status).toBe(200);
  });

  it('it says once which kind is missing and how to install it, not at every retry of the watch', async () => {
    const said = controller
      .log()
      .split('\n')
      .filter((l) => l.includes('AgentgatewayBackend is not served by the API server'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('kubectl apply --server-side -f crds/');
    expect(controller.log()).not.toMatch(/"resource":"agentgatewayBackends"[^\n]*watch failed/);
  });

  it('the CRD applied: the kind is picked up without a restart (a route to an AgentgatewayBackend answers 200)', async () => {
    expect((await kubectl(admin(), ['apply', '--server-side', '-f', CRD_FILE])).code).toBe(0);
    expect(
      (await kubectl(admin(), ['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentgatewaybackends.agentgateway.dev'])).code,
    ).toBe(0);
    await apply(admin(), [
      {
        apiVersion: 'agentgateway.dev/v1alpha1',
        kind: 'AgentgatewayBackend',
        metadata: { name: 'static-echo', namespace: NS },
        spec: { static: { host: 'echo.localhost', port: upstream.port } },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'static', namespace: NS },
        spec: {
          parentRefs: [{ name: GW }],
          hostnames: ['static.example.com'],
          rules: [{ backendRefs: [{ group: 'agentgateway.dev', kind: 'AgentgatewayBackend', name: 'static-echo' }] }],
        },
      },
    ]);
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'a' } });
    // The watch retries with backoff (capped): allow it a minute.
    await waitFor('route to the static backend served', async () => (await get('static.example.com', token)).status === 200, 90_000, 250);
  }, 120_000);
});
