import {
  apply,
  generateSigningKey,
  getJson,
  kubectl,
  mintToken,
  request,
  startController,
  startEchoUpstream,
  startProxy,
  waitFor,
  type Cond,
  type EchoUpstream,
  type RunningController,
  type RunningProxy,
  type SigningKey,
} from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * HTTPRoute filters on the real API server (Gateway API v1.4.1 CRDs admit them), the controller
 * as the chart's ServiceAccount and a real proxy: URLRewrite and header modifiers reach the
 * upstream, a RequestRedirect is answered by the proxy after the route's JWT policy, and a filter
 * this project does not serve (RequestMirror) leaves its rule out with Accepted=False
 * UnsupportedValue instead of serving the rule without it.
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-filters';
const GW = 'filters-gw';
const ISS = 'https://idp.filters.test';
let upstream: EchoUpstream;
let key: SigningKey;
let controller: RunningController;
let proxy: RunningProxy;

const ECHO = { group: 'agentgateway.dev', kind: 'AgentgatewayBackend', name: 'echo' };
const route = (name: string, host: string, rules: unknown[]) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: GW }], hostnames: [host], rules },
});
const seen = () => upstream.requests[upstream.requests.length - 1] as (typeof upstream.requests)[number];
async function routeAccepted(name: string): Promise<Cond | undefined> {
  const r = await getJson<{ status?: { parents?: Array<{ conditions: Cond[] }> } }>(admin(), ['httproute', name, '-n', NS]);
  return r?.status?.parents?.[0]?.conditions.find((c) => c.type === 'Accepted');
}

beforeAll(async () => {
  [upstream, key] = await Promise.all([startEchoUpstream('filters-backend'), generateSigningKey('ES256', 'filters-k1')]);
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayBackend',
      metadata: { name: 'echo', namespace: NS },
      spec: { static: { host: 'echo.localhost', port: upstream.port } },
    },
    route('rewrite', 'rewrite.example.com', [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
        filters: [
          {
            type: 'URLRewrite',
            urlRewrite: { hostname: 'internal.example', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } },
          },
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Env', value: 'prod' }], remove: ['X-Debug'] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-Served-By', value: 'agentgateway-ts' }] } },
        ],
        backendRefs: [ECHO],
      },
    ]),
    route('redirect', 'old.example.com', [
      { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'new.example.com', statusCode: 301 } }] },
    ]),
    route('mirror', 'mirror.example.com', [
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [ECHO] },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/mirrored' } }],
        filters: [{ type: 'RequestMirror', requestMirror: { backendRef: ECHO } }],
        backendRefs: [ECHO],
      },
    ]),
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'redirect' }],
        traffic: { jwtAuthentication: { providers: [{ issuer: ISS, jwks: { inline: JSON.stringify({ keys: [key.jwk] }) } }] } },
      },
    },
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'filters-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'filters-proxy' });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
  await kubectl(admin(), ['delete', 'namespace', NS, '--wait=false']);
});

describe('HTTPRoute filters (real API server)', () => {
  it('URLRewrite and the header modifiers: the upstream sees /v2/..., Host internal.example, X-Env set, X-Debug removed; the client gets X-Served-By', async () => {
    await waitFor(
      'rewrite route served',
      async () => (await request(proxy.port, { host: 'rewrite.example.com', path: '/api/users?page=2' })).status === 200,
      30_000,
      100,
    );
    const r = await request(proxy.port, {
      host: 'rewrite.example.com',
      path: '/api/users?page=2',
      headers: { 'x-env': 'dev', 'x-debug': '1' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-served-by']).toBe('agentgateway-ts');
    expect(seen().url).toBe('/v2/users?page=2');
    expect(seen().headers).toMatchObject({ host: 'internal.example', 'x-env': 'prod' });
    expect(seen().headers['x-debug']).toBeUndefined();
  });

  it("RequestRedirect after the route's JWT: no token 401; with one, 301 to https://new.example.com with the path and query", async () => {
    await waitFor(
      'redirect route served',
      async () => (await request(proxy.port, { host: 'old.example.com', path: '/a' })).status === 401,
      30_000,
      100,
    );
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    const r = await request(proxy.port, { host: 'old.example.com', path: '/docs/x?y=1', headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(301);
    expect(r.headers['location']).toBe('https://new.example.com/docs/x?y=1');
  });

  it('RequestMirror (not served): Accepted=False UnsupportedValue naming it; requests of that rule get 500 (never served without it), the other rule is served', async () => {
    let accepted: Cond | undefined;
    await waitFor('route status', async () => (accepted = await routeAccepted('mirror'))?.reason === 'UnsupportedValue', 30_000, 200);
    expect(accepted).toMatchObject({ status: 'False', reason: 'UnsupportedValue' });
    expect(accepted?.message).toContain('filter 0 (RequestMirror) is not supported');
    expect(accepted?.message).toContain('the other rules are served');
    expect((await request(proxy.port, { host: 'mirror.example.com', path: '/served' })).status).toBe(200);
    // A broader rule ('/') exists: the refused rule's requests must not fall through to it.
    const refused = await request(proxy.port, { host: 'mirror.example.com', path: '/mirrored/x' });
    expect([refused.status, refused.body]).toEqual([
      500,
      'rule 1: filter 0 (RequestMirror) is not supported (served: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite)',
    ]);
  });
});
