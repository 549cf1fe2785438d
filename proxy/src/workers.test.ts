import { generateSigningKey, jwks, mintToken, request, startEchoUpstream, type EchoUpstream } from '@agw/test-kit';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The built proxy binary with --workers 2, from a config file: shared ports, aggregated metrics. */
const root = resolve(import.meta.dirname, '../..');
const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
let upstream: EchoUpstream;
let proxy: ChildProcess;
let port: number, admin: number;
let token: string;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const key = await generateSigningKey('RS256', 'k');
  token = await mintToken(key, { claims: { iss: 'https://w' } });
  const dir = mkdtempSync(join(tmpdir(), 'agw-workers-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      schemaVersion: 5,
      version: 'w1',
      gateway: { namespace: 'w', name: 'gw' },
      listeners: [{ name: 'http', port: 80 }],
      routes: [
        {
          id: 'w/r/0/0',
          listeners: ['http'],
          hostnames: [],
          order: 0,
          match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
          backends: [{ name: 'w/up:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
          policies: { jwt: 'p' },
        },
      ],
      policies: {
        jwt: {
          p: {
            policy: 'w/p',
            mode: 'Strict',
            location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
            providers: [{ id: 'w/p#0', issuer: 'https://w', keys: jwks(key).keys }],
          },
        },
      },
    }),
  );
  [port, admin] = [await freePort(), await freePort()];
  proxy = spawn(
    'node',
    [
      join(root, 'proxy/dist/main.js'),
      `--config=${join(dir, 'config.json')}`,
      '--host=127.0.0.1',
      `--port-map=80=${port}`,
      `--admin-port=${admin}`,
      '--workers=2',
      '--log-level=warn',
      '--drain-ms=0',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 200; i++) {
    if ((await request(admin, { path: '/readyz' }).catch(() => ({ status: 0 }))).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('proxy with 2 workers never became ready');
}, 30_000);

afterAll(async () => {
  const exited = new Promise((r) => proxy.once('exit', r));
  proxy.kill('SIGTERM');
  await exited;
  await upstream.close();
});

describe('proxy --workers 2', () => {
  it('both workers serve the shared port and enforce the policy', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => request(port, { headers: { authorization: `Bearer ${token}` } })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect((await request(port)).status).toBe(401);
  });

  it("the primary's /metrics aggregates the workers", async () => {
    const text = (await request(admin, { path: '/metrics' })).body;
    const valid = /agw_jwt_auth_total\{policy="w\/p",provider="w\/p#0",result="valid",reason=""\} (\d+)/.exec(text);
    expect(Number(valid?.[1])).toBeGreaterThanOrEqual(20);
    expect(text).toMatch(/agw_config_info\{version="w1"\} 2/);
  });
});
