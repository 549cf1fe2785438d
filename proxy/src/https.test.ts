import type { CompiledRoute, ProxyConfigInput } from '@agw/api';
import { generateSigningKey, mintToken, startEchoUpstream, type EchoUpstream, type SigningKey } from '@agw/test-kit';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket, type ConnectionOptions } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { compileConfig } from './config/compile.js';
import { PLAINTEXT_KEY_REFUSAL, keyMaterialRefusal } from './config/controller-source.js';
import { ConfigStore } from './config/store.js';
import { ListenerPorts } from './listeners.js';
import { ProxyMetrics } from './metrics.js';
import { buildAdminServer } from './server.js';
import { readSettings } from './settings.js';

/**
 * HTTPS listeners end to end on loopback: real TLS (certificates made here with openssl), HTTP/1.1
 * and HTTP/2 clients from node:https and node:http2, SNI, rotation without dropped requests,
 * TLS 1.1 refused, key redaction, and the plaintext-stream refusal.
 */

interface Cert {
  certChainPem: string;
  privateKeyPem: string;
}
const dir = mkdtempSync(join(tmpdir(), 'agw-https-'));
let serial = 0;
/** A self-signed P-256 certificate (its own CA) for `cn`, with `sans` as DNS names. */
function makeCert(cn: string, sans: string[]): Cert {
  const base = join(dir, `c${serial++}`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'],
      ...['-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', `/CN=${cn}`],
      ...['-addext', `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}`],
    ],
    { stdio: 'ignore' },
  );
  return { certChainPem: readFileSync(`${base}.crt`, 'utf8'), privateKeyPem: readFileSync(`${base}.key`, 'utf8') };
}

const ISS = 'https://agentgateway.dev';
const NO_TOKEN = 'authentication failure: no bearer token found';
let upstream: EchoUpstream;
/** An upstream that accepts any upgrade and echoes the tunnel's bytes. */
let wsUpstream: Server;
let signer: SigningKey;
let certA: Cert, certA2: Cert, certB: Cert, certC: Cert;
let store: ConfigStore, ports: ListenerPorts;
let tlsPort: number;
let token: string;

