import { describe, expect, it } from 'vitest';
import { celHeaders, celSourceAddress, type CelActivation } from './activation.js';
import { toCelValue } from './cel-value.js';
import { compileExpression, type CelResult } from './compile.js';

/**
 * The idioms of upstream's docs and tests (authorization, claims to headers) against activations
 * shaped as the proxy builds them.
 */
const claims = toCelValue({
  sub: 'ignore@agentgateway.dev',
  iss: 'http://keycloak.example/realms/master',
  azp: 'my-client',
  exp: 1_700_000_000,
  iat: 1_699_990_000,
  roles: ['admin', 'dev'],
  groups: ['admins', 'eng'],
  group: 'eng',
  scope: 'openid read write',
  user: { role: 'admin' },
  level: 2,
  ratio: 0.5,
  tier: 'premium',
});

const activation: CelActivation = {
  jwt: claims,
  request: {
    method: 'GET',
    uri: 'http://example.com/admin/users?x=1',
    host: 'example.com',
    scheme: 'http',
    path: '/admin/users',
    pathAndQuery: '/admin/users?x=1',
    version: 'HTTP/1.1',
    headers: { 'x-my-header': 'cool-beans', 'x-multi': ['a', 'b'], 'x-pre-routing': 'yes' },
    body: '{"a": 1, "model": "gpt", "messages": [{"role": "user"}]}',
  },
  source: { address: '10.1.2.3', port: 54_321n },
  proxy: {
    gateway: { namespace: 'default', name: 'gw' },
    listener: { name: 'http' },
    route: { namespace: 'default', name: 'r', kind: 'HTTPRoute' },
  },
  metadata: { tenant: 'acme' },
};

function run(expr: string, act: CelActivation = activation): CelResult {
  const c = compileExpression(expr);
  if (!c.ok) throw new Error(`${expr}: ${c.error}`);
  return c.evaluate(act);
}

describe('upstream idioms', () => {
  it.each<[string, unknown]>([
    ['jwt.sub == "ignore@agentgateway.dev"', true],
    ["jwt.azp == 'my-client'", true],
    ['jwt.roles.contains("admin")', true],
    ['jwt.roles.contains("root")', false],
    ['jwt.user.role == "admin"', true],
    ['jwt.groups.contains("admins")', true],
    ["has(jwt.group) && jwt.group == 'eng'", true],
    ["has(jwt.team) && jwt.team == 'eng'", false],
    ["request.headers['x-my-header'] == 'cool-beans'", true],
    ['request.headers["x-pre-routing"] == "yes"', true],
    ["request.headers['x-multi']", ['a', 'b']],
    ["request.path.startsWith('/admin')", true],
    ["request.method == 'GET' && request.path.startsWith('/admin/')", true],
    ['request.pathAndQuery', '/admin/users?x=1'],
    ["cidr('10.0.0.0/8').containsIP(source.address)", true],
    ["cidr('192.168.0.0/16').containsIP(source.address)", false],
    ['source.port', 54_321n],
    ["jwt.scope.split(' ').exists(s, s == 'read')", true],
    ["jwt.scope.split(' ').exists(s, s == 'admin')", false],
    ["default(jwt.role, 'user')", 'user'],
    ["default(jwt.tier, 'free')", 'premium'],
    ["default(request.headers['x-user-id'], 'anonymous')", 'anonymous'],
    ["default(json(request.body).user.preferences.theme, 'light')", 'light'],
    ['string(jwt.exp)', '1700000000'],
    ['jwt.exp > 1699999999', true],
    ['jwt.exp + 60', 1_700_000_060n],
    ['jwt.level == 2', true],
    ['jwt.level == 2.0', true],
    ['jwt.level == 2u', true],
    ['jwt.ratio == 0.5', true],
    ['type(jwt.exp) == int', true],
    ["jwt.groups.join(',')", 'admins,eng'],
    ['toJson(jwt.roles)', '["admin","dev"]'],
    ['jwt.iss', 'http://keycloak.example/realms/master'],
    ["jwt.iss.contains('realms/master')", true],
    ['json(request.body).a', 1n],
    ['json(request.body).messages[0].role', 'user'],
    ["json(request.body).with(b, b.model + ':' + string(b.messages.size()))", 'gpt:1'],
    ['metadata.tenant', 'acme'],
    ['proxy.gateway.name', 'gw'],
    ["proxy.gateway.namespace + '/' + proxy.route.name + ' ' + proxy.route.kind", 'default/r HTTPRoute'],
    ['proxy.listener.name', 'http'],
    ["'Bearer ' + jwt.sub", 'Bearer ignore@agentgateway.dev'],
  ])('%s', (expr, want) => {
    expect(run(expr)).toEqual({ ok: true, value: want });
  });

  it.each<[string, string]>([
    ["jwt.sub == 'x'", 'unknown_variable'],
    ["has(jwt.group) && jwt.group == 'eng'", 'unknown_variable'],
    ['jwt.roles.contains("admin")', 'unknown_variable'],
  ])('without a validated token, %s is an error (%s), i.e. false for authorization', (expr, code) => {
    const { jwt: _jwt, ...withoutJwt } = activation;
    expect(run(expr, withoutJwt)).toMatchObject({ ok: false, code });
  });

  it("without a validated token, default(jwt.role, 'user') falls back", () => {
    expect(run("default(jwt.role, 'user')", {})).toEqual({ ok: true, value: 'user' });
    expect(run("coalesce(jwt.role, request.headers['x-role'], 'user')", {})).toEqual({ ok: true, value: 'user' });
  });

  it('a missing header is no_such_key (default() falls back, a comparison fails)', () => {
    expect(run("request.headers['x-none'] == 'a'")).toMatchObject({ ok: false, code: 'no_such_key' });
  });
});

