import type { CompiledBackend, CompiledBackendTlsPolicy, CompiledRoute, ProxyConfigInput } from '@agw/api';
import { request, TestCertificates, type PemPair } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { compileConfig, type RuntimeConfig } from './config/compile.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { TlsAgents, tlsAgentKeys } from './plugins/upstream-tls.js';
import { buildGatewayServer } from './server.js';

/**
 * TLS from the proxy to backends (`policies.backendTls`), against a real HTTPS upstream whose
 * certificate a private CA made here with openssl signed (DNS api.internal.test and a SPIFFE URI):
 * each verification mode, the fail-closed answers with their codes and bodies, WebSocket upgrades
 * over TLS, and the Agent per setting.
 */
const NAME = 'api.internal.test';
const URI = 'spiffe://corp.test/api';
const certs = new TestCertificates();
let ca: PemPair;
let wrongCa: PemPair;
let upstream: HttpsServer;
let upstreamPort = 0;
let plain: Server;
let plainPort = 0;
/** What the HTTPS upstream saw of each request. */
const seen: Array<{
  path: string;
  servername: string | false | null;
  alpn: string | false | null;
  httpVersion: string;
  host: string | undefined;
}> = [];
const logLines: string[] = [];
let gw: FastifyInstance;
let port = 0;

const route = (host: string, backend: Partial<CompiledBackend>, policies?: CompiledRoute['policies']): CompiledRoute => ({
  id: `d/${host}/0/0`,
  listeners: ['http'],
  hostnames: [host],
  order: 0,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: `d/${host}:443`, weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }], ...backend }],
  ...(policies ? { policies } : {}),
});
const tls = (host: string, policy: string, backend: Partial<CompiledBackend> = {}) => route(host, backend, { backendTls: policy });

