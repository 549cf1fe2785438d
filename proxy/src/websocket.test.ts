import type {
  CompiledAuthorizationPolicy,
  CompiledBackendAuthPolicy,
  CompiledJwtPolicy,
  CompiledRoute,
  CompiledTransform,
  CompiledTransformationPolicy,
  ProxyConfigInput,
} from '@agw/api';
import { generateSigningKey, mintToken, type SigningKey } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildGatewayServer } from './server.js';
import { readSettings } from './settings.js';

/** WebSocket (RFC 6455) upgrades through the proxy: the pipeline decides, then a spliced tunnel. */

// ---- A minimal RFC 6455 codec: unfragmented frames, masked from the client (§5.3), not from the server.
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
interface Frame {
  opcode: number;
  payload: Buffer;
}

function encodeFrame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  else if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([head, body]);
}

/** Feeds bytes, yields whole frames (unmasked). */
class FrameReader {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): Frame[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      if (this.buf.length < 2) return out;
      const b1 = this.buf[1] as number;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return out;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return out;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const keyOff = off;
      if (masked) off += 4;
      if (this.buf.length < off + len) return out;
      const payload = Buffer.from(this.buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (this.buf[keyOff + (i % 4)] as number);
      out.push({ opcode: (this.buf[0] as number) & 0x0f, payload });
      this.buf = this.buf.subarray(off + len);
    }
  }
}

