import { TestCertificates } from '@agw/test-kit';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJwks } from '../jwks/fetch-jwks.js';
import { reconcilePass } from '../reconcile/reconcile-pass.js';
import type { JwksKeys } from './model.js';

/**
 * AgentgatewayBackend `spec.static {host, port}` through the reconcile pass (boundary parse, CA
 * ConfigMaps checked at the edge, translate): JWKS backendRefs (URL, TLS, refusals), HTTPRoute
 * backendRefs (endpoint, ReferenceGrant, TLS), AgentgatewayPolicies targeting a backend, and the
 * backend's own status.
 */
const GW = 'gateway.networking.k8s.io';
const AGW = 'agentgateway.dev';
const CONTROLLER = 'agentgateway.dev/agentgateway';
const certs = new TestCertificates();
let CA = '';

beforeAll(() => {
  CA = certs.ca('ca').cert;
});
afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

const gateway = [
  { apiVersion: `${GW}/v1`, kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: CONTROLLER } },
  {
    apiVersion: `${GW}/v1`,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'ns' },
    spec: {
      gatewayClassName: 'agentgateway',
      listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
    },
  },
];
const agb = (name: string, spec: Record<string, unknown>, ns = 'ns') => ({
  apiVersion: `${AGW}/v1alpha1`,
  kind: 'AgentgatewayBackend',
  metadata: { name, namespace: ns, generation: 2 },
  spec,
});
const staticAgb = (name: string, host: string, port: number, policies?: Record<string, unknown>, ns = 'ns') =>
  agb(name, { static: { host, port }, ...(policies ? { policies } : {}) }, ns);
