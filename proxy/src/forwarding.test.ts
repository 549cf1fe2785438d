import type { CompiledRoute, ProxyConfigInput } from '@agw/api';
import { rawRequest, request } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { createServer, METHODS, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildGatewayServer } from './server.js';

/** The upstream: behaviours chosen by path; every request seen is recorded with its body's size and SHA-256. */
interface Seen {
  url: string;
  headers: IncomingMessage['headers'];
  bytes: number;
  sha256: string;
}
const seen: Seen[] = [];
let upstreamClosedEarly = 0;
const BIG = Buffer.alloc(8 * 1024 * 1024, 'abcdefghij');

function upstreamHandler(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (c: Buffer) => {
    bytes += c.length;
    hash.update(c);
  });
  req.on('end', () => {
    seen.push({ url: req.url ?? '', headers: req.headers, bytes, sha256: hash.digest('hex') });
    const path = req.url ?? '/';
    if (path === '/hop') {
      res.writeHead(
        200,
        [
          ['Connection', 'keep-alive, X-Hop-Only'],
          ['X-Hop-Only', 'secret'],
          ['Keep-Alive', 'timeout=5'],
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
          ['X-End-To-End', 'yes'],
        ].flat(),
      );
      res.end('ok');
    } else if (path === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG.length) });
      res.end(BIG);
    } else if (path === '/chunked' || path === '/slow-chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let i = 0;
      const tick = setInterval(
        () => {
          res.write(`part ${i}\n`);
          if (++i === 5) {
            clearInterval(tick);
            res.end();
          }
        },
        path === '/chunked' ? 5 : 60,
      );
    } else if (path === '/hang') {
      res.on('close', () => {
        if (!res.writableFinished) upstreamClosedEarly++;
      });
    } else if (path === '/reset-midway') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (path === '/early-hints') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.end('after hints');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, bytes }));
    }
  });
}

let upstream: Server, upstreamPort: number, refusedPort: number, garbagePort: number;
/** Answers every request with a response no HTTP client may accept (a DEL character in a header value). */
const garbage = createTcpServer((socket) => {
  socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 2\r\n\r\nok', 'latin1'));
});
let gw: FastifyInstance, port: number, impatient: FastifyInstance, impatientPort: number;
let store: ConfigStore;

