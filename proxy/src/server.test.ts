import type { CompiledJwtPolicy, CompiledRoute, ProxyConfigInput } from '@agw/api';
import { generateSigningKey, mintToken, rawRequest, request, startEchoUpstream, type EchoUpstream, type SigningKey } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildAdminServer, buildGatewayServer } from './server.js';

const ISS = 'https://agentgateway.dev';
const NO_TOKEN = 'authentication failure: no bearer token found';
let upstream: EchoUpstream;
let k1: SigningKey, k2: SigningKey, stranger: SigningKey;
let store: ConfigStore, metrics: ProxyMetrics;
let gw: FastifyInstance, preGw: FastifyInstance, admin: FastifyInstance;
let port: number, prePort: number, adminPort: number;

const jwtPolicy = (
  mode: CompiledJwtPolicy['mode'],
  location: CompiledJwtPolicy['location'] = { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
): CompiledJwtPolicy => ({
  policy: `default/${mode.toLowerCase()}`,
  mode,
  location,
  providers: [
    { id: 'p#0', issuer: ISS, keys: [k1.jwk] as never },
    { id: 'p#1', issuer: 'https://second.example', keys: [k2.jwk] as never },
  ],
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

function config(version: string): ProxyConfigInput {
  return {
    schemaVersion: 5,
    version,
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [
      { name: 'http', port: 80 },
      { name: 'pre', port: 8080, preRouting: { jwt: 'strict' } },
    ],
    routes: [
      r('insecureroute.com'),
      r('secureroute.com', { policies: { jwt: 'strict' } }),
      r('optional.test', { policies: { jwt: 'optional' } }),
      r('permissive.test', { policies: { jwt: 'permissive' } }),
      r('query.test', { policies: { jwt: 'query' } }),
      r('cookie.test', { policies: { jwt: 'cookie' } }),
      r('header.test', { policies: { jwt: 'header' } }),
      r('noendpoints.test', { backends: [{ name: 'default/empty:80', weight: 1, endpoints: [] }] }),
      r('nobackends.test', { backends: [] }),
      r('slow.test', { timeoutMs: 200 }),
      { ...r('pre.test'), listeners: ['pre'], match: { path: { type: 'Exact', value: '/exists' }, headers: [], queryParams: [] } },
    ],
    policies: {
      jwt: {
        strict: jwtPolicy('Strict'),
        optional: jwtPolicy('Optional'),
        permissive: jwtPolicy('Permissive'),
        query: jwtPolicy('Strict', { kind: 'query', name: 'access_token' }),
        cookie: jwtPolicy('Strict', { kind: 'cookie', name: 'session' }),
        header: jwtPolicy('Strict', { kind: 'header', name: 'x-jwt', prefix: 'Token ' }),
      },
    },
  };
}

beforeAll(async () => {
  upstream = await startEchoUpstream();
  [k1, k2, stranger] = await Promise.all([
    generateSigningKey('RS256', 'k1'),
    generateSigningKey('ES256', 'k2'),
    generateSigningKey('RS256', 'stranger'),
  ]);
  store = new ConfigStore();
  metrics = new ProxyMetrics(store, { defaultMetrics: false });
  const logger = pino({ level: 'silent' });
  gw = await buildGatewayServer({ store, metrics, logger, listenerPort: 80 });
  preGw = await buildGatewayServer({ store, metrics, logger, listenerPort: 8080 });
  admin = await buildAdminServer({ stores: () => new Map([['default/gw', store]]), metrics, logger });
  const listen = async (app: FastifyInstance) => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return (app.server.address() as AddressInfo).port;
  };
  [port, prePort, adminPort] = await Promise.all([listen(gw), listen(preGw), listen(admin)]);
});

afterAll(async () => {
  await Promise.all([gw.close(), preGw.close(), admin.close()]);
  await upstream.close();
});

const token = (key = k1, claims: Record<string, unknown> = {}) =>
  mintToken(key, { claims: { iss: key === k2 ? 'https://second.example' : ISS, sub: 'ignore@agentgateway.dev', ...claims } });
const get = (host: string, o: { path?: string; headers?: Record<string, string> } = {}) => request(port, { host, ...o });
const lastUpstream = () => upstream.requests[upstream.requests.length - 1];

describe('before any config', () => {
  it('answers 503 and is not ready', async () => {
    expect((await get('secureroute.com')).status).toBe(503);
    expect((await request(adminPort, { path: '/readyz' })).status).toBe(503);
  });
});

describe('proxy with config', () => {
  beforeAll(async () => {
    expect(await applyConfig(store, config('v1'))).toBeUndefined();
  });

  it('is ready and routes a request without policy to the upstream, httpbin-style', async () => {
    expect((await request(adminPort, { path: '/readyz' })).status).toBe(200);
    const res = await get('insecureroute.com', { path: '/headers' });
    expect(res.status).toBe(200);
    const headers = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    expect(headers['Host']).toBe('insecureroute.com');
    expect(headers['X-Forwarded-Proto']).toBe('http');
    expect(headers['X-Forwarded-For']).toBe('127.0.0.1');
    expect(headers['X-Forwarded-Host']).toBe('insecureroute.com');
    expect(headers['X-Request-Id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe('Strict (upstream e2e matrix)', () => {
    it('no token → 401 with the exact body, text/plain, RFC 6750 challenge without error', async () => {
      const res = await get('secureroute.com');
      expect(res.status).toBe(401);
      expect(res.body).toBe(NO_TOKEN);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.headers['content-length']).toBe('45');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="agentgateway"');
    });

    it('Bearer nosuchkey → 401 malformed, challenge with error="invalid_token"', async () => {
      const res = await get('secureroute.com', { headers: { authorization: 'Bearer nosuchkey' } });
      expect(res.status).toBe(401);
      expect(res.body).toBe('authentication failure: the token header is malformed: Error(InvalidToken)');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="agentgateway", error="invalid_token"');
    });

    it.each([
      ['first provider', 'k1'],
      ['second provider', 'k2'],
    ])('valid token of the %s → 200; Authorization not forwarded', async (_n, which) => {
      const res = await get('secureroute.com', {
        path: '/headers',
        headers: { authorization: `Bearer ${await token(which === 'k1' ? k1 : k2)}`, 'x-other': 'kept' },
      });
      expect(res.status).toBe(200);
      const headers = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
      expect(headers['Authorization']).toBeUndefined();
      expect(headers['X-Other']).toBe('kept');
    });

    it('one keep-alive connection: its remembered token passes again, and nothing else passes on its strength', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const send = (authorization?: string) =>
        new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
          const req = httpRequest(
            {
              port,
              host: '127.0.0.1',
              path: '/headers',
              agent,
              headers: { host: 'secureroute.com', ...(authorization ? { authorization } : {}) },
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (body += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
            },
          );
          req.on('error', reject);
          req.end();
        });
      try {
        const good = await token();
        const [h, p] = good.split('.');
        const answers = [
          await send(`Bearer ${good}`),
          await send(`Bearer ${good}`),
          await send(`Bearer ${h}.${p}.${'A'.repeat(342)}`), // the same header and claims, another signature
          await send(`Bearer ${await token(k1, { sub: 'someone-else' })}`),
          await send(),
          await send(`Bearer ${good}`),
        ];
        expect(answers.map((a) => a.status)).toEqual([200, 200, 401, 200, 401, 200]);
        expect(answers.slice(1).every((a) => a.reused)).toBe(true);
        expect(answers[2]?.body).toMatch(/^authentication failure: /);
        expect(answers[4]?.body).toBe(NO_TOKEN);
        expect((JSON.parse(answers[3]?.body ?? '{}') as { headers: Record<string, string> }).headers['Authorization']).toBeUndefined();
      } finally {
        agent.destroy();
      }
    });

    it('token signed by an unknown key → 401 unknown key', async () => {
      const res = await get('secureroute.com', { headers: { authorization: `Bearer ${await token(stranger)}` } });
      expect([res.status, res.body]).toEqual([401, 'authentication failure: token uses the unknown key "stranger"']);
    });

    it('two Authorization headers → 400 invalid_request (Node would keep only the first)', async () => {
      const t = await token();
      const res = await rawRequest(
        port,
        `GET / HTTP/1.1\r\nHost: secureroute.com\r\nAuthorization: Bearer ${t}\r\nAuthorization: Bearer ${t}\r\nConnection: close\r\n\r\n`,
      );
      expect(res.status).toBe(400);
      expect(res.head).toMatch(/www-authenticate: Bearer realm="agentgateway", error="invalid_request"/i);
      expect(res.body).toBe('authentication failure: more than one token found in the request');
    });

    it('a token in the header and in access_token → 400', async () => {
      const t = await token();
      const res = await get('secureroute.com', { path: `/?access_token=${t}`, headers: { authorization: `Bearer ${t}` } });
      expect(res.status).toBe(400);
    });

    it('lower-case "bearer" is accepted', async () => {
      expect((await get('secureroute.com', { headers: { authorization: `bearer ${await token()}` } })).status).toBe(200);
    });

    it('gRPC request without token → HTTP 200, grpc-status 16, percent-encoded message', async () => {
      const res = await get('secureroute.com', { headers: { 'content-type': 'application/grpc' } });
      expect(res.status).toBe(200);
      expect(res.headers['grpc-status']).toBe('16');
      expect(decodeURIComponent(String(res.headers['grpc-message']))).toBe(NO_TOKEN);
    });
  });

  describe('Optional and Permissive (upstream §4.4)', () => {
    it('Optional: no token passes; invalid → 401; valid passes with Authorization removed', async () => {
      expect((await get('optional.test')).status).toBe(200);
      const bad = await get('optional.test', { headers: { authorization: 'Bearer invalid-token' } });
      expect([bad.status, bad.body]).toEqual([401, 'authentication failure: the token header is malformed: Error(InvalidToken)']);
      const ok = await get('optional.test', { headers: { authorization: `Bearer ${await token()}` } });
      expect(ok.status).toBe(200);
      expect(lastUpstream()?.headers.authorization).toBeUndefined();
    });

    it('Permissive: no token passes; invalid passes with the header kept; valid passes with it removed', async () => {
      expect((await get('permissive.test')).status).toBe(200);
      const bad = await get('permissive.test', { headers: { authorization: 'Bearer invalid-token' } });
      expect(bad.status).toBe(200);
      expect(lastUpstream()?.headers.authorization).toBe('Bearer invalid-token');
      expect((await get('permissive.test', { headers: { authorization: `Bearer ${await token()}` } })).status).toBe(200);
      expect(lastUpstream()?.headers.authorization).toBeUndefined();
    });
  });

  describe('token locations', () => {
    it('query parameter: validated, then removed from the forwarded URL (other parameters kept)', async () => {
      expect((await get('query.test', { path: '/p?keep=yes' })).status).toBe(401);
      const res = await get('query.test', { path: `/p?access_token=${await token()}&keep=yes` });
      expect(res.status).toBe(200);
      expect(lastUpstream()?.url).toBe('/p?keep=yes');
    });

    it('cookie: validated, then removed (other cookies kept)', async () => {
      const res = await get('cookie.test', { headers: { cookie: `a=1; session=${await token()}; b=2` } });
      expect(res.status).toBe(200);
      expect(lastUpstream()?.headers.cookie).toBe('a=1; b=2');
    });

    it('custom header with prefix: validated and removed; Authorization untouched', async () => {
      const res = await get('header.test', { headers: { 'x-jwt': `Token ${await token()}` } });
      expect(res.status).toBe(200);
      expect(lastUpstream()?.headers['x-jwt']).toBeUndefined();
      expect((await get('header.test', { headers: { 'x-jwt': `Bearer ${await token()}` } })).status).toBe(401);
    });
  });

  describe('PreRouting policy on a listener', () => {
    it('runs before routing: an unknown path gets 401, not 404', async () => {
      expect((await request(prePort, { host: 'pre.test', path: '/nope' })).status).toBe(401);
      const t = await token();
      expect((await request(prePort, { host: 'pre.test', path: '/nope', headers: { authorization: `Bearer ${t}` } })).status).toBe(404);
      expect((await request(prePort, { host: 'pre.test', path: '/exists', headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    });
  });

  describe('routing errors', () => {
    it('no matching route → 404; no endpoints → 503; no backends → 500', async () => {
      expect((await get('unknown.test')).body).toBe('route not found');
      const noEndpoints = await get('noendpoints.test');
      expect([noEndpoints.status, noEndpoints.body]).toEqual([503, 'no healthy backends']);
      const noBackends = await get('nobackends.test');
      expect([noBackends.status, noBackends.body]).toEqual([500, 'no valid backends']);
    });

    it('an HTTPRoute timeout answers 504 when the upstream is slower; without one the request waits', async () => {
      const slow = await get('slow.test', { path: '/delay/1500' });
      expect(slow.status).toBe(504);
      expect(slow.body).toBe('request timeout');
      expect((await get('slow.test', { path: '/delay/10' })).status).toBe(200);
      expect((await get('insecureroute.com', { path: '/delay/400' })).status).toBe(200);
    });

    it('request bodies stream to the upstream', async () => {
      const res = await request(port, {
        host: 'insecureroute.com',
        method: 'POST',
        path: '/post',
        body: 'x'.repeat(100_000),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.status).toBe(200);
      expect(lastUpstream()?.body.length).toBe(100_000);
    });
  });

  describe('config updates', () => {
    it('a config with a broken frame is rejected with a precise reason and the last good one keeps serving', async () => {
      expect(await applyConfig(store, { ...config('v2'), schemaVersion: 9 })).toMatch(/^invalid config: schemaVersion: /);
      expect(await applyConfig(store, { ...config('v3'), listeners: 'nope' })).toMatch(/^invalid config: listeners: /);
      expect(store.current?.config.version).toBe('v1');
      expect((await get('secureroute.com', { headers: { authorization: `Bearer ${await token()}` } })).status).toBe(200);
    });

    it('metrics count JWT results by policy, provider and reason; the dump has no key material', async () => {
      const text = (await request(adminPort, { path: '/metrics' })).body;
      expect(text).toMatch(/agw_jwt_auth_total\{policy="default\/strict",provider="p#0",result="valid",reason=""\} \d+/);
      expect(text).toMatch(
        /agw_jwt_auth_total\{policy="default\/strict",provider="",result="missing",reason="PROXY_ERR_JWT_MISSING"\} \d+/,
      );
      expect(text).toMatch(/agw_config_info\{version="v1"\} 1/);
      expect(text).toMatch(/agw_config_updates_total\{result="rejected"\} 2/);
      expect(text).toMatch(/agw_jwt_keys\{policy="default\/strict",provider="p#1"\} 1/);
      const dump = (await request(adminPort, { path: '/config_dump' })).body;
      expect(dump).toContain('"kid":"k1"');
      expect(dump).not.toContain(String(k1.jwk.n));
    });
  });
});

describe('one bad route or policy is isolated, never the whole config', () => {
  afterAll(async () => {
    expect(await applyConfig(store, config('v6'))).toBeUndefined();
  });

  it('routes and policies the proxy cannot compile are left out or answer 500; the rest applies, with warnings', async () => {
    const base = config('v5');
    const routes = [
      ...base.routes,
      r('badregex.test', { match: { path: { type: 'RegularExpression', value: '/(unclosed' }, headers: [], queryParams: [] } }),
      r('badheader.test', {
        match: {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'RegularExpression', name: 'x', value: '(?=lookahead)' }],
          queryParams: [],
        },
      }),
      r('missingpolicy.test', { policies: { jwt: 'missing' } }),
      r('brokenpolicy.test', { policies: { jwt: 'broken' } }),
      { id: 'default/malformed/0/0', listeners: 'not-a-list' },
      r('strayhost.test', { listeners: ['http', 'nosuchlistener'] }),
    ];
    const input = { ...base, routes, policies: { jwt: { ...base.policies.jwt, broken: { policy: 'default/broken', mode: 'Sometimes' } } } };
    expect(await applyConfig(store, input)).toBeUndefined();
    expect(store.current?.config.version).toBe('v5');
    const warnings = store.current?.warnings ?? [];
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^route default\/badregex.test\/0\/0 left out: path regular expression "\/\(unclosed": error parsing regexp: missing closing \)/,
        ),
        expect.stringMatching(/^route default\/badheader.test\/0\/0 left out: header x regular expression/),
        'route default/missingpolicy.test/0/0 answers 500: JWT policy missing is not available',
        expect.stringMatching(/^jwt policy broken left out \(its routes answer 500\): mode: /),
        expect.stringMatching(/^route "default\/malformed\/0\/0" left out: /),
        'route default/strayhost.test/0/0: unknown listener nosuchlistener ignored',
      ]),
    );
    // The rest of the config serves, policies included.
    expect((await get('secureroute.com')).status).toBe(401);
    expect((await get('secureroute.com', { headers: { authorization: `Bearer ${await token()}` } })).status).toBe(200);
    expect((await get('strayhost.test')).status).toBe(200);
    // A route whose policy is unavailable fails closed, even with a valid token.
    for (const host of ['missingpolicy.test', 'brokenpolicy.test']) {
      const res = await get(host, { headers: { authorization: `Bearer ${await token()}` } });
      expect(res.status).toBe(500);
      expect(res.body).toBe('policy unavailable');
    }
    // A left-out route matches nothing.
    expect((await get('badregex.test', { path: '/(unclosed' })).status).toBe(404);
    expect((await get('badheader.test', { headers: { x: 'lookahead' } })).status).toBe(404);
  });

  it('a PreRouting policy that is unavailable fails closed for the whole listener', async () => {
    const base = config('v5b');
    const listeners = [
      { name: 'http', port: 80 },
      { name: 'pre', port: 8080, preRouting: { jwt: 'gone' } },
    ];
    expect(await applyConfig(store, { ...base, listeners })).toBeUndefined();
    expect(store.current?.warnings).toContain('listener pre answers 500: JWT policy gone is not available');
    const res = await request(prePort, { host: 'pre.test', path: '/exists', headers: { authorization: `Bearer ${await token()}` } });
    expect(res.status).toBe(500);
    expect(res.body).toBe('policy unavailable');
  });
});

describe('verifier reuse across configs', () => {
  it('an unchanged policy keeps its verifier (and token cache); a changed one gets a new one', async () => {
    const before = store.current?.verifiers.get('strict');
    const changed = config('v4');
    const jwt = changed.policies.jwt as Record<string, CompiledJwtPolicy>;
    jwt['optional'] = { ...(jwt['optional'] as CompiledJwtPolicy), mode: 'Strict' };
    expect(await applyConfig(store, changed)).toBeUndefined();
    expect(store.current?.verifiers.get('strict')).toBe(before);
    expect(store.current?.verifiers.get('optional')).not.toBe(undefined);
    expect(store.current?.verifiers.get('optional')?.policy.mode).toBe('Strict');
  });
});