const jwtPolicy = (backendRef: Record<string, unknown>, jwksPath = '/keys') => ({
  apiVersion: `${AGW}/v1alpha1`,
  kind: 'AgentgatewayPolicy',
  metadata: { name: 'jwt', namespace: 'ns', generation: 1 },
  spec: {
    targetRefs: [{ group: GW, kind: 'Gateway', name: 'gw' }],
    traffic: { jwtAuthentication: { providers: [{ issuer: 'https://idp', jwks: { remote: { backendRef, jwksPath } } }] } },
  },
});
const AGB_REF = (name: string, extra: Record<string, unknown> = {}) => ({ group: AGW, kind: 'AgentgatewayBackend', name, ...extra });
const route = (backendRefs: Array<Record<string, unknown>>, ns = 'ns') => ({
  apiVersion: `${GW}/v1`,
  kind: 'HTTPRoute',
  metadata: { name: 'r', namespace: ns, generation: 1 },
  spec: { parentRefs: [{ name: 'gw', namespace: 'ns' }], rules: [{ backendRefs }] },
});
const tlsPolicy = (name: string, target: Record<string, unknown>, tls: Record<string, unknown>, age = 0) => ({
  apiVersion: `${AGW}/v1alpha1`,
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: 'ns', creationTimestamp: `2026-01-01T00:00:0${age}Z` },
  spec: { targetRefs: [target], backend: { tls } },
});
const caMap = (name: string, crt: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns' },
  data: { 'ca.crt': crt },
});
/** A route, so that the Gateway's config carries its JWT policy. */
const echoRoute = [staticAgb('echo', 'echo.localhost', 9000), route([AGB_REF('echo')])];
const KEYS: JwksKeys = { keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', x: 'x', y: 'y' }] };

function run(objects: unknown[], jwks: ReadonlyMap<string, JwksKeys> = new Map(), jwksErrors?: ReadonlyMap<string, string>) {
  const { parsed, out } = reconcilePass({
    objects: [...gateway, ...objects],
    controllerName: CONTROLLER,
    jwks,
    ...(jwksErrors ? { jwksErrors } : {}),
  });
  const config = out.configs.get('ns/gw');
  const accepted = (policy: string) => {
    const c = out.status.policies.get(policy)?.[0]?.conditions.find((x) => x.type === 'Accepted');
    return c === undefined ? undefined : `${c.status} ${c.reason}: ${c.message}`;
  };
  const backendStatus = (key: string) =>
    out.status.agentgatewayBackends.get(key)?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`);
  const resolvedRefs = () => {
    const c = out.status.httpRoutes.get('ns/r')?.[0]?.conditions.find((x) => x.type === 'ResolvedRefs');
    return c === undefined ? undefined : `${c.status} ${c.reason}: ${c.message}`;
  };
  return { parsed, out, config, accepted, backendStatus, resolvedRefs };
}

describe('AgentgatewayBackend as a jwks.remote.backendRef', () => {
  it('plain http to <static.host>:<static.port>/<jwksPath> (the ref port is not used); the fetcher resolves the host itself', () => {
    const { out, accepted } = run([staticAgb('idp', 'idp.localhost', 8080), jwtPolicy(AGB_REF('idp', { port: 443 }), '/realms/e2e/certs')]);
    expect(out.jwksRequests).toEqual([
      {
        url: 'http://idp.localhost:8080/realms/e2e/certs',
        refreshMs: 300_000,
        owners: ['AgentgatewayPolicy/ns/jwt#spec.traffic.jwtAuthentication.providers[0].jwks.remote'],
      },
    ]);
    expect(accepted('ns/jwt')).toBe(
      'True PartiallyValid: jwks keyset for "http://idp.localhost:8080/realms/e2e/certs" isn\'t available (not yet fetched or fetch failed)',
    );
  });

  it('once fetched, the provider carries the keys and the policy is Valid', () => {
    const url = 'http://idp.localhost:8080/keys';
    const { config, accepted } = run(
      [staticAgb('idp', 'idp.localhost', 8080), jwtPolicy(AGB_REF('idp')), ...echoRoute],
      new Map([[url, KEYS]]),
    );
    expect(accepted('ns/jwt')).toBe('True Valid: Policy accepted');
    expect(config?.policies.jwt['ns/jwt']?.providers).toEqual([{ id: 'ns/jwt#0', issuer: 'https://idp', keys: KEYS.keys, remoteUrl: url }]);
  });

  it("https with the backend's policies.tls (upstream's example URL); SNI and verified name: sni, else static.host", () => {
    const sni = run([
      staticAgb('okta', 'login.test.com', 443, { tls: { sni: 'myorg.okta.com' } }),
      jwtPolicy(AGB_REF('okta', { port: 443 }), '/test-path/discovery/v2.0/keys'),
    ]);
    expect(sni.out.jwksRequests[0]).toMatchObject({
      url: 'https://login.test.com:443/test-path/discovery/v2.0/keys',
      tls: { servername: 'myorg.okta.com' },
    });
    expect(sni.out.jwksRequests[0]?.connect).toBeUndefined();
    const host = run([
      staticAgb('okta', 'login.test.com', 443, { tls: { caCertificateRefs: [{ name: 'ca' }] } }),
      caMap('ca', CA),
      jwtPolicy(AGB_REF('okta')),
    ]);
    expect(host.out.jwksRequests[0]?.tls).toEqual({ servername: 'login.test.com', caPem: CA });
  });

  it('https with an AgentgatewayPolicy backend.tls targeting the backend; the backend’s own policies.tls wins over it', () => {
    const viaPolicy = run([
      staticAgb('idp', 'idp.localhost', 8443),
      jwtPolicy(AGB_REF('idp')),
      tlsPolicy('idp-tls', AGB_REF('idp'), { sni: 'idp.example.com', insecureSkipVerify: 'Hostname' }),
    ]);
    expect(viaPolicy.out.jwksRequests[0]).toMatchObject({
      url: 'https://idp.localhost:8443/keys',
      tls: { servername: 'idp.example.com', insecureSkipVerify: 'Hostname' },
    });
    // The backend.tls policy is in use through the fetch: the JWT policy's Gateway is its ancestor.
    expect(viaPolicy.out.status.policies.get('ns/idp-tls')?.map((a) => `${a.ancestorRef.kind} ${a.ancestorRef.name}`)).toEqual([
      'Gateway gw',
    ]);
    expect(viaPolicy.accepted('ns/idp-tls')).toBe('True Valid: Policy accepted');

    const own = run([
      staticAgb('idp', 'idp.localhost', 8443, { tls: { sni: 'own.example.com' } }),
      jwtPolicy(AGB_REF('idp')),
      tlsPolicy('idp-tls', AGB_REF('idp'), { sni: 'idp.example.com' }),
    ]);
    expect(own.out.jwksRequests[0]?.tls).toEqual({ servername: 'own.example.com' });
  });

  it('an IPv6 host is bracketed in the URL', () => {
    const { out } = run([staticAgb('idp', '::1', 8080), jwtPolicy(AGB_REF('idp'))]);
    expect(out.jwksRequests[0]?.url).toBe('http://[::1]:8080/keys');
  });

  it("a missing backend: upstream's message, no fetch, the provider left out (Strict fails closed)", () => {
    const { out, config, accepted } = run([jwtPolicy(AGB_REF('test-jwks')), ...echoRoute]);
    expect(accepted('ns/jwt')).toBe('True PartiallyValid: backend ns/test-jwks not found, policy ns/jwt');
    expect(out.jwksRequests).toEqual([]);
    expect(config?.policies.jwt['ns/jwt']).toMatchObject({ mode: 'Strict', providers: [] });
  });

  it('a backend whose static.host is not a host: the backend is Accepted=False and the policy says why; no fetch', () => {
    const { out, accepted, backendStatus } = run([staticAgb('idp', 'https://idp.example.com', 443), jwtPolicy(AGB_REF('idp'))]);
    expect(backendStatus('ns/idp')).toEqual([
      'Accepted=False Invalid: static.host "https://idp.example.com" is not a host name or IP address',
    ]);
    expect(accepted('ns/jwt')).toBe(
      'True PartiallyValid: AgentgatewayBackend ns/idp is not valid: static.host "https://idp.example.com" is not a host name or IP address, policy ns/jwt',
    );
    expect(out.jwksRequests).toEqual([]);
  });

  it('a CA ConfigMap of policies.tls that is missing fails closed: no fetch, the backend and the policy say why', () => {
    const { out, accepted, backendStatus } = run([
      staticAgb('idp', 'idp.localhost', 8443, { tls: { caCertificateRefs: [{ name: 'nope' }] } }),
      jwtPolicy(AGB_REF('idp')),
    ]);
    expect(out.jwksRequests).toEqual([]);
    expect(accepted('ns/jwt')).toBe(
      'True PartiallyValid: AgentgatewayBackend ns/idp policies.tls: caCertificateRefs[0]: ConfigMap ns/nope not found, policy ns/jwt',
    );
    expect(backendStatus('ns/idp')).toEqual([
      'Accepted=False Invalid: policies.tls: caCertificateRefs[0]: ConfigMap ns/nope not found; connections to the backend fail',
    ]);
  });

  it('other kinds keep their message', () => {
    const { accepted } = run([jwtPolicy({ group: 'example.com', kind: 'Thing', name: 'x' })]);
    expect(accepted('ns/jwt')).toBe('True PartiallyValid: unsupported backend kind example.com/Thing for jwks, policy ns/jwt');
  });
});

describe('SSRF guard: a backend pointing at a link-local or metadata address', () => {
  it.each([
    ['169.254.169.254', 80, 'http://169.254.169.254:80/keys', 'address 169.254.169.254 is blocked (link-local or metadata service)'],
    ['fe80::1', 8080, 'http://[fe80::1]:8080/keys', 'address fe80::1 is blocked (link-local or metadata service)'],
    ['100.100.100.200', 80, 'http://100.100.100.200:80/keys', 'address 100.100.100.200 is blocked (link-local or metadata service)'],
  ])('%s: the fetch is refused before connecting, and the policy status says so', async (host, port, url, refusal) => {
    const first = run([staticAgb('meta', host, port), jwtPolicy(AGB_REF('meta'))]);
    const request = first.out.jwksRequests[0];
    expect(request?.url).toBe(url);
    // The same fetch (and guard) as `remote.url`: an IP literal is checked before any connection.
    const r = await fetchJwks(request as { url: string });
    expect(r).toEqual({ ok: false, error: refusal });
    // The key store keeps the error; the next pass shows it where the user looks.
    const again = run([staticAgb('meta', host, port), jwtPolicy(AGB_REF('meta'))], new Map(), new Map([[url, refusal]]));
    expect(again.accepted('ns/jwt')).toBe(
      `True PartiallyValid: jwks keyset for "${url}" isn't available (not yet fetched or fetch failed): last error: ${refusal}`,
    );
  });
});

