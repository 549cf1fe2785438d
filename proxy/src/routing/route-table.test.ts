import type { CompiledListener, CompiledRoute } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { hostnameMatches, normalizeHost } from './hostname.js';
import { compileRouteTable, findVirtualHost, matchRoute, pickEndpoint, selectListener, type ListenerRoutes } from './route-table.js';

const listeners: CompiledListener[] = [
  { name: 'http', port: 80, protocol: 'HTTP' },
  { name: 'api', port: 80, hostname: 'api.example.com', protocol: 'HTTP' },
  { name: 'other', port: 8080, protocol: 'HTTP' },
];

let order = 0;
function route(
  id: string,
  m: Partial<CompiledRoute['match']> & { path?: CompiledRoute['match']['path'] },
  extra: Partial<CompiledRoute> = {},
): CompiledRoute {
  return {
    id,
    listeners: ['http'],
    hostnames: [],
    order: order++,
    backends: [],
    match: {
      path: m.path ?? { type: 'PathPrefix', value: '/' },
      headers: m.headers ?? [],
      queryParams: m.queryParams ?? [],
      ...(m.method ? { method: m.method } : {}),
    },
    ...extra,
  };
}

const routes: CompiledRoute[] = [
  route('catch-all', {}),
  route('prefix-foo', { path: { type: 'PathPrefix', value: '/foo' } }),
  route('prefix-foo-bar', { path: { type: 'PathPrefix', value: '/foo/bar/' } }),
  route('exact-foo', { path: { type: 'Exact', value: '/foo' } }),
  route('regex-v', { path: { type: 'RegularExpression', value: '/v[0-9]+/.*' } }),
  route('prefix-foo-post', { path: { type: 'PathPrefix', value: '/foo' }, method: 'POST' }),
  route('prefix-foo-header', { path: { type: 'PathPrefix', value: '/foo' }, headers: [{ type: 'Exact', name: 'X-Env', value: 'canary' }] }),
  route('prefix-foo-query', { path: { type: 'PathPrefix', value: '/foo' }, queryParams: [{ type: 'Exact', name: 'v', value: '2' }] }),
  route('older-twin', { path: { type: 'PathPrefix', value: '/twin' } }),
  route('younger-twin', { path: { type: 'PathPrefix', value: '/twin' } }),
  route('exact-host', {}, { hostnames: ['www.example.com'] }),
  route('exact-host-path', { path: { type: 'PathPrefix', value: '/only' } }, { hostnames: ['shop.example.com'] }),
  route('wildcard-host', {}, { hostnames: ['*.example.com'] }),
  route('api-listener', {}, { listeners: ['api'] }),
];
const table = compileRouteTable(listeners, routes);

function match(rawHost: string, path: string, method = 'GET', headers: Record<string, string> = {}, port = 80) {
  const host = normalizeHost(rawHost);
  const l = selectListener(table, port, host);
  if (!l) return 'no-listener';
  const [p, q] = path.split('?');
  const r = matchRoute(l, { host, method, path: p ?? '/', header: (n) => headers[n], query: new URLSearchParams(q ?? '') });
  return r.kind === 'route' ? r.route.id : r.kind;
}

