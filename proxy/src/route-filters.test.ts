import type { CompiledJwtPolicy, CompiledRoute, CompiledRouteFilter, ProxyConfigInput } from '@agw/api';
import { generateSigningKey, mintToken, request, startEchoUpstream, type EchoUpstream, type SigningKey } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import { connect, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { replacePrefix } from './routing/route-filters.js';
import { buildGatewayServer } from './server.js';

/** HTTPRoute filters through the built proxy, against a recording upstream (Gateway API HTTPRouteFilter semantics). */
const ISS = 'https://agentgateway.dev';
let upstream: EchoUpstream;
let key: SigningKey;
let store: ConfigStore;
let servers: FastifyInstance[];
let port: number, altPort: number;

let n = 0;
const route = (host: string, filters: CompiledRouteFilter[], extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${host}/0/0`,
  listeners: ['http'],
  hostnames: [host],
  order: n++,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: 'default/backend:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
  filters,
  ...extra,
});
const prefixMatch = (value: string): CompiledRoute['match'] => ({ path: { type: 'PathPrefix', value }, headers: [], queryParams: [] });
const headers = (h: { add?: [string, string][]; set?: [string, string][]; remove?: string[] }) => ({
  add: (h.add ?? []).map(([name, value]) => ({ name, value })),
  set: (h.set ?? []).map(([name, value]) => ({ name, value })),
  remove: h.remove ?? [],
});
const redirect = (
  f: Omit<Extract<CompiledRouteFilter, { type: 'RequestRedirect' }>, 'type' | 'statusCode'> & { statusCode?: 301 | 302 | 303 | 307 | 308 },
) => ({ type: 'RequestRedirect', statusCode: 302, ...f }) as CompiledRouteFilter;

/** The Gateway API HTTPPathModifier table (ReplacePrefixMatch), one route per row: request path, prefix, replacement, forwarded path. */
const PREFIX_TABLE: ReadonlyArray<readonly [string, string, string, string]> = [
  ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
  ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
  ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
  ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
  ['/foo', '/foo', '/xyz', '/xyz'],
  ['/foo/', '/foo', '/xyz', '/xyz/'],
  ['/foo/bar', '/foo', '', '/bar'],
  ['/foo/', '/foo', '', '/'],
  ['/foo', '/foo', '', '/'],
  ['/foo/', '/foo', '/', '/'],
  ['/foo', '/foo', '/', '/'],
];

function config(): ProxyConfigInput {
  const strict: CompiledJwtPolicy = {
    policy: 'default/jwt-strict',
    mode: 'Strict',
    location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
    providers: [{ id: 'p#0', issuer: ISS, keys: [key.jwk] as never }],
  };
  return {
    schemaVersion: 5,
    version: 'f1',
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [
      { name: 'http', port: 80 },
      { name: 'alt', port: 8080 },
    ],
    routes: [
      route('headers.test', [
        { type: 'RequestHeaderModifier', headers: headers({ set: [['x-set', 'one']], add: [['x-add', 'two']], remove: ['x-remove'] }) },
        {
          type: 'ResponseHeaderModifier',
          headers: headers({ add: [['x-upstream', 'filter']], set: [['x-resp', 'r']], remove: ['content-type'] }),
        },
      ]),
      route('order.test', [{ type: 'RequestHeaderModifier', headers: headers({ set: [['x-who', 'filter']] }) }], {
        policies: { transformation: 'who' },
      }),
      route('strip.test', [{ type: 'URLRewrite', path: { type: 'ReplacePrefixMatch', value: '/' } }], { match: prefixMatch('/prefix') }),
      route('prefix-one.test', [{ type: 'URLRewrite', path: { type: 'ReplacePrefixMatch', value: '/one' } }], {
        match: prefixMatch('/prefix/one'),
      }),
      route('full.test', [{ type: 'URLRewrite', hostname: 'rewritten.example', path: { type: 'ReplaceFullPath', value: '/one' } }], {
        match: prefixMatch('/full/one'),
      }),
      ...PREFIX_TABLE.map(([, prefix, replacement], i) =>
        route(`table${i}.test`, [{ type: 'URLRewrite', path: { type: 'ReplacePrefixMatch', value: replacement } }], {
          match: prefixMatch(prefix),
        }),
      ),
      route('redirect.test', [redirect({})], { backends: [] }),
      route('redirect-https.test', [redirect({ scheme: 'https', statusCode: 301 })], { backends: [] }),
      route('redirect-port.test', [redirect({ scheme: 'https', port: 8443, hostname: 'example.com' })], { backends: [] }),
      route('redirect-http80.test', [redirect({ scheme: 'http', port: 80 })], { backends: [] }),
      route('redirect-full.test', [redirect({ path: { type: 'ReplaceFullPath', value: '/new' }, statusCode: 308 })], { backends: [] }),
      route('redirect-prefix.test', [redirect({ path: { type: 'ReplacePrefixMatch', value: '/new-prefix' }, statusCode: 307 })], {
        backends: [],
        match: prefixMatch('/old'),
      }),
      route(
        'redirect-resp.test',
        [{ type: 'ResponseHeaderModifier', headers: headers({ set: [['x-resp', 'r']] }) }, redirect({ statusCode: 303 })],
        { backends: [] },
      ),
      route('redirect-jwt.test', [redirect({ scheme: 'https' })], { backends: [], policies: { jwt: 'strict' } }),
      { ...route('redirect-alt.test', [redirect({})], { backends: [] }), listeners: ['alt'] },
      route('redirect-alt-https.test', [redirect({ scheme: 'https' })], { backends: [], listeners: ['alt'] }),
      // Header names that are Object.prototype members: plain own headers, nothing else.
      route('proto.test', [
        {
          type: 'ResponseHeaderModifier',
          headers: headers({
            add: [
              ['constructor', 'c'],
              ['__proto__', 'p'],
            ],
            set: [['tostring', 't']],
          }),
        },
      ]),
      // Any host (an HTTP/1.0 request without Host reaches it): a redirect without hostname cannot be built.
      { ...route('any-host', [redirect({})], { backends: [], match: prefixMatch('/nohost') }), hostnames: [] },
      // Not servable: ReplacePrefixMatch needs a PathPrefix match; left out, its requests 404.
      route('bad.test', [{ type: 'URLRewrite', path: { type: 'ReplacePrefixMatch', value: '/x' } }], {
        match: { path: { type: 'Exact', value: '/exact' }, headers: [], queryParams: [] },
      }),
    ],
    policies: {
      jwt: { strict },
      authorization: {},
      transformation: {
        who: {
          policy: 'default/who',
          entries: [{ request: { metadata: [], add: [], set: [{ name: 'x-who', value: '"transformation"' }], remove: [] } }],
        },
      },
      backendAuth: {},
      backendTls: {},
    },
  };
}

beforeAll(async () => {
  upstream = await startEchoUpstream();
  key = await generateSigningKey('RS256', 'k1');
  store = new ConfigStore();
  const metrics = new ProxyMetrics(store, { defaultMetrics: false });
  expect(await applyConfig(store, config())).toBeUndefined();
  const logger = pino({ level: 'silent' });
  servers = await Promise.all([80, 8080].map((listenerPort) => buildGatewayServer({ store, metrics, logger, listenerPort })));
  [port, altPort] = (await Promise.all(
    servers.map(async (s) => {
      await s.listen({ port: 0, host: '127.0.0.1' });
      return (s.server.address() as AddressInfo).port;
    }),
  )) as [number, number];
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await upstream.close();
});

const get = (host: string, o: { path?: string; headers?: Record<string, string>; method?: string } = {}) => request(port, { host, ...o });
const seen = () => upstream.requests[upstream.requests.length - 1] as (typeof upstream.requests)[number];

describe('RequestHeaderModifier and ResponseHeaderModifier', () => {
  it('sets (replacing every value), adds (appending) and removes request headers, names case-insensitive', async () => {
    const res = await get('headers.test', {
      path: '/h',
      headers: { 'X-Set': 'client', 'X-Add': 'client', 'X-REMOVE': 'secret', 'x-other': 'kept' },
    });
    expect(res.status).toBe(200);
    const h = seen().headers;
    expect(h['x-set']).toBe('one');
    expect(h['x-add']).toBe('client, two');
    expect(h['x-remove']).toBeUndefined();
    expect(h['x-other']).toBe('kept');
  });

  it('adds a header the request did not have', async () => {
    await get('headers.test', { path: '/h' });
    expect(seen().headers['x-add']).toBe('two');
    expect(seen().headers['x-set']).toBe('one');
  });

  it("edits the upstream's response headers: add appends, set writes, remove drops", async () => {
    const res = await get('headers.test', { path: '/h' });
    expect(res.headers['x-upstream']).toBe('echo, filter');
    expect(res.headers['x-resp']).toBe('r');
    expect(res.headers['content-type']).toBeUndefined();
  });

  it("runs after the route's transformation: the filter's set wins", async () => {
    await get('order.test');
    expect(seen().headers['x-who']).toBe('filter');
  });
});

describe('URLRewrite', () => {
  it.each([
    ['strip.test', '/prefix/three', '/three'],
    ['strip.test', '/prefix', '/'],
    ['strip.test', '/prefix/', '/'],
    ['strip.test', '/prefix/a/b?q=1&r=2', '/a/b?q=1&r=2'],
    ['prefix-one.test', '/prefix/one/two', '/one/two'],
    ['prefix-one.test', '/prefix/one', '/one'],
    ['full.test', '/full/one/two', '/one'],
    ['full.test', '/full/one/two?some=arg', '/one?some=arg'],
  ])('%s %s is forwarded as %s (Gateway API conformance cases, query kept)', async (host, path, forwarded) => {
    const res = await get(host, { path });
    expect(res.status).toBe(200);
    expect(seen().url).toBe(forwarded);
  });

  it('does not rewrite a path the prefix does not match element-wise (/prefixed is not under /prefix)', async () => {
    expect((await get('strip.test', { path: '/prefixed' })).status).toBe(404);
  });

  it.each(PREFIX_TABLE.map((row, i) => [i, ...row] as const))(
    'spec table row %i: %s with prefix %j and ReplacePrefixMatch %j is forwarded as %s',
    async (i, path, _prefix, _replacement, forwarded) => {
      await get(`table${i}.test`, { path });
      expect(seen().url).toBe(forwarded);
    },
  );

  it('hostname replaces the upstream Host; X-Forwarded-Host keeps the client one', async () => {
    await get('full.test', { path: '/full/one' });
    expect(seen().headers.host).toBe('rewritten.example');
    expect(seen().headers['x-forwarded-host']).toBe('full.test');
  });

  it('replacePrefix (pure): a path outside the prefix is unchanged, prefix "/" prepends', () => {
    expect(replacePrefix('/other', '/foo', '/xyz')).toBe('/other');
    expect(replacePrefix('/a', '', '/xyz')).toBe('/xyz/a');
  });
});

describe('RequestRedirect', () => {
  it.each([
    ['redirect.test', '/p?q=1', {}, 302, 'http://redirect.test/p?q=1'],
    ['redirect.test:12345', '/p', {}, 302, 'http://redirect.test/p'],
    ['redirect-https.test', '/p', {}, 301, 'https://redirect-https.test/p'],
    ['redirect-port.test', '/p', {}, 302, 'https://example.com:8443/p'],
    ['redirect-http80.test', '/p', {}, 302, 'http://redirect-http80.test/p'],
    ['redirect-full.test', '/a/b?x=y', {}, 308, 'http://redirect-full.test/new?x=y'],
    ['redirect-prefix.test', '/old/x', {}, 307, 'http://redirect-prefix.test/new-prefix/x'],
    ['redirect-prefix.test', '/old', {}, 307, 'http://redirect-prefix.test/new-prefix'],
  ] as const)('%s %s answers %i with Location %s, no upstream call', async (host, path, _h, status, location) => {
    const before = upstream.requests.length;
    const res = await get(host, { path });
    expect(res.status).toBe(status);
    expect(res.headers.location).toBe(location);
    expect(res.body).toBe('');
    expect(upstream.requests.length).toBe(before);
  });

  it("on a listener of port 8080: the listener's port unless the filter sets a scheme (then 443, left out)", async () => {
    const alt = await request(altPort, { host: 'redirect-alt.test', path: '/p' });
    expect(alt.headers.location).toBe('http://redirect-alt.test:8080/p');
    const https = await request(altPort, { host: 'redirect-alt-https.test', path: '/p' });
    expect(https.headers.location).toBe('https://redirect-alt-https.test/p');
  });

  it('carries the rule ResponseHeaderModifier', async () => {
    const res = await get('redirect-resp.test', { path: '/p' });
    expect(res.status).toBe(303);
    expect(res.headers['x-resp']).toBe('r');
    expect(res.headers.location).toBe('http://redirect-resp.test/p');
  });

  it("never bypasses the route's JWT: no token 401, a valid token gets the redirect", async () => {
    const none = await get('redirect-jwt.test', { path: '/p' });
    expect(none.status).toBe(401);
    expect(none.headers.location).toBeUndefined();
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    const ok = await get('redirect-jwt.test', { path: '/p', headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(302);
    expect(ok.headers.location).toBe('https://redirect-jwt.test/p');
  });
});

describe('filters the proxy cannot apply', () => {
  it('a route whose ReplacePrefixMatch is not on a PathPrefix match is left out with a warning (404, never served without it)', async () => {
    expect(store.current?.warnings.some((w) => w.includes('default/bad.test/0/0 left out'))).toBe(true);
    expect((await get('bad.test', { path: '/exact' })).status).toBe(404);
  });

  it('a config of schema version 4 is refused (a v4 config cannot say it has no filters it would drop)', async () => {
    expect(await applyConfig(new ConfigStore(), { ...config(), schemaVersion: 4 as 5 })).toMatch(/^invalid config: schemaVersion: /);
  });
});

/** One request written as bytes on a new connection; the whole answer, read until the proxy closes it. */
const rawRequest = (text: string) =>
  new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });

describe('hostile names and requests', () => {
  it('response headers named after Object.prototype members are plain headers', async () => {
    const raw = await rawRequest('GET / HTTP/1.1\r\nHost: proto.test\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    const lines = raw.split('\r\n\r\n')[0]?.toLowerCase().split('\r\n') ?? [];
    expect(lines).toContain('constructor: c');
    expect(lines).toContain('__proto__: p');
    expect(lines).toContain('tostring: t');
  });

  it('a redirect without hostname on a request without Host: 400 PROXY_ERR_REDIRECT_NO_HOST, no Location', async () => {
    const raw = await rawRequest('GET /nohost HTTP/1.0\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.[01] 400 /);
    expect(raw).toContain('redirect needs a host: the request has none');
    expect(raw.toLowerCase()).not.toContain('location:');
  });
});
