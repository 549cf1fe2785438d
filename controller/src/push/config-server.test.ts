import {
  PROXY_CONFIG_SCHEMA_VERSION,
  PUSH_METHOD_PATH,
  PUSH_PROTOCOL_VERSION,
  decodeControllerMessage,
  encodeMessage,
  type ControllerToProxy,
  type ProxyConfig,
  type ProxyToController,
} from '@agw/api';
import { Client, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listenerProgrammed, programmedCondition } from '../status/programmed.js';
import { ConfigServer, plaintextWithheldMessage } from './config-server.js';

/**
 * Key material goes to proxies only over a TLS-protected config stream: over plaintext the HTTPS
 * listeners (and the routes attached only to them) are left out of what is sent and the status
 * says so, unless --allow-plaintext-key-push. A real gRPC client on loopback receives the snapshot.
 */
const fixture = (f: string) => readFileSync(new URL(`../../testdata/tls/${f}`, import.meta.url), 'utf8');
const cfg: ProxyConfig = {
  schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
  version: 'full',
  gateway: { namespace: 'd', name: 'gw' },
  listeners: [
    { name: 'http', port: 80, protocol: 'HTTP' },
    {
      name: 'https',
      port: 443,
      protocol: 'HTTPS',
      tls: { certificates: [{ name: 'd/cert', certChainPem: fixture('example.crt.pem'), privateKeyPem: fixture('example.key.pem') }] },
    },
  ],
  routes: ['http', 'https'].map((l) => ({
    id: 'd/r/0/0',
    listeners: [l],
    hostnames: [],
    order: 0,
    match: { path: { type: 'PathPrefix' as const, value: '/' }, headers: [], queryParams: [] },
    backends: [],
  })),
  policies: { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} },
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function serverTls() {
  const dir = mkdtempSync(join(tmpdir(), 'agw-xds-tls-'));
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
      '/CN=agentgateway',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  return { certChain: readFileSync(join(dir, 'cert.pem')), privateKey: readFileSync(join(dir, 'key.pem')) };
}

/** A proxy's config stream to `server` on `port` (closed, with the server, after the test). */
function openStream(server: ConfigServer, port: number, creds: ChannelCredentials) {
  const client = new Client(`127.0.0.1:${port}`, creds);
  const stream = client.makeBidiStreamRequest<ProxyToController, ControllerToProxy>(
    PUSH_METHOD_PATH,
    (m) => Buffer.from(encodeMessage(m)),
    (b) => decodeControllerMessage(b),
  );
  cleanups.push(
    () => {
      stream.cancel();
      client.close();
    },
    () => server.close(),
  );
  stream.on('error', () => undefined);
  return stream;
}

/** Starts a server, connects one proxy (hello), and resolves to the first snapshot it receives. */
async function firstSnapshot(o: { tls?: boolean; allowPlaintextKeyPush?: boolean }) {
  const logs: string[] = [];
  const server = new ConfigServer(
    async () => ({ user: 'test' }),
    { onProgrammingChange: () => undefined, onRefetch: () => undefined, log: (_l, msg, f) => logs.push(`${msg} ${JSON.stringify(f)}`) },
    o.allowPlaintextKeyPush ? { allowPlaintextKeyPush: true } : {},
  );
  const tls = o.tls ? serverTls() : undefined;
  const port = await server.listen('127.0.0.1', 0, tls);
  server.update(new Map([['d/gw', cfg]]));
  const stream = openStream(server, port, tls ? credentials.createSsl(tls.certChain) : credentials.createInsecure());
  const snapshot = new Promise<ProxyConfig>((resolve) =>
    stream.on('data', (m: ControllerToProxy) => {
      if (m.type === 'snapshot') resolve(m.config as unknown as ProxyConfig);
    }),
  );
  stream.write({ type: 'hello', protocolVersion: PUSH_PROTOCOL_VERSION, gateway: { namespace: 'd', name: 'gw' }, proxyId: 'p1' });
  return { config: await snapshot, server, logs };
}