const route = (host: string, targetPort: () => number, extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${host}/0/0`,
  listeners: ['http'],
  hostnames: [host],
  order: 0,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: 'default/b:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: targetPort() }] }],
  ...extra,
});

beforeAll(async () => {
  upstream = createServer(upstreamHandler);
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as AddressInfo).port;
  // A port with nothing listening: bind, note, close.
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  refusedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
  garbagePort = (garbage.address() as AddressInfo).port;

  store = new ConfigStore();
  const config: ProxyConfigInput = {
    schemaVersion: 5,
    version: 'f1',
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [{ name: 'http', port: 80 }],
    routes: [
      route('app.test', () => upstreamPort),
      route('refused.test', () => refusedPort),
      route('garbage.test', () => garbagePort),
      route('deadline.test', () => upstreamPort, { timeoutMs: 150 }),
    ],
    policies: { jwt: {} },
  };
  expect(await applyConfig(store, config)).toBeUndefined();
  const metrics = new ProxyMetrics(store, { defaultMetrics: false });
  const logger = pino({ level: 'silent' });
  gw = await buildGatewayServer({ store, metrics, logger, listenerPort: 80 });
  impatient = await buildGatewayServer({ store, metrics, logger, listenerPort: 80, upstreamTimeoutMs: 150 });
  await gw.listen({ port: 0, host: '127.0.0.1' });
  await impatient.listen({ port: 0, host: '127.0.0.1' });
  port = (gw.server.address() as AddressInfo).port;
  impatientPort = (impatient.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all([gw.close(), impatient.close()]);
  garbage.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

const last = () => seen[seen.length - 1] as Seen;

describe('forwarding: headers', () => {
  it('hop-by-hop and Connection-listed headers cross in neither direction; repeated Set-Cookie survives', async () => {
    const res = await request(port, {
      host: 'app.test',
      path: '/hop',
      headers: {
        connection: 'keep-alive, x-client-hop',
        'x-client-hop': 'secret',
        'keep-alive': 'timeout=9',
        te: 'trailers',
        'x-kept': 'yes',
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(last().headers['x-client-hop']).toBeUndefined();
    expect(last().headers['keep-alive']).toBeUndefined();
    expect(last().headers.te).toBeUndefined();
    expect(last().headers['x-kept']).toBe('yes');
    expect(res.headers['x-hop-only']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=5'); // the proxy's own keep-alive, not the upstream's
    expect(res.headers['x-end-to-end']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('1xx informational responses are not forwarded; the final response is', async () => {
    const res = await request(port, { host: 'app.test', path: '/early-hints' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('after hints');
  });
});

describe('forwarding: bodies stream both ways', () => {
  it('an 8 MiB response arrives whole, with its Content-Length', async () => {
    const res = await new Promise<{ status: number; length: string | undefined; sha: string; bytes: number }>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/big', headers: { host: 'app.test' }, agent: false }, (r) => {
        const hash = createHash('sha256');
        let bytes = 0;
        // A slow reader: the proxy must pause the upstream rather than buffer without bound.
        r.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
          r.pause();
          setTimeout(() => r.resume(), 1);
        });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, length: r.headers['content-length'], sha: hash.digest('hex'), bytes }));
      })
        .on('error', reject)
        .end();
    });
    expect(res.status).toBe(200);
    expect(res.length).toBe(String(BIG.length));
    expect(res.bytes).toBe(BIG.length);
    expect(res.sha).toBe(createHash('sha256').update(BIG).digest('hex'));
  });

  it('a chunked response streams part by part', async () => {
    const res = await request(port, { host: 'app.test', path: '/chunked' });
    expect(res.body).toBe('part 0\npart 1\npart 2\npart 3\npart 4\n');
  });

  it('a chunked request body without Content-Type reaches the upstream byte for byte', async () => {
    const body = Buffer.alloc(300_000, 'xyz');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'PUT', path: '/upload', headers: { host: 'app.test' }, agent: false },
        (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < body.length; i += 65_536) req.write(body.subarray(i, i + 65_536));
      req.end();
    });
    expect(status).toBe(200);
    expect(last().bytes).toBe(body.length);
    expect(last().sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(last().headers['transfer-encoding']).toBe('chunked');
  });

  it('a JSON body is not parsed by the proxy (invalid JSON passes through)', async () => {
    const res = await request(port, {
      host: 'app.test',
      method: 'POST',
      path: '/json',
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ method: 'POST', bytes: 9 });
  });

  it('every method the HTTP parser accepts is forwarded with its body (WebDAV, PURGE, QUERY…), CONNECT aside', async () => {
    const methods = METHODS.filter((m) => !['CONNECT', 'HEAD', 'TRACE'].includes(m));
    expect(methods).toEqual(expect.arrayContaining(['PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'PURGE', 'REPORT', 'SEARCH']));
    for (const method of methods) {
      const res = await request(port, {
        host: 'app.test',
        method,
        path: '/dav/file',
        body: '<propfind/>',
        headers: { 'content-length': '11' },
      });
      expect({ method, status: res.status }).toEqual({ method, status: 200 });
      expect(JSON.parse(res.body)).toEqual({ method, bytes: 11 });
      expect(last().url).toBe('/dav/file');
    }
    // A method with no body to send, and one that must have none.
    expect(JSON.parse((await request(port, { host: 'app.test', method: 'UNLOCK', path: '/x' })).body)).toEqual({
      method: 'UNLOCK',
      bytes: 0,
    });
    expect(JSON.parse((await request(port, { host: 'app.test', method: 'TRACE', path: '/x' })).body)).toEqual({
      method: 'TRACE',
      bytes: 0,
    });
  });

  it("a Content-Type the proxy cannot parse, or none on QUERY, is the upstream's business: forwarded", async () => {
    for (const [method, contentType] of [
      ['POST', 'not a media type'],
      ['PUT', ''],
      ['QUERY', undefined],
    ] as const) {
      const headers: Record<string, string> = {
        'content-length': '3',
        ...(contentType !== undefined ? { 'content-type': contentType } : {}),
      };
      const res = await request(port, { host: 'app.test', method, path: '/ct', body: 'abc', headers });
      expect({ method, status: res.status, body: res.body }).toEqual({ method, status: 200, body: JSON.stringify({ method, bytes: 3 }) });
    }
  });

  it("a method on a host no route serves: the gateway's own 404, not the framework's", async () => {
    const res = await request(port, { host: 'nowhere.test', method: 'PURGE', path: '/x' });
    expect(res.status).toBe(404);
    expect(res.body).toBe('route not found');
  });

  it('HEAD gets the headers and no body', async () => {
    const res = await request(port, { host: 'app.test', method: 'HEAD', path: '/big' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(BIG.length));
    expect(res.body).toBe('');
  });
});

describe('forwarding: failures answer in agentgateway words, or cut the connection once the status is sent', () => {
  it('nothing listening → 503 upstream call failed: connection refused (gRPC: UNAVAILABLE)', async () => {
    const res = await request(port, { host: 'refused.test', path: '/' });
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('upstream call failed: connection refused');
    const grpc = await request(port, {
      host: 'refused.test',
      method: 'POST',
      path: '/pkg.Svc/Call',
      headers: { 'content-type': 'application/grpc' },
    });
    expect(grpc.status).toBe(200);
    expect(grpc.headers['grpc-status']).toBe('14');
  });

  it('an upstream answer that is not valid HTTP → 502 upstream call failed: invalid response', async () => {
    const res = await request(port, { host: 'garbage.test', path: '/' });
    expect(res.status).toBe(502);
    expect(res.body).toBe('upstream call failed: invalid response');
  });

  it('an HTTPRoute timeout → 504 request timeout, and the upstream request is abandoned', async () => {
    const before = upstreamClosedEarly;
    const res = await request(port, { host: 'deadline.test', path: '/hang' });
    expect(res.status).toBe(504);
    expect(res.body).toBe('request timeout');
    await expect.poll(() => upstreamClosedEarly).toBe(before + 1);
  });

  it('no response headers within --upstream-timeout-ms → 504 upstream call timeout', async () => {
    const res = await request(impatientPort, { host: 'app.test', path: '/hang' });
    expect(res.status).toBe(504);
    expect(res.body).toBe('upstream call timeout');
  });

  it('an upstream that dies mid-body: the client connection is cut, never a truncated success', async () => {
    const res = await rawRequest(port, 'GET /reset-midway HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    // Depending on timing the client saw the head and part of the body, or nothing; never all 100 bytes.
    expect([0, 200]).toContain(res.status);
    expect(Buffer.byteLength(res.body)).toBeLessThan(100);
  });

  it('a client that goes away aborts its upstream request', async () => {
    const before = upstreamClosedEarly;
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/hang', headers: { host: 'app.test' }, agent: false });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await expect.poll(() => upstreamClosedEarly).toBe(before + 1);
  });

  it('keeps serving after all of the above', async () => {
    const res = await request(port, { host: 'app.test', path: '/ok' });
    expect(res.status).toBe(200);
  });
});

describe('forwarding: shutdown', () => {
  it('close() lets an in-flight request finish (status and body), then refuses new connections', async () => {
    const logger = pino({ level: 'silent' });
    const draining = await buildGatewayServer({
      store,
      metrics: new ProxyMetrics(store, { defaultMetrics: false }),
      logger,
      listenerPort: 80,
    });
    await draining.listen({ port: 0, host: '127.0.0.1' });
    const drainPort = (draining.server.address() as AddressInfo).port;
    const before = seen.length;
    const inFlight = request(drainPort, { host: 'app.test', path: '/slow-chunked' });
    await expect.poll(() => seen.length).toBe(before + 1); // the upstream is answering: 5 parts, 60 ms apart
    await draining.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body).toBe('part 0\npart 1\npart 2\npart 3\npart 4\n');
    await expect(request(drainPort, { host: 'app.test', path: '/ok' })).rejects.toThrow(/ECONNREFUSED/);
  });
});
