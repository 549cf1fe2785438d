import {
  generateSigningKey,
  jwks,
  mintToken,
  request,
  startEchoUpstream,
  startJwksServer,
  type EchoUpstream,
  type JwksServer,
  type SigningKey,
  startController,
  startProxy,
  type RunningController,
  type RunningProxy,
  kubectl,
  infraBin,
  KeycloakAdmin,
  startKeycloak,
  type Keycloak,
  apply,
  condOf,
  waitForAncestor,
  waitFor,
} from '@agw/test-kit';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The agentgateway JWT guide (security/jwt-setup.md), step by step, with the same commands:
 * real Keycloak configured through its admin REST API, the guide's Gateway, httpbin route and
 * policy applied with kubectl, status read with kubectl | jq, then curl-equivalent requests.
 */
const admin = () => inject('kubeconfig');
const GW_NS = 'agentgateway-system';
const GW = 'agentgateway-proxy';
let keycloak: Keycloak;
let kc: KeycloakAdmin;
let client: { clientId: string; clientSecret: string };
let issuer = '';
let jwksPath = '';
let httpbin: EchoUpstream;
let secondIdp: JwksServer;
let second: SigningKey;
let controller: RunningController;
/** A user1 token minted before Keycloak stopped (master realm tokens live 60 s, plus 60 s leeway). */
let tokenBeforeOutage = '';
let proxy: RunningProxy;