describe('AgentgatewayBackend as an HTTPRoute backendRef', () => {
  it('forwards to static.host:static.port (a name the proxy resolves when connecting); ResolvedRefs True', () => {
    const { config, resolvedRefs } = run([staticAgb('echo', 'echo.localhost', 9000), route([{ ...AGB_REF('echo'), weight: 3 }])]);
    expect(config?.routes[0]?.backends).toEqual([
      { name: 'AgentgatewayBackend/ns/echo', weight: 3, endpoints: [{ host: 'echo.localhost', port: 9000 }] },
    ]);
    expect(config?.routes[0]?.invalid).toBeUndefined();
    expect(resolvedRefs()).toBe('True ResolvedRefs: All references resolved');
  });

  it('a missing backend: ResolvedRefs False BackendNotFound, and the rule answers 500', () => {
    const { config, resolvedRefs } = run([route([AGB_REF('nope')])]);
    expect(resolvedRefs()).toBe('False BackendNotFound: AgentgatewayBackend ns/nope not found');
    expect(config?.routes[0]?.invalid).toBe('invalid backend: AgentgatewayBackend ns/nope not found');
  });

  it('an invalid backend (static.host not a host) does not resolve', () => {
    const { config, resolvedRefs } = run([staticAgb('bad', 'bad host', 80), route([AGB_REF('bad')])]);
    const message = 'AgentgatewayBackend ns/bad is not valid: static.host "bad host" is not a host name or IP address';
    expect(resolvedRefs()).toBe(`False BackendNotFound: ${message}`);
    expect(config?.routes[0]?.invalid).toBe(`invalid backend: ${message}`);
  });

  it('other kinds are still InvalidKind', () => {
    const { resolvedRefs } = run([route([{ group: 'example.com', kind: 'Thing', name: 'x' }])]);
    expect(resolvedRefs()).toBe('False InvalidKind: backendRef kind Thing is not supported');
  });

  it('another namespace needs a ReferenceGrant to AgentgatewayBackend (group agentgateway.dev)', () => {
    const objects = [staticAgb('echo', 'echo.localhost', 9000, undefined, 'other'), route([AGB_REF('echo', { namespace: 'other' })])];
    const refused = run(objects);
    expect(refused.resolvedRefs()).toBe(
      'False RefNotPermitted: backendRef to AgentgatewayBackend other/echo not permitted by any ReferenceGrant',
    );
    expect(refused.config?.routes[0]?.invalid).toBe('invalid backend: backendRef to AgentgatewayBackend other/echo not permitted');
    const grant = (group: string) => ({
      apiVersion: `${GW}/v1beta1`,
      kind: 'ReferenceGrant',
      metadata: { name: 'g', namespace: 'other' },
      spec: { from: [{ group: GW, kind: 'HTTPRoute', namespace: 'ns' }], to: [{ group, kind: 'AgentgatewayBackend' }] },
    });
    expect(run([...objects, grant('')]).resolvedRefs()).toMatch(/^False RefNotPermitted/);
    const granted = run([...objects, grant(AGW)]);
    expect(granted.resolvedRefs()).toBe('True ResolvedRefs: All references resolved');
    expect(granted.config?.routes[0]?.backends[0]?.endpoints).toEqual([{ host: 'echo.localhost', port: 9000 }]);
  });

  it('TLS: the backend’s policies.tls (key AgentgatewayBackend/<ns>/<name>, hostname = static.host), over a policy on the backend', () => {
    const { config } = run([
      staticAgb('echo', 'echo.localhost', 9443, { tls: { caCertificateRefs: [{ name: 'ca' }] } }),
      caMap('ca', CA),
      tlsPolicy('echo-tls', AGB_REF('echo'), { insecureSkipVerify: 'All' }),
      route([AGB_REF('echo')]),
    ]);
    expect(config?.routes[0]?.backends).toEqual([
      {
        name: 'AgentgatewayBackend/ns/echo',
        weight: 1,
        endpoints: [{ host: 'echo.localhost', port: 9443 }],
        hostname: 'echo.localhost',
        policies: { backendTls: 'AgentgatewayBackend/ns/echo' },
      },
    ]);
    expect(config?.policies.backendTls).toEqual({ 'AgentgatewayBackend/ns/echo': { policy: 'AgentgatewayBackend/ns/echo', caPem: CA } });
  });

  it('TLS from an AgentgatewayPolicy backend.tls targeting the backend: attached, its Gateway the ancestor', () => {
    const { config, out, accepted } = run([
      staticAgb('echo', 'echo.localhost', 9443),
      tlsPolicy('echo-tls', AGB_REF('echo'), { sni: 'echo.example.com' }),
      route([AGB_REF('echo')]),
    ]);
    expect(config?.routes[0]?.backends[0]).toMatchObject({ hostname: 'echo.localhost', policies: { backendTls: 'ns/echo-tls' } });
    expect(config?.policies.backendTls['ns/echo-tls']).toEqual({ policy: 'ns/echo-tls', sni: 'echo.example.com' });
    expect(accepted('ns/echo-tls')).toBe('True Valid: Policy accepted');
    expect(out.status.policies.get('ns/echo-tls')?.map((a) => a.conditions.map((c) => `${c.type}=${c.status}`).join(','))).toEqual([
      'Accepted=True,Attached=True',
    ]);
  });

  it('a policy targeting a backend that is missing, unused, or with a sectionName is not attached, with the reason', () => {
    const { out } = run([
      staticAgb('unused', 'unused.localhost', 80),
      tlsPolicy('a', AGB_REF('nope'), {}),
      tlsPolicy('b', AGB_REF('unused'), {}),
      tlsPolicy('c', AGB_REF('unused', { sectionName: 'x' }), {}),
    ]);
    const pending = (p: string) => out.status.policies.get(p)?.[0]?.conditions.find((c) => c.type === 'Attached')?.message;
    expect(pending('ns/a')).toBe('Policy is not attached: AgentgatewayBackend ns/nope not found');
    expect(pending('ns/b')).toBe(
      'Policy is not attached: AgentgatewayBackend ns/unused is not a backend of any route attached to a Gateway',
    );
    expect(pending('ns/c')).toBe('Policy is not attached: sectionName "x" not found in AgentgatewayBackend ns/unused');
  });
});

