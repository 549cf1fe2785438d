import type { CompiledRoute, ProxyConfigInput } from '@agw/api';
import { generateSigningKey, mintToken, TestCertificates, type PemPair, type SigningKey } from '@agw/test-kit';
import {
  Client as GrpcClient,
  Metadata,
  Server as GrpcServer,
  ServerCredentials,
  credentials as grpcCredentials,
  status as GrpcStatus,
  type ServiceError,
} from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import {
  connect as h2connect,
  createServer as createH2cServer,
  type ClientHttp2Session,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ListenerPorts } from './listeners.js';
import { ProxyMetrics } from './metrics.js';
import { encodeGrpcMessage } from './plugins/responses.js';

/**
 * gRPC end to end: clients over HTTP/2 on an HTTPS listener, upstreams speaking h2c (a backend
 * with `protocol: h2c`, what `appProtocol: kubernetes.io/h2c` translates to). The response
 * trailers (`grpc-status`, `grpc-message`) reach the client, bidirectional streams are not
 * buffered (each message is sent only after the reply to the previous one arrived), JWT denials
 * are gRPC answers the upstream never sees, and unreachable or non-HTTP/2 upstreams get the
 * proxy's gRPC error answers. First with raw node:http2 framing, then with @grpc/grpc-js on both
 * ends.
 */

const HOST = 'grpc.test';
const ISS = 'https://agentgateway.dev';
const NO_TOKEN = 'authentication failure: no bearer token found';

/** A gRPC length-prefixed message (uncompressed). */
function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits gRPC length-prefixed messages off a byte stream, calling `onMessage` for each complete one. */
function deframer(onMessage: (message: string) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) return;
      onMessage(pending.subarray(5, 5 + length).toString('utf8'));
      pending = pending.subarray(5 + length);
    }
  };
}

/** Buffers in and out as they are: no protobuf needed to exercise the transport. */
const IDENTITY = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

/** What the h2c upstream received per call: its headers and messages. */
interface UpstreamCall {
  headers: IncomingHttpHeaders;
  messages: string[];
}

/**
 * The h2c upstream (node:http2 without TLS, prior knowledge only). `/echo.Echo/Unary` answers
 * `reply:<m>` once the request ended; `/echo.Echo/Chat` answers `echo:<m>` to each message as it
 * arrives, and ends when the client does. Both end with trailers `grpc-status: 0`, `grpc-message: ok`.
 */
function rawUpstream(calls: UpstreamCall[]): Http2Server {
  const server = createH2cServer();
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const call: UpstreamCall = { headers, messages: [] };
    calls.push(call);
    const chat = headers[':path'] === '/echo.Echo/Chat';
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
    stream.on(
      'data',
      deframer((m) => {
        call.messages.push(m);
        if (chat) stream.write(frame(`echo:${m}`));
      }),
    );
    stream.on('end', () => {
      if (!chat) for (const m of call.messages) stream.write(frame(`reply:${m}`));
      stream.end();
    });
  });
  return server;
}

let certs: TestCertificates;
let cert: PemPair;
let signer: SigningKey;
let token: string;
let store: ConfigStore;
let ports: ListenerPorts;
let plainPort = 0;
let tlsPort: number;
const calls: UpstreamCall[] = [];
let h2cUpstream: Http2Server;
let grpcUpstream: GrpcServer;
let grpcUpstreamPort: number;
/** An HTTP/1.1-only server behind a backend that says h2c. */
let h1Only: HttpServer;
/** An HTTP/1.1 upstream (backend protocol unset) that ends its chunked answer with trailers Node's HTTP/2 would refuse as they are. */
let h1Trailers: HttpServer;
/** A port nothing listens on. */
let closedPort: number;

