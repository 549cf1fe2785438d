#!/usr/bin/env node
/**
 * Proxy benchmark: in one run and one process tree, the same load against
 *   upstream direct | proxy, no policy (without and with the JWT rows' Authorization header) |
 *   proxy + JWT cache hit (RS256, ES256, EdDSA) |
 *   proxy + JWT RS256 cache hit with the verified-token cache full at its default bound (FULL_TOKENS
 *   distinct tokens sent through it first, as in production's steady state; issue 18) |
 *   proxy + JWT RS256/ES256 cache miss (MISS_TOKENS distinct tokens cycled through a smaller
 *   verified-token cache: every request pays hash, lookup, signature check, insert and eviction)
 * then a fixed 1,000 requests/s for added latency. Reports requests/s, p50/p90/p99, CPU µs per
 * request of the proxy process (from /proc, the steadiest figure on a shared machine) and ratios.
 * A reference row runs beside them: a bare Node forwarder (node-forwarder.ts), the floor any Node
 * proxy pays on this machine before routing, checking or observing anything.
 *   node bench/dist/proxy-bench.js [--duration 10] [--connections 32] [--out bench/reports]
 */
import { PROXY_CONFIG_SCHEMA_VERSION } from '@agw/api';
import { generateSigningKey, jwks, mintToken, signRaw } from '@agw/test-kit';
import autocannon from 'autocannon';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSecondsTree as cpuSeconds } from './cpu.js';
import { fixedRateInChild, type LatencyResult } from './fixed-rate.js';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    out: { type: 'string', default: join(root, 'bench/reports') },
  },
});
/** Seconds per scenario in total, split over ROUNDS interleaved rounds so that machine drift hits every scenario alike. */
const DURATION = Number(values.duration);
const ROUNDS = Number(values.rounds);
/**
 * Seconds of untimed load per scenario before the rounds. Without it the first scenario on each
 * fresh process (the no-policy row, every ratio's base) paid for compiling the request path inside
 * its first 4 s window: a one-route A/B measured 197.7 µs per request cold against 162.8 warm.
 */
const WARMUP_SECONDS = 2;
const CONNECTIONS = Number(values.connections);
/** Distinct tokens cycled in the cache-miss scenarios, and the cache size of the proxy serving them: a cycle longer than the cache misses every time. */
const MISS_TOKENS = 3000;
const MISS_CACHE_ENTRIES = 1000;
/** Distinct tokens sent once each through the proxy's default-size cache (DEFAULT_CACHE_ENTRIES) before the full-cache row. */
const FULL_TOKENS = 10_000;
/**
 * The 1,000 requests/s rows: interleaved rounds of FIXED_SECONDS each (4,000 requests a round), each
 * percentile the median of its rounds. One 8 s run per row, in sequence, let one noisy stretch of
 * this shared machine land on one row: the upstream-direct row alone measured p99 1.2–6.0 ms in
 * consecutive runs.
 */
const FIXED_ROUNDS = 4;
const FIXED_SECONDS = 4;
const FIXED_RATE = 1000;
/** The reference row's name (node-forwarder.ts). */
const FORWARDER = 'Node forwarder (reference: node:http + undici, the same forwarding headers; no routing, policy or framework)';

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
async function until(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered`);
}
function child(args: string[]): ChildProcess {
  const c = spawn('node', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  process.on('exit', () => c.kill());
  return c;
}

/** The proxy's verified-token cache lookups so far (agw_jwt_cache_lookups on its admin port). */
async function cacheLookups(adminPort: number): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const read = (outcome: string) =>
    Number(new RegExp(`^agw_jwt_cache_lookups\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { hit: read('hit'), miss: read('miss') };
}

