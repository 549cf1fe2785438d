#!/usr/bin/env node
/**
 * HTTPS listeners (issue 16), in one run against one proxy process (`--workers 1`):
 *   - HTTP/2: 4 connections × 8 streams each (32 in flight), GET, to a route without a policy and
 *     to the same route with a JWT policy (one RS256 token: cache hit): requests/s and the proxy's
 *     CPU µs per request; the ratio is the JWT cache hit's cost over h2.
 *   - New TLS handshakes: 8 clients each opening a new TLS 1.3 connection (no session resumption),
 *     one HTTP/1.1 request, close: handshakes/s and the proxy's CPU µs per handshake (a P-256
 *     certificate, as cert-manager issues by default).
 * Rounds alternate the scenarios so that machine drift hits them alike.
 *   npm run bench:tls -- [--duration 12] [--rounds 3]
 */
import { PROXY_CONFIG_SCHEMA_VERSION } from '@agw/api';
import { generateSigningKey, jwks, mintToken } from '@agw/test-kit';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSecondsTree } from './cpu.js';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { duration: { type: 'string', default: '12' }, rounds: { type: 'string', default: '3' } } });
const DURATION_S = Number(values.duration);
const ROUNDS = Number(values.rounds);
const H2_CONNECTIONS = 4,
  H2_STREAMS_PER_CONNECTION = 8,
  HANDSHAKE_CLIENTS = 8;

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });

/** HTTP/2 load for `seconds`: H2_CONNECTIONS sessions, each keeping H2_STREAMS_PER_CONNECTION GETs in flight. */
async function h2Load(
  port: number,
  host: string,
  headers: Record<string, string>,
  seconds: number,
): Promise<{ ok: number; other: number }> {
  const deadline = performance.now() + seconds * 1000;
  let ok = 0,
    other = 0;
  const sessions: ClientHttp2Session[] = [];
  const stream = (s: ClientHttp2Session): Promise<void> =>
    new Promise((done) => {
      const req = s.request({ ':path': '/headers', ':authority': host, ...headers });
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.resume();
      req.on('end', () => {
        if (status === 200) ok++;
        else other++;
        done();
      });
      req.on('error', () => {
        other++;
        done();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: H2_CONNECTIONS }, async () => {
      const s = h2connect(`https://127.0.0.1:${port}`, { servername: host, rejectUnauthorized: false });
      sessions.push(s);
      await Promise.all(
        Array.from({ length: H2_STREAMS_PER_CONNECTION }, async () => {
          while (performance.now() < deadline) await stream(s);
        }),
      );
    }),
  );
  for (const s of sessions) s.close();
  return { ok, other };
}

/** New TLS connections for `seconds`: each does a full handshake, one HTTP/1.1 request, and closes. */
async function handshakeLoad(port: number, host: string, seconds: number): Promise<{ ok: number; failed: number }> {
  const deadline = performance.now() + seconds * 1000;
  let ok = 0,
    failed = 0;
  const one = (): Promise<void> =>
    new Promise((done) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
        s.write(`GET /headers HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      });
      let first = '';
      s.on('data', (c: Buffer) => {
        if (first === '') first = c.toString('latin1', 0, 12);
      });
      s.on('close', () => {
        if (first.startsWith('HTTP/1.1 200')) ok++;
        else failed++;
        done();
      });
      s.on('error', () => undefined);
    });
  await Promise.all(
    Array.from({ length: HANDSHAKE_CLIENTS }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  return { ok, failed };
}

async function main(): Promise<void> {
  const key = await generateSigningKey('RS256', 'tls-bench');
  const token = await mintToken(key, { claims: { iss: 'https://bench', sub: 'bench' } });
  const upstreamPort = await freePort();
  const upstream = spawn(
    'node',
    [
      '-e',
      `require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');s.end(JSON.stringify({headers:q.headers}))}).listen(${upstreamPort},'127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  const dir = mkdtempSync(join(tmpdir(), 'agw-tls-bench-'));
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
      'subjectAltName=DNS:open.bench,DNS:jwt.bench',
      '-keyout',
      join(dir, 'tls.key'),
      '-out',
      join(dir, 'tls.crt'),
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  const route = (host: string, jwt?: string) => ({
    id: `bench/${host}/0/0`,
    listeners: ['tls'],
    hostnames: [host],
    order: 0,
    match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
    backends: [{ name: 'bench/upstream:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }] }],
    ...(jwt !== undefined ? { policies: { jwt } } : {}),
  });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
      version: 'tls-bench',
      gateway: { namespace: 'bench', name: 'gw' },
      listeners: [
        {
          name: 'tls',
          port: 443,
          protocol: 'HTTPS',
          tls: {
            certificates: [
              {
                name: 'bench/tls',
                certChainPem: readFileSync(join(dir, 'tls.crt'), 'utf8'),
                privateKeyPem: readFileSync(join(dir, 'tls.key'), 'utf8'),
              },
            ],
          },
        },
      ],
      routes: [route('open.bench'), route('jwt.bench', 'rs')],
      policies: {
        jwt: {
          rs: {
            policy: 'bench/rs',
            mode: 'Strict',
            location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
            providers: [{ id: 'rs', issuer: 'https://bench', keys: jwks(key).keys }],
          },
        },
        transformation: {},
        authorization: {},
        backendAuth: {},
      },
    }),
  );
  const [port, admin] = [await freePort(), await freePort()];
  const proxy = spawn(
    'node',
    [
      join(root, 'proxy/dist/main.js'),
      `--config=${join(dir, 'config.json')}`,
      '--host=127.0.0.1',
      `--port-map=443=${port}`,
      `--admin-port=${admin}`,
      '--log-level=warn',
      '--workers=1',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${admin}/readyz`)).ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = proxy.pid as number;
  const scenarios = [
    { name: 'HTTP/2, no policy', run: (s: number) => h2Load(port, 'open.bench', {}, s).then((r) => ({ done: r.ok, bad: r.other })) },
    {
      name: 'HTTP/2 + JWT RS256, cache hit',
      run: (s: number) => h2Load(port, 'jwt.bench', { authorization: `Bearer ${token}` }, s).then((r) => ({ done: r.ok, bad: r.other })),
    },
    {
      name: 'new TLS 1.3 handshakes (+ one HTTP/1.1 request each)',
      run: (s: number) => handshakeLoad(port, 'open.bench', s).then((r) => ({ done: r.ok, bad: r.failed })),
    },
  ];
  const acc = scenarios.map(() => ({ done: 0, bad: 0, seconds: 0, cpu: 0 }));
  for (let round = 0; round < ROUNDS; round++)
    for (const [i, s] of scenarios.entries()) {
      const a = acc[i] as (typeof acc)[number];
      const cpu0 = cpuSecondsTree(pid),
        t0 = performance.now();
      const r = await s.run(DURATION_S / ROUNDS);
      a.seconds += (performance.now() - t0) / 1000;
      a.cpu += cpuSecondsTree(pid) - cpu0;
      a.done += r.done;
      a.bad += r.bad;
    }
  proxy.kill();
  upstream.kill();
  const rate = (i: number) => (acc[i] as (typeof acc)[number]).done / (acc[i] as (typeof acc)[number]).seconds;
  const rows = [
    `\`npm run bench:tls -- --duration ${DURATION_S} --rounds ${ROUNDS}\` (Node ${process.version}; ${H2_CONNECTIONS} h2 connections × ${H2_STREAMS_PER_CONNECTION} streams; ${HANDSHAKE_CLIENTS} handshake clients):`,
    '',
    '| scenario | per second | vs HTTP/2 no policy | proxy CPU µs per request (or handshake) | not 200 |',
    '|---|---|---|---|---|',
    ...scenarios.map((s, i) => {
      const a = acc[i] as (typeof acc)[number];
      return `| ${s.name} | ${Math.round(rate(i))} | ${i < 2 ? (rate(i) / rate(0)).toFixed(2) : ''} | ${((a.cpu * 1e6) / Math.max(1, a.done)).toFixed(1)} | ${a.bad} |`;
    }),
  ];
  process.stdout.write(rows.join('\n') + '\n');
}

await main();
