import { request, startEchoUpstream, type EchoUpstream } from '@agw/test-kit';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A listener port the proxy cannot open (another process holds it): the proxy is not ready while
 * it cannot serve that listener (/readyz 503 saying why), tries again, and serves once it can.
 */
const root = resolve(import.meta.dirname, '../..');
const listening = (s: Server, port = 0) =>
  new Promise<number>((r) => {
    s.listen(port, '127.0.0.1', () => r((s.address() as { port: number }).port));
  });
let upstream: EchoUpstream;
let proxy: ChildProcess;
let blocker: Server;
let port: number, admin: number;

const readyz = async () => {
  try {
    const r = await fetch(`http://127.0.0.1:${admin}/readyz`);
    return { status: r.status, body: await r.text() };
  } catch {
    return { status: 0, body: '' };
  }
};
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not reached`);
}

beforeAll(async () => {
  upstream = await startEchoUpstream();
  blocker = createServer((s) => s.destroy());
  port = await listening(blocker);
  const adminProbe = createServer();
  admin = await listening(adminProbe);
  await new Promise((r) => adminProbe.close(r));
  const dir = mkdtempSync(join(tmpdir(), 'agw-bind-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      schemaVersion: 5,
      version: 'b1',
      gateway: { namespace: 'b', name: 'gw' },
      listeners: [{ name: 'http', port: 80 }],
      routes: [
        {
          id: 'b/r/0/0',
          listeners: ['http'],
          hostnames: [],
          order: 0,
          match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
          backends: [{ name: 'b/up:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
        },
      ],
      policies: {},
    }),
  );
  proxy = spawn(
    process.execPath,
    [
      join(root, 'proxy/dist/main.js'),
      `--config=${join(dir, 'config.json')}`,
      '--host=127.0.0.1',
      `--port-map=80=${port}`,
      `--admin-port=${admin}`,
      '--workers=1',
      '--log-level=error',
    ],
    { stdio: 'ignore' },
  );
});

afterAll(async () => {
  proxy?.kill('SIGKILL');
  await new Promise((r) => blocker?.close(r));
  await upstream?.close();
});

describe('a listener port held by another process', () => {
  it('/readyz is 503 and says which port, while the config is loaded', async () => {
    const r = await until('readyz answers', async () => {
      const x = await readyz();
      return x.status !== 0 ? x : undefined;
    });
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^listener port 80 could not be opened: .*EADDRINUSE/);
  });

  it('once the port is free, the proxy opens it on its own and is ready', async () => {
    await new Promise((r) => blocker.close(r));
    await until('ready', async () => ((await readyz()).status === 200 ? true : undefined));
    const r = await request(port, { path: '/headers', host: 'any.example' });
    expect(r.status).toBe(200);
  });
});