describe('AgentgatewayBackend status', () => {
  it('every parsed backend: Accepted True Accepted, with its generation', () => {
    const { out } = run([staticAgb('a', 'a.example.com', 443), staticAgb('b', '10.0.0.5', 8080)]);
    expect(Object.fromEntries(out.status.agentgatewayBackends)).toEqual({
      'ns/a': [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Backend accepted', observedGeneration: 2 }],
      'ns/b': [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Backend accepted', observedGeneration: 2 }],
    });
  });

  it.each([['idp:8443'], ['bad host'], ['999.1.1.1'], ['fe80::1::2'], ['-x.example.com']])(
    '%s is not a host: Accepted=False Invalid',
    (host) => {
      const { backendStatus } = run([staticAgb('x', host, 80)]);
      expect(backendStatus('ns/x')).toEqual([`Accepted=False Invalid: static.host "${host}" is not a host name or IP address`]);
    },
  );

  it('an object that does not parse (a kind this project does not implement) is Accepted=False Invalid, and references to it are not found', () => {
    const { parsed, backendStatus, accepted } = run([agb('llm', { ai: { provider: { openai: {} } } }), jwtPolicy(AGB_REF('llm'))]);
    expect(parsed.problems.map((p) => p.ref)).toEqual(['AgentgatewayBackend ns/llm']);
    expect(backendStatus('ns/llm')).toEqual([
      'Accepted=False Invalid: backend does not parse: spec: unknown field "spec.ai"; spec: exactly one of the fields in [ai static dynamicForwardProxy mcp aws a2a] must be set',
    ]);
    expect(accepted('ns/jwt')).toBe('True PartiallyValid: backend ns/llm not found, policy ns/jwt');
  });
});