const curl = (token?: string) =>
  request(proxy.port, { host: 'www.example.com', path: '/headers', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
const until = (what: string, want: number, token?: () => Promise<string> | string) =>
  waitFor(what, async () => (await curl(token ? await token() : undefined)).status === want, 30_000, 100);

/** The guide's policy, with the issuer and JWKS path read from Keycloak's discovery document. */
const guidePolicy = (jwt: Record<string, unknown> = {}) => `
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata:
  name: jwt-auth-policy
  namespace: ${GW_NS}
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: ${GW}
  traffic:
    jwtAuthentication:
      mode: ${String(jwt['mode'] ?? 'Strict')}
      providers:
      - issuer: "${issuer}"
        jwks:
          remote:
            jwksPath: "${jwksPath}"
            cacheDuration: "5m"
            backendRef:
              group: ""
              kind: Service
              name: keycloak
              namespace: keycloak
              port: 8080
${(jwt['extraProviders'] as string | undefined) ?? ''}`;

/** The proxy's count of unknown-kid refetches that found the key (its /metrics). */
async function refetchesFound(adminPort: number): Promise<number> {
  const text = (await request(adminPort, { path: '/metrics' })).body;
  return Number(/agw_jwt_refetch_on_unknown_kid_total\{outcome="found"\} (\d+)/.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  [keycloak, httpbin, second] = await Promise.all([
    startKeycloak(),
    startEchoUpstream('httpbin'),
    generateSigningKey('ES256', 'second-idp-key'),
  ]);
  secondIdp = await startJwksServer([second.jwk]);
  kc = new KeycloakAdmin(keycloak.url);
  client = await kc.configureGuide();
  // KEYCLOAK_ISSUER and KEYCLOAK_JWKS_PATH, as the guide reads them.
  const discovery = (await (await fetch(`${keycloak.url}/realms/master/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  issuer = discovery.issuer;
  jwksPath = new URL(discovery.jwks_uri).pathname;
  for (const ns of ['keycloak', 'httpbin']) expect((await kubectl(admin(), ['create', 'namespace', ns])).code).toBe(0);
  await apply(admin(), [
    // In a cluster Keycloak runs as Service keycloak:8080; here its EndpointSlice names this host (RFC 6761).
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'keycloak', namespace: 'keycloak' },
      spec: { ports: [{ name: 'http', port: 8080 }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'keycloak-1', namespace: 'keycloak', labels: { 'kubernetes.io/service-name': 'keycloak' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['keycloak.localhost'] }],
      ports: [{ name: 'http', port: keycloak.port }],
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'httpbin', namespace: 'httpbin' },
      spec: { ports: [{ name: 'http', port: 8000, targetPort: 8080 }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'httpbin-1', namespace: 'httpbin', labels: { 'kubernetes.io/service-name': 'httpbin' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['httpbin.localhost'] }],
      ports: [{ name: 'http', port: httpbin.port }],
    },
  ]);
  // The guide's Gateway and route, verbatim (snippets/agentgateway-setup.md, install/sample-app.md).
  const setup = await kubectl(
    admin(),
    ['apply', '-f', '-'],
    `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: agentgateway-proxy
  namespace: agentgateway-system
spec:
  gatewayClassName: agentgateway
  listeners:
  - protocol: HTTP
    port: 80
    name: http
    allowedRoutes:
      namespaces:
        from: All
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin
  namespace: httpbin
spec:
  parentRefs:
  - name: agentgateway-proxy
    namespace: agentgateway-system
  hostnames:
  - "www.example.com"
  rules:
  - backendRefs:
    - name: httpbin
      port: 8000
`,
  );
  expect(setup.code, setup.stderr).toBe(0);
  controller = await startController({
    kubeconfig: inject('controllerKubeconfig'),
    name: 'guide-controller',
    extraArgs: ['--jwks-refetch-min-interval-ms=2000'],
  });
  proxy = await startProxy({
    adminKubeconfig: admin(),
    xdsPort: controller.xdsPort,
    gateway: `${GW_NS}/${GW}`,
    name: 'guide-proxy',
    extraArgs: ['--refetch-interval-ms=2000'],
  });
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await keycloak?.stop();
  await httpbin?.close();
  await secondIdp?.close();
});

describe('the agentgateway JWT guide with real Keycloak', () => {
  it('before the policy, httpbin answers without a token', async () => {
    await until('httpbin reachable', 200);
  });

  it("kubectl apply of the guide's policy; `kubectl get ... -o json | jq .status` shows it Accepted", async () => {
    const r = await kubectl(admin(), ['apply', '-f', '-'], guidePolicy());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('agentgatewaypolicy.agentgateway.dev/jwt-auth-policy created');
    await waitForAncestor(
      admin(),
      GW_NS,
      'jwt-auth-policy',
      GW,
      (a) => condOf(a, 'Accepted')?.reason === 'Valid' && condOf(a, 'Programmed')?.status === 'True',
      60_000,
    );
    const { stdout } = await promisify(execFile)('sh', [
      '-c',
      `"${infraBin('kubectl')}" --kubeconfig="${admin()}" get AgentgatewayPolicy jwt-auth-policy -n ${GW_NS} -o json | jq -c '.status.ancestors[0].conditions[] | select(.type=="Accepted") | {status, reason, message}'`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: 'True', reason: 'Valid', message: 'Policy accepted' });
  });

  it('curl without a token: 401 "authentication failure: no bearer token found"', async () => {
    await until('401 without token', 401);
    const r = await curl();
    expect([r.status, r.body, r.headers['content-length']]).toEqual([401, 'authentication failure: no bearer token found', '45']);
  });

  it("curl with user1's Keycloak token: 200 and the /headers JSON", async () => {
    const r = await curl(await kc.token('user1', client));
    expect(r.status).toBe(200);
    const headers = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    expect(headers['Host']).toBe('www.example.com');
    expect(headers['Authorization']).toBeUndefined();
  });

  it('multiple providers: Keycloak and a second IdP; tokens of both pass', async () => {
    const r = await kubectl(
      admin(),
      ['apply', '-f', '-'],
      guidePolicy({
        extraProviders: `      - issuer: "https://second-idp.example"
        jwks:
          remote:
            url: "${secondIdp.url}"`,
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    const fromSecond = () => mintToken(second, { claims: { iss: 'https://second-idp.example', sub: 'svc' } });
    await until('second provider accepted', 200, fromSecond);
    expect((await curl(await kc.token('user2', client))).status).toBe(200);
  });

  it("inline JWKS, Optional and Permissive modes (a second policy on the route replaces the Gateway's)", async () => {
    const inlineKey = await generateSigningKey('RS256', 'inline-key');
    const routePolicy = (mode: string) => ({
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'route-inline', namespace: 'httpbin' },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'httpbin' }],
        traffic: {
          jwtAuthentication: { mode, providers: [{ issuer: 'https://inline.example', jwks: { inline: JSON.stringify(jwks(inlineKey)) } }] },
        },
      },
    });
    const inlineToken = () => mintToken(inlineKey, { claims: { iss: 'https://inline.example' } });
    await apply(admin(), [routePolicy('Strict')]);
    await until('inline provider accepted', 200, inlineToken);
    expect((await curl(await kc.token('user1', client))).status).toBe(401); // the route's policy replaced the Gateway's
    await apply(admin(), [routePolicy('Optional')]);
    await until('Optional: no token passes', 200);
    expect((await curl('not-a-jwt')).status).toBe(401);
    await apply(admin(), [routePolicy('Permissive')]);
    await until('Permissive: an invalid token passes', 200, () => 'not-a-jwt');
    expect((await kubectl(admin(), ['delete', 'agentgatewaypolicy', 'route-inline', '-n', 'httpbin'])).code).toBe(0);
    await until('back to the Gateway policy', 401);
  });

  it('Keycloak rotates its signing key: the first request with the new token is accepted (refetch on unknown kid), with cacheDuration 5m', async () => {
    await kc.rotateSigningKey();
    const token = await kc.token('user1', client);
    const before = await refetchesFound(proxy.adminPort);
    const r = await curl(token);
    // The first request with Keycloak's new kid passes, through the refetch on unknown kid (cacheDuration is 5m).
    expect(r.status).toBe(200);
    expect(await refetchesFound(proxy.adminPort)).toBe(before + 1);
  });

  it('Keycloak stopped after the fetch: traffic keeps working on cached keys; status and metrics say stale', async () => {
    const token = await kc.token('user1', client);
    tokenBeforeOutage = token;
    await keycloak.stop();
    expect((await curl(token)).status).toBe(200);
    // A token with an unknown kid from Keycloak's issuer forces a refetch, which now fails.
    await new Promise((r) => setTimeout(r, 2100));
    const stranger = await generateSigningKey('RS256', 'unknown-kid');
    expect((await curl(await mintToken(stranger, { claims: { iss: issuer } }))).status).toBe(401);
    const a = await waitForAncestor(
      admin(),
      GW_NS,
      'jwt-auth-policy',
      GW,
      (x) => (condOf(x, 'Accepted')?.message ?? '').includes('served stale'),
      30_000,
    );
    expect(condOf(a, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(condOf(a, 'Accepted')?.message).toMatch(
      /^Policy accepted \(jwks keyset for "http:\/\/keycloak\.keycloak\.svc\.cluster\.local:8080\/realms\/master\/protocol\/openid-connect\/certs" is served stale: last fetched \S+, last error: fetching jwks from .*ECONNREFUSED.*\)$/,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${controller.adminPort}/metrics`)).text();
    expect(metrics).toMatch(
      /agw_jwks_stale\{url="http:\/\/keycloak\.keycloak\.svc\.cluster\.local:8080\/realms\/master\/protocol\/openid-connect\/certs"\} 1/,
    );
    expect((await curl(token)).status).toBe(200);
  });

  it('controller and proxy restarted while Keycloak is down: the persisted key set (ConfigMap) still validates', async () => {
    const cms = await kubectl(admin(), ['get', 'configmaps', '-n', GW_NS, '-l', 'app.kubernetes.io/component=jwks-store', '-o', 'json']);
    const items = (JSON.parse(cms.stdout) as { items: Array<{ metadata: { name: string }; data: Record<string, string> }> }).items;
    const stored = items.map((i) => JSON.parse(i.data['jwks-store'] as string) as { url: string; jwks: { keys: Array<{ kid: string }> } });
    const keycloakSet = stored.find((x) => x.url.endsWith(jwksPath));
    expect(keycloakSet?.url).toBe(`http://keycloak.keycloak.svc.cluster.local:8080${jwksPath}`);
    expect(items.find((i) => i.data['jwks-store']?.includes(jwksPath))?.metadata.name).toMatch(/^jwks-store-[0-9a-f]{40}$/);
    await proxy.stop();
    await controller.stop();
    controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'guide-controller-2' });
    proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${GW_NS}/${GW}`, name: 'guide-proxy-2' });
    await until('token accepted from the persisted keys', 200, () => tokenBeforeOutage);
    expect((await curl()).status).toBe(401);
  });

  it('cleanup: kubectl delete of the policy lets traffic through without auth again', async () => {
    expect((await kubectl(admin(), ['delete', 'agentgatewaypolicy', 'jwt-auth-policy', '-n', GW_NS])).code).toBe(0);
    await until('no auth after delete', 200);
  });
});