describe('route precedence (Gateway API)', () => {
  it.each([
    ['/foo', 'GET', {}, 'exact-foo'],
    ['/foo/x', 'GET', {}, 'prefix-foo'],
    ['/foo/bar', 'GET', {}, 'prefix-foo-bar'],
    ['/foo/bar/baz', 'GET', {}, 'prefix-foo-bar'],
    ['/foobar', 'GET', {}, 'catch-all'],
    ['/foo/x', 'POST', {}, 'prefix-foo-post'],
    ['/foo/x', 'GET', { 'x-env': 'canary' }, 'prefix-foo-header'],
    ['/foo/x?v=2', 'GET', {}, 'prefix-foo-query'],
    ['/v1/items', 'GET', {}, 'regex-v'],
    ['/v1', 'GET', {}, 'catch-all'],
    ['/twin/a', 'GET', {}, 'older-twin'],
  ])('%s %s %j → %s', (path, method, headers, expected) => {
    expect(match('host.test', path, method, headers)).toBe(expected);
  });

  it.each([
    ['www.example.com', '/anything', 'exact-host'],
    ['a.example.com', '/x', 'wildcard-host'],
    ['a.b.example.com', '/x', 'wildcard-host'],
    ['example.com', '/x', 'catch-all'],
    ['WWW.Example.com', '/x', 'exact-host'],
    // The most specific hostname decides; its routes do not fall through to less specific ones.
    ['shop.example.com', '/only/1', 'exact-host-path'],
    ['shop.example.com', '/elsewhere', 'no-route'],
    ['api.example.com', '/x', 'api-listener'],
  ])('host %s path %s → %s', (host, path, expected) => {
    expect(match(host, path)).toBe(expected);
  });

  it('a port without listeners has no route', () => {
    expect(match('x', '/', 'GET', {}, 9999)).toBe('no-listener');
    expect(match('x', '/', 'GET', {}, 8080)).toBe('no-route');
  });

  it('a regular expression RE2 refuses leaves its route out (reported), never the table', () => {
    const t = compileRouteTable(listeners, [
      route('bad', { path: { type: 'RegularExpression', value: '(' } }),
      route('good', { path: { type: 'Exact', value: '/ok' } }),
    ]);
    expect(t.problems).toEqual([
      { route: 'bad', message: expect.stringMatching(/^path regular expression "\(": error parsing regexp: missing closing \)/) },
    ]);
    const l = selectListener(t, 80, 'x') as ListenerRoutes;
    expect(matchRoute(l, { host: 'x', method: 'GET', path: '/ok', header: () => undefined, query: new URLSearchParams() }).kind).toBe(
      'route',
    );
  });

  it('regular expressions run in linear time (RE2): a catastrophic pattern on a long input answers at once', () => {
    const t = compileRouteTable(listeners, [route('evil', { path: { type: 'RegularExpression', value: '/(a+)+b' } })]);
    const l = selectListener(t, 80, 'x') as ListenerRoutes;
    const evil = `/${'a'.repeat(8000)}c`;
    // Backtracking engines take ~2^8000 steps here; RE2 is linear. Bounded by the test timeout, not a clock.
    expect(matchRoute(l, { host: 'x', method: 'GET', path: evil, header: () => undefined, query: new URLSearchParams() }).kind).toBe(
      'no-route',
    );
  });

  it('Exact and PathPrefix values are compared in canonical form', () => {
    const t = compileRouteTable(listeners, [route('tilde', { path: { type: 'PathPrefix', value: '/%7euser' } })]);
    const l = selectListener(t, 80, 'x') as ListenerRoutes;
    expect(matchRoute(l, { host: 'x', method: 'GET', path: '/~user/a', header: () => undefined, query: new URLSearchParams() }).kind).toBe(
      'route',
    );
  });
});