describe('activation shape', () => {
  it('reads lazily: a getter runs only when the expression reads it', () => {
    let built = 0;
    const act: CelActivation = {
      jwt: { sub: 'a' },
      get request() {
        built++;
        return { method: 'GET', uri: '/', host: 'h', scheme: 'http', path: '/', pathAndQuery: '/', version: 'HTTP/1.1', headers: {} };
      },
    };
    expect(run('jwt.sub', act)).toEqual({ ok: true, value: 'a' });
    expect(built).toBe(0);
    expect(run("request.path == '/'", act)).toEqual({ ok: true, value: true });
    expect(built).toBe(1);
  });

  it('accepts headers as a Map', () => {
    const act: CelActivation = { request: { ...activation.request!, headers: new Map([['x-a', 'b']]) } };
    expect(run("request.headers['x-a']", act)).toEqual({ ok: true, value: 'b' });
  });

  it('treats undefined fields as absent', () => {
    expect(run('has(jwt.a)', { jwt: { a: undefined } })).toEqual({ ok: true, value: false });
    expect(run("default(jwt.a, 'x')", { jwt: { a: undefined } })).toEqual({ ok: true, value: 'x' });
  });

  it('celHeaders: one value is a string, several a list; empty ones are dropped', () => {
    expect(celHeaders({ a: ['1'], b: ['1', '2'], c: [], d: undefined })).toEqual({ a: '1', b: ['1', '2'] });
  });

  it('celSourceAddress unwraps IPv4-mapped IPv6 addresses only', () => {
    expect(celSourceAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(celSourceAddress('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(celSourceAddress('10.1.2.3')).toBe('10.1.2.3');
    expect(celSourceAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('toCelValue (JSON claims to CEL)', () => {
  it('makes integral numbers ints and keeps the rest', () => {
    expect(toCelValue({ a: 1, b: 1.5, c: -3, d: [1, 'x', null, true], e: { f: 2 }, g: 2 ** 60 })).toEqual({
      a: 1n,
      b: 1.5,
      c: -3n,
      d: [1n, 'x', null, true],
      e: { f: 2n },
      g: 2 ** 60,
    });
  });

  it('does not modify its input and keeps "__proto__" as an ordinary key', () => {
    const input = JSON.parse('{"n": 1, "__proto__": {"polluted": 1}}') as Record<string, unknown>;
    const out = toCelValue(input) as Record<string, unknown>;
    expect(input['n']).toBe(1);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(run('x["__proto__"].polluted', { metadata: {}, ...{ x: out } } as CelActivation)).toEqual({ ok: true, value: 1n });
  });

  it('refuses nesting deeper than its bound', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(() => toCelValue(deep)).toThrow(RangeError);
  });
});
