#!/usr/bin/env node
/**
 * Proxy memory (issue 18): RSS and V8 heap of one proxy worker (`--workers 1`, one process) with a
 * config of N routes and P JWT policies (inline RS256 keys; every tenth route has one): 2 s after
 * the config is applied, once idle RSS has settled (V8 returns the config load's garbage only when
 * it finds the process idle: no fall of more than 0.5 MiB in 40 s, at most 180 s), and right after a
 * load (autocannon, 32 connections, `--seconds`) spread over all routes, with the proxy's CPU per
 * request during it. `--node-flags` runs each config a second time with those V8 flags (e.g.
 * `--max-semi-space-size=4`). Memory is what it is under any CPU load, so this bench runs anywhere.
 *   npm run bench:memory -- [--seconds 8] [--routes 10,1000] [--policies 100] [--node-flags="<flags>"]
 */
import { PROXY_CONFIG_SCHEMA_VERSION } from '@agw/api';
import { generateSigningKey, jwks, mintToken } from '@agw/test-kit';
import autocannon from 'autocannon';
import { cpuSeconds } from './cpu.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    routes: { type: 'string', default: '10,1000' },
    policies: { type: 'string', default: '100' },
    'node-flags': { type: 'string', default: '' },
  },
});
const SECONDS = Number(values.seconds);
const ROUTE_COUNTS = (values.routes ?? '').split(',').map(Number);
const POLICIES = Number(values.policies);
/** V8 flags of a second run of each config (none: V8's defaults only). */
const NODE_FLAGS = (values['node-flags'] ?? '').split(/\s+/).filter(Boolean);
const MiB = 1024 * 1024;

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });

/** Resident set size of a process, MiB (VmRSS of /proc/<pid>/status). */
function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}
async function heapMiB(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return Math.round((Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / MiB) * 10) / 10;
}

async function main(): Promise<void> {
  const key = await generateSigningKey('RS256', 'mem');
  const token = await mintToken(key, { claims: { iss: 'https://bench' } });
  const upstreamPort = await freePort();
  const upstream = spawn('node', ['-e', `require('http').createServer((q,s)=>s.end('ok')).listen(${upstreamPort},'127.0.0.1')`], {
    stdio: 'ignore',
  });
  const dir = mkdtempSync(join(tmpdir(), 'agw-mem-'));
  const rows = [
    '| routes | JWT policies | node flags | RSS 2 s after ready MiB | idle RSS, settled MiB (after s) | idle heap, settled MiB | RSS after load MiB | heap after load MiB | req/s during load | proxy CPU µs/req |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const n of ROUTE_COUNTS) {
    const policies = Math.min(POLICIES, Math.ceil(n / 10));
    const jwt = Object.fromEntries(
      Array.from({ length: policies }, (_, i) => [
        `p${i}`,
        {
          policy: `bench/p${i}`,
          mode: 'Strict',
          location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
          providers: [{ id: `p${i}`, issuer: 'https://bench', keys: jwks(key).keys }],
        },
      ]),
    );
    const routes = Array.from({ length: n }, (_, i) => ({
      id: `bench/r${i}/0/0`,
      listeners: ['http'],
      hostnames: [`r${i}.bench`],
      order: i,
      match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
      backends: [{ name: `bench/svc${i}:80`, weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }] }],
      ...(i % 10 === 0 && i / 10 < policies ? { policies: { jwt: `p${i / 10}` } } : {}),
    }));
    const file = join(dir, `config-${n}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
        version: `mem-${n}`,
        gateway: { namespace: 'bench', name: 'gw' },
        listeners: [{ name: 'http', port: 80 }],
        routes,
        policies: { jwt, transformation: {}, authorization: {}, backendAuth: {} },
      }),
    );
    for (const flags of NODE_FLAGS.length > 0 ? [[], NODE_FLAGS] : [[]]) rows.push(await measure(n, policies, file, flags));
  }
  upstream.kill();
  process.stdout.write(rows.join('\n') + '\n');

  /** One proxy process on `file` with node `flags`: its table row. */
  async function measure(n: number, policies: number, file: string, flags: readonly string[]): Promise<string> {
    const [port, admin] = [await freePort(), await freePort()];
    const proxy = spawn(
      'node',
      [
        ...flags,
        join(root, 'proxy/dist/main.js'),
        `--config=${file}`,
        '--host=127.0.0.1',
        `--port-map=80=${port}`,
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
    // Idle: two seconds after ready (the config applied, no request served yet).
    await new Promise((r) => setTimeout(r, 2000));
    const early = rssMiB(proxy.pid as number);
    const settledAfter = await settle(proxy.pid as number);
    const idle = { rss: rssMiB(proxy.pid as number), heap: await heapMiB(admin) };
    let k = 0;
    const cpuBefore = cpuSeconds(proxy.pid as number);
    const result = await autocannon({
      url: `http://127.0.0.1:${port}/`,
      connections: 32,
      duration: SECONDS,
      requests: [
        {
          setupRequest: (req) => {
            const i = k++ % n;
            const protectedRoute = i % 10 === 0 && i / 10 < policies;
            return {
              ...req,
              headers: { ...req.headers, host: `r${i}.bench`, ...(protectedRoute ? { authorization: `Bearer ${token}` } : {}) },
            };
          },
        },
      ],
    });
    const cpuUsPerRequest = ((cpuSeconds(proxy.pid as number) - cpuBefore) * 1e6) / Math.max(1, result.requests.total);
    const loaded = { rss: rssMiB(proxy.pid as number), heap: await heapMiB(admin) };
    proxy.kill();
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${n} routes: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return `| ${n} | ${policies} | ${flags.join(' ') || '(V8 defaults)'} | ${early} | ${idle.rss} (${settledAfter}) | ${idle.heap} | ${loaded.rss} | ${loaded.heap} | ${Math.round(result.requests.average)} | ${cpuUsPerRequest.toFixed(1)} |`;
  }
}

/**
 * Waits until the process's RSS has not fallen by more than 0.5 MiB in 40 s (at most 180 s); the
 * seconds waited. V8's memory reducer returns the startup's garbage on its own timer (8 s ticks):
 * seen 20-45 s after ready here, so a 20 s window sometimes ended before it and reported ~15 MiB more.
 */
async function settle(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let s = 0; s < 180; s++) {
    samples.push(rssMiB(pid));
    if (samples.length > 40 && samples[samples.length - 41]! - samples[samples.length - 1]! <= 0.5) return s;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return 180;
}

await main();
