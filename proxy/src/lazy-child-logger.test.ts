import { startEchoUpstream, request, type EchoUpstream } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildGatewayServer } from './server.js';

/** The lines a request logs carry its id, as with Fastify's per-request pino child (which the lazy child replaces). */
let upstream: EchoUpstream;
let gw: FastifyInstance;
let port = 0;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const store = new ConfigStore();
  const route = (host: string, upstreamPort: number) => ({
    id: `default/${host}/0/0`,
    listeners: ['http'],
    hostnames: [host],
    order: 0,
    match: { path: { type: 'PathPrefix' as const, value: '/' }, headers: [], queryParams: [] },
    backends: [{ name: `default/${host}:80`, weight: 1, endpoints: [{ host: '127.0.0.1', port: upstreamPort }] }],
  });
  expect(
    await applyConfig(store, {
      schemaVersion: 5,
      version: 'v1',
      gateway: { namespace: 'default', name: 'gw' },
      listeners: [{ name: 'http', port: 80 }],
      // Port 1 on loopback: nothing listens, the upstream call fails and req.log warns.
      routes: [route('ok.test', upstream.port), route('refused.test', 1)],
      policies: {},
    }),
  ).toBeUndefined();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info', base: { component: 'proxy' } }, sink);
  gw = await buildGatewayServer({ store, metrics: new ProxyMetrics(store, { defaultMetrics: false }), logger, listenerPort: 80 });
  await gw.listen({ port: 0, host: '127.0.0.1' });
  port = (gw.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

describe('request logging without a pino child per request', () => {
  it('the access line carries the request id (x-request-id) and the parent bindings', async () => {
    expect((await request(port, { host: 'ok.test', path: '/a?secret=1', headers: { 'x-request-id': 'req-ok-1' } })).status).toBe(200);
    const access = lines.find((l) => l['reqId'] === 'req-ok-1' && l['status'] === 200);
    expect(access).toMatchObject({ component: 'proxy', method: 'GET', host: 'ok.test', path: '/a', route: 'default/ok.test/0/0' });
  });

  it("req.log's line (an upstream failure) carries the request id too, and so does that request's access line", async () => {
    expect((await request(port, { host: 'refused.test', path: '/', headers: { 'x-request-id': 'req-fail-1' } })).status).toBe(503);
    const mine = lines.filter((l) => l['reqId'] === 'req-fail-1');
    expect(mine.map((l) => l['msg'] ?? l['status'])).toEqual(expect.arrayContaining(['upstream call failed']));
    expect(mine.find((l) => l['msg'] === 'upstream call failed')).toMatchObject({ component: 'proxy', level: 40 });
    expect(mine.find((l) => l['status'] === 503)).toBeDefined();
  });
});