describe('virtual host lookup', () => {
  /** Seeded PRNG (mulberry32): the same cases every run. */
  function prng(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('picks what a scan of the virtual hosts in rank order picks (exact, longest wildcard, catch-all), for 3,000 random hosts', () => {
    const random = prng(18);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const labels = ['a', 'b', 'example', 'com', 'x-y', 'Api', ''];
    const name = (n: number) => Array.from({ length: n }, () => pick(labels)).join('.');
    for (let round = 0; round < 30; round++) {
      const patterns = Array.from({ length: 12 }, () => {
        const r = random();
        return r < 0.1 ? undefined : r < 0.55 ? `*.${name(1 + Math.floor(random() * 3))}` : name(1 + Math.floor(random() * 4));
      });
      const rs = patterns.map((p, i) => route(`r${round}-${i}`, {}, p === undefined ? {} : { hostnames: [p] }));
      const l = compileRouteTable([{ name: 'http', port: 80, protocol: 'HTTP' }], rs).ports.get(80)?.[0] as ListenerRoutes;
      for (let i = 0; i < 100; i++) {
        const host =
          random() < 0.5 ? normalizeHost(name(1 + Math.floor(random() * 5))) : normalizeHost(pick(patterns)?.replace('*', pick(labels)));
        expect(findVirtualHost(l, host), `host ${JSON.stringify(host)}, patterns ${JSON.stringify(patterns)}`).toBe(
          l.vhosts.find((v) => hostnameMatches(v.pattern, host)),
        );
      }
    }
  });

  it('a host of 100,000 labels is looked up at the few suffixes as long as a wildcard, and still matches', () => {
    const l = compileRouteTable(
      [{ name: 'http', port: 80, protocol: 'HTTP' }],
      [route('w', {}, { hostnames: ['*.example.com'] })],
    ).ports.get(80)?.[0] as ListenerRoutes;
    const lookedUp: string[] = [];
    const counting: ListenerRoutes = {
      ...l,
      wildcards: { size: l.wildcards.size, get: (k: string) => (lookedUp.push(k), l.wildcards.get(k)) } as ReadonlyMap<string, never>,
    };
    expect(findVirtualHost(counting, `${'a.'.repeat(100_000)}example.com`)?.pattern).toBe('*.example.com');
    expect(lookedUp.length).toBeLessThanOrEqual(8);
    expect(findVirtualHost(counting, `${'a.'.repeat(100_000)}example.org`)).toBeUndefined();
    expect(lookedUp.length).toBeLessThanOrEqual(16);
  });

  it('a listener of 250,000 wildcard hostnames compiles (no argument list of one per hostname)', () => {
    const hostnames = Array.from({ length: 250_000 }, (_, i) => `*.h${i}.example.com`);
    const l = compileRouteTable([{ name: 'http', port: 80, protocol: 'HTTP' }], [route('many', {}, { hostnames })]).ports.get(
      80,
    )?.[0] as ListenerRoutes;
    expect(l.longestWildcard).toBe('.h249999.example.com'.length);
    expect(findVirtualHost(l, 'a.h123456.example.com')?.pattern).toBe('*.h123456.example.com');
  });

  it('a wildcard needs a label before its suffix; more labels match too', () => {
    const l = compileRouteTable(
      [{ name: 'http', port: 80, protocol: 'HTTP' }],
      [route('w', {}, { hostnames: ['*.Example.com'] }), route('e', {}, { hostnames: ['example.com'] })],
    ).ports.get(80)?.[0] as ListenerRoutes;
    const at = (host: string) => findVirtualHost(l, host)?.pattern;
    expect([at('a.example.com'), at('a.b.example.com'), at('example.com'), at('.example.com'), at('com'), at('')]).toEqual([
      '*.Example.com',
      '*.Example.com',
      'example.com',
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('pickEndpoint', () => {
  const a = { name: 'a', weight: 1, endpoints: [{ host: '127.0.0.1', port: 1 }] };
  const b = {
    name: 'b',
    weight: 3,
    endpoints: [
      { host: '127.0.0.1', port: 2 },
      { host: '127.0.0.1', port: 3 },
    ],
  };
  it('weights split traffic', () => {
    expect(pickEndpoint([a, b], () => 0.1)?.backend.name).toBe('a');
    expect(pickEndpoint([a, b], () => 0.3)?.backend.name).toBe('b');
  });
  it('weight 0 and empty backends are skipped; nothing left is undefined', () => {
    expect(pickEndpoint([{ ...a, weight: 0 }, b], () => 0)?.backend.name).toBe('b');
    expect(pickEndpoint([{ ...a, endpoints: [] }], () => 0)).toBeUndefined();
  });
});
