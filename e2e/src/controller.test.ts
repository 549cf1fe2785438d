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
  kubectl,
  startController,
  startProxy,
  type RunningController,
  type RunningProxy,
  apply,
  condOf,
  getJson,
  policyAncestors,
  waitForAncestor,
  type Cond,
  waitFor,
} from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The controller and the proxy as built binaries against the real API server: the controller runs
 * as the chart's ServiceAccount (its RBAC only), the proxy authenticates with a real ServiceAccount
 * token checked by TokenReview. Upstream's e2e matrix (reference §5.4) on a Gateway and routes.
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-ctl';
const GW = 'ctl-gw';
const ISS = 'https://agentgateway.dev';
let upstream: EchoUpstream;
let idp: JwksServer;
let k1: SigningKey, k2: SigningKey, rotated: SigningKey;
let controller: RunningController;
let proxy: RunningProxy;

const route = (name: string, host: string) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: GW }], hostnames: [host], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] },
});
const policy = (name: string, target: { kind: string; name: string }, jwt: Record<string, unknown>) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS },
  spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', ...target }], traffic: { jwtAuthentication: jwt } },
});
const get = (host: string, token?: string) =>
  request(proxy.port, { host, path: '/headers', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
const tok = (k: SigningKey, claims: Record<string, unknown> = {}) =>
  mintToken(k, { claims: { iss: ISS, sub: 'ignore@agentgateway.dev', ...claims } });
async function eventuallyStatus(host: string, want: number, token?: string): Promise<void> {
  await waitFor(`${host} answering ${want}`, async () => (await get(host, token)).status === want, 20_000, 100);
}

/** The proxy's count of unknown-kid refetches that found the key (its /metrics). */
async function refetchesFound(adminPort: number): Promise<number> {
  const text = (await request(adminPort, { path: '/metrics' })).body;
  return Number(/agw_jwt_refetch_on_unknown_kid_total\{outcome="found"\} (\d+)/.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  upstream = await startEchoUpstream('backend');
  [k1, k2, rotated] = await Promise.all([
    generateSigningKey('RS256', 'k1'),
    generateSigningKey('ES256', 'k2'),
    generateSigningKey('RS256', 'rotated'),
  ]);
  idp = await startJwksServer([k2.jwk]);
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend', namespace: NS },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'backend-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'backend' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['backend.localhost'] }],
      ports: [{ name: 'http', port: upstream.port }],
    },
    route('route-secure', 'secureroute.com'),
    route('route-insecure', 'insecureroute.com'),
    route('route-invalid', 'invalidjwksroute.com'),
    policy(
      'route-policy',
      { kind: 'HTTPRoute', name: 'route-secure' },
      {
        mode: 'Strict',
        providers: [
          { issuer: ISS, jwks: { inline: JSON.stringify(jwks(k1)) } },
          { issuer: ISS, jwks: { remote: { url: idp.url } } },
        ],
      },
    ),
    policy(
      'invalid-jwks',
      { kind: 'HTTPRoute', name: 'route-invalid' },
      { providers: [{ issuer: ISS, jwks: { inline: '{"keys":[{"kty":"RSB","kid":"x"}]}' } }] },
    ),
    policy('missing-target', { kind: 'Gateway', name: 'fake-gw' }, { providers: [{ issuer: ISS, jwks: { inline: '{"keys":[]}' } }] }),
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig') });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}` });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
  await idp?.close();
});