beforeAll(async () => {
  ca = certs.ca('ca');
  wrongCa = certs.ca('wrong-ca');
  const leaf = certs.leaf('api', 'ca', NAME, [`DNS:${NAME}`, `URI:${URI}`]);
  upstream = createHttpsServer({ cert: leaf.cert, key: leaf.key, ALPNProtocols: ['h2', 'http/1.1'] }, (req, res) => {
    const s = req.socket as TLSSocket;
    seen.push({
      path: req.url ?? '',
      servername: s.servername,
      alpn: s.alpnProtocol,
      httpVersion: req.httpVersion,
      host: req.headers.host,
    });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ tls: true, path: req.url }));
  });
  // WebSocket: the handshake answered, then every byte echoed back.
  upstream.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const s = socket as TLSSocket;
    seen.push({
      path: req.url ?? '',
      servername: s.servername,
      alpn: s.alpnProtocol,
      httpVersion: req.httpVersion,
      host: req.headers.host,
    });
    const accept = createHash('sha1')
      .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as AddressInfo).port;
  plain = createHttpServer((_req, res) => res.end('plaintext'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  plainPort = (plain.address() as AddressInfo).port;

  const policy = (p: Omit<CompiledBackendTlsPolicy, 'policy'>, name: string): CompiledBackendTlsPolicy => ({ policy: `d/${name}`, ...p });
  const config: ProxyConfigInput = {
    schemaVersion: 5,
    version: 'tls1',
    gateway: { namespace: 'd', name: 'gw' },
    listeners: [{ name: 'http', port: 80 }],
    routes: [
      tls('right.test', 'right'),
      tls('default-sni.test', 'ca-only', { hostname: NAME }),
      tls('wrong-ca.test', 'wrong-ca'),
      tls('system.test', 'system'),
      tls('mismatch.test', 'mismatch'),
      tls('hostname-mismatch.test', 'hostname'),
      tls('hostname-unknown-ca.test', 'hostname-wrong-ca'),
      tls('all.test', 'all'),
      tls('sans-dns.test', 'sans-dns'),
      tls('sans-uri.test', 'sans-uri'),
      tls('sans-wrong.test', 'sans-wrong'),
      tls('invalid.test', 'invalid'),
      tls('missing.test', 'not-in-the-config'),
      tls('plaintext.test', 'right', { endpoints: [{ host: '127.0.0.1', port: plainPort }] }),
      // The backend's own (Service-level) policy replaces the route's.
      tls('override.test', 'wrong-ca', { policies: { backendTls: 'right' } }),
      // An h2c Service port under TLS: HTTP/1.1 over TLS.
      tls('h2c.test', 'right', { protocol: 'h2c' }),
      // Neither sni nor hostname: the endpoint's IP is the name (verified, never sent as SNI).
      tls('ip.test', 'ip-chain-only'),
      tls('ip-verified.test', 'ca-only'),
      route('no-tls.test', { endpoints: [{ host: '127.0.0.1', port: plainPort }] }),
    ],
    policies: {
      jwt: {},
      authorization: {},
      transformation: {},
      backendAuth: {},
      backendTls: {
        right: policy({ sni: NAME, caPem: ca.cert }, 'right'),
        'ca-only': policy({ caPem: ca.cert }, 'ca-only'),
        'ip-chain-only': policy({ caPem: ca.cert, insecureSkipVerify: 'Hostname' }, 'ip-chain-only'),
        'wrong-ca': policy({ sni: NAME, caPem: wrongCa.cert }, 'wrong-ca'),
        system: policy({ sni: NAME }, 'system'),
        mismatch: policy({ sni: 'other.internal.test', caPem: ca.cert }, 'mismatch'),
        hostname: policy({ sni: 'other.internal.test', caPem: ca.cert, insecureSkipVerify: 'Hostname' }, 'hostname'),
        'hostname-wrong-ca': policy({ sni: NAME, caPem: wrongCa.cert, insecureSkipVerify: 'Hostname' }, 'hostname-wrong-ca'),
        all: policy({ sni: 'other.internal.test', insecureSkipVerify: 'All' }, 'all'),
        'sans-dns': policy({ sni: 'sni-only.test', caPem: ca.cert, subjectAltNames: { hostnames: [NAME], uris: [] } }, 'sans-dns'),
        'sans-uri': policy({ sni: 'sni-only.test', caPem: ca.cert, subjectAltNames: { hostnames: [], uris: [URI] } }, 'sans-uri'),
        'sans-wrong': policy({ sni: NAME, caPem: ca.cert, subjectAltNames: { hostnames: ['nope.test'], uris: [] } }, 'sans-wrong'),
        invalid: policy({ invalid: 'AgentgatewayPolicy d/invalid backend.tls: caCertificateRefs[0]: ConfigMap d/ca not found' }, 'invalid'),
      },
    },
  };
  const store = new ConfigStore();
  expect(await applyConfig(store, config)).toBeUndefined();
  expect(store.current?.warnings).toEqual([
    'backendTls policy invalid: refuses every call (AgentgatewayPolicy d/invalid backend.tls: caCertificateRefs[0]: ConfigMap d/ca not found)',
    'route d/missing.test/0/0 answers 500: backendTls policy not-in-the-config is not available',
  ]);
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  gw = await buildGatewayServer({ store, metrics: new ProxyMetrics(), logger, listenerPort: 80 });
  await gw.listen({ port: 0, host: '127.0.0.1' });
  port = (gw.server.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await gw?.close();
  for (const server of [upstream, plain]) if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  rmSync(certs.dir, { recursive: true, force: true });
});

const get = (host: string, path = '/x') => request(port, { host, path });
const TLS_FAILED = { status: 503, body: 'upstream call failed: TLS handshake failed' };

describe('TLS to a backend signed by a private CA', () => {
  it('the right CA: 200 over TLS, SNI = sni, ALPN http/1.1, the client Host kept', async () => {
    seen.length = 0;
    const r = await get('right.test', '/hello');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ tls: true, path: '/hello' });
    expect(seen).toEqual([{ path: '/hello', servername: NAME, alpn: 'http/1.1', httpVersion: '1.1', host: 'right.test' }]);
  });

  it("no sni: the backend's hostname is the SNI and the name verified", async () => {
    seen.length = 0;
    expect((await get('default-sni.test')).status).toBe(200);
    expect(seen[0]?.servername).toBe(NAME);
  });

  it("an endpoint IP as the name: no SNI at all (not the request's Host), and the IP is what is verified", async () => {
    seen.length = 0;
    expect((await get('ip.test')).status).toBe(200);
    expect(seen[0]).toMatchObject({ servername: false, host: 'ip.test' });
    // The certificate names no IP address: with the name verified, refused.
    expect(await get('ip-verified.test')).toMatchObject(TLS_FAILED);
  });

  it.each([
    ['a CA that did not sign it', 'wrong-ca.test'],
    ['the system CAs (the private CA unknown to them)', 'system.test'],
    ['an SNI name the certificate does not carry', 'mismatch.test'],
    ['Hostname mode with an unknown CA (the chain is still verified)', 'hostname-unknown-ca.test'],
    ['subjectAltNames the certificate does not carry', 'sans-wrong.test'],
    ['an upstream that does not speak TLS', 'plaintext.test'],
  ])('%s: 503 PROXY_ERR_UPSTREAM_TLS, never a plaintext retry', async (_name, host) => {
    const r = await get(host);
    expect({ status: r.status, body: r.body }).toEqual(TLS_FAILED);
    expect(r.headers['content-type']).toBe('text/plain');
  });

  it.each([
    ['Hostname mode: a name mismatch passes (the chain is verified)', 'hostname-mismatch.test'],
    ['All mode: an unknown CA and a name mismatch pass', 'all.test'],
    ['subjectAltNames: a DNS name of the certificate, not the SNI, is verified', 'sans-dns.test'],
    ['subjectAltNames: a URI of the certificate', 'sans-uri.test'],
    ["the backend's own policy replaces the route's", 'override.test'],
  ])('%s: 200', async (_name, host) => {
    expect((await get(host)).status).toBe(200);
  });

  it('an h2c Service port under TLS is reached over HTTP/1.1 with TLS', async () => {
    seen.length = 0;
    expect((await get('h2c.test')).status).toBe(200);
    expect(seen[0]).toMatchObject({ alpn: 'http/1.1', httpVersion: '1.1' });
  });

  it('settings the controller could not resolve: 500 PROXY_ERR_BACKEND_TLS_INVALID, nothing sent upstream', async () => {
    seen.length = 0;
    const r = await get('invalid.test');
    expect({ status: r.status, body: r.body }).toEqual({ status: 500, body: 'invalid backend TLS settings' });
    expect(seen).toEqual([]);
  });

  it('a TLS policy the config names but does not hold: 500 policy unavailable', async () => {
    const r = await get('missing.test');
    expect({ status: r.status, body: r.body }).toEqual({ status: 500, body: 'policy unavailable' });
  });

  it('without a TLS policy the backend is plaintext, as before', async () => {
    expect(await get('no-tls.test')).toMatchObject({ status: 200, body: 'plaintext' });
  });

  it('the log names the backend, the policy and the reason of a handshake failure, and never holds PEM', async () => {
    logLines.length = 0;
    await get('wrong-ca.test');
    await get('mismatch.test');
    const failures = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'upstream TLS handshake failed');
    expect(failures.map((f) => [f['backend'], f['tlsPolicy'], f['servername'], f['reason'], f['code']])).toEqual([
      ['d/wrong-ca.test:443', 'd/wrong-ca', NAME, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'PROXY_ERR_UPSTREAM_TLS'],
      ['d/mismatch.test:443', 'd/mismatch', 'other.internal.test', 'ERR_TLS_CERT_ALTNAME_INVALID', 'PROXY_ERR_UPSTREAM_TLS'],
    ]);
    expect(logLines.join('\n')).not.toMatch(/BEGIN|PRIVATE KEY/);
    const access = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'access');
    expect(access.map((a) => [a['code'], a['upstreamError']])).toEqual([
      ['PROXY_ERR_UPSTREAM_TLS', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      ['PROXY_ERR_UPSTREAM_TLS', 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ]);
  });
});