let order = 0;
const route = (host: string, listeners: string[], extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${host}/0/0`,
  listeners,
  hostnames: [host],
  order: order++,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: 'default/echo:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
  ...extra,
});

const cert = (name: string, c: Cert) => ({ name, ...c });

function config(version: string, a: Cert = certA, o: { httpPort?: 'HTTP' | 'HTTPS' } = {}): ProxyConfigInput {
  return {
    schemaVersion: 5,
    version,
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [
      { name: 'a', port: 443, hostname: 'a.example.com', protocol: 'HTTPS', tls: { certificates: [cert('default/a', a)] } },
      { name: 'b', port: 443, hostname: '*.b.example', protocol: 'HTTPS', tls: { certificates: [cert('default/b', certB)] } },
      o.httpPort === 'HTTPS'
        ? { name: 'plain', port: 80, protocol: 'HTTPS', tls: { certificates: [cert('default/c', certC)] } }
        : { name: 'plain', port: 80 },
    ],
    routes: [
      route('a.example.com', ['a'], { policies: { jwt: 'strict', authorization: ['authz'], transformation: 'tx' } }),
      route('x.b.example', ['b']),
      route('ws.b.example', ['b'], {
        policies: { jwt: 'strict' },
        backends: [
          { name: 'default/ws:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: (wsUpstream.address() as AddressInfo).port }] },
        ],
      }),
      route('plain.test', ['plain'], { policies: { jwt: 'strict' } }),
    ],
    policies: {
      jwt: {
        strict: {
          policy: 'default/strict',
          mode: 'Strict',
          location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
          providers: [{ id: 'p#0', issuer: ISS, keys: [signer.jwk] as never }],
        },
      },
      authorization: {
        // Reads the host and a header as the CEL view shows them: the same on HTTP/1.1 and HTTP/2.
        authz: {
          policy: 'default/authz',
          rules: [{ action: 'Deny', expression: "request.headers['x-deny'] == 'yes' || request.host != 'a.example.com'" }],
        },
      },
      transformation: {
        tx: {
          policy: 'default/tx',
          entries: [
            {
              request: {
                metadata: [],
                add: [],
                set: [
                  { name: 'x-seen-host', value: "request.headers['host']" },
                  { name: 'x-seen-scheme', value: 'request.scheme' },
                  { name: 'x-header-count', value: "string(size(request.headers.filter(k, k.startsWith(':'))))" },
                ],
                remove: [],
              },
            },
          ],
        },
      },
    },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  alpn: string | false | null | undefined;
  peer?: PeerCertificate;
}

/** One HTTP/1.1-over-TLS request (ALPN offers only http/1.1). */
function h1(
  servername: string,
  o: { path?: string; headers?: Record<string, string>; agent?: Agent; method?: string; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: tlsPort,
        servername,
        ca: [certA.certChainPem, certA2.certChainPem, certB.certChainPem],
        ALPNProtocols: ['http/1.1'],
        method: o.method ?? 'GET',
        path: o.path ?? '/',
        headers: { host: servername, ...o.headers },
        ...(o.agent ? { agent: o.agent } : { agent: false }),
      } as RequestOptions & ConnectionOptions,
      (res) => {
        const socket = res.socket as TLSSocket;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            alpn: socket.alpnProtocol,
            peer: socket.getPeerCertificate(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const h2session = (servername: string, ca = [certA.certChainPem, certA2.certChainPem, certB.certChainPem]): ClientHttp2Session =>
  h2connect(`https://127.0.0.1:${tlsPort}`, { ca, servername });

/** One HTTP/2 request on `session` (opened with h2session). */
function h2(
  session: ClientHttp2Session,
  authority: string,
  o: { path?: string; headers?: Record<string, string>; method?: string; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      { ':method': o.method ?? 'GET', ':path': o.path ?? '/', ':authority': authority, ...o.headers },
      { endStream: o.body === undefined },
    );
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      headers = { ...h };
    });
    stream.on('trailers', (t) => {
      headers = { ...headers, ...t };
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({
        status: Number(headers[':status']),
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
        alpn: session.alpnProtocol,
        peer: (session.socket as TLSSocket).getPeerCertificate(),
      }),
    );
    stream.on('error', reject);
    if (o.body !== undefined) stream.end(o.body);
  });
}

/** The certificate a bare TLS handshake gets (no HTTP), with `servername` as SNI (undefined: none). */
function handshake(
  servername: string | undefined,
  extra: Record<string, unknown> = {},
): Promise<{ peer: PeerCertificate; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: tlsPort,
      ...(servername !== undefined ? { servername } : {}),
      rejectUnauthorized: false,
      ...extra,
    });
    s.once('secureConnect', () => {
      const r = { peer: s.getPeerCertificate(), protocol: s.getProtocol() };
      s.destroy();
      resolve(r);
    });
    s.once('error', reject);
  });
}

const lastUpstream = () => upstream.requests[upstream.requests.length - 1];

beforeAll(async () => {
  upstream = await startEchoUpstream();
  wsUpstream = createHttpServer();
  wsUpstream.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => wsUpstream.listen(0, '127.0.0.1', resolve));
  signer = await generateSigningKey('ES256', 'k1');
  certA = makeCert('a.example.com', ['a.example.com']);
  certA2 = makeCert('a.example.com rotated', ['a.example.com']);
  certB = makeCert('b.example', ['*.b.example']);
  certC = makeCert('plain.test', ['plain.test']);
  token = await mintToken(signer, { claims: { iss: ISS, sub: 'alice' } });
  store = new ConfigStore();
  const metrics = new ProxyMetrics(store, { defaultMetrics: false });
  ports = new ListenerPorts({
    store,
    metrics,
    logger: pino({ level: 'silent' }),
    host: '127.0.0.1',
    portMap: new Map([
      [443, 0],
      [80, 0],
    ]),
  });
  expect(await applyConfig(store, config('v1'))).toBeUndefined();
  expect(store.current?.warnings).toEqual([]);
  await ports.sync();
  tlsPort = ports.bound().get(443) as number;
});