describe('ConfigServer: key material only over a TLS-protected stream', () => {
  it('plaintext: the HTTPS listener and its routes are not sent; the status says why; nothing logged holds a key', async () => {
    const { config, server, logs } = await firstSnapshot({});
    expect([config.listeners.map((l) => l.name), config.routes.map((r) => r.listeners)]).toEqual([['http'], [['http']]]);
    expect(JSON.stringify(config)).not.toContain('PRIVATE KEY');
    expect(config.version).not.toBe('full');
    const p = server.programming('d/gw');
    expect(p.withheld).toEqual([{ listener: 'https', message: plaintextWithheldMessage('https') }]);
    expect(plaintextWithheldMessage('https')).toBe(
      'HTTPS listener https not sent: the config stream is not TLS-protected (set --xds-tls-cert and --xds-tls-key; --allow-plaintext-key-push is for development only)',
    );
    expect(programmedCondition('d/gw', { ...p, acked: 1 }, 3).message).toContain(`; ${plaintextWithheldMessage('https')}`);
    const gwProgrammed = programmedCondition('d/gw', { ...p, acked: 1 }, 3);
    expect(listenerProgrammed({ name: 'https', conditions: [] }, gwProgrammed, p.withheld)).toEqual([
      { type: 'Programmed', status: 'False', reason: 'Invalid', message: plaintextWithheldMessage('https'), observedGeneration: 3 },
    ]);
    expect(listenerProgrammed({ name: 'http', conditions: [] }, gwProgrammed, p.withheld)).toEqual([gwProgrammed]);
    expect(logs.join('\n')).toContain('HTTPS listeners not sent');
    expect(logs.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('plaintext with --allow-plaintext-key-push (development): sent whole', async () => {
    const { config, server } = await firstSnapshot({ allowPlaintextKeyPush: true });
    expect([config.version, config.listeners.map((l) => l.name), server.programming('d/gw').withheld]).toEqual([
      'full',
      ['http', 'https'],
      undefined,
    ]);
  });

  it('TLS-protected stream: sent whole, certificates included', async () => {
    const { config, server } = await firstSnapshot({ tls: true });
    expect([config.version, config.listeners.map((l) => l.name), server.programming('d/gw').withheld]).toEqual([
      'full',
      ['http', 'https'],
      undefined,
    ]);
    expect(config.listeners[1]?.tls?.certificates[0]?.privateKeyPem).toBe(fixture('example.key.pem'));
  });
});

describe('ConfigServer: one snapshot in flight per proxy', () => {
  it('a proxy that never answers gets the newest version once the ACK timeout passes (not the ones between)', async () => {
    const logs: string[] = [];
    const server = new ConfigServer(
      async () => ({ user: 'test' }),
      { onProgrammingChange: () => undefined, onRefetch: () => undefined, log: (_l, msg) => logs.push(msg) },
      { allowPlaintextKeyPush: true, ackTimeoutMs: 200 },
    );
    const port = await server.listen('127.0.0.1', 0);
    server.update(new Map([['d/gw', { ...cfg, version: 'v1' }]]));
    const stream = openStream(server, port, credentials.createInsecure());
    const received: string[] = [];
    let onSnapshot = () => undefined as void;
    stream.on('data', (m: ControllerToProxy) => {
      if (m.type === 'snapshot') received.push(m.config.version);
      onSnapshot();
    });
    const snapshots = (n: number) =>
      new Promise<void>((resolve) => {
        onSnapshot = () => (received.length >= n ? resolve() : undefined);
        onSnapshot();
      });
    stream.write({ type: 'hello', protocolVersion: PUSH_PROTOCOL_VERSION, gateway: { namespace: 'd', name: 'gw' }, proxyId: 'p1' });
    await snapshots(1);
    // No ACK for v1: v2 and v3 wait; when the timeout passes, only v3 (the newest) goes.
    server.update(new Map([['d/gw', { ...cfg, version: 'v2' }]]));
    server.update(new Map([['d/gw', { ...cfg, version: 'v3' }]]));
    await snapshots(2);
    expect(received).toEqual(['v1', 'v3']);
    expect(logs).toContain('proxy did not answer a config; sending the newest');
  });
});