/** A raw upgrade request through the proxy: the response head, and the socket for the tunnel. */
async function upgrade(host: string): Promise<{ head: string; socket: Socket; rest: Buffer }> {
  const socket = connect(port, '127.0.0.1');
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      resolve({ head: buf.subarray(0, end).toString('latin1'), socket, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('WebSocket upgrades to a TLS backend', () => {
  it('the tunnel is TLS to the backend with the same settings: 101, then bytes echoed through it', async () => {
    seen.length = 0;
    const { head, socket } = await upgrade('right.test');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(seen).toEqual([{ path: '/ws', servername: NAME, alpn: 'http/1.1', httpVersion: '1.1', host: 'right.test' }]);
    const echoed = new Promise<string>((r) => socket.once('data', (c: Buffer) => r(c.toString())));
    socket.write('ping over tls');
    expect(await echoed).toBe('ping over tls');
    socket.destroy();
  });

  it('a certificate the settings refuse: 503 PROXY_ERR_UPSTREAM_TLS before anything is relayed', async () => {
    const { head, socket, rest } = await upgrade('wrong-ca.test');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
    const body = await new Promise<string>((r) => {
      let text = rest.toString();
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.once('close', () => r(text));
    });
    expect(body).toBe('upstream call failed: TLS handshake failed');
  });
});

describe('TlsAgents: one Agent per distinct setting, closed when a new config no longer uses it', () => {
  const cfg = async (
    version: string,
    policies: Record<string, CompiledBackendTlsPolicy>,
    routes: CompiledRoute[],
  ): Promise<RuntimeConfig> => {
    const r = await compileConfig({
      schemaVersion: 5,
      version,
      gateway: { namespace: 'd', name: 'gw' },
      listeners: [{ name: 'http', port: 80 }],
      routes,
      policies: { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: policies },
    });
    if (!r.ok) throw new Error(r.error);
    return r.runtime;
  };

  it('equal settings under two policy names share one Agent; another SNI name gets its own; a new config closes the unused', async () => {
    const a = { policy: 'd/a', caPem: ca.cert };
    const b = { policy: 'd/b', caPem: ca.cert };
    const c = { policy: 'd/c', caPem: wrongCa.cert };
    const v1 = await cfg('v1', { a, b, c }, [
      tls('a.test', 'a', { hostname: 'x.d.svc.cluster.local' }),
      tls('b.test', 'b', { hostname: 'x.d.svc.cluster.local' }),
      tls('c.test', 'c', { hostname: 'x.d.svc.cluster.local' }),
      tls('a2.test', 'a', { hostname: 'y.d.svc.cluster.local' }),
    ]);
    expect(tlsAgentKeys(v1).size).toBe(3);
    const agents = new TlsAgents({ connections: 4, headersTimeout: 1000, bodyTimeout: 1000 });
    agents.observe(v1);
    const t = (rt: RuntimeConfig, key: string, servername: string) => ({ tls: rt.backendTls.get(key)!, servername, backend: 'd/x:443' });
    const first = agents.agentFor(t(v1, 'a', 'x.d.svc.cluster.local'));
    expect(agents.agentFor(t(v1, 'b', 'x.d.svc.cluster.local'))).toBe(first);
    agents.agentFor(t(v1, 'c', 'x.d.svc.cluster.local'));
    agents.agentFor(t(v1, 'a', 'y.d.svc.cluster.local'));
    expect(agents.size).toBe(3);
    const v2 = await cfg('v2', { a }, [tls('a.test', 'a', { hostname: 'x.d.svc.cluster.local' })]);
    agents.observe(v2);
    expect(agents.size).toBe(1);
    expect(agents.agentFor(t(v2, 'a', 'x.d.svc.cluster.local'))).toBe(first);
    agents.observe(v2); // the same config again: nothing closed
    expect(agents.size).toBe(1);
    await agents.close();
    expect(agents.size).toBe(0);
  });
});
