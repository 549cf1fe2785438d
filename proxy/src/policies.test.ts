import type {
  CompiledAuthorizationPolicy,
  CompiledBackendAuthPolicy,
  CompiledJwtPolicy,
  CompiledRoute,
  CompiledTransform,
  CompiledTransformationPolicy,
  ProxyConfigInput,
} from '@agw/api';
import { generateSigningKey, mintToken, request, startEchoUpstream, type EchoUpstream, type SigningKey } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildGatewayServer } from './server.js';

/** Authorization, transformation and backend-auth passthrough through the built proxy (reference §2-§4, §7). */
const ISS = 'https://agentgateway.dev';
let upstream: EchoUpstream;
let key: SigningKey;
let store: ConfigStore, metrics: ProxyMetrics;
let servers: FastifyInstance[];
let port: number, prePort: number, tierPort: number;

const jwtPolicy = (
  mode: CompiledJwtPolicy['mode'],
  location: CompiledJwtPolicy['location'] = { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
): CompiledJwtPolicy => ({
  policy: `default/jwt-${mode.toLowerCase()}`,
  mode,
  location,
  providers: [{ id: 'p#0', issuer: ISS, keys: [key.jwk] as never }],
});
const authz = (name: string, rules: CompiledAuthorizationPolicy['rules']): CompiledAuthorizationPolicy => ({
  policy: `default/${name}`,
  rules,
});
const transform = (t: Partial<CompiledTransform>): CompiledTransform => ({ metadata: [], add: [], set: [], remove: [], ...t });
const transformation = (name: string, entries: CompiledTransformationPolicy['entries']): CompiledTransformationPolicy => ({
  policy: `default/${name}`,
  entries,
});
const passthrough = (target: CompiledBackendAuthPolicy['target']): CompiledBackendAuthPolicy => ({
  policy: 'default/pass',
  passthrough: true,
  target,
});

let n = 0;
const r = (host: string, extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${host}/0/0`,
  listeners: ['http'],
  hostnames: [host],
  order: n++,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: 'default/backend:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
  ...extra,
});

function config(): ProxyConfigInput {
  return {
    schemaVersion: 5,
    version: 'p1',
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [
      { name: 'http', port: 80 },
      { name: 'pre', port: 8080, preRouting: { authorization: ['pre-routing'] } },
      { name: 'tier', port: 8081, preRouting: { jwt: 'optional', transformation: 'tier' } },
    ],
    routes: [
      r('rbac.test', { policies: { jwt: 'strict', authorization: ['rbac'] } }),
      r('header-authz.test', { policies: { authorization: ['header'] } }),
      r('merged.test', { policies: { jwt: 'strict', authorization: ['alice', 'internal'] } }),
      r('missing.test', { policies: { authorization: ['header', 'nosuchpolicy'] } }),
      r('claims.test', { policies: { jwt: 'strict', transformation: 'claims' } }),
      r('misc.test', { policies: { transformation: 'misc' } }),
      r('cond.test', { policies: { transformation: 'cond' } }),
      r('authority.test', { policies: { transformation: 'authority' } }),
      r('body.test', { policies: { transformation: 'body' } }),
      r('badbody.test', { policies: { transformation: 'badbody' } }),
      r('response.test', { policies: { transformation: 'response' } }),
      r('response-body.test', { policies: { transformation: 'response-body' } }),
      r('inject-body.test', { policies: { transformation: 'inject-body' } }),
      r('map-body.test', { policies: { transformation: 'map-body' } }),
      r('null-body.test', { policies: { transformation: 'null-body' } }),
      r('status.test', { policies: { transformation: 'status' } }),
      r('status-map.test', { policies: { transformation: 'status-map' } }),
      r('proxy-vars.test', { policies: { transformation: 'proxy-vars' } }),
      r('pass.test', { policies: { jwt: 'optional', backendAuth: 'default' } }),
      r('pass-header.test', { policies: { jwt: 'strict', backendAuth: 'header' } }),
      r('pass-query.test', { policies: { jwt: 'strict', backendAuth: 'query' } }),
      r('pass-cookie.test', { policies: { jwt: 'strict', backendAuth: 'cookie' } }),
      r('pass-permissive.test', { policies: { jwt: 'permissive', backendAuth: 'default' } }),
      r('pass-backend.test', {
        policies: { jwt: 'strict', backendAuth: 'default' },
        backends: [
          { name: 'default/b:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }], policies: { backendAuth: 'header' } },
        ],
      }),
      r('expr.test', { policies: { jwt: 'expression' } }),
      { ...r('pre.test'), listeners: ['pre'], match: { path: { type: 'Exact', value: '/exists' }, headers: [], queryParams: [] } },
      {
        ...r('tier.test'),
        id: 'default/premium/0/0',
        listeners: ['tier'],
        match: {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'Exact', name: 'x-user-tier', value: 'premium' }],
          queryParams: [],
        },
        policies: { transformation: 'mark-premium' },
      },
      { ...r('tier.test'), id: 'default/free/0/0', listeners: ['tier'] },
    ],
    policies: {
      jwt: {
        strict: jwtPolicy('Strict'),
        optional: jwtPolicy('Optional'),
        permissive: jwtPolicy('Permissive'),
        expression: jwtPolicy('Strict', { kind: 'expression', expression: "request.headers['x-custom-token']" }),
      },
      authorization: {
        rbac: authz('rbac', [{ action: 'Allow', expression: 'jwt.sub == "ignore@agentgateway.dev"' }]),
        header: authz('header', [{ action: 'Allow', expression: "request.headers['x-my-header'] == 'cool-beans'" }]),
        alice: authz('alice', [{ action: 'Allow', expression: "jwt.sub == 'alice'" }]),
        internal: authz('internal', [{ action: 'Require', expression: "request.headers['x-internal'] == 'true'" }]),
        'pre-routing': authz('pre-routing', [{ action: 'Allow', expression: 'request.headers["x-pre-routing"] == "yes"' }]),
      },
      transformation: {
        claims: transformation('claims', [
          {
            request: transform({
              set: [
                { name: 'x-user-id', value: 'jwt.sub' },
                { name: 'x-auth-issuer', value: 'jwt.iss' },
                { name: 'x-user-role', value: "default(jwt.role, 'user')" },
              ],
            }),
          },
        ]),
        misc: transformation('misc', [
          {
            request: transform({
              metadata: [{ name: 'tier', value: "'gold'" }],
              add: [{ name: 'x-multi', value: "'added'" }],
              set: [
                { name: 'x-client', value: "'overwritten'" },
                { name: 'x-from-meta', value: "metadata.tier + '-' + request.headers['x-client']" },
                { name: 'x-template', value: '{{ request.path }}' },
                { name: 'x-number', value: '1 + 1' },
                { name: 'x-missing', value: "request.headers['x-absent']" },
              ],
              remove: ['x-remove-me'],
            }),
          },
        ]),
        cond: transformation('cond', [
          { condition: "request.headers['x-pick'] == 'a'", request: transform({ set: [{ name: 'x-branch', value: "'a'" }] }) },
          { condition: '1 / 0 == 1', request: transform({ set: [{ name: 'x-branch', value: "'error'" }] }) },
          { condition: "request.headers['x-pick'] == 'b'", request: transform({ set: [{ name: 'x-branch', value: "'b'" }] }) },
          { request: transform({ set: [{ name: 'x-branch', value: "'fallback'" }] }) },
        ]),
        authority: transformation('authority', [
          {
            request: transform({
              set: [
                { name: 'host', value: "'internal.example'" },
                { name: ':path', value: "'/rewritten?from=' + request.path" },
                { name: ':method', value: "'PUT'" },
              ],
            }),
          },
        ]),
        body: transformation('body', [
          {
            request: transform({
              set: [{ name: 'x-name', value: 'json(request.body).name' }],
              body: "toJson({'greeting': 'hello ' + json(request.body).name})",
            }),
          },
        ]),
        badbody: transformation('badbody', [{ request: transform({ body: "fail('no')" }) }]),
        response: transformation('response', [
          {
            response: transform({
              set: [
                { name: 'response-gateway', value: "'goodbye'" },
                { name: 'x-code', value: 'string(response.code)' },
                { name: 'x-upstream', value: 'response.headers["x-upstream"] + "!"' },
              ],
            }),
          },
        ]),
        'response-body': transformation('response-body', [
          {
            response: transform({ body: "toJson({'wrapped': json(response.body).method})", set: [{ name: 'x-wrapped', value: "'yes'" }] }),
          },
        ]),
        // upstream's doc-tested inject-response-body: the response built from the request body.
        'inject-body': transformation('inject-body', [
          { response: transform({ body: '"{\\"hello\\": \\"" + string(json(request.body).name) + "\\"}"' }) },
        ]),
        'map-body': transformation('map-body', [
          {
            request: transform({ body: "{'path': request.path, 'n': 1}" }),
            response: transform({ body: 'json(response.body).with(b, {"method": b.method, "added": true})' }),
          },
        ]),
        'null-body': transformation('null-body', [{ response: transform({ body: "response.code == 429 ? 'refused' : null" }) }]),
        // upstream's change-response-status example: an int, not a string.
        status: transformation('status', [
          {
            response: transform({
              set: [
                { name: ':status', value: 'request.uri.contains("foo=bar") ? 401 : 403' },
                { name: 'x-string-status', value: "'418'" },
              ],
            }),
          },
        ]),
        // A map (metadata is a null-prototype object) as the status: the status stays, nothing throws.
        'status-map': transformation('status-map', [
          {
            request: transform({ metadata: [{ name: 'm', value: "'x'" }] }),
            response: transform({
              set: [
                { name: ':status', value: 'metadata' },
                { name: 'x-after', value: "'still here'" },
              ],
            }),
          },
        ]),
        'proxy-vars': transformation('proxy-vars', [
          {
            request: transform({
              set: [
                { name: 'x-gw', value: "proxy.gateway.namespace + '/' + proxy.gateway.name" },
                { name: 'x-listener', value: 'proxy.listener.name' },
                { name: 'x-route', value: "proxy.route.kind + ' ' + proxy.route.namespace + '/' + proxy.route.name" },
                { name: 'x-variables', value: "variables().proxy.listener.name + ' ' + variables().request.method" },
              ],
            }),
          },
        ]),
        tier: transformation('tier', [{ request: transform({ set: [{ name: 'x-user-tier', value: "default(jwt.tier, 'free')" }] }) }]),
        'mark-premium': transformation('mark-premium', [{ request: transform({ set: [{ name: 'x-route', value: "'premium'" }] }) }]),
      },
      backendAuth: {
        default: passthrough({ kind: 'header', name: 'authorization', prefix: 'Bearer ' }),
        header: passthrough({ kind: 'header', name: 'x-token', prefix: 'Tok ' }),
        query: passthrough({ kind: 'query', name: 'token' }),
        cookie: passthrough({ kind: 'cookie', name: 'session' }),
      },
    },
  };
}

beforeAll(async () => {
  upstream = await startEchoUpstream();
  key = await generateSigningKey('RS256', 'k1');
  store = new ConfigStore();
  metrics = new ProxyMetrics(store, { defaultMetrics: false });
  expect(await applyConfig(store, config())).toBeUndefined();
  const logger = pino({ level: 'silent' });
  servers = await Promise.all([80, 8080, 8081].map((listenerPort) => buildGatewayServer({ store, metrics, logger, listenerPort })));
  const ports = await Promise.all(
    servers.map(async (s) => {
      await s.listen({ port: 0, host: '127.0.0.1' });
      return (s.server.address() as AddressInfo).port;
    }),
  );
  [port, prePort, tierPort] = ports as [number, number, number];
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await upstream.close();
});

const token = (claims: Record<string, unknown> = {}) => mintToken(key, { claims: { iss: ISS, sub: 'ignore@agentgateway.dev', ...claims } });
const bearer = async (claims: Record<string, unknown> = {}) => ({ authorization: `Bearer ${await token(claims)}` });
const get = (host: string, o: { path?: string; method?: string; headers?: Record<string, string>; body?: string } = {}) =>
  request(port, { host, ...o });
const seen = () => upstream.requests[upstream.requests.length - 1] as (typeof upstream.requests)[number];

describe('authorization over HTTP', () => {
  it('RBAC next to jwtAuthentication: the matching subject 200, another 403 with insufficient_scope, none 401', async () => {
    expect((await get('rbac.test', { headers: await bearer() })).status).toBe(200);
    const other = await get('rbac.test', { headers: await bearer({ sub: 'someone@else' }) });
    expect(other.status).toBe(403);
    expect(other.body).toBe('authorization failed');
    expect(other.headers['content-type']).toBe('text/plain');
    expect(other.headers['www-authenticate']).toBe('Bearer realm="agentgateway", error="insufficient_scope"');
    expect((await get('rbac.test')).status).toBe(401);
  });

  it('a header rule: without the header 403 (no challenge: no token, no jwt rule), with it 200', async () => {
    const denied = await get('header-authz.test');
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('authorization failed');
    expect(denied.headers['www-authenticate']).toBeUndefined();
    expect((await get('header-authz.test', { headers: { 'x-my-header': 'cool-beans' } })).status).toBe(200);
  });

  it('gRPC: HTTP 200 with grpc-status 7 and the message', async () => {
    const res = await get('header-authz.test', { method: 'POST', headers: { 'content-type': 'application/grpc' } });
    expect(res.status).toBe(200);
    expect(res.headers['grpc-status']).toBe('7');
    expect(res.headers['grpc-message']).toBe('authorization%20failed');
  });

  it('merged policies (docs example): alice+header 200, alice 403, bob+header 403', async () => {
    const alice = await bearer({ sub: 'alice' });
    expect((await get('merged.test', { headers: { ...alice, 'x-internal': 'true' } })).status).toBe(200);
    expect((await get('merged.test', { headers: alice })).status).toBe(403);
    expect((await get('merged.test', { headers: { ...(await bearer({ sub: 'bob' })), 'x-internal': 'true' } })).status).toBe(403);
  });

  it('a named policy the proxy lacks fails closed with 500', async () => {
    const res = await get('missing.test', { headers: { 'x-my-header': 'cool-beans' } });
    expect(res.status).toBe(500);
    expect(res.body).toBe('policy unavailable');
    expect(store.current?.warnings).toContain(
      'route default/missing.test/0/0 answers 500: authorization policy nosuchpolicy is not available',
    );
  });

  it('PreRouting: 403 before any route is selected; with the header, routing as usual', async () => {
    for (const path of ['/exists', '/nosuchroute']) {
      const res = await request(prePort, { host: 'pre.test', path });
      expect(res.status).toBe(403);
      expect(res.body).toBe('authorization failed');
    }
    expect((await request(prePort, { host: 'pre.test', path: '/exists', headers: { 'x-pre-routing': 'yes' } })).status).toBe(200);
    expect((await request(prePort, { host: 'pre.test', path: '/nosuchroute', headers: { 'x-pre-routing': 'yes' } })).status).toBe(404);
  });

  it('counts decisions by the deciding policy and result', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/agw_authorization_total\{policy="default\/rbac",result="allow"\} [1-9]/);
    expect(text).toMatch(/agw_authorization_total\{policy="",result="deny"\} [1-9]/);
  });
});

describe('transformation over HTTP', () => {
  it('claims to headers (upstream doc example), overwriting what the client sent', async () => {
    const res = await get('claims.test', { headers: { ...(await bearer({ role: undefined })), 'x-user-id': 'forged' } });
    expect(res.status).toBe(200);
    const h = seen().headers;
    expect(h['x-user-id']).toBe('ignore@agentgateway.dev');
    expect(h['x-auth-issuer']).toBe(ISS);
    expect(h['x-user-role']).toBe('user');
    expect(h.authorization).toBeUndefined();
    await get('claims.test', { headers: await bearer({ role: 'admin' }) });
    expect(seen().headers['x-user-role']).toBe('admin');
  });

  it("metadata, add, set, remove; a failed or non-string expression removes the client's header", async () => {
    const res = await get('misc.test', {
      headers: {
        'x-multi': 'client',
        'x-client': 'client',
        'x-remove-me': 'gone',
        'x-template': 'client-template',
        'x-number': 'client-number',
        'x-missing': 'client-missing',
        'x-other': 'kept',
      },
    });
    expect(res.status).toBe(200);
    const h = seen().headers;
    expect(h['x-multi']).toBe('client, added');
    expect(h['x-client']).toBe('overwritten');
    // Every expression of a Transform sees the request as it was before it (plus the metadata).
    expect(h['x-from-meta']).toBe('gold-client');
    expect(h['x-remove-me']).toBeUndefined();
    expect(h['x-template']).toBeUndefined();
    expect(h['x-number']).toBeUndefined();
    expect(h['x-missing']).toBeUndefined();
    expect(h['x-other']).toBe('kept');
  });

  it('conditional: the first true entry applies, an erroring condition is false, the unconditional one is the fallback', async () => {
    await get('cond.test', { headers: { 'x-pick': 'a' } });
    expect(seen().headers['x-branch']).toBe('a');
    await get('cond.test', { headers: { 'x-pick': 'b' } });
    expect(seen().headers['x-branch']).toBe('b');
    await get('cond.test', { headers: { 'x-branch': 'client' } });
    expect(seen().headers['x-branch']).toBe('fallback');
  });

  it('host sets the upstream authority; :path and :method the forwarded target and method', async () => {
    expect((await get('authority.test', { path: '/orig?q=1' })).status).toBe(200);
    const s = seen();
    expect(s.headers.host).toBe('internal.example');
    expect(s.headers['x-forwarded-host']).toBe('authority.test');
    expect(s.url).toBe('/rewritten?from=/orig');
    expect(s.method).toBe('PUT');
  });

  it('body: request.body is buffered for the expression and the new body forwarded with its length', async () => {
    const res = await get('body.test', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"ada"}' });
    expect(res.status).toBe(200);
    expect(seen().body).toBe('{"greeting":"hello ada"}');
    expect(seen().headers['content-length']).toBe(String('{"greeting":"hello ada"}'.length));
    expect(seen().headers['x-name']).toBe('ada');
  });

  it('a body over 2 MiB for an expression that reads it: 413', async () => {
    const res = await get('body.test', { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024 + 1) });
    expect(res.status).toBe(413);
    expect(res.body).toBe('request body too large');
  });

  it('a failed body expression sends an empty body', async () => {
    expect((await get('badbody.test', { method: 'POST', body: 'secret' })).status).toBe(200);
    expect(seen().body).toBe('');
    expect(seen().headers['content-length']).toBe('0');
  });

  it('response: headers set from the response; a plain route has none of them', async () => {
    const res = await get('response.test');
    expect(res.status).toBe(200);
    expect(res.headers['response-gateway']).toBe('goodbye');
    expect(res.headers['x-code']).toBe('200');
    expect(res.headers['x-upstream']).toBe('echo!');
    expect((await get('misc.test')).headers['response-gateway']).toBeUndefined();
  });

  it('response body: held, transformed, sent with its new length', async () => {
    const res = await get('response-body.test', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"wrapped":"DELETE"}');
    expect(res.headers['content-length']).toBe(String(res.body.length));
    expect(res.headers['x-wrapped']).toBe('yes');
  });

  it("a response body from the request's body (upstream's inject-response-body guide)", async () => {
    const res = await get('inject-body.test', {
      method: 'POST',
      path: '/post',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "user123"}',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ hello: 'user123' });
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(seen().body).toBe('{"name": "user123"}');
  });

  it('a body expression that returns a map sends its JSON, on the request and on the response', async () => {
    const res = await get('map-body.test', { path: '/p', method: 'PATCH' });
    expect(seen().body).toBe('{"path":"/p","n":1}');
    expect(seen().headers['content-length']).toBe(String(seen().body.length));
    expect(JSON.parse(res.body)).toEqual({ method: 'PATCH', added: true });
  });

  it('a body expression that returns null leaves the body as it was', async () => {
    const res = await get('null-body.test', { method: 'PUT' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'PUT' });
  });

  it(':status takes an int (upstream: a string leaves the status); set from the request', async () => {
    expect((await get('status.test', { path: '/x?foo=bar' })).status).toBe(401);
    expect((await get('status.test', { path: '/x' })).status).toBe(403);
    const map = await get('status-map.test');
    expect([map.status, map.headers['x-after']]).toEqual([200, 'still here']);
  });

  it('proxy.gateway, proxy.listener and proxy.route are objects (upstream schema); variables() has them all', async () => {
    await get('proxy-vars.test');
    expect(seen().headers['x-gw']).toBe('default/gw');
    expect(seen().headers['x-listener']).toBe('http');
    expect(seen().headers['x-route']).toBe('HTTPRoute default/proxy-vars.test');
    expect(seen().headers['x-variables']).toBe('http GET');
  });

  it("PreRouting transformation feeds the route match (claim-based routing); the route's own transformation runs after", async () => {
    await request(tierPort, { host: 'tier.test', headers: await bearer({ tier: 'premium' }) });
    expect(seen().headers['x-user-tier']).toBe('premium');
    expect(seen().headers['x-route']).toBe('premium');
    // A client cannot pick the tier itself: without a token the transformation sets "free".
    await request(tierPort, { host: 'tier.test', headers: { 'x-user-tier': 'premium' } });
    expect(seen().headers['x-user-tier']).toBe('free');
    expect(seen().headers['x-route']).toBeUndefined();
  });
});

describe('backend auth passthrough over HTTP', () => {
  it('default: the validated token is written back as Authorization: Bearer', async () => {
    const t = await token();
    await get('pass.test', { headers: { authorization: `Bearer ${t}` } });
    expect(seen().headers.authorization).toBe(`Bearer ${t}`);
  });

  it('no token: nothing is written', async () => {
    await get('pass.test');
    expect(seen().headers.authorization).toBeUndefined();
  });

  it("Permissive with an invalid token: passthrough writes nothing (the client's header passes as upstream leaves it)", async () => {
    await get('pass-permissive.test', { headers: { authorization: 'Bearer not.a.token', 'x-marker': 'permissive' } });
    expect(seen().headers['x-marker']).toBe('permissive');
    expect(seen().headers.authorization).toBe('Bearer not.a.token');
  });

  it("custom header with prefix, replacing the client's value; the credential header itself is removed", async () => {
    const t = await token();
    await get('pass-header.test', { headers: { authorization: `Bearer ${t}`, 'x-token': 'forged' } });
    expect(seen().headers['x-token']).toBe(`Tok ${t}`);
    expect(seen().headers.authorization).toBeUndefined();
  });

  it("query parameter, replacing the client's", async () => {
    const t = await token();
    await get('pass-query.test', { path: '/p?token=forged&a=1', headers: { authorization: `Bearer ${t}` } });
    expect(seen().url).toBe(`/p?a=1&token=${t}`);
  });

  it("cookie, replacing the client's and keeping the others", async () => {
    const t = await token();
    await get('pass-cookie.test', { headers: { authorization: `Bearer ${t}`, cookie: 'session=forged; other=1' } });
    expect(seen().headers.cookie).toBe(`other=1; session=${t}`);
  });

  it("a backend's own policy replaces the route's", async () => {
    const t = await token();
    await get('pass-backend.test', { headers: { authorization: `Bearer ${t}` } });
    expect(seen().headers['x-token']).toBe(`Tok ${t}`);
    expect(seen().headers.authorization).toBeUndefined();
  });
});

describe('token location expression', () => {
  it('a string result is the token; nothing is stripped; no result is no token', async () => {
    const t = await token();
    const res = await get('expr.test', { headers: { 'x-custom-token': t } });
    expect(res.status).toBe(200);
    expect(seen().headers['x-custom-token']).toBe(t);
    expect((await get('expr.test', { headers: { authorization: `Bearer ${t}` } })).status).toBe(401);
    expect((await get('expr.test', { headers: { 'x-custom-token': 'garbage' } })).status).toBe(401);
  });
});
