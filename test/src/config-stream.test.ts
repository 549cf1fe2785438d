import { PROXY_CONFIG_SCHEMA_VERSION, type ProxyConfig } from '@agw/api';
import { ConfigServer } from '@agw/controller';
import { ConfigStore, ControllerSource } from '@agw/proxy';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The config stream between the real ConfigServer (controller) and ControllerSource (proxy) over
 * gRPC on loopback: snapshots, ACK/NACK, refetch requests, authorization, and TLS with a real
 * certificate made by openssl.
 */
const cfg = (version: string, extra: Partial<ProxyConfig> = {}): ProxyConfig => ({
  schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
  version,
  gateway: { namespace: 'd', name: 'gw' },
  listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }],
  routes: [],
  policies: { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} },
  ...extra,
});
const until = async (what: string, p: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!p()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function pair(o: { tls?: boolean; allowed?: string[]; clientTls?: boolean; maxMessageBytes?: number } = {}) {
  const refetches: string[] = [];
  let changes = 0;
  const pushed: string[] = [];
  const server = new ConfigServer(
    async () => ({ user: 'test', ...(o.allowed ? { allowedGateways: new Set(o.allowed) } : {}) }),
    {
      onProgrammingChange: () => {
        changes++;
      },
      onRefetch: (url, kid) => refetches.push(`${url} ${kid}`),
      onPushed: (_gw, version) => pushed.push(version),
      log: () => undefined,
    },
    o.maxMessageBytes !== undefined ? { maxMessageBytes: o.maxMessageBytes } : {},
  );
  let tls: { certChain: Buffer; privateKey: Buffer } | undefined;
  if (o.tls) {
    const dir = mkdtempSync(join(tmpdir(), 'agw-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=agentgateway',
        '-addext',
        'subjectAltName=DNS:agentgateway.agentgateway-system.svc,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    tls = { certChain: readFileSync(join(dir, 'cert.pem')), privateKey: readFileSync(join(dir, 'key.pem')) };
  }
  const port = await server.listen('127.0.0.1', 0, tls);
  server.update(new Map([['d/gw', cfg('v1')]]));
  const store = new ConfigStore();
  /** What the proxy side logged: a refused or failed stream says why here. */
  const logs: string[] = [];
  const source = new ControllerSource({
    address: `127.0.0.1:${port}`,
    gateway: { namespace: 'd', name: 'gw' },
    proxyId: 'p1',
    token: () => 't',
    store,
    log: (_level, msg, fields) => {
      logs.push(`${msg} ${JSON.stringify(fields ?? {})}`);
    },
    retryDelayMs: () => 100,
    ...((o.clientTls ?? o.tls) ? { tlsCa: tls?.certChain ?? Buffer.from('') } : {}),
  });
  source.start();
  cleanups.push(
    () => source.stop(),
    () => server.close(),
  );
  return { server, store, source, refetches, logs, pushed, changes: () => changes };
}

describe('config stream (gRPC)', () => {
  it('sends the snapshot after hello, then each new version; the proxy ACKs', async () => {
    const { server, store, changes } = await pair();
    await until('v1 applied', () => store.current?.config.version === 'v1');
    await until('v1 acked', () => server.programming('d/gw').acked === 1);
    // A new version is a change of what the proxies did (not applied yet), the same version is not.
    const before = changes();
    server.update(new Map([['d/gw', cfg('v1')]]));
    expect(changes()).toBe(before);
    server.update(new Map([['d/gw', cfg('v2')]]));
    expect(changes()).toBe(before + 1);
    expect(server.programming('d/gw')).toMatchObject({ version: 'v2', acked: 0 });
    await until('v2 applied and acked', () => store.current?.config.version === 'v2' && server.programming('d/gw').acked === 1);
    expect(server.programming('d/gw')).toEqual({ proxies: 1, version: 'v2', acked: 1, nacks: [], warnings: [] });
  });

  it('a new version waits for the answer to the one in flight, then only the newest goes (a NACK answers too)', async () => {
    const { server, store, pushed } = await pair();
    await until('v1 applied and acked', () => store.current?.config.version === 'v1' && server.programming('d/gw').acked === 1);
    const applied: string[] = [];
    store.onChange((e) => applied.push(`${e.type} ${e.version}`));
    // Synchronous: v2 is in flight while v3 and v4 are made; v3 is never sent.
    server.update(new Map([['d/gw', cfg('v2')]]));
    server.update(new Map([['d/gw', cfg('v3')]]));
    server.update(new Map([['d/gw', cfg('v4')]]));
    await until('v4 applied and acked', () => store.current?.config.version === 'v4' && server.programming('d/gw').acked === 1);
    expect(applied).toEqual(['applied v2', 'applied v4']);
    expect(pushed).toEqual(['v1', 'v2', 'v4']);
    // A refused version in flight does not hold the next one back.
    server.update(new Map([['d/gw', cfg('bad', { listeners: 'nope' as never })]]));
    server.update(new Map([['d/gw', cfg('v5')]]));
    await until('v5 applied and acked', () => store.current?.config.version === 'v5' && server.programming('d/gw').acked === 1);
    expect(applied.slice(2)).toEqual(['rejected bad', 'applied v5']);
    expect(pushed.slice(3)).toEqual(['bad', 'v5']);
  });

  it('a config the proxy refuses is NACKed with the reason; the last good one keeps serving', async () => {
    const { server, store } = await pair();
    await until('v1 applied', () => store.current?.config.version === 'v1');
    server.update(new Map([['d/gw', cfg('bad', { listeners: 'nope' as never })]]));
    await until('NACK', () => server.programming('d/gw').nacks.length === 1);
    expect(server.programming('d/gw').nacks[0]?.reason).toMatch(/^invalid config: listeners: /);
    expect(store.current?.config.version).toBe('v1');
  });

  it('a route the proxy cannot use is left out, the rest applied, and the ACK says what was left out', async () => {
    const { server, store } = await pair();
    await until('v1 applied', () => store.current?.config.version === 'v1');
    const stray = {
      id: 'd/r/0/0',
      listeners: ['nope'],
      hostnames: [],
      order: 0,
      match: { path: { type: 'PathPrefix' as const, value: '/' }, headers: [], queryParams: [] },
      backends: [],
    };
    server.update(new Map([['d/gw', cfg('partial', { routes: [stray] })]]));
    await until('partial applied and acked', () => store.current?.config.version === 'partial' && server.programming('d/gw').acked === 1);
    expect(server.programming('d/gw').warnings.map((w) => w.warning)).toEqual([
      'route d/r/0/0: unknown listener nope ignored',
      'route d/r/0/0 left out: no known listener',
    ]);
  });

  it("a snapshot over gRPC's default 4 MiB message limit is applied (one Gateway with ~15,000 routes)", async () => {
    const { server, store } = await pair();
    await until('v1 applied', () => store.current?.config.version === 'v1');
    const routes = Array.from({ length: 15_000 }, (_, i) => ({
      id: `d/route-${i}/0/0`,
      listeners: ['http'],
      hostnames: [`host-${i}.example.com`],
      order: i,
      match: { path: { type: 'PathPrefix' as const, value: `/service-${i}/` }, headers: [], queryParams: [] },
      backends: [{ name: 'd/svc:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: 9 }] }],
    }));
    const big = cfg('big', { routes } as Partial<ProxyConfig>);
    expect(Buffer.byteLength(JSON.stringify(big))).toBeGreaterThan(4 * 1024 * 1024);
    server.update(new Map([['d/gw', big]]));
    await until('big applied and acked', () => store.current?.config.version === 'big' && server.programming('d/gw').acked === 1, 15_000);
    expect(store.current?.config.routes).toHaveLength(15_000);
  });

  it('a snapshot over the stream limit is not sent: Programmed says why, the proxy keeps the last config and gets the next one', async () => {
    const { server, store } = await pair({ maxMessageBytes: 20_000 });
    await until('v1 applied', () => store.current?.config.version === 'v1');
    const route = (i: number) => ({
      id: `d/route-${i}/0/0`,
      listeners: ['http'],
      hostnames: [`host-${i}.example.com`],
      order: i,
      match: { path: { type: 'PathPrefix' as const, value: '/' }, headers: [], queryParams: [] },
      backends: [{ name: 'd/svc:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: 9 }] }],
    });
    server.update(new Map([['d/gw', cfg('huge', { routes: Array.from({ length: 200 }, (_, i) => route(i)) } as Partial<ProxyConfig>)]]));
    await until('refused', () => server.programming('d/gw').nacks.length === 1);
    expect(server.programming('d/gw').nacks[0]?.reason).toMatch(
      /^config huge is \d+ bytes, over the config stream's limit of 20000: not sent/,
    );
    expect(store.current?.config.version).toBe('v1');
    server.update(new Map([['d/gw', cfg('small', { routes: [route(0)] } as Partial<ProxyConfig>)]]));
    await until('small applied and acked', () => store.current?.config.version === 'small' && server.programming('d/gw').acked === 1);
    expect(server.programming('d/gw').nacks).toEqual([]);
  });

  it('carries refetch requests to the controller', async () => {
    const { store, source, refetches } = await pair();
    await until('v1 applied', () => store.current !== undefined);
    source.requestRefetch('http://idp/keys', 'new-kid');
    await until('refetch received', () => refetches.length === 1);
    expect(refetches).toEqual(['http://idp/keys new-kid']);
  });

  it('a proxy gets only the Gateways its identity allows', async () => {
    const { server, store, logs } = await pair({ allowed: ['other/gw'] });
    // The stream was opened and refused (not merely never connected): the proxy logged why.
    await until('the refusal', () => logs.some((l) => l.includes('may not read the config of Gateway d/gw')));
    expect(store.current).toBeUndefined();
    expect(server.programming('d/gw').proxies).toBe(0);
  });

  it('over TLS, verified against the CA: works; a plaintext client gets nothing', async () => {
    const { store } = await pair({ tls: true });
    await until('v1 over TLS', () => store.current?.config.version === 'v1');
    const plain = await (async () => {
      const s = new ConfigServer(async () => ({ user: 't' }), {
        onProgrammingChange: () => undefined,
        onRefetch: () => undefined,
        log: () => undefined,
      });
      const dir = mkdtempSync(join(tmpdir(), 'agw-tls-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=x',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'c.pem'),
          '-days',
          '1',
        ],
        { stdio: 'ignore' },
      );
      const port = await s.listen('127.0.0.1', 0, {
        certChain: readFileSync(join(dir, 'c.pem')),
        privateKey: readFileSync(join(dir, 'k.pem')),
      });
      s.update(new Map([['d/gw', cfg('secret')]]));
      const st = new ConfigStore();
      const lost: string[] = [];
      const src = new ControllerSource({
        address: `127.0.0.1:${port}`,
        gateway: { namespace: 'd', name: 'gw' },
        proxyId: 'p',
        token: () => undefined,
        store: st,
        retryDelayMs: () => 100,
        log: (_level, msg) => {
          if (msg === 'config stream lost; retrying') lost.push(msg);
        },
      });
      src.start();
      cleanups.push(
        () => src.stop(),
        () => s.close(),
      );
      // Two failed attempts: the client did reach the server, twice, and got nothing.
      await until('two failed attempts', () => lost.length >= 2);
      return st.current;
    })();
    expect(plain).toBeUndefined();
  });
});
