import type { CompiledRoute, CompiledTransform, ProxyConfigInput } from '@agw/api';
import type { FastifyInstance } from 'fastify';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildGatewayServer } from './server.js';

/**
 * Server-sent events (MCP's streamable HTTP) through the proxy: each event reaches the client
 * before the upstream writes the next one. The upstream waits for the client to have received an
 * event before it writes the next: a proxy that buffers never lets the test finish.
 */

/** A promise with its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const EVENTS = 3;
/** `received[i]` resolves when the client under test has received event i (set per exchange). */
let received: { promise: Promise<void>; resolve: () => void }[] = [];

async function sse(req: IncomingMessage, res: ServerResponse): Promise<void> {
  for await (const _ of req); // the request body (MCP: a JSON-RPC message), read whole
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let i = 0; i < EVENTS; i++) {
    res.write(`id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","n":${i}}\n\n`);
    // The next event only once the client has this one: the proxy must not hold it back.
    await (received[i] as { promise: Promise<void> }).promise;
  }
  res.end();
}

/** POSTs through the proxy and reads the event stream, resolving `received[i]` as each event arrives. */
function readEvents(port: number, host: string): Promise<{ status: number; headers: IncomingHttpHeaders; events: string[] }> {
  received = Array.from({ length: EVENTS }, deferred);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mcp',
        headers: { host, accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        let text = '';
        const events: string[] = [];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          let end: number;
          while ((end = text.indexOf('\n\n')) >= 0) {
            const event = text.slice(0, end);
            text = text.slice(end + 2);
            received[events.length]?.resolve();
            events.push(event);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, events }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  });
}

let upstream: Server;
let gw: FastifyInstance, port: number;

const transform = (t: Partial<CompiledTransform>): CompiledTransform => ({ metadata: [], add: [], set: [], remove: [], ...t });
const route = (host: string, upstreamPort: number, extra: Partial<CompiledRoute> = {}): CompiledRoute => ({
  id: `default/${host}/0/0`,
  listeners: ['http'],
  hostnames: [host],
  order: 0,
  match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  backends: [{ name: 'default/mcp:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }] }],
  ...extra,
});

beforeAll(async () => {
  upstream = createServer((req, res) => void sse(req, res));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const store = new ConfigStore();
  const config: ProxyConfigInput = {
    schemaVersion: 5,
    version: 's1',
    gateway: { namespace: 'default', name: 'gw' },
    listeners: [{ name: 'http', port: 80 }],
    routes: [route('mcp.test', upstreamPort), route('edited.test', upstreamPort, { policies: { transformation: 'headers-only' } })],
    policies: {
      transformation: {
        'headers-only': {
          policy: 'default/headers-only',
          entries: [
            {
              request: transform({ set: [{ name: 'x-req', value: "'1'" }] }),
              response: transform({ set: [{ name: 'x-edited', value: 'string(response.code)' }], remove: ['cache-control'] }),
            },
          ],
        },
      },
    },
  };
  expect(await applyConfig(store, config)).toBeUndefined();
  gw = await buildGatewayServer({
    store,
    metrics: new ProxyMetrics(store, { defaultMetrics: false }),
    logger: pino({ level: 'silent' }),
    listenerPort: 80,
  });
  await gw.listen({ port: 0, host: '127.0.0.1' });
  port = (gw.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await gw.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

describe('SSE streaming (text/event-stream)', () => {
  it('each event reaches the client before the upstream writes the next', async () => {
    const res = await readEvents(port, 'mcp.test');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.events).toEqual([0, 1, 2].map((i) => `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","n":${i}}`));
  });

  it('a response transformation that does not touch the body does not buffer the stream', async () => {
    const res = await readEvents(port, 'edited.test');
    expect(res.status).toBe(200);
    expect(res.headers['x-edited']).toBe('200');
    expect(res.headers['cache-control']).toBeUndefined();
    expect(res.events).toHaveLength(EVENTS);
  });
});