describe('controller + proxy on a real API server', () => {
  it("helm install printed the NOTES; GatewayClass agentgateway exists (the chart's, or the controller's if missing) and is accepted", async () => {
    expect(inject('helmInstallOutput')).toContain('agentgateway-ts is installed in namespace agentgateway-system');
    await waitFor(
      'GatewayClass Accepted',
      async () => {
        const gc = await getJson<{ spec: { controllerName: string }; status?: { conditions?: Cond[] } }>(admin(), [
          'gatewayclass',
          'agentgateway',
        ]);
        return (
          gc?.spec.controllerName === 'agentgateway.dev/agentgateway' &&
          gc.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') === true
        );
      },
      30_000,
    );
  });

  it('policy status: Accepted/Valid, Attached, and Programmed once the proxy ACKed', async () => {
    const a = await waitForAncestor(
      admin(),
      NS,
      'route-policy',
      GW,
      (x) => condOf(x, 'Programmed')?.status === 'True' && condOf(x, 'Accepted')?.reason === 'Valid',
    );
    expect(a.ancestorRef).toMatchObject({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS, name: GW });
    expect(a.controllerName).toBe('agentgateway.dev/agentgateway');
    expect(condOf(a, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid', message: 'Policy accepted', observedGeneration: 1 });
    expect(condOf(a, 'Attached')).toMatchObject({ status: 'True', reason: 'Attached', message: 'Attached to all targets' });
    expect(condOf(a, 'Programmed')?.message).toBe('applied by 1 proxy');
  });

  it('upstream RoutePolicy matrix: insecure 200; secure: none 401, nosuchkey 401, both providers 200', async () => {
    await eventuallyStatus('secureroute.com', 200, await tok(k2));
    expect((await get('insecureroute.com')).status).toBe(200);
    const none = await get('secureroute.com');
    expect([none.status, none.body]).toEqual([401, 'authentication failure: no bearer token found']);
    expect((await get('secureroute.com', 'nosuchkey')).status).toBe(401);
    const ok = await get('secureroute.com', await tok(k1));
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body) as { headers: Record<string, string> }).headers['Authorization']).toBeUndefined();
    expect((await get('secureroute.com', await tok(k2))).status).toBe(200);
  });

  it('token locations and audiences through the cluster: query (stripped upstream), cookie, custom header; aud required when configured', async () => {
    const jwtWith = (location: Record<string, unknown>) => ({
      location,
      providers: [{ issuer: ISS, audiences: ['account'], jwks: { inline: JSON.stringify(jwks(k1)) } }],
    });
    await apply(admin(), [
      route('route-query', 'query.example.com'),
      route('route-cookie', 'cookie.example.com'),
      route('route-header', 'header.example.com'),
      policy('by-query', { kind: 'HTTPRoute', name: 'route-query' }, jwtWith({ queryParameter: { name: 'access_token' } })),
      policy('by-cookie', { kind: 'HTTPRoute', name: 'route-cookie' }, jwtWith({ cookie: { name: 'session' } })),
      policy('by-header', { kind: 'HTTPRoute', name: 'route-header' }, jwtWith({ header: { name: 'X-Jwt', prefix: 'Token ' } })),
    ]);
    const t = await tok(k1, { aud: 'account' });
    await waitFor(
      'query location enforced',
      async () => (await request(proxy.port, { host: 'query.example.com', path: '/p?keep=1' })).status === 401,
      20_000,
      100,
    );
    const viaQuery = await request(proxy.port, { host: 'query.example.com', path: `/p?access_token=${t}&keep=1` });
    expect(viaQuery.status).toBe(200);
    expect((JSON.parse(viaQuery.body) as { url: string }).url).toBe('/p?keep=1');
    await waitFor(
      'cookie location enforced',
      async () => (await request(proxy.port, { host: 'cookie.example.com' })).status === 401,
      20_000,
      100,
    );
    expect((await request(proxy.port, { host: 'cookie.example.com', headers: { cookie: `session=${t}` } })).status).toBe(200);
    await waitFor(
      'header location enforced',
      async () => (await request(proxy.port, { host: 'header.example.com' })).status === 401,
      20_000,
      100,
    );
    expect((await request(proxy.port, { host: 'header.example.com', headers: { 'x-jwt': `Token ${t}` } })).status).toBe(200);
    const noAud = await request(proxy.port, { host: 'header.example.com', headers: { 'x-jwt': `Token ${await tok(k1)}` } });
    expect([noAud.status, noAud.body]).toEqual([
      401,
      'authentication failure: the token is invalid or malformed: Error(MissingRequiredClaim("aud"))',
    ]);
    const wrongAud = await request(proxy.port, {
      host: 'header.example.com',
      headers: { 'x-jwt': `Token ${await tok(k1, { aud: 'other' })}` },
    });
    expect(wrongAud.body).toBe('authentication failure: the token is invalid or malformed: Error(InvalidAudience)');
  });

  it('ancestors written by another controller are preserved when ours are rewritten', async () => {
    const ours = await policyAncestors(admin(), NS, 'route-policy');
    const foreign = {
      ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS, name: 'other-gw' },
      controllerName: 'example.com/other-controller',
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'theirs', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    };
    const patched = await kubectl(admin(), [
      'patch',
      'agentgatewaypolicy',
      'route-policy',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { ancestors: [...ours, foreign] } }),
    ]);
    expect(patched.code, patched.stderr).toBe(0);
    // Same behaviour, new generation: the default location written out makes our controller rewrite its entry.
    const spec = await kubectl(admin(), [
      'patch',
      'agentgatewaypolicy',
      'route-policy',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { traffic: { jwtAuthentication: { location: { header: { name: 'Authorization', prefix: 'Bearer ' } } } } } }),
    ]);
    expect(spec.code, spec.stderr).toBe(0);
    await waitForAncestor(admin(), NS, 'route-policy', GW, (a) => condOf(a, 'Accepted')?.observedGeneration === 2);
    const after = await policyAncestors(admin(), NS, 'route-policy');
    expect(after.find((a) => a.controllerName === 'example.com/other-controller')).toEqual(foreign);
    expect(after.filter((a) => a.controllerName === 'agentgateway.dev/agentgateway').map((a) => a.ancestorRef.name)).toEqual([GW]);
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
  });

  it('our status overwritten by someone else (a status-only change, which triggers no reconcile) is put right', async () => {
    const ours = await policyAncestors(admin(), NS, 'route-policy');
    const accepted = condOf(
      ours.find((a) => a.ancestorRef.name === GW),
      'Accepted',
    );
    expect(accepted?.status).toBe('True');
    const tampered = ours.map((a) =>
      a.ancestorRef.name !== GW
        ? a
        : {
            ...a,
            conditions: a.conditions.map((c) =>
              c.type === 'Accepted' ? { ...c, status: 'False', reason: 'Invalid', message: 'tampered' } : c,
            ),
          },
    );
    const patched = await kubectl(admin(), [
      'patch',
      'agentgatewaypolicy',
      'route-policy',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { ancestors: tampered } }),
    ]);
    expect(patched.code, patched.stderr).toBe(0);
    const restored = await waitForAncestor(admin(), NS, 'route-policy', GW, (a) => condOf(a, 'Accepted')?.message === accepted?.message);
    expect(condOf(restored, 'Accepted')).toMatchObject({ status: 'True', reason: accepted?.reason });
  });

  it('invalid inline JWKS: Accepted=True PartiallyValid "invalid inline JWKS", requests 401', async () => {
    const a = await waitForAncestor(admin(), NS, 'invalid-jwks', GW, (x) => condOf(x, 'Accepted')?.reason === 'PartiallyValid');
    expect(condOf(a, 'Accepted')).toMatchObject({
      status: 'True',
      message: 'provider 0 (issuer "https://agentgateway.dev"): invalid inline JWKS',
    });
    expect(condOf(a, 'Attached')).toBeUndefined();
    expect((await get('invalidjwksroute.com')).status).toBe(401);
  });

  it('events: kubectl describe shows why the invalid-JWKS policy needs a human (once, not at every reconcile)', async () => {
    let described = '';
    await waitFor(
      'the PolicyPartiallyValid event',
      async () => {
        described = (await kubectl(admin(), ['describe', 'agentgatewaypolicy', 'invalid-jwks', '-n', NS])).stdout;
        return described.includes('PolicyPartiallyValid');
      },
      20_000,
      200,
    );
    expect(described).toMatch(
      /Warning\s+PolicyPartiallyValid\s+.*agentgateway\.dev\/agentgateway\s+Gateway e2e-ctl\/ctl-gw: provider 0 \(issuer "https:\/\/agentgateway\.dev"\): invalid inline JWKS/,
    );
    const events = await getJson<{ items: Array<{ reason: string }> }>(admin(), [
      'events',
      '-n',
      NS,
      '--field-selector',
      'involvedObject.name=invalid-jwks',
    ]);
    expect(events?.items.filter((e) => e.reason === 'PolicyPartiallyValid')).toHaveLength(1);
  });

  it('missing target: the StatusSummary ancestor says why', async () => {
    const a = await waitForAncestor(admin(), NS, 'missing-target', 'StatusSummary', () => true);
    expect(a.ancestorRef.group).toBe('agentgateway.dev');
    expect(condOf(a, 'Attached')).toMatchObject({
      status: 'False',
      reason: 'Pending',
      message: `Policy is not attached: Gateway ${NS}/fake-gw not found`,
    });
  });

  it('a key rotated at the IdP is accepted on first use, well before cacheDuration (5m)', async () => {
    idp.setKeys([k2.jwk, rotated.jwk]);
    const before = await refetchesFound(proxy.adminPort);
    const res = await get('secureroute.com', await tok(rotated));
    // The first request with the new kid passes, through the refetch on unknown kid (cacheDuration is 5m).
    expect(res.status).toBe(200);
    expect(await refetchesFound(proxy.adminPort)).toBe(before + 1);
  });

  it('a gateway-level policy applies to other routes; the route-level one replaces it', async () => {
    await apply(admin(), [
      policy(
        'gw-policy',
        { kind: 'Gateway', name: GW },
        { mode: 'Strict', providers: [{ issuer: 'https://gw.example', jwks: { inline: JSON.stringify(jwks(k1)) } }] },
      ),
    ]);
    await eventuallyStatus('insecureroute.com', 401);
    // route-secure keeps its own policy (issuer agentgateway.dev), not the gateway's.
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
    expect((await get('insecureroute.com', await tok(k1, { iss: 'https://gw.example' }))).status).toBe(200);
    expect((await kubectl(admin(), ['delete', 'agentgatewaypolicy', 'gw-policy', '-n', NS])).code).toBe(0);
    await eventuallyStatus('insecureroute.com', 200);
  });

  it("a change confined to one Gateway's routes compiles that Gateway only: the other's config is kept, and the new route is served", async () => {
    const configs = async (outcome: 'compiled' | 'kept') => {
      const text = (await request(controller.adminPort, { path: '/metrics' })).body;
      return Number(new RegExp(`^agw_controller_gateway_configs_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    };
    await apply(admin(), [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'ctl-gw-other', namespace: NS },
        spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      },
    ]);
    await waitFor(
      'the other Gateway accepted',
      async () => {
        const g = await getJson<{ status?: { conditions?: Cond[] } }>(admin(), ['gateway', 'ctl-gw-other', '-n', NS]);
        return g?.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') === true;
      },
      20_000,
    );
    // 40 policies on the other Gateway (no proxy: their statuses do not change): a route change on
    // this one must not check their statuses again (each pass used to check every policy's).
    const others = Array.from({ length: 40 }, (_, i) =>
      policy(
        `other-gw-${i}`,
        { kind: 'Gateway', name: 'ctl-gw-other' },
        { mode: 'Strict', providers: [{ issuer: 'https://other.example', jwks: { inline: JSON.stringify(jwks(k1)) } }] },
      ),
    );
    await apply(admin(), others);
    await waitFor(
      'the 40 policies accepted on the other Gateway',
      async () => {
        const list = await getJson<{
          items: Array<{
            metadata: { name: string };
            status?: { ancestors?: Array<{ ancestorRef: { name: string }; conditions: Cond[] }> };
          }>;
        }>(admin(), ['agentgatewaypolicy', '-n', NS]);
        const accepted = (list?.items ?? []).filter(
          (p) =>
            p.metadata.name.startsWith('other-gw-') &&
            p.status?.ancestors?.some(
              (a) => a.ancestorRef.name === 'ctl-gw-other' && a.conditions.some((c) => c.type === 'Accepted' && c.status === 'True'),
            ),
        );
        return accepted.length === others.length;
      },
      30_000,
    );
    /** Status writes of AgentgatewayPolicies, of one result or all (written, unchanged, …). */
    const policyChecks = async (result = '[^"]*') => {
      const text = (await request(controller.adminPort, { path: '/metrics' })).body;
      const sample = new RegExp(
        `^agw_controller_status_writes_total\\{(?=[^}]*kind="AgentgatewayPolicy")(?=[^}]*result="${result}")[^}]*\\} (\\d+)`,
        'gm',
      );
      return [...text.matchAll(sample)].reduce((n, m) => n + Number(m[1]), 0);
    };
    // A pass a change of another kind coincides with (the deployer's Service for the new Gateway,
    // say) compiles every Gateway: each attempt is a new route, served before the count is read.
    let kept = false;
    let checks = Infinity;
    let writes = Infinity;
    for (let attempt = 0; attempt < 3 && !kept; attempt++) {
      const [before, checksBefore, writesBefore] = [await configs('kept'), await policyChecks(), await policyChecks('written')];
      await apply(admin(), [route(`route-only-${attempt}`, `only-${attempt}.example`)]);
      await eventuallyStatus(`only-${attempt}.example`, 200);
      kept = (await configs('kept')) > before;
      checks = (await policyChecks()) - checksBefore;
      writes = (await policyChecks('written')) - writesBefore;
    }
    expect(kept).toBe(true);
    expect(await configs('compiled')).toBeGreaterThan(0);
    // The 40 are not checked again; this Gateway's policies are not rewritten for its new config
    // version (their Programmed names none: it was two writes each per version).
    expect(checks).toBeLessThan(others.length);
    expect(writes).toBe(0);
    const names = others.map((o) => o.metadata.name);
    expect((await kubectl(admin(), ['delete', 'agentgatewaypolicy', ...names, '-n', NS])).code).toBe(0);
    expect((await kubectl(admin(), ['delete', 'gateway', 'ctl-gw-other', '-n', NS])).code).toBe(0);
  });

  it('the deployer gave the Gateway its proxy Deployment, Service and ServiceAccount; the Gateway reports the address', async () => {
    let deploy:
      | {
          spec: {
            template: {
              spec: {
                serviceAccountName: string;
                containers: Array<{ name: string; image: string; args: string[]; ports: Array<{ containerPort: number }> }>;
              };
            };
          };
          metadata: { ownerReferences: Array<{ kind: string; name: string }> };
        }
      | undefined;
    await waitFor('proxy Deployment', async () => (deploy = await getJson(admin(), ['deployment', GW, '-n', NS])) !== undefined, 20_000);
    expect(deploy?.metadata.ownerReferences).toMatchObject([{ kind: 'Gateway', name: GW }]);
    const c = deploy?.spec.template.spec.containers[0];
    expect(c).toMatchObject({ name: 'agent-gateway', image: 'ghcr.io/agentgateway-ts/agentgateway-ts:0.1.0' });
    expect(c?.args).toContain(`--gateway=${NS}/${GW}`);
    expect(c?.ports.map((p) => p.containerPort)).toEqual([80, 15000]);
    const svc = await getJson<{
      spec: { type: string; clusterIP: string; ports: Array<{ port: number; targetPort: number }> };
      metadata: { labels: Record<string, string> };
    }>(admin(), ['service', GW, '-n', NS]);
    expect(svc?.spec.type).toBe('LoadBalancer');
    expect(svc?.spec.ports).toMatchObject([{ port: 80, targetPort: 80 }]);
    expect(svc?.metadata.labels['gateway.networking.k8s.io/gateway-name']).toBe(GW);
    expect((await kubectl(admin(), ['get', 'serviceaccount', GW, '-n', NS])).code).toBe(0);
    await waitFor(
      'Gateway address',
      async () => {
        const g = await getJson<{ status?: { addresses?: Array<{ type: string; value: string }> } }>(admin(), ['gateway', GW, '-n', NS]);
        return g?.status?.addresses?.[0]?.value === svc?.spec.clusterIP;
      },
      20_000,
    );
  });

  it('GatewayClass parametersRef: AgentgatewayParameters change the proxy Deployment and get a status; a missing one makes the class InvalidParameters', async () => {
    await apply(admin(), [
      {
        apiVersion: 'agentgateway.dev/v1alpha1',
        kind: 'AgentgatewayParameters',
        metadata: { name: 'big', namespace: 'agentgateway-system' },
        spec: { replicas: 3, image: 'registry.example/agw:custom', serviceType: 'ClusterIP' },
      },
    ]);
    const ref = (name: string) =>
      JSON.stringify({
        spec: { parametersRef: { group: 'agentgateway.dev', kind: 'AgentgatewayParameters', name, namespace: 'agentgateway-system' } },
      });
    expect((await kubectl(admin(), ['patch', 'gatewayclass', 'agentgateway', '--type=merge', '-p', ref('big')])).code).toBe(0);
    await waitFor(
      'Deployment with the parameters',
      async () => {
        const d = await getJson<{ spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } } }>(admin(), [
          'deployment',
          GW,
          '-n',
          NS,
        ]);
        return d?.spec.replicas === 3 && d.spec.template.spec.containers[0]?.image === 'registry.example/agw:custom';
      },
      20_000,
    );
    expect((await getJson<{ spec: { type: string } }>(admin(), ['service', GW, '-n', NS]))?.spec.type).toBe('ClusterIP');
    await waitFor(
      'parameters status',
      async () => {
        const p = await getJson<{ status?: { conditions?: Cond[] } }>(admin(), [
          'agentgatewayparameters',
          'big',
          '-n',
          'agentgateway-system',
        ]);
        return p?.status?.conditions?.[0]?.message === 'used by GatewayClass agentgateway';
      },
      20_000,
    );
    expect((await kubectl(admin(), ['patch', 'gatewayclass', 'agentgateway', '--type=merge', '-p', ref('nope')])).code).toBe(0);
    await waitFor(
      'class InvalidParameters',
      async () => {
        const gc = await getJson<{ status?: { conditions?: Cond[] } }>(admin(), ['gatewayclass', 'agentgateway']);
        const c = gc?.status?.conditions?.find((x) => x.type === 'Accepted');
        return (
          c?.status === 'False' &&
          c.reason === 'InvalidParameters' &&
          c.message === 'parametersRef AgentgatewayParameters agentgateway-system/nope not found'
        );
      },
      20_000,
    );
    // Back to no parameters: defaults again, class accepted; traffic was never affected.
    expect(
      (
        await kubectl(admin(), [
          'patch',
          'gatewayclass',
          'agentgateway',
          '--type=json',
          '-p',
          '[{"op":"remove","path":"/spec/parametersRef"}]',
        ])
      ).code,
    ).toBe(0);
    await waitFor(
      'defaults back',
      async () => (await getJson<{ spec: { replicas: number } }>(admin(), ['deployment', GW, '-n', NS]))?.spec.replicas === 1,
      20_000,
    );
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
  });

  it("the controller never hit a 403: the chart's ClusterRole and Role are enough", () => {
    // KubeError text is "<METHOD> <path>: <status> <message>"; watch errors say "Forbidden".
    expect(controller.log()).not.toMatch(/forbidden|: 403 /i);
  });

  it('controller killed: the proxy keeps serving; restarted: statuses do not flap', async () => {
    const before = await policyAncestors(admin(), NS, 'route-policy');
    await controller.stop();
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
    expect((await get('secureroute.com')).status).toBe(401);
    controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'controller-2', xdsPort: controller.xdsPort });
    await waitForAncestor(admin(), NS, 'route-policy', GW, (x) => condOf(x, 'Programmed')?.status === 'True', 60_000);
    const after = await policyAncestors(admin(), NS, 'route-policy');
    const times = (as: typeof before) =>
      as
        .flatMap((a) =>
          a.conditions
            .filter((c) => c.type !== 'Programmed')
            .map((c) => `${a.ancestorRef.name}/${c.type}=${c.status}@${c.lastTransitionTime}`),
        )
        .sort();
    expect(times(after)).toEqual(times(before));
  });

  it('proxy restarted: it gets the current config at once (first answers already enforce the policy)', async () => {
    await proxy.stop();
    proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'proxy-2' });
    await waitFor('restarted proxy ready', async () => (await fetch(`http://127.0.0.1:${proxy.adminPort}/readyz`)).ok, 20_000, 50);
    expect((await get('secureroute.com')).status).toBe(401);
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
    expect((await get('insecureroute.com')).status).toBe(200);
  });

  it('a malformed policy is refused at admission with a clear message; nothing else is disturbed', async () => {
    const bad = policy(
      'malformed',
      { kind: 'HTTPRoute', name: 'route-secure' },
      { providers: [{ issuer: ISS, jwks: { remote: { backendRef: { name: 'idp', port: 80 } } } }] },
    );
    const r = await kubectl(admin(), ['apply', '-f', '-'], JSON.stringify(bad));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('jwksPath is required when backendRef is set');
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
    expect((await get('secureroute.com')).status).toBe(401);
  });

  it("another tenant's route with a regex RE2 refuses: that rule is left out with Accepted=False UnsupportedValue, and a Permissive → Strict change elsewhere still applies", async () => {
    await apply(admin(), [
      route('route-toggle', 'toggle.example.com'),
      policy(
        'toggle-policy',
        { kind: 'HTTPRoute', name: 'route-toggle' },
        { mode: 'Permissive', providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(k1)) } }] },
      ),
    ]);
    await eventuallyStatus('toggle.example.com', 200);
    await apply(admin(), [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'route-badregex', namespace: NS },
        spec: {
          parentRefs: [{ name: GW }],
          hostnames: ['tenant.example.com'],
          rules: [
            {
              name: 'broken',
              matches: [{ path: { type: 'RegularExpression', value: '/(unclosed' } }],
              backendRefs: [{ name: 'backend', port: 80 }],
            },
            { matches: [{ path: { type: 'PathPrefix', value: '/fine' } }], backendRefs: [{ name: 'backend', port: 80 }] },
          ],
        },
      },
    ]);
    let accepted: Cond | undefined;
    await waitFor(
      'route-badregex Accepted=False',
      async () => {
        const r = await getJson<{ status?: { parents?: Array<{ conditions: Cond[] }> } }>(admin(), [
          'httproute',
          'route-badregex',
          '-n',
          NS,
        ]);
        accepted = r?.status?.parents?.[0]?.conditions.find((x) => x.type === 'Accepted');
        return accepted?.status === 'False';
      },
      20_000,
    );
    expect(accepted).toMatchObject({ reason: 'UnsupportedValue' });
    expect(accepted?.message).toBe(
      'rule 0 (broken): path regular expression "/(unclosed" is invalid: error parsing regexp: missing closing ): `/(unclosed`; the other rules are served',
    );
    await waitFor(
      'the valid rule served',
      async () => (await request(proxy.port, { host: 'tenant.example.com', path: '/fine' })).status === 200,
      20_000,
      100,
    );
    await apply(admin(), [
      policy(
        'toggle-policy',
        { kind: 'HTTPRoute', name: 'route-toggle' },
        { mode: 'Strict', providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(k1)) } }] },
      ),
    ]);
    await eventuallyStatus('toggle.example.com', 401);
    expect((await get('toggle.example.com', await tok(k1))).status).toBe(200);
  });

  it('kube-apiserver restarted: traffic never stops, watches recover, and a new policy is enforced', async () => {
    const restart = fetch(`${inject('harnessUrl')}/restart-apiserver`, { method: 'POST' });
    // While the API server is away the proxy keeps its config.
    expect((await get('secureroute.com', await tok(k1))).status).toBe(200);
    const answer = await restart;
    expect([answer.status, await answer.text()]).toEqual([200, 'restarted\n']);
    await apply(admin(), [route('route-late', 'late.example.com')]);
    await eventuallyStatus('late.example.com', 200);
    await apply(admin(), [
      policy(
        'late-policy',
        { kind: 'HTTPRoute', name: 'route-late' },
        { providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(k1)) } }] },
      ),
    ]);
    await eventuallyStatus('late.example.com', 401);
    expect((await get('late.example.com', await tok(k1))).status).toBe(200);
  });
});