const listen = async (server: HttpServer | Http2Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

let order = 0;
const route = (prefix: string, port: number, extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${prefix}/0/0`,
  listeners: ['https', 'http'],
  hostnames: [HOST],
  order: order++,
  match: { path: { type: 'PathPrefix', value: prefix }, headers: [], queryParams: [] },
  backends: [{ name: `default/${prefix}:80`, weight: 1, endpoints: [{ host: '127.0.0.1', port }], protocol: 'h2c' }],
  ...extra,
});

beforeAll(async () => {
  certs = new TestCertificates();
  cert = certs.selfSigned('grpc', HOST, [`DNS:${HOST}`]);
  signer = await generateSigningKey('ES256', 'k1');
  token = await mintToken(signer, { claims: { iss: ISS, sub: 'alice' } });

  h2cUpstream = rawUpstream(calls);
  const rawPort = await listen(h2cUpstream);
  h1Only = createHttpServer((_req, res) => res.end('HTTP/1.1 only'));
  const h1Port = await listen(h1Only);
  h1Trailers = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc', trailer: 'grpc-status' });
    res.write(frame('from h1'));
    res.addTrailers([
      ['grpc-status', '0'],
      ['content-type', 'a'],
      ['content-type', 'b'],
      ['http2-settings', 'AAMAAABkAAQAAP__'],
    ]);
    res.end();
  });
  const h1TrailersPort = await listen(h1Trailers);
  const probe = createTcpServer();
  closedPort = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  grpcUpstream = new GrpcServer();
  const reply = (call: { request: Buffer }, done: (err: null, reply: Buffer) => void) => {
    done(null, Buffer.concat([Buffer.from('grpc-js:'), call.request]));
  };
  grpcUpstream.addService(
    {
      Unary: { path: '/grpcjs.Echo/Unary', requestStream: false, responseStream: false, ...IDENTITY },
      Chat: { path: '/grpcjs.Echo/Chat', requestStream: true, responseStream: true, ...IDENTITY },
    },
    {
      Unary: reply,
      Chat: (call: NodeJS.ReadWriteStream & { write(b: Buffer): boolean }) => {
        call.on('data', (m: Buffer) => call.write(Buffer.concat([Buffer.from('echo:'), m])));
        call.on('end', () => call.end());
      },
    },
  );
  grpcUpstream.addService(
    { Unary: { path: '/grpcjs.Secure/Unary', requestStream: false, responseStream: false, ...IDENTITY } },
    { Unary: reply },
  );
  grpcUpstreamPort = await new Promise<number>((resolve, reject) =>
    grpcUpstream.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );

  store = new ConfigStore();
  ports = new ListenerPorts({
    store,
    metrics: new ProxyMetrics(store, { defaultMetrics: false }),
    logger: pino({ level: 'silent' }),
    host: '127.0.0.1',
    portMap: new Map([
      [443, 0],
      [80, 0],
    ]),
  });
  const config: ProxyConfigInput = {
    schemaVersion: 5,
    version: 'v1',
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [
      {
        name: 'https',
        port: 443,
        hostname: HOST,
        protocol: 'HTTPS',
        tls: { certificates: [{ name: 'default/grpc', certChainPem: cert.cert, privateKeyPem: cert.key }] },
      },
      // A plain listener: HTTP/1.1 and h2c (HTTP/2 with prior knowledge) on one port.
      { name: 'http', port: 80 },
    ],
    routes: [
      route('/echo.Echo/', rawPort),
      route('/secure.Echo/', rawPort, { policies: { jwt: 'strict' } }),
      route('/grpcjs.Echo/', grpcUpstreamPort),
      route('/grpcjs.Secure/', grpcUpstreamPort, { policies: { jwt: 'strict' } }),
      route('/refused.Echo/', closedPort),
      route('/h1only.Echo/', h1Port),
      route('/h1trailers.Echo/', h1TrailersPort, {
        backends: [{ name: 'default/h1trailers:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: h1TrailersPort }] }],
      }),
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
    },
  };
  expect(await applyConfig(store, config)).toBeUndefined();
  expect(store.current?.warnings).toEqual([]);
  await ports.sync();
  tlsPort = ports.bound().get(443) as number;
  plainPort = ports.bound().get(80) as number;
});

afterAll(async () => {
  await ports.close();
  h2cUpstream.close();
  for (const server of [h1Only, h1Trailers]) {
    server.closeAllConnections();
    server.close();
  }
  grpcUpstream.forceShutdown();
  rmSync(certs.dir, { recursive: true, force: true });
});

const session = (): ClientHttp2Session => h2connect(`https://127.0.0.1:${tlsPort}`, { ca: [cert.cert], servername: HOST });

interface GrpcAnswer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  messages: string[];
}

/** One gRPC call over `s`: `messages` framed, sent at once, then the whole answer. */
function unary(s: ClientHttp2Session, path: string, messages: string[], headers: Record<string, string> = {}): Promise<GrpcAnswer> {
  return new Promise((resolve, reject) => {
    const stream = s.request({
      ':method': 'POST',
      ':path': path,
      ':authority': HOST,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const answer: GrpcAnswer = { headers: {}, trailers: {}, messages: [] };
    stream.on('response', (h) => (answer.headers = h));
    stream.on('trailers', (t) => (answer.trailers = t));
    stream.on(
      'data',
      deframer((m) => answer.messages.push(m)),
    );
    stream.on('end', () => resolve(answer));
    stream.on('error', reject);
    stream.end(Buffer.concat(messages.map(frame)));
  });
}

/** `grpc-status` and the decoded `grpc-message` of an answer: from the trailers, or the headers of a trailers-only answer. */
const grpcStatusOf = (a: GrpcAnswer) => {
  const at = a.trailers['grpc-status'] !== undefined ? a.trailers : a.headers;
  return { status: at['grpc-status'], message: decodeURIComponent(String(at['grpc-message'] ?? '')) };
};

describe('gRPC over HTTP/2 to an h2c upstream (raw framing)', () => {
  it('a unary call gets the body and the trailers grpc-status 0 / grpc-message; the upstream got HTTP/2 with TE: trailers', async () => {
    const s = session();
    try {
      const before = calls.length;
      const a = await unary(s, '/echo.Echo/Unary', ['hello']);
      expect(a.headers[':status']).toBe(200);
      expect(a.headers['content-type']).toBe('application/grpc');
      expect(a.messages).toEqual(['reply:hello']);
      expect(a.trailers['grpc-status']).toBe('0');
      expect(a.trailers['grpc-message']).toBe('ok');
      // Trailers come after the body, not folded into the headers.
      expect(a.headers['grpc-status']).toBeUndefined();
      expect(calls.length).toBe(before + 1);
      const seen = calls[calls.length - 1] as UpstreamCall;
      expect(seen.messages).toEqual(['hello']);
      expect(seen.headers[':method']).toBe('POST');
      expect(seen.headers[':path']).toBe('/echo.Echo/Unary');
      expect(seen.headers[':authority']).toBe(HOST);
      expect(seen.headers.te).toBe('trailers');
      expect(seen.headers['x-forwarded-proto']).toBe('https');
    } finally {
      s.close();
    }
  });

  it('a bidirectional stream: each message is sent only after the reply to the previous one arrived', async () => {
    const s = session();
    try {
      const stream = s.request({
        ':method': 'POST',
        ':path': '/echo.Echo/Chat',
        ':authority': HOST,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const replies: string[] = [];
      let waiting: ((m: string) => void) | undefined;
      stream.on(
        'data',
        deframer((m) => {
          replies.push(m);
          waiting?.(m);
        }),
      );
      const ended = new Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }>((resolve, reject) => {
        let headers: IncomingHttpHeaders = {};
        let trailers: IncomingHttpHeaders = {};
        stream.on('response', (h) => (headers = h));
        stream.on('trailers', (t) => (trailers = t));
        stream.on('end', () => resolve({ headers, trailers }));
        stream.on('error', reject);
      });
      // A proxy that buffered either direction would never deliver a reply here: the test would time out.
      for (const m of ['one', 'two', 'three']) {
        const reply = new Promise<string>((resolve) => (waiting = resolve));
        stream.write(frame(m));
        expect(await reply).toBe(`echo:${m}`);
      }
      stream.end();
      const { headers, trailers } = await ended;
      expect(headers[':status']).toBe(200);
      expect(replies).toEqual(['echo:one', 'echo:two', 'echo:three']);
      expect(trailers['grpc-status']).toBe('0');
      expect((calls[calls.length - 1] as UpstreamCall).messages).toEqual(['one', 'two', 'three']);
    } finally {
      s.close();
    }
  });

  it('JWT: no token → grpc-status 16 and the upstream never sees the call; a valid token → the call succeeds', async () => {
    const s = session();
    try {
      const before = calls.length;
      const denied = await unary(s, '/secure.Echo/Unary', ['secret']);
      expect(denied.headers[':status']).toBe(200);
      expect(denied.headers['content-type']).toBe('application/grpc');
      expect(grpcStatusOf(denied)).toEqual({ status: '16', message: NO_TOKEN });
      expect(denied.messages).toEqual([]);
      expect(calls.length).toBe(before);

      const allowed = await unary(s, '/secure.Echo/Unary', ['secret'], { authorization: `Bearer ${token}` });
      expect(allowed.headers[':status']).toBe(200);
      expect(allowed.messages).toEqual(['reply:secret']);
      expect(allowed.trailers['grpc-status']).toBe('0');
      expect(calls.length).toBe(before + 1);
      // The verified credential is not forwarded (as on every route with a JWT policy).
      expect((calls[calls.length - 1] as UpstreamCall).headers.authorization).toBeUndefined();
    } finally {
      s.close();
    }
  });

  it('an HTTP/1.1 client over TLS: its http2-settings header is not forwarded (HTTP/2 refuses it), trailers come back chunked', async () => {
    const before = calls.length;
    const answer = await new Promise<{ status: number; messages: string[]; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: tlsPort,
          servername: HOST,
          ca: [cert.cert],
          ALPNProtocols: ['http/1.1'],
          method: 'POST',
          path: '/echo.Echo/Unary',
          headers: { host: HOST, 'content-type': 'application/grpc', te: 'trailers', 'http2-settings': 'AAMAAABkAAQAAP__' },
          agent: false,
        } as RequestOptions & ConnectionOptions,
        (res) => {
          const messages: string[] = [];
          res.on(
            'data',
            deframer((m) => messages.push(m)),
          );
          res.on('end', () => resolve({ status: res.statusCode ?? 0, messages, trailers: res.trailers }));
        },
      );
      req.on('error', reject);
      req.end(frame('over h1'));
    });
    expect(answer).toEqual({ status: 200, messages: ['reply:over h1'], trailers: { 'grpc-status': '0', 'grpc-message': 'ok' } });
    expect(calls.length).toBe(before + 1);
    const seen = calls[calls.length - 1] as UpstreamCall;
    expect(seen.headers['http2-settings']).toBeUndefined();
    expect(seen.headers.te).toBe('trailers');
  });

  it("an HTTP/1.1 upstream's trailers reach an HTTP/2 client: repeated fields as one line, connection-specific ones dropped", async () => {
    const s = session();
    try {
      const a = await unary(s, '/h1trailers.Echo/Unary', ['x']);
      expect(a.headers[':status']).toBe(200);
      expect(a.messages).toEqual(['from h1']);
      expect(a.trailers['grpc-status']).toBe('0');
      expect(a.trailers['content-type']).toBe('a, b');
      expect(a.trailers['http2-settings']).toBeUndefined();
      // The proxy is still serving (a trailer Node refuses at send time would have been an uncaught throw).
      expect((await unary(s, '/echo.Echo/Unary', ['after'])).messages).toEqual(['reply:after']);
    } finally {
      s.close();
    }
  });

  it.each([
    ['/refused.Echo/Unary', 'upstream call failed: connection refused'],
    ['/h1only.Echo/Unary', 'upstream call failed: invalid response'],
  ])('an h2c backend that cannot answer (%s): grpc-status 14 with the proxy error', async (path, message) => {
    const s = session();
    try {
      const a = await unary(s, path, ['x']);
      expect(a.headers[':status']).toBe(200);
      expect(grpcStatusOf(a)).toEqual({ status: '14', message });
      expect(a.messages).toEqual([]);
    } finally {
      s.close();
    }
  });
});

describe('@grpc/grpc-js client → proxy (TLS, h2) → @grpc/grpc-js server (h2c)', () => {
  const client = () =>
    new GrpcClient(`127.0.0.1:${tlsPort}`, grpcCredentials.createSsl(Buffer.from(cert.cert)), {
      'grpc.ssl_target_name_override': HOST,
      'grpc.default_authority': HOST,
    });
  const call = (c: GrpcClient, path: string, message: string, metadata = new Metadata()) =>
    new Promise<{ err: ServiceError | null; reply?: string }>((resolve) => {
      c.makeUnaryRequest(path, IDENTITY.requestSerialize, IDENTITY.responseDeserialize, Buffer.from(message), metadata, (err, reply) =>
        resolve({ err, ...(reply !== undefined ? { reply: reply.toString('utf8') } : {}) }),
      );
    });

  it('unary: OK with the reply', async () => {
    const c = client();
    try {
      expect(await call(c, '/grpcjs.Echo/Unary', 'hi')).toEqual({ err: null, reply: 'grpc-js:hi' });
    } finally {
      c.close();
    }
  });

  it('JWT: UNAUTHENTICATED without a token, OK with one', async () => {
    const c = client();
    try {
      const denied = await call(c, '/grpcjs.Secure/Unary', 'hi');
      expect([denied.err?.code, denied.err?.details]).toEqual([GrpcStatus.UNAUTHENTICATED, NO_TOKEN]);
      expect(denied.err?.details).toBe(NO_TOKEN);
      const md = new Metadata();
      md.set('authorization', `Bearer ${token}`);
      expect(await call(c, '/grpcjs.Secure/Unary', 'hi', md)).toEqual({ err: null, reply: 'grpc-js:hi' });
    } finally {
      c.close();
    }
  });

  it('bidirectional streaming: replies interleave with requests, then OK', async () => {
    const c = client();
    try {
      const stream = c.makeBidiStreamRequest('/grpcjs.Echo/Chat', IDENTITY.requestSerialize, IDENTITY.responseDeserialize);
      const replies: string[] = [];
      let waiting: ((m: string) => void) | undefined;
      stream.on('data', (m: Buffer) => {
        replies.push(m.toString('utf8'));
        waiting?.(m.toString('utf8'));
      });
      const status = new Promise<number>((resolve) => stream.on('status', (s: { code: number }) => resolve(s.code)));
      const ended = new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      for (const m of ['a', 'b', 'c']) {
        const reply = new Promise<string>((resolve) => (waiting = resolve));
        stream.write(Buffer.from(m));
        expect(await reply).toBe(`echo:${m}`);
      }
      stream.end();
      await ended;
      expect(await status).toBe(GrpcStatus.OK);
      expect(replies).toEqual(['echo:a', 'echo:b', 'echo:c']);
    } finally {
      c.close();
    }
  });
});

describe('gRPC without TLS: h2c from clients on a plain listener (as `grpcurl -plaintext`)', () => {
  const h2cSession = (): ClientHttp2Session => h2connect(`http://127.0.0.1:${plainPort}`);

  it('raw HTTP/2 with prior knowledge: a unary call gets the body and grpc-status 0; JWT: 16 without a token (upstream untouched), 0 with one', async () => {
    const s = h2cSession();
    try {
      const ok = await unary(s, '/echo.Echo/Unary', ['plain'], { ':authority': HOST });
      expect(ok.headers[':status']).toBe(200);
      expect(ok.messages).toEqual(['reply:plain']);
      expect(ok.trailers['grpc-status']).toBe('0');
      const before = calls.length;
      const denied = await unary(s, '/secure.Echo/Unary', ['secret'], { ':authority': HOST });
      expect(grpcStatusOf(denied)).toEqual({ status: '16', message: NO_TOKEN });
      expect(calls.length).toBe(before);
      const allowed = await unary(s, '/secure.Echo/Unary', ['secret'], { ':authority': HOST, authorization: `Bearer ${token}` });
      expect(allowed.trailers['grpc-status']).toBe('0');
      expect(calls.length).toBe(before + 1);
    } finally {
      s.close();
    }
  });

  it('@grpc/grpc-js with insecure credentials: OK; UNAUTHENTICATED without a token, OK with one', async () => {
    const c = new GrpcClient(`127.0.0.1:${plainPort}`, grpcCredentials.createInsecure(), { 'grpc.default_authority': HOST });
    const call = (path: string, metadata = new Metadata()) =>
      new Promise<{ err: ServiceError | null; reply?: string }>((resolve) => {
        c.makeUnaryRequest(path, IDENTITY.requestSerialize, IDENTITY.responseDeserialize, Buffer.from('hi'), metadata, (err, reply) =>
          resolve({ err, ...(reply !== undefined ? { reply: reply.toString('utf8') } : {}) }),
        );
      });
    try {
      expect(await call('/grpcjs.Echo/Unary')).toEqual({ err: null, reply: 'grpc-js:hi' });
      const denied = await call('/grpcjs.Secure/Unary');
      expect([denied.err?.code, denied.err?.details]).toEqual([GrpcStatus.UNAUTHENTICATED, NO_TOKEN]);
      const md = new Metadata();
      md.set('authorization', `Bearer ${token}`);
      expect(await call('/grpcjs.Secure/Unary', md)).toEqual({ err: null, reply: 'grpc-js:hi' });
    } finally {
      c.close();
    }
  });

  it('HTTP/1.1 on the same port is answered as before (the first bytes decide per connection)', async () => {
    const res = await fetch(`http://127.0.0.1:${plainPort}/no-such-route`, { headers: { host: HOST } });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('route not found');
  });
});

describe('grpc-message encoding', () => {
  it.each([
    ['authorization failed', 'authorization%20failed'],
    [NO_TOKEN, 'authentication%20failure:%20no%20bearer%20token%20found'],
    ['token uses the unknown key "k9"', 'token%20uses%20the%20unknown%20key%20%22k9%22'],
    ['100% {x}?#<`>', '100%25%20%7Bx%7D%3F%23%3C%60%3E'],
    ['line\nbreak, café', 'line%0Abreak,%20caf%C3%A9'],
  ])('%j → %s, and back with decodeURIComponent', (text, encoded) => {
    expect(encodeGrpcMessage(text)).toBe(encoded);
    expect(decodeURIComponent(encoded)).toBe(text);
  });
});