afterAll(async () => {
  await ports.close();
  await upstream.close();
  wsUpstream.closeAllConnections();
  wsUpstream.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS listener, HTTP/1.1 and HTTP/2', () => {
  it('negotiates h2 or http/1.1 by ALPN, TLS 1.2 or newer', async () => {
    const one = await h1('a.example.com');
    expect(one.alpn).toBe('http/1.1');
    const session = h2session('a.example.com');
    try {
      expect((await h2(session, 'a.example.com')).alpn).toBe('h2');
    } finally {
      session.close();
    }
    expect((await handshake('a.example.com')).protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it('refuses a TLS 1.1 client', async () => {
    // SECLEVEL=0: OpenSSL 3 lets the client offer TLS 1.1 at all; the server must refuse it.
    // (it can: against a server allowing TLS 1.1 this handshake succeeds). The server's alert says why.
    await expect(
      handshake('a.example.com', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
  });

  it('refuses a TLS 1.2 client offering only CBC or finite-field DHE suites; accepts ECDHE with AES-GCM', async () => {
    await expect(
      handshake('a.example.com', {
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-GCM-SHA256',
      }),
    ).rejects.toMatchObject({ code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' });
    expect(
      await handshake('a.example.com', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' }),
    ).toMatchObject({
      protocol: 'TLSv1.2',
    });
  });

  it('JWT: the same answers on HTTP/1.1 and HTTP/2', async () => {
    const session = h2session('a.example.com');
    try {
      const cases = [
        { name: 'no token', headers: {} },
        { name: 'token', headers: { authorization: `Bearer ${token}` } },
        { name: 'bad token', headers: { authorization: 'Bearer not.a.token' } },
        // After a good token on the same connection (HTTP/1.1) and session (HTTP/2): its claims with another signature.
        { name: 'forged signature', headers: { authorization: `Bearer ${token.split('.').slice(0, 2).join('.')}.${'A'.repeat(342)}` } },
        { name: 'denied by authorization', headers: { authorization: `Bearer ${token}`, 'x-deny': 'yes' } },
      ];
      for (const c of cases) {
        const one = await h1('a.example.com', { path: '/p?q=1', headers: c.headers });
        const upOne = one.status === 200 ? lastUpstream() : undefined;
        const two = await h2(session, 'a.example.com', { path: '/p?q=1', headers: c.headers });
        const upTwo = two.status === 200 ? lastUpstream() : undefined;
        const sameBody = (a: Answer) => a.body.replace(/"x-request-id":"[^"]+"/, '');
        expect({ case: c.name, status: two.status, body: sameBody(two) }).toEqual({
          case: c.name,
          status: one.status,
          body: sameBody(one),
        });
        expect(two.headers['www-authenticate']).toBe(one.headers['www-authenticate']);
        expect(two.headers['content-type']).toBe(one.headers['content-type']);
        if (c.name === 'no token') expect([one.status, one.body]).toEqual([401, NO_TOKEN]);
        if (c.name === 'forged signature') expect([one.status, two.status]).toEqual([401, 401]);
        if (c.name === 'token') {
          expect(one.status).toBe(200);
          // The upstream gets the same HTTP/1.1 request: no pseudo-headers, the token removed, https.
          for (const up of [upOne, upTwo]) {
            expect(up?.url).toBe('/p?q=1');
            expect(Object.keys(up?.headers ?? {}).filter((k) => k.startsWith(':'))).toEqual([]);
            expect(up?.headers.authorization).toBeUndefined();
            expect(up?.headers.host).toBe('a.example.com');
            expect(up?.headers['x-forwarded-proto']).toBe('https');
            expect(up?.headers.forwarded).toContain('proto=https');
            expect(up?.headers['x-seen-host']).toBe('a.example.com');
            expect(up?.headers['x-seen-scheme']).toBe('https');
            expect(up?.headers['x-header-count']).toBe('0');
          }
        }
      }
    } finally {
      session.close();
    }
  });

  it('gRPC over h2 without a token: HTTP 200, grpc-status 16', async () => {
    const session = h2session('a.example.com');
    try {
      const r = await h2(session, 'a.example.com', {
        method: 'POST',
        path: '/pkg.Service/Method',
        headers: { 'content-type': 'application/grpc', te: 'trailers' },
        body: '\0\0\0\0\0',
      });
      expect(r.status).toBe(200);
      expect(r.headers['grpc-status']).toBe('16');
      expect(decodeURIComponent(String(r.headers['grpc-message']))).toBe(NO_TOKEN);
    } finally {
      session.close();
    }
  });

  it('streams an HTTP/2 request body without Content-Length to the upstream', async () => {
    const session = h2session('a.example.com');
    try {
      const r = await h2(session, 'a.example.com', {
        method: 'POST',
        path: '/upload',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        body: 'hello over h2',
      });
      expect(r.status).toBe(200);
      expect(lastUpstream()?.body).toBe('hello over h2');
      // Connection-specific upstream headers never reach an HTTP/2 client (Node would refuse them).
      expect(r.headers.connection).toBeUndefined();
      expect(r.headers['keep-alive']).toBeUndefined();
    } finally {
      session.close();
    }
  });

  it('answers OPTIONS * on h2 and refuses a mismatched Host and :authority', async () => {
    const session = h2session('a.example.com');
    try {
      const star = await h2(session, 'a.example.com', { method: 'OPTIONS', path: '*' });
      expect(star.status).toBe(200);
      expect(star.headers.allow).toContain('GET');
      const mismatch = await h2(session, 'a.example.com', { headers: { host: 'x.b.example', authorization: `Bearer ${token}` } });
      expect([mismatch.status, mismatch.body]).toEqual([400, 'invalid request: missing, repeated or malformed host']);
    } finally {
      session.close();
    }
  });
});

describe('WebSocket over TLS (HTTP/1.1)', () => {
  /** An upgrade request over TLS: the 101 and the first echoed bytes, or the refusal's status and body. */
  const upgrade = (headers: Record<string, string>) =>
    new Promise<{ status: number; echo?: string; body?: string }>((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1',
        port: tlsPort,
        servername: 'ws.b.example',
        ca: certB.certChainPem,
        agent: false,
        headers: {
          host: 'ws.b.example',
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          ...headers,
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.once('data', (d: Buffer) => {
          socket.destroy();
          resolve({ status: res.statusCode ?? 0, echo: d.toString() });
        });
        socket.write('ping over tls');
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('checks the token on the upgrade request, then tunnels', async () => {
    expect(await upgrade({})).toEqual({ status: 401, body: NO_TOKEN });
    expect(await upgrade({ authorization: `Bearer ${token}` })).toEqual({ status: 101, echo: 'ping over tls' });
  });
});

describe('SNI', () => {
  it('gives each servername its listener certificate', async () => {
    expect((await handshake('a.example.com')).peer.subject.CN).toBe('a.example.com');
    expect((await handshake('x.b.example')).peer.subject.CN).toBe('b.example');
    expect((await handshake('deep.x.B.EXAMPLE')).peer.subject.CN).toBe('b.example');
    // No SNI, or a name no listener covers: the first listener of the port (none is hostname-less).
    expect((await handshake(undefined)).peer.subject.CN).toBe('a.example.com');
    expect((await handshake('other.test')).peer.subject.CN).toBe('a.example.com');
    const b = await h1('x.b.example');
    expect([b.status, b.peer?.subject.CN]).toEqual([200, 'b.example']);
  });
});

describe('certificate rotation', () => {
  it('serves the new certificate to new connections, keeps open ones', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const session = h2session('a.example.com');
    try {
      const headers = { authorization: `Bearer ${token}` };
      const before = await h1('a.example.com', { agent, headers });
      expect(before.peer?.subject.CN).toBe('a.example.com');
      expect((await h2(session, 'a.example.com', { headers })).status).toBe(200);
      // A slow request in flight while the config changes.
      const slow = h1('a.example.com', { agent: new Agent({ keepAlive: true }), headers, path: '/delay/300' });

      expect(await applyConfig(store, config('v2', certA2))).toBeUndefined();
      await ports.sync();
      expect(ports.bound().get(443)).toBe(tlsPort); // the same server: no restart

      expect((await handshake('a.example.com')).peer.subject.CN).toBe('a.example.com rotated');
      expect((await h1('a.example.com', { headers })).peer?.subject.CN).toBe('a.example.com rotated');
      for (let i = 0; i < 5; i++) {
        const again = await h1('a.example.com', { agent, headers });
        expect(again.status).toBe(200);
        // The keep-alive connection opened before the change: still the old certificate.
        expect(again.peer?.fingerprint256).toBe(before.peer?.fingerprint256);
        expect((await h2(session, 'a.example.com', { headers })).status).toBe(200);
      }
      expect((await slow).status).toBe(200);
      // An unchanged listener keeps its very context (built once per content, not per config).
      expect(store.current?.tls.get(443)?.byName.find((l) => l.listener === 'b')?.contentKey).toBeDefined();
    } finally {
      agent.destroy();
      session.close();
      expect(await applyConfig(store, config('v1'))).toBeUndefined();
      await ports.sync();
    }
  });

  it('reuses the SecureContext of unchanged certificates across configs', async () => {
    const first = await compileConfig(config('x1'));
    const second = first.ok ? await compileConfig(config('x2'), undefined, first.runtime) : first;
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.runtime.tls.get(443)?.byName[0]?.context).toBe(first.runtime.tls.get(443)?.byName[0]?.context);
  });
});

describe('a port switching between HTTP and HTTPS', () => {
  it('gets a new server of the new kind', async () => {
    const plainPort = ports.bound().get(80) as number;
    const plain = await new Promise<number>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: plainPort, headers: { host: 'plain.test' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(plain).toBe(401);
    // In flight on the old server while the port switches: it finishes.
    const inFlight = new Promise<number>((resolve, reject) => {
      httpRequest(
        { host: '127.0.0.1', port: plainPort, path: '/delay/300', headers: { host: 'plain.test', authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      )
        .on('error', reject)
        .end();
    });
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(await applyConfig(store, config('v3', certA, { httpPort: 'HTTPS' }))).toBeUndefined();
      await ports.sync();
      const port = ports.bound().get(80) as number;
      const r = await new Promise<{ status: number; cn: string }>((resolve, reject) => {
        httpsRequest(
          { host: '127.0.0.1', port, servername: 'plain.test', ca: certC.certChainPem, headers: { host: 'plain.test' }, agent: false },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, cn: String((res.socket as TLSSocket).getPeerCertificate().subject.CN) });
          },
        )
          .on('error', reject)
          .end();
      });
      expect(r).toEqual({ status: 401, cn: 'plain.test' });
      expect(await inFlight).toBe(200);
    } finally {
      expect(await applyConfig(store, config('v1'))).toBeUndefined();
      await ports.sync();
    }
  });
});

describe('key material hygiene', () => {
  it('/config_dump redacts private keys and shows the certificate', async () => {
    const admin = await buildAdminServer({
      stores: () => new Map([['default/gw', store]]),
      metrics: new ProxyMetrics(store, { defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    });
    try {
      const res = await admin.inject({ method: 'GET', url: '/config_dump' });
      expect(res.body).not.toContain('PRIVATE KEY');
      const listeners = (res.json() as { gateways: Record<string, { config: { listeners: Array<Record<string, unknown>> } }> }).gateways[
        'default/gw'
      ]?.config.listeners;
      const a = listeners?.find((l) => l['name'] === 'a') as { tls: { certificates: Array<Record<string, unknown>> } };
      expect(a.tls.certificates[0]).toMatchObject({
        name: 'default/a',
        privateKeyPem: '[redacted]',
        subject: 'CN=a.example.com',
        subjectAltName: 'DNS:a.example.com',
      });
      expect(new X509Certificate(certA.certChainPem).fingerprint256).toBe(a.tls.certificates[0]?.['fingerprint256']);
    } finally {
      await admin.close();
    }
    // The served config itself holds no key either (only the SecureContexts do).
    expect(JSON.stringify(store.current?.config)).not.toContain('PRIVATE KEY');
  });

  it('leaves out a certificate whose key does not match or does not parse, and a listener left without one', async () => {
    const input = config('bad') as { listeners: Array<Record<string, unknown>> };
    input.listeners[0] = {
      ...input.listeners[0],
      tls: {
        certificates: [
          { name: 'default/mismatch', certChainPem: certA.certChainPem, privateKeyPem: certB.privateKeyPem },
          { name: 'default/garbage', certChainPem: 'not a pem', privateKeyPem: certA.privateKeyPem },
        ],
      },
    };
    input.listeners[1] = {
      ...input.listeners[1],
      tls: {
        certificates: [{ name: 'default/badkey', certChainPem: certA.certChainPem, privateKeyPem: 'garbage' }, cert('default/b', certB)],
      },
    };
    const r = await compileConfig(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const w = r.runtime.warnings.join('\n');
    expect(w).toContain('listener a: certificate default/mismatch left out: the private key does not match the certificate');
    expect(w).toContain('listener a: certificate default/garbage left out: the certificate chain does not parse');
    expect(w).toContain('listener a left out: HTTPS without a usable certificate');
    expect(w).toContain('listener b: certificate default/badkey left out: the private key does not parse');
    expect(w).toContain('route default/a.example.com/0/0 left out: no known listener');
    expect(w).not.toContain('PRIVATE KEY');
    expect(r.runtime.config.listeners.map((l) => l.name)).toEqual(['b', 'plain']);
  });

  it('refuses key material over a plaintext config stream unless the development flag says so', () => {
    const withKeys = config('k');
    const withoutKeys = { ...config('n'), listeners: [{ name: 'plain', port: 80 }] };
    expect(keyMaterialRefusal(withKeys, { tls: false, allowPlaintextKeyPush: false })).toBe(PLAINTEXT_KEY_REFUSAL);
    expect(PLAINTEXT_KEY_REFUSAL).toContain('--controller-ca');
    expect(keyMaterialRefusal(withKeys, { tls: true, allowPlaintextKeyPush: false })).toBeUndefined();
    expect(keyMaterialRefusal(withKeys, { tls: false, allowPlaintextKeyPush: true })).toBeUndefined();
    expect(keyMaterialRefusal(withoutKeys, { tls: false, allowPlaintextKeyPush: false })).toBeUndefined();
    expect(keyMaterialRefusal({ listeners: 'junk' }, { tls: false, allowPlaintextKeyPush: false })).toBeUndefined();
    const args = ['--controller', 'c:1', '--gateway', 'ns/gw'];
    expect(readSettings(args, {}).allowPlaintextKeyPush).toBe(false);
    expect(readSettings([...args, '--allow-plaintext-key-push'], {}).allowPlaintextKeyPush).toBe(true);
    expect(readSettings(args, { AGW_ALLOW_PLAINTEXT_KEY_PUSH: 'true' }).allowPlaintextKeyPush).toBe(true);
  });
});
