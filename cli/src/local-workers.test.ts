import {
  generateSigningKey,
  jwks,
  mintToken,
  request,
  startEchoUpstream,
  waitFor,
  type EchoUpstream,
  type SigningKey,
} from '@agw/test-kit';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `agw local --workers 2`, the built binary as a user runs it: two processes serve the listener
 * port, every config reaches both (a file edit included), a killed worker is replaced with the
 * latest config, /metrics sums both, a port in use is the usual one-line error.
 */
const root = resolve(import.meta.dirname, '../..');
const ISS = 'https://workers.example';
let upstream: EchoUpstream;
let key: SigningKey;
let dir: string;
let child: ChildProcess;
let out = '';
let port = 0;
let adminPort = 0;

const manifests = (mode: string) =>
  [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'agentgateway' },
      spec: { controllerName: 'agentgateway.dev/agentgateway' },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: 'default' },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'echo-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'echo' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'] }],
      ports: [{ name: 'http', port: upstream.port }],
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'app', namespace: 'default' },
      spec: { parentRefs: [{ name: 'gw' }], hostnames: ['app.example.com'], rules: [{ backendRefs: [{ name: 'echo', port: 80 }] }] },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt', namespace: 'default' },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
        traffic: { jwtAuthentication: { mode, providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(key)) } }] } },
      },
    },
  ]
    .map((o) => stringify(o))
    .join('---\n');

/** Process ids of a process's children (/proc). */
const childrenOf = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
/** Statuses of `n` sequential requests without a token (keep-alive off: each a new connection, so both workers answer). */
async function statuses(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    out.push((await request(port, { host: 'app.example.com', path: '/', headers: { connection: 'close' } })).status);
  return out;
}

beforeAll(async () => {
  [upstream, key] = await Promise.all([startEchoUpstream('workers'), generateSigningKey('ES256', 'w1')]);
  dir = mkdtempSync(join(tmpdir(), 'agw-workers-'));
  writeFileSync(join(dir, 'gateway.yaml'), manifests('Strict'));
  child = spawn('node', ['cli/dist/main.js', 'local', '-f', dir, '--port-map', '80=0', '--admin-port', '0', '--workers', '2'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor('agw local ready', async () => /^admin: http:\/\/127\.0\.0\.1:(\d+)\//m.test(out), 60_000, 100);
  port = Number(/listener port 80 → http:\/\/127\.0\.0\.1:(\d+) \(2 workers\)/.exec(out)?.[1]);
  adminPort = Number(/^admin: http:\/\/127\.0\.0\.1:(\d+)\//m.exec(out)?.[1]);
}, 90_000);

afterAll(async () => {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await upstream.close();
});

describe('agw local --workers 2', () => {
  it('two worker processes serve the port; Programmed counts 2 proxies; 401 without a token, 200 with one', async () => {
    expect(childrenOf(child.pid as number)).toHaveLength(2);
    expect(out).toMatch(
      /Gateway default\/gw: Accepted=True Accepted "Gateway accepted"; Programmed=True Programmed "config [0-9a-f]+ applied by 2 proxies"/,
    );
    expect(await statuses(6)).toEqual([401, 401, 401, 401, 401, 401]);
    const token = await mintToken(key, { claims: { iss: ISS, sub: 'alice' } });
    expect((await request(port, { host: 'app.example.com', path: '/', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('/metrics sums both workers (every request counted once)', async () => {
    const text = (await request(adminPort, { path: '/metrics' })).body;
    expect(text).toContain('agw_proxy_requests_total{port="80",route="default/app/0/0",status="401"} 6');
    expect(text).toContain('agw_proxy_requests_total{port="80",route="default/app/0/0",status="200"} 1');
  });

  it('a file edit reaches every worker: Strict → Permissive, every request without a token passes', async () => {
    writeFileSync(join(dir, 'gateway.yaml'), manifests('Permissive'));
    await waitFor('Permissive served', async () => (await statuses(1))[0] === 200, 20_000, 100);
    expect(await statuses(10)).toEqual(Array(10).fill(200));
  });

  it('a worker killed (SIGKILL) is forked again and given the latest config', async () => {
    const [victim] = childrenOf(child.pid as number);
    process.kill(victim as number, 'SIGKILL');
    await waitFor(
      'worker replaced',
      async () => /local worker \d exited \(SIGKILL\); restarting/.test(out) && childrenOf(child.pid as number).length === 2,
      20_000,
      100,
    );
    await waitFor('new worker serving', async () => (await request(adminPort, { path: '/readyz' })).status === 200, 20_000, 100);
    // Both processes answer Permissive (the restarted one was given it, not the file's first version).
    expect(await statuses(10)).toEqual(Array(10).fill(200));
  });

  it('SIGTERM stops the primary and its workers (exit 0)', async () => {
    const workers = childrenOf(child.pid as number);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    for (const w of workers) expect(() => process.kill(w, 0)).toThrow();
  });
});

describe('agw local --workers 2: a port in use', () => {
  let held: Server;
  beforeAll(async () => {
    held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
  });
  afterAll(() => held.close());

  it('is one line naming the flag to change, exit 1, no worker left behind', async () => {
    const busy = (held.address() as AddressInfo).port;
    const p = spawn(
      'node',
      [
        'cli/dist/main.js',
        'local',
        '-f',
        'examples/quickstart',
        '--port-map',
        `80=${busy}`,
        '--admin-port',
        '0',
        '--no-watch',
        '--workers',
        '2',
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    p.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect({ code, stderr }).toEqual({ code: 1, stderr: `agw: port ${busy} is in use: pick another with --port-map 80=<port>\n` });
    // Workers run with the primary's arguments: none is left with this --port-map.
    const withArgs = () =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`80=${busy}`);
          } catch {
            return false;
          }
        });
    await waitFor('no worker left', async () => withArgs().length === 0, 5_000, 100);
  }, 60_000);
});