/** A queue of frames read from a socket, awaited one by one. */
class FrameQueue {
  private readonly frames: Frame[] = [];
  private waiting: ((f: Frame) => void) | undefined;
  constructor(socket: Socket, initial: Buffer) {
    const reader = new FrameReader();
    const take = (c: Buffer) => {
      for (const f of reader.push(c)) {
        const w = this.waiting;
        this.waiting = undefined;
        if (w !== undefined) w(f);
        else this.frames.push(f);
      }
    };
    if (initial.length > 0) take(initial);
    socket.on('data', take);
  }
  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

// ---- The upstream: an echo server; it records every upgrade request's headers and what it saw.
interface SeenUpgrade {
  url: string;
  headers: IncomingHttpHeaders;
  /** Resolves with the close frame's payload when the client's close frame arrives. */
  closeFrame: Promise<Buffer>;
  /** Resolves when the upstream's socket is closed. */
  closed: Promise<void>;
}
const upgrades: SeenUpgrade[] = [];
const plainRequests: { url: string; headers: IncomingHttpHeaders }[] = [];

function onUpstreamUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
  let gotClose!: (b: Buffer) => void;
  const closeFrame = new Promise<Buffer>((r) => (gotClose = r));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  upgrades.push({ url: req.url ?? '', headers: req.headers, closeFrame, closed });
  socket.on('error', () => {});
  // As WebSocket servers do: the peer's FIN ends the connection.
  socket.on('end', () => socket.end());
  if (req.url === '/decline') {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nx-declined: yes\r\n\r\nno thank');
    return;
  }
  const accept = createHash('sha1')
    .update(`${req.headers['sec-websocket-key'] ?? ''}${GUID}`)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ws\r\n\r\n`,
  );
  if (req.url === '/server-close') {
    // The server starts the closing handshake (§7.1.2) with 1000 and closes TCP.
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    socket.end(encodeFrame(CLOSE, Buffer.concat([code, Buffer.from('bye')]), false));
    return;
  }
  if (req.url === '/hello-first') socket.write(encodeFrame(TEXT, Buffer.from('hello'), false));
  const reader = new FrameReader();
  const take = (c: Buffer) => {
    for (const f of reader.push(c)) {
      if (f.opcode === CLOSE) {
        gotClose(f.payload);
        socket.end(encodeFrame(CLOSE, f.payload, false));
      } else socket.write(encodeFrame(f.opcode, f.payload, false));
    }
  };
  if (head.length > 0) take(head);
  socket.on('data', take);
}

// ---- The client: the handshake over a raw socket; a 101 gives a connection, anything else the response.
interface WsClient {
  socket: Socket;
  headers: Record<string, string>;
  frames: FrameQueue;
  send(opcode: number, payload: Buffer | string): void;
  closed: Promise<void>;
}
/** The handshake's answer: `ws` on a 101, else the response read to the end of the connection. */
interface Handshake {
  status: number;
  headers: Record<string, string>;
  body: string;
  closed: Promise<void>;
  ws?: WsClient;
}

function handshake(port: number, o: { host: string; path?: string; headers?: Record<string, string>; extra?: Buffer }): Promise<Handshake> {
  const key = randomBytes(16).toString('base64');
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => {});
  const lines = [
    `GET ${o.path ?? '/'} HTTP/1.1`,
    `Host: ${o.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), o.extra ?? Buffer.alloc(0)]));
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number((head[0] as string).split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of head.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      if (status === 101) {
        socket.off('data', onData);
        expect(headers['sec-websocket-accept']).toBe(createHash('sha1').update(`${key}${GUID}`).digest('base64'));
        resolve({
          status: 101,
          headers,
          body: '',
          closed,
          ws: {
            socket,
            headers,
            frames: new FrameQueue(socket, rest),
            send: (opcode, payload) => socket.write(encodeFrame(opcode, Buffer.from(payload), true)),
            closed,
          },
        });
        return;
      }
      // Not a 101: the response is read to the end of the connection (the proxy closes it).
      socket.off('data', onData);
      let body = rest;
      socket.on('data', (d: Buffer) => (body = Buffer.concat([body, d])));
      void closed.then(() => resolve({ status, headers, body: body.toString('utf8'), closed }));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function open(port: number, o: Parameters<typeof handshake>[1]): Promise<WsClient> {
  const h = await handshake(port, o);
  if (h.ws === undefined) throw new Error(`expected 101, got ${h.status}: ${h.body}`);
  return h.ws;
}

// ---- The proxy and its config.
const ISS = 'https://agentgateway.dev';
let key: SigningKey;
let upstream: Server, upstreamPort: number, refusedPort: number;
let store: ConfigStore, metrics: ProxyMetrics;
let gw: FastifyInstance, port: number, tierGw: FastifyInstance, tierPort: number;

const transform = (t: Partial<CompiledTransform>): CompiledTransform => ({ metadata: [], add: [], set: [], remove: [], ...t });
const transformation = (name: string, entries: CompiledTransformationPolicy['entries']): CompiledTransformationPolicy => ({
  policy: `default/${name}`,
  entries,
});
let n = 0;
const r = (host: string, extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${host}/0/0`,
  listeners: ['http'],
  hostnames: [host],
  order: n++,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: 'default/ws:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }] }],
  ...extra,
});

function config(): ProxyConfigInput {
  const jwt: CompiledJwtPolicy = {
    policy: 'default/jwt-strict',
    mode: 'Strict',
    location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
    providers: [{ id: 'p#0', issuer: ISS, keys: [key.jwk] as never }],
  };
  const deny: CompiledAuthorizationPolicy = { policy: 'default/deny', rules: [{ action: 'Deny', expression: 'true' }] };
  const passthrough: CompiledBackendAuthPolicy = {
    policy: 'default/pass',
    passthrough: true,
    target: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
  };
  return {
    schemaVersion: 5,
    version: 'ws1',
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [
      { name: 'http', port: 80 },
      { name: 'tier', port: 8081, preRouting: { jwt: 'optional', transformation: 'tier' } },
    ],
    routes: [
      r('open.test'),
      r('jwt.test', { policies: { jwt: 'strict', transformation: 'claims' } }),
      r('pass.test', { policies: { jwt: 'strict', backendAuth: 'default' } }),
      r('deny.test', { policies: { authorization: ['deny'] } }),
      r('empty.test', { backends: [{ name: 'default/none:80', weight: 1, endpoints: [] }] }),
      r('refused.test', { backends: [{ name: 'default/gone:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: refusedPort }] }] }),
      {
        ...r('tier.test'),
        id: 'default/premium/0/0',
        listeners: ['tier'],
        match: {
          path: { type: 'PathPrefix', value: '/' },
          headers: [{ type: 'Exact', name: 'x-user-tier', value: 'premium' }],
          queryParams: [],
        },
        policies: { transformation: 'mark-premium' },
      },
      { ...r('tier.test'), id: 'default/free/0/0', listeners: ['tier'] },
    ],
    policies: {
      jwt: { strict: jwt, optional: { ...jwt, policy: 'default/jwt-optional', mode: 'Optional' } },
      authorization: { deny },
      transformation: {
        claims: transformation('claims', [
          {
            request: transform({ set: [{ name: 'x-user-id', value: 'jwt.sub' }] }),
            response: transform({ set: [{ name: 'x-response-edit', value: "'yes'" }] }),
          },
        ]),
        tier: transformation('tier', [{ request: transform({ set: [{ name: 'x-user-tier', value: "default(jwt.tier, 'free')" }] }) }]),
        'mark-premium': transformation('mark-premium', [{ request: transform({ set: [{ name: 'x-route', value: "'premium'" }] }) }]),
      },
      backendAuth: { default: passthrough },
    },
  };
}

beforeAll(async () => {
  key = await generateSigningKey('RS256', 'k1');
  upstream = createServer((req, res) => {
    plainRequests.push({ url: req.url ?? '', headers: req.headers });
    res.end('plain');
  });
  upstream.on('upgrade', onUpstreamUpgrade);
  await new Promise<void>((res) => upstream.listen(0, '127.0.0.1', res));
  upstreamPort = (upstream.address() as AddressInfo).port;
  const probe = createTcpServer();
  await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
  refusedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((res) => probe.close(() => res()));

  store = new ConfigStore();
  metrics = new ProxyMetrics(store, { defaultMetrics: false });
  expect(await applyConfig(store, config())).toBeUndefined();
  const logger = pino({ level: 'silent' });
  gw = await buildGatewayServer({ store, metrics, logger, listenerPort: 80 });
  tierGw = await buildGatewayServer({ store, metrics, logger, listenerPort: 8081 });
  await gw.listen({ port: 0, host: '127.0.0.1' });
  await tierGw.listen({ port: 0, host: '127.0.0.1' });
  port = (gw.server.address() as AddressInfo).port;
  tierPort = (tierGw.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all([gw.close(), tierGw.close()]);
  upstream.closeAllConnections();
  await new Promise<void>((res) => upstream.close(() => res()));
});

const bearer = async (claims: Record<string, unknown> = {}) => ({
  Authorization: `Bearer ${await mintToken(key, { claims: { iss: ISS, sub: 'alice', ...claims } })}`,
});
const lastUpgrade = () => upgrades[upgrades.length - 1] as SeenUpgrade;

describe('WebSocket: the upgrade request goes through the pipeline', () => {
  it('no token on a Strict JWT route: 401 with the JWT body, the connection closed, the upstream never asked', async () => {
    const before = upgrades.length;
    const h = await handshake(port, { host: 'jwt.test' });
    expect(h.status).toBe(401);
    expect(h.body).toBe('authentication failure: no bearer token found');
    expect(h.headers['www-authenticate']).toBe('Bearer realm="agentgateway"');
    expect(h.headers.connection).toBe('close');
    expect(upgrades.length).toBe(before);
  });

  it('a valid token: 101, text and a 100 KiB binary frame echoed, the credential removed, the edits applied', async () => {
    const ws = await open(port, { host: 'jwt.test', path: '/chat?room=1', headers: await bearer() });
    expect(ws.headers.upgrade).toBe('websocket');
    expect(ws.headers['x-upstream']).toBe('ws');
    expect(ws.headers['x-response-edit']).toBe('yes');
    const seen = lastUpgrade();
    expect(seen.url).toBe('/chat?room=1');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-user-id']).toBe('alice');
    expect(seen.headers.upgrade).toBe('websocket');
    expect(seen.headers.connection).toBe('Upgrade');
    expect(seen.headers['sec-websocket-version']).toBe('13');
    expect(seen.headers.host).toBe('jwt.test');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');

    ws.send(TEXT, 'héllo');
    const text = await ws.frames.next();
    expect(text.opcode).toBe(TEXT);
    expect(text.payload.toString('utf8')).toBe('héllo');

    const big = randomBytes(100 * 1024);
    ws.send(BINARY, big);
    const echoed = await ws.frames.next();
    expect(echoed.opcode).toBe(BINARY);
    expect(echoed.payload.equals(big)).toBe(true);
    ws.socket.destroy();
    await seen.closed;
  });

  it('backend-auth passthrough: the validated token reaches the upstream', async () => {
    const auth = await bearer();
    const ws = await open(port, { host: 'pass.test', headers: auth });
    expect(lastUpgrade().headers.authorization).toBe(auth.Authorization);
    ws.socket.destroy();
  });

  it('an authorization Deny: 403', async () => {
    const before = upgrades.length;
    const h = await handshake(port, { host: 'deny.test' });
    expect(h.status).toBe(403);
    expect(h.body).toBe('authorization failed');
    expect(upgrades.length).toBe(before);
  });

  it('no backend endpoint: 503 no healthy backends; a refused upstream: 503 connection refused', async () => {
    const empty = await handshake(port, { host: 'empty.test' });
    expect(empty.status).toBe(503);
    expect(empty.body).toBe('no healthy backends');
    const refused = await handshake(port, { host: 'refused.test' });
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('upstream call failed: connection refused');
  });

  it('a route header-matched after a PreRouting transformation: the upgrade takes that route', async () => {
    const premium = await open(tierPort, { host: 'tier.test', headers: await bearer({ tier: 'premium' }) });
    expect(lastUpgrade().headers['x-route']).toBe('premium');
    expect(lastUpgrade().headers['x-user-tier']).toBe('premium');
    premium.send(TEXT, 'premium');
    expect((await premium.frames.next()).payload.toString()).toBe('premium');
    premium.socket.destroy();
    const free = await open(tierPort, { host: 'tier.test' });
    expect(lastUpgrade().headers['x-route']).toBeUndefined();
    expect(lastUpgrade().headers['x-user-tier']).toBe('free');
    free.socket.destroy();
  });

  it('an upgrade request with a body: 400, never forwarded', async () => {
    const before = upgrades.length;
    const h = await handshake(port, { host: 'open.test', headers: { 'Content-Length': '5' }, extra: Buffer.from('hello') });
    expect(h.status).toBe(400);
    expect(h.body).toBe('upgrade request with a body not supported');
    expect(upgrades.length).toBe(before);
  });

  it('counts the upgrade as a request with status 101', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/agw_proxy_requests_total\{[^}]*route="default\/jwt\.test\/0\/0"[^}]*status="101"[^}]*\} [1-9]/);
    expect(text).toMatch(/agw_proxy_requests_total\{[^}]*route="default\/jwt\.test\/0\/0"[^}]*status="401"[^}]*\} [1-9]/);
  });
});

describe('WebSocket: the tunnel', () => {
  it('frames the upstream sends right after its 101 arrive; bytes sent with the handshake reach it', async () => {
    const ws = await open(port, { host: 'open.test', path: '/hello-first', extra: encodeFrame(TEXT, Buffer.from('early'), true) });
    expect((await ws.frames.next()).payload.toString()).toBe('hello');
    expect((await ws.frames.next()).payload.toString()).toBe('early');
    ws.socket.destroy();
  });

  it('client close: the upstream gets the close frame and its connection closes; the client gets the answer', async () => {
    const ws = await open(port, { host: 'open.test' });
    const seen = lastUpgrade();
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1001);
    ws.send(CLOSE, code);
    expect((await seen.closeFrame).readUInt16BE(0)).toBe(1001);
    const answer = await ws.frames.next();
    expect(answer.opcode).toBe(CLOSE);
    ws.socket.end();
    await seen.closed;
    await ws.closed;
  });

  it('a client that drops the TCP connection: the upstream connection closes', async () => {
    const ws = await open(port, { host: 'open.test' });
    const seen = lastUpgrade();
    ws.socket.destroy();
    await seen.closed;
  });

  it('upstream close: the client gets the close frame and the connection closes', async () => {
    const ws = await open(port, { host: 'open.test', path: '/server-close' });
    const f = await ws.frames.next();
    expect(f.opcode).toBe(CLOSE);
    expect(f.payload.readUInt16BE(0)).toBe(1000);
    expect(f.payload.subarray(2).toString()).toBe('bye');
    await ws.closed;
  });

  it('an upstream that declines (403): its response relayed, the connection closed', async () => {
    const h = await handshake(port, { host: 'open.test', path: '/decline' });
    expect(h.status).toBe(403);
    expect(h.body).toBe('no thank');
    expect(h.headers['x-declined']).toBe('yes');
    await h.closed;
  });

  it('another protocol (h2c) is declined: forwarded as a plain request without Upgrade', async () => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((res) => socket.once('close', () => res()));
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.write(
      'GET /plain HTTP/1.1\r\nHost: open.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
    );
    await closed;
    expect(got).toMatch(/^HTTP\/1\.1 200 /);
    expect(got.endsWith('plain')).toBe(true);
    const seen = plainRequests[plainRequests.length - 1];
    expect(seen?.url).toBe('/plain');
    expect(seen?.headers.upgrade).toBeUndefined();
    expect(seen?.headers['http2-settings']).toBeUndefined();
  });

  it('a tunnel idle both ways for --tunnel-idle-timeout-ms is closed on both sides; traffic either way keeps it open', async () => {
    const logger = pino({ level: 'silent' });
    const own = await buildGatewayServer({ store, metrics, logger, listenerPort: 80, tunnelIdleTimeoutMs: 300 });
    await own.listen({ port: 0, host: '127.0.0.1' });
    const ws = await open((own.server.address() as AddressInfo).port, { host: 'open.test' });
    const seen = lastUpgrade();
    // Eight messages 100 ms apart: 800 ms of a tunnel that is never idle for 300 ms.
    for (let i = 0; i < 8; i++) {
      ws.send(TEXT, `ping-${i}`);
      expect((await ws.frames.next()).payload.toString()).toBe(`ping-${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ws.socket.destroyed).toBe(false);
    // Then silence: both connections are closed by the proxy.
    await ws.closed;
    await seen.closed;
    await own.close();
  });

  it('--tunnel-idle-timeout-ms: default one hour, 0 allowed; a value a socket timeout cannot take is refused at start', () => {
    const base = ['--config', 'x.yaml'];
    expect(readSettings(base, {}).tunnelIdleTimeoutMs).toBe(3_600_000);
    expect(readSettings([...base, '--tunnel-idle-timeout-ms', '0'], {}).tunnelIdleTimeoutMs).toBe(0);
    expect(readSettings(base, { AGW_TUNNEL_IDLE_TIMEOUT_MS: '250' }).tunnelIdleTimeoutMs).toBe(250);
    for (const bad of ['abc', '-1', '1.5', '99999999999'])
      expect(() => readSettings([...base, `--tunnel-idle-timeout-ms=${bad}`], {})).toThrow(
        /^--tunnel-idle-timeout-ms takes a whole number \(ms\) from 0 to 2147483647/,
      );
  });

  it('closing the proxy closes its open tunnels', async () => {
    const logger = pino({ level: 'silent' });
    const own = await buildGatewayServer({ store, metrics, logger, listenerPort: 80 });
    await own.listen({ port: 0, host: '127.0.0.1' });
    const ws = await open((own.server.address() as AddressInfo).port, { host: 'open.test' });
    const seen = lastUpgrade();
    await own.close();
    await ws.closed;
    await seen.closed;
  });
});