describe('agw status against the cluster', () => {
  it('prints policies, ancestors and conditions as a table, and JSON with -o json', async () => {
    const { execFile } = await import('node:child_process');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((res) => {
        execFile('node', ['cli/dist/main.js', 'status', `--kubeconfig=${admin()}`, ...args], (err, stdout) =>
          res({ code: err ? 1 : 0, stdout }),
        );
      });
    // The test before this one changed the config: Programmed is Pending until the proxy applies it.
    let text = { code: 1, stdout: '' };
    await waitFor(
      'route-policy Programmed in agw status',
      async () => /route-policy .*True\/Programmed$/m.test((text = await run(['-n', NS])).stdout),
      20_000,
      200,
    );
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+POLICY\s+ANCESTOR\s+ACCEPTED\s+ATTACHED\s+PROGRAMMED\s+MESSAGE$/);
    expect(lines.find((l) => l.includes('route-policy'))).toMatch(
      new RegExp(`^${NS}\\s+route-policy\\s+Gateway ${NS}/${GW}\\s+True/Valid\\s+True/Attached\\s+True/Programmed$`),
    );
    expect(lines.find((l) => l.includes('invalid-jwks'))).toContain('True/PartiallyValid');
    expect(lines.find((l) => l.includes('missing-target'))).toContain(`Policy is not attached: Gateway ${NS}/fake-gw not found`);
    const json = JSON.parse((await run(['-n', NS, '-o', 'json'])).stdout) as Array<{ name: string }>;
    expect(json.map((p) => p.name)).toContain('route-policy');
  });
});
