#!/usr/bin/env node
/**
 * The verified-token cache full against nearly empty, on two proxy processes of the same build and
 * config (issue 18): process A answers one hot token (its cache holds a few entries); process B
 * first verifies 10,000 distinct tokens (its cache at the default bound), then answers the same
 * hot token. Rounds alternate A and B with the same load; each row is CPU per request of that
 * process (from /proc) and its GC, counted from `--trace-gc` (scavenges, mark-compacts, pause per
 * request). A controlled version of the proxy bench's cache-full row, whose process differs from
 * the hit row's in more than its cache.
 *   npm run bench:cache-full -- [--seconds 8] [--rounds 3]
 */
import { PROXY_CONFIG_SCHEMA_VERSION } from '@agw/api';
import { freePort, generateSigningKey, jwks, mintToken, signRaw, startEchoUpstream, waitFor } from '@agw/test-kit';
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds } from './cpu.js';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const FILL = 10_000;

interface Proxy {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly proc: ChildProcess;
  readonly gcLog: string;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'agw-cache-full-'));
  const key = await generateSigningKey('RS256', 'k');
  const upstream = await startEchoUpstream();
  const config = {
    schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
    version: 'cache-full',
    gateway: { namespace: 'bench', name: 'gw' },
    listeners: [{ name: 'http', port: 80 }],
    routes: [
      {
        id: 'bench/a/0/0',
        listeners: ['http'],
        hostnames: ['a.bench'],
        order: 0,
        match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
        backends: [{ name: 'bench/up:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
        policies: { jwt: 'a' },
      },
    ],
    policies: {
      jwt: {
        a: {
          policy: 'bench/a',
          mode: 'Strict',
          location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
          providers: [{ id: 'p', issuer: 'https://bench', keys: jwks(key).keys }],
        },
      },
      transformation: {},
      authorization: {},
      backendAuth: {},
    },
  };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));

  const start = async (name: string): Promise<Proxy> => {
    const [port, admin] = [await freePort(), await freePort()];
    const gcLog = join(dir, `${name}.gc.log`);
    const proc = spawn(
      'node',
      [
        '--trace-gc',
        join(root, 'proxy/dist/main.js'),
        `--config=${file}`,
        '--host=127.0.0.1',
        `--port-map=80=${port}`,
        `--admin-port=${admin}`,
        '--log-level=warn',
        '--workers=1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    proc.stdout?.pipe(createWriteStream(gcLog));
    await waitFor(
      `${name} /readyz`,
      async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.ok === true,
      20_000,
      50,
    );
    return { name, port, pid: proc.pid as number, proc, gcLog };
  };
  const gcLines = (p: Proxy) =>
    readFileSync(p.gcLog, 'utf8')
      .split('\n')
      .filter((l) => /Scavenge|Mark-Compact/.test(l));

  const a = await start('A (nearly empty cache)');
  const b = await start('B (cache full)');
  const claims = { iss: 'https://bench', sub: 'bench' };
  const hot = await mintToken(key, { claims: { ...claims, jti: 'hot' } });
  const headers = { host: 'a.bench', authorization: `Bearer ${hot}` };
  const nowSec = Math.floor(Date.now() / 1000);
  let k = 0;
  const fill = Array.from({ length: FILL }, (_, i) =>
    signRaw(key, { alg: 'RS256', kid: key.kid, typ: 'JWT' }, { ...claims, jti: `fill-${i}`, iat: nowSec, exp: nowSec + 3600 }),
  );
  // B verifies 10,000 distinct tokens (its cache at the bound); A answers as many requests of the hot token.
  await autocannon({
    url: `http://127.0.0.1:${b.port}/`,
    connections: 8,
    amount: FILL,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { host: 'a.bench', authorization: `Bearer ${fill[k++ % FILL]}` } }) }],
  });
  await autocannon({ url: `http://127.0.0.1:${a.port}/`, connections: 8, amount: FILL, headers });

  const rows = ['| process | round | req/s | CPU µs/req | scavenges | mark-compacts | GC pause µs/req |', '|---|---|---|---|---|---|---|'];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of [a, b]) {
      const c0 = cpuSeconds(p.pid);
      const g0 = gcLines(p).length;
      const r = await autocannon({ url: `http://127.0.0.1:${p.port}/`, connections: 32, duration: SECONDS, headers });
      const cpuUs = ((cpuSeconds(p.pid) - c0) * 1e6) / r.requests.total;
      const gc = gcLines(p).slice(g0);
      const pauseMs = gc.reduce((s, l) => s + Number(/([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0), 0);
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${p.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      rows.push(
        `| ${p.name} | ${round} | ${Math.round(r.requests.average)} | ${cpuUs.toFixed(1)} | ${gc.filter((l) => l.includes('Scavenge')).length} | ${gc.filter((l) => l.includes('Mark-Compact')).length} | ${((pauseMs * 1000) / r.requests.total).toFixed(2)} |`,
      );
    }
  }
  for (const p of [a, b]) p.proc.kill();
  await upstream.close();
  process.stdout.write(`${rows.join('\n')}\n`);
}

await main();