/** Entries in one policy's verified-token cache (agw_jwt_cache_entries on the admin port). */
async function cacheSize(adminPort: number, policy: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return Number(new RegExp(`^agw_jwt_cache_entries\\{policy="${policy}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

interface Result {
  name: string;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  cpuUsPerReq?: number;
}

interface Scenario {
  name: string;
  port: number;
  host: string;
  headers: Record<string, string>;
  pid: number;
  /** Sent in turn as `Authorization: Bearer …`, one per request across all connections. */
  tokens?: readonly string[];
  /** HTTPS (HTTP/1.1 over TLS, keep-alive; SNI = host). */
  tls?: boolean;
}

/** Where each token list's cycle stands, across rounds: a round must not restart at tokens still in the cache. */
const tokenCursor = new WeakMap<readonly string[], number>();

/** autocannon options for a scenario: fixed headers, or a new token on every request. */
function load(s: Scenario, duration: number): autocannon.Options {
  const base = {
    url: `${s.tls === true ? 'https' : 'http'}://127.0.0.1:${s.port}/headers`,
    connections: CONNECTIONS,
    duration,
    headers: { host: s.host, ...s.headers },
    ...(s.tls === true ? { servername: s.host } : {}),
  };
  const tokens = s.tokens;
  if (tokens === undefined) return base;
  return {
    ...base,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${nextToken(tokens)}` } }) }],
  };
}

function nextToken(tokens: readonly string[]): string {
  const i = tokenCursor.get(tokens) ?? 0;
  tokenCursor.set(tokens, i + 1);
  return tokens[i % tokens.length] ?? '';
}

/** The middle value (the upper of the two middle ones for an even count), 0 for none. */
const median = (xs: readonly number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;

/** Runs every scenario ROUNDS times, round-robin, and sums requests, time and CPU per scenario. */
async function loadAll(scenarios: Scenario[]): Promise<Result[]> {
  const acc = scenarios.map((s) => ({
    s,
    requests: 0,
    seconds: 0,
    cpu: 0,
    errors: 0,
    non2xx: 0,
    p50: [] as number[],
    p90: [] as number[],
    p99: [] as number[],
  }));
  for (const a of acc) await autocannon(load(a.s, WARMUP_SECONDS));
  for (let round = 0; round < ROUNDS; round++) {
    for (const a of acc) {
      const before = cpuSeconds(a.s.pid);
      const r = await autocannon(load(a.s, DURATION / ROUNDS));
      a.cpu += cpuSeconds(a.s.pid) - before;
      a.requests += r.requests.total;
      a.seconds += r.duration;
      a.errors += r.errors + r.timeouts;
      a.non2xx += r.non2xx;
      a.p50.push(r.latency.p50);
      a.p90.push(r.latency.p90);
      a.p99.push(r.latency.p99);
    }
  }
  return acc.map((a) => ({
    name: a.s.name,
    rps: Math.round(a.requests / a.seconds),
    p50: median(a.p50),
    p90: median(a.p90),
    p99: median(a.p99),
    errors: a.errors,
    non2xx: a.non2xx,
    requests: a.requests,
    cpuUsPerReq: Math.round(((a.cpu * 1e6) / Math.max(1, a.requests)) * 10) / 10,
  }));
}

async function main(): Promise<void> {
  const [rs, es, ed] = await Promise.all([
    generateSigningKey('RS256', 'rs'),
    generateSigningKey('ES256', 'es'),
    generateSigningKey('EdDSA', 'ed'),
  ]);
  const upstreamPort = await freePort();
  const upstreamScript = `require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');s.end(JSON.stringify({headers:q.headers}))}).listen(${upstreamPort},'127.0.0.1')`;
  const upstream = child(['-e', upstreamScript]);
  const forwarderPort = await freePort();
  const forwarder = child([join(root, 'bench/dist/node-forwarder.js'), String(forwarderPort), String(upstreamPort)]);
  const policy = (id: string, k: typeof rs) => ({
    policy: `bench/${id}`,
    mode: 'Strict',
    location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
    providers: [{ id, issuer: 'https://bench', keys: jwks(k).keys }],
  });
  const route = (host: string, jwt?: string, more: Record<string, unknown> = {}, listener = 'http') => ({
    id: `bench/${host}/0/0`,
    listeners: [listener],
    hostnames: [host],
    order: 0,
    match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
    backends: [{ name: 'bench/upstream:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }] }],
    ...(jwt ? { policies: { jwt, ...more } } : {}),
  });
  const setHeaders = (policy: string, set: Array<{ name: string; value: string }>) => ({
    policy,
    entries: [{ request: { metadata: [], add: [], set, remove: [] } }],
  });
  // Ten rules, all evaluated on the allowed path: 3 Deny (false), 3 Require (true), 4 Allow (the last one true).
  const tenRules = [
    ...[1, 2, 3].map((i) => ({ action: 'Deny', expression: `jwt.sub == 'blocked-${i}'` })),
    ...['has(jwt.sub)', "jwt.iss == 'https://bench'", "request.method != 'TRACE'"].map((expression) => ({ action: 'Require', expression })),
    ...[1, 2, 3].map((i) => ({ action: 'Allow', expression: `jwt.sub == 'other-${i}'` })),
    { action: 'Allow', expression: "jwt.sub == 'bench'" },
  ];
  // PreRouting: a header set from the request before route selection, and a route matched on it.
  const preRoute = {
    ...route('pre.bench', undefined, {}, 'pre'),
    match: { path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'x-tier', value: 'premium' }], queryParams: [] },
  };
  // An HTTPS listener (TLS 1.3, P-256 certificate made here) with the same two routes as plain HTTP.
  const dir = mkdtempSync(join(tmpdir(), 'agw-bench-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=bench',
      '-addext',
      'subjectAltName=DNS:tls.bench,DNS:tlsjwt.bench',
      '-keyout',
      join(dir, 'tls.key'),
      '-out',
      join(dir, 'tls.crt'),
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  const certificate = {
    name: 'bench/tls',
    certChainPem: readFileSync(join(dir, 'tls.crt'), 'utf8'),
    privateKeyPem: readFileSync(join(dir, 'tls.key'), 'utf8'),
  };
  const config = {
    schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
    version: 'bench',
    gateway: { namespace: 'bench', name: 'gw' },
    listeners: [
      { name: 'http', port: 80 },
      { name: 'pre', port: 81, preRouting: { transformation: 'pre' } },
      { name: 'tls', port: 443, protocol: 'HTTPS', tls: { certificates: [certificate] } },
    ],
    // rsfull: the rs key under a policy of its own, so that its cache (filled to the bound) is not the RS256 row's.
    routes: [
      route('open.bench'),
      route('rs.bench', 'rs'),
      route('es.bench', 'es'),
      route('ed.bench', 'ed'),
      route('rsfull.bench', 'rsfull'),
      route('claims.bench', 'rs', { transformation: 'claims' }),
      route('allow1.bench', 'rs', { authorization: ['allow1'] }),
      route('rules10.bench', 'rs', { authorization: ['rules10'] }),
      preRoute,
      route('tls.bench', undefined, {}, 'tls'),
      route('tlsjwt.bench', 'rs', {}, 'tls'),
    ],
    policies: {
      jwt: { rs: policy('rs', rs), es: policy('es', es), ed: policy('ed', ed), rsfull: { ...policy('rs', rs), policy: 'bench/rsfull' } },
      transformation: {
        claims: setHeaders('bench/claims', [
          { name: 'x-user-id', value: 'jwt.sub' },
          { name: 'x-auth-issuer', value: 'jwt.iss' },
          { name: 'x-user-role', value: "default(jwt.role, 'user')" },
        ]),
        pre: setHeaders('bench/pre', [{ name: 'x-tier', value: "default(request.headers['x-plan'], 'free')" }]),
      },
      authorization: {
        allow1: { policy: 'bench/allow1', rules: [{ action: 'Allow', expression: "jwt.sub == 'bench'" }] },
        rules10: { policy: 'bench/rules10', rules: tenRules },
      },
      backendAuth: {},
    },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const start = async (cacheEntries: number, workers = 1) => {
    const [port, prePort, tlsPort, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const p = child([
      join(root, 'proxy/dist/main.js'),
      `--config=${join(dir, 'config.json')}`,
      '--host=127.0.0.1',
      `--port-map=80=${port}`,
      `--port-map=81=${prePort}`,
      `--port-map=443=${tlsPort}`,
      `--admin-port=${admin}`,
      '--log-level=warn',
      `--jwt-cache-entries=${cacheEntries}`,
      `--workers=${workers}`,
    ]);
    await until(`http://127.0.0.1:${admin}/readyz`);
    return { port, prePort, tlsPort, admin, pid: p.pid as number };
  };
  const proxy = await start(10_000);
  const missing = await start(MISS_CACHE_ENTRIES);
  const twoWorkers = await start(10_000, 2);
  // The cache-full row on a process of its own: a proxy that has just verified 10,000 tokens (its
  // heap and JIT state) must not be the one the no-policy and cache-hit rows measure.
  const full = await start(10_000);
  await until(`http://127.0.0.1:${upstreamPort}/`);
  await until(`http://127.0.0.1:${forwarderPort}/`);
  const claims = { iss: 'https://bench', sub: 'bench' };
  const tokens = { rs: await mintToken(rs, { claims }), es: await mintToken(es, { claims }), ed: await mintToken(ed, { claims }) };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const distinct = (key: typeof rs) =>
    Promise.all(Array.from({ length: MISS_TOKENS }, (_, i) => mintToken(key, { claims: { ...claims, jti: `bench-${i}` } })));
  // open: the miss rows' load (a new ~0.5 KiB Authorization header per request, built per request by
  // the load generator) sent to the no-policy route of the same proxy process: the miss rows' own baseline.
  const missTokens = { rs: await distinct(rs), es: await distinct(es), open: await distinct(rs) };
  const fullHotToken = await mintToken(rs, { claims: { ...claims, jti: 'full-hot' } });

  // Warm-up (JIT, keep-alive pools), not reported.
  await autocannon({
    url: `http://127.0.0.1:${proxy.port}/headers`,
    connections: CONNECTIONS,
    duration: 3,
    headers: { host: 'rs.bench', ...bearer(tokens.rs) },
  });
  await autocannon(
    load({ name: 'warm-up', port: missing.port, host: 'rs.bench', headers: {}, tokens: missTokens.rs, pid: missing.pid }, 2),
  );
  // Fill the rsfull policy's cache to its bound: each token once, then the hot token (its first
  // request, a miss, evicts one). The tokens (~5 MB) are made and dropped inside, so the load
  // generator's heap in the rounds is what it was before this row existed.
  const fillCache = async () => {
    // Synchronous node:crypto signatures: ~1 ms each for RS256, several times faster than jose's.
    const nowSec = Math.floor(Date.now() / 1000);
    const fillTokens = Array.from({ length: FULL_TOKENS }, (_, i) =>
      signRaw(rs, { alg: 'RS256', kid: rs.kid, typ: 'JWT' }, { ...claims, jti: `fill-${i}`, iat: nowSec, exp: nowSec + 3600 }),
    );
    return autocannon({
      ...load({ name: 'fill', port: full.port, host: 'rsfull.bench', headers: {}, tokens: fillTokens, pid: full.pid }, 1),
      amount: FULL_TOKENS,
    });
  };
  const fill = await fillCache();
  await autocannon({
    url: `http://127.0.0.1:${full.port}/headers`,
    connections: CONNECTIONS,
    duration: 2,
    headers: { host: 'rsfull.bench', ...bearer(fullHotToken) },
  });
  const fullBefore = await cacheSize(full.admin, 'bench/rsfull');
  if (fill.non2xx > 0 || fullBefore < FULL_TOKENS)
    throw new Error(`cache fill: ${fill.non2xx} non-2xx, ${fullBefore} entries, expected ${FULL_TOKENS}`);
  const lookupsBefore = await cacheLookups(missing.admin);

  const results = await loadAll([
    { name: 'upstream direct', port: upstreamPort, host: 'open.bench', headers: {}, pid: upstream.pid as number },
    { name: FORWARDER, port: forwarderPort, host: 'open.bench', headers: {}, pid: forwarder.pid as number },
    { name: 'proxy, no policy', port: proxy.port, host: 'open.bench', headers: {}, pid: proxy.pid },
    // The same requests as the JWT rows (a ~0.7 KiB Authorization header, here forwarded unchecked): the policy's own cost is the difference.
    {
      name: 'proxy, no policy, same Authorization header',
      port: proxy.port,
      host: 'open.bench',
      headers: bearer(tokens.rs),
      pid: proxy.pid,
    },
    { name: 'proxy + JWT RS256, cache hit', port: proxy.port, host: 'rs.bench', headers: bearer(tokens.rs), pid: proxy.pid },
    { name: 'proxy + JWT ES256, cache hit', port: proxy.port, host: 'es.bench', headers: bearer(tokens.es), pid: proxy.pid },
    { name: 'proxy + JWT EdDSA, cache hit', port: proxy.port, host: 'ed.bench', headers: bearer(tokens.ed), pid: proxy.pid },
    // The cache-full row's baseline: the same requests to the no-policy route of the same process.
    {
      name: "proxy, no policy, same Authorization header (the cache-full row's process)",
      port: full.port,
      host: 'open.bench',
      headers: bearer(fullHotToken),
      pid: full.pid,
    },
    {
      name: `proxy + JWT RS256, cache hit, cache full (${FULL_TOKENS.toLocaleString('en')} entries)`,
      port: full.port,
      host: 'rsfull.bench',
      headers: bearer(fullHotToken),
      pid: full.pid,
    },
    {
      name: "proxy, no policy, a new Authorization header each request (the cache-miss rows' load and process)",
      port: missing.port,
      host: 'open.bench',
      headers: {},
      tokens: missTokens.open,
      pid: missing.pid,
    },
    {
      name: 'proxy + JWT RS256, cache miss (a new token each request)',
      port: missing.port,
      host: 'rs.bench',
      headers: {},
      tokens: missTokens.rs,
      pid: missing.pid,
    },
    {
      name: 'proxy + JWT ES256, cache miss (a new token each request)',
      port: missing.port,
      host: 'es.bench',
      headers: {},
      tokens: missTokens.es,
      pid: missing.pid,
    },
    {
      name: 'proxy + JWT RS256, cache hit + 3 header sets from claims (transformation)',
      port: proxy.port,
      host: 'claims.bench',
      headers: bearer(tokens.rs),
      pid: proxy.pid,
    },
    {
      name: 'proxy + JWT RS256, cache hit + 1 Allow rule on a claim (authorization)',
      port: proxy.port,
      host: 'allow1.bench',
      headers: bearer(tokens.rs),
      pid: proxy.pid,
    },
    {
      name: 'proxy + JWT RS256, cache hit + 10 authorization rules',
      port: proxy.port,
      host: 'rules10.bench',
      headers: bearer(tokens.rs),
      pid: proxy.pid,
    },
    {
      name: 'proxy, PreRouting transformation + header-matched route',
      port: proxy.prePort,
      host: 'pre.bench',
      headers: { 'x-plan': 'premium' },
      pid: proxy.pid,
    },
    {
      name: 'proxy HTTPS (HTTP/1.1, keep-alive), no policy',
      port: proxy.tlsPort,
      host: 'tls.bench',
      headers: {},
      pid: proxy.pid,
      tls: true,
    },
    {
      name: 'proxy HTTPS (HTTP/1.1, keep-alive) + JWT RS256, cache hit',
      port: proxy.tlsPort,
      host: 'tlsjwt.bench',
      headers: bearer(tokens.rs),
      pid: proxy.pid,
      tls: true,
    },
    { name: 'proxy --workers 2, no policy', port: twoWorkers.port, host: 'open.bench', headers: {}, pid: twoWorkers.pid },
    {
      name: 'proxy --workers 2 + JWT RS256, cache hit',
      port: twoWorkers.port,
      host: 'rs.bench',
      headers: bearer(tokens.rs),
      pid: twoWorkers.pid,
    },
  ]);
  const lookupsAfter = await cacheLookups(missing.admin);
  const fullAfter = await cacheSize(full.admin, 'bench/rsfull');
  const missHits = lookupsAfter.hit - lookupsBefore.hit,
    missMisses = lookupsAfter.miss - lookupsBefore.miss;
  // Each in a process of its own (fixed-rate-process.ts): this one's heap and event loop stay out of the tails.
  const fixedRows: Array<{ name: string; port: number; host: string; headers?: Record<string, string>; tokens?: readonly string[] }> = [
    { name: 'upstream direct', port: upstreamPort, host: 'open.bench' },
    { name: FORWARDER, port: forwarderPort, host: 'open.bench' },
    { name: 'proxy, no policy', port: proxy.port, host: 'open.bench' },
    { name: 'proxy + JWT RS256, cache hit', port: proxy.port, host: 'rs.bench', headers: bearer(tokens.rs) },
    { name: 'proxy + JWT RS256, cache hit, cache full', port: full.port, host: 'rsfull.bench', headers: bearer(fullHotToken) },
    { name: 'proxy + JWT RS256, cache miss', port: missing.port, host: 'rs.bench', tokens: missTokens.rs },
  ];
  const rounds = fixedRows.map(() => [] as LatencyResult[]);
  for (let round = 0; round < FIXED_ROUNDS; round++)
    for (const [i, row] of fixedRows.entries()) {
      const list = row.tokens;
      const start = list === undefined ? 0 : (tokenCursor.get(list) ?? 0);
      rounds[i]?.push(
        await fixedRateInChild({
          port: row.port,
          host: row.host,
          headers: row.headers ?? {},
          ...(list !== undefined ? { tokens: { list, start } } : {}),
          rate: FIXED_RATE,
          seconds: FIXED_SECONDS,
          connections: 10,
        }),
      );
      if (list !== undefined) tokenCursor.set(list, start + FIXED_RATE * FIXED_SECONDS);
    }
  const fixed: Array<LatencyResult & { name: string }> = fixedRows.map((row, i) => {
    const runs = rounds[i] ?? [];
    const m = (k: 'p50Ms' | 'p90Ms' | 'p99Ms' | 'p999Ms') => median(runs.map((r) => r[k]));
    return {
      name: row.name,
      p50Ms: m('p50Ms'),
      p90Ms: m('p90Ms'),
      p99Ms: m('p99Ms'),
      p999Ms: m('p999Ms'),
      maxMs: Math.max(...runs.map((r) => r.maxMs)),
      sent: runs.reduce((n, r) => n + r.sent, 0),
      ok: runs.reduce((n, r) => n + r.ok, 0),
    };
  });
  const direct = fixed[0] as LatencyResult;

  const byName = (name: string) => results.find((r) => r.name === name) as Result;
  const base = byName('proxy, no policy');
  const sameHeaders = byName('proxy, no policy, same Authorization header');
  const upstreamCpu = byName('upstream direct').cpuUsPerReq ?? NaN;
  const cpuTimesUpstream = (r: Result) => `${((r.cpuUsPerReq ?? NaN) / upstreamCpu).toFixed(2)}×`;
  const ratio = (r: Result, to = base) => (r.rps / to.rps).toFixed(2);
  const isJwt = (r: Result) => r.name.includes('JWT') && !r.name.includes('workers');
  /** The policy's own CPU cost per request: against the same requests without a policy, in one run. */
  const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
  const cpuDelta = (r: Result) => `${signed((r.cpuUsPerReq ?? 0) - (sameHeaders.cpuUsPerReq ?? 0), 1)} µs`;
  /** The miss rows against the no-policy route under their own load: a new header built per request on the same process. */
  const missLoad = results.find((r) => r.name.startsWith('proxy, no policy, a new Authorization header')) as Result;
  const missRows = results.filter((r) => r.name.includes('cache miss'));
  const fullBase = results.find((r) => r.name.endsWith("(the cache-full row's process)")) as Result;
  const fullRow = results.find((r) => r.name.includes('cache full')) as Result;
  const lines = [
    `# Proxy benchmark, ${new Date().toISOString()}`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}. ${DURATION} s per scenario in ${ROUNDS} interleaved rounds after ${WARMUP_SECONDS} s of untimed load each, ${CONNECTIONS} connections, one proxy worker; load generator, upstream and proxy share the machine. Latency columns: median of the rounds (autocannon, whole ms).`,
    'Command: `npm run bench` (`node bench/dist/proxy-bench.js`).',
    '',
    '| scenario | req/s | vs proxy no policy | vs no policy, same headers | p50 ms | p90 ms | p99 ms | CPU µs/req (that process tree) | CPU vs same headers | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.rps} | ${ratio(r)} | ${isJwt(r) ? ratio(r, sameHeaders) : ''} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.cpuUsPerReq ?? ''} | ${isJwt(r) ? cpuDelta(r) : ''} | ${r.non2xx} | ${r.errors} |`,
    ),
    '',
    `CPU per request against the upstream direct's (issue 18's target for the proxy without a policy: ≤ 2.6×): the Node forwarder ${cpuTimesUpstream(byName(FORWARDER))}, the proxy without a policy ${cpuTimesUpstream(base)}.`,
    `Cache-miss rows: ${MISS_TOKENS} distinct tokens per algorithm, one per request in turn, through a ${MISS_CACHE_ENTRIES}-entry cache: ${missMisses} misses and ${missHits} hits in the verified-token cache (the proxy's own metric).`,
    `Cache-miss rows against the no-policy row with their load (a new header per request, same process): ${missRows
      .map(
        (r) =>
          `${r.name.replace('proxy + JWT ', '').replace(', cache miss (a new token each request)', '')} ${ratio(r, missLoad)} of its req/s, ${signed((r.cpuUsPerReq ?? 0) - (missLoad.cpuUsPerReq ?? 0), 1)} µs CPU/req`,
      )
      .join('; ')}.`,
    `Cache-full row against the no-policy row of its process with the same headers: ${ratio(fullRow, fullBase)} of its req/s, ${signed((fullRow.cpuUsPerReq ?? 0) - (fullBase.cpuUsPerReq ?? 0), 1)} µs CPU/req.`,
    `Cache-full row: ${FULL_TOKENS} distinct RS256 tokens sent once each through its policy's own cache (the default bound) before the rounds, then one hot token; entries (agw_jwt_cache_entries): ${fullBefore} before the rounds, ${fullAfter} after.`,
    '',
    `Fixed rate, ${FIXED_RATE.toLocaleString('en')} requests/s, ${FIXED_ROUNDS} interleaved rounds of ${FIXED_SECONDS} s per row, up to 10 keep-alive connections, each request timed in µs, from a process of its own (bench/src/fixed-rate-process.ts); each percentile the median of the rounds, max the largest:`,
    '',
    '| scenario | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | added p50 | added p90 | added p99 | 200s / sent |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...fixed.map(
      (r) =>
        `| ${r.name} | ${r.p50Ms} | ${r.p90Ms} | ${r.p99Ms} | ${r.p999Ms} | ${r.maxMs} | ${signed(r.p50Ms - direct.p50Ms, 3)} | ${signed(r.p90Ms - direct.p90Ms, 3)} | ${signed(r.p99Ms - direct.p99Ms, 3)} | ${r.ok} / ${r.sent} |`,
    ),
  ];
  const report = lines.join('\n') + '\n';
  mkdirSync(values.out, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  writeFileSync(join(values.out, `proxy-${stamp}.md`), report);
  writeFileSync(
    join(values.out, `proxy-${stamp}.json`),
    JSON.stringify(
      {
        results,
        fixed,
        missCache: { hits: missHits, misses: missMisses },
        fullCache: { entriesBefore: fullBefore, entriesAfter: fullAfter },
      },
      null,
      2,
    ),
  );
  process.stdout.write(report);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
