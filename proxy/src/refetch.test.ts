import type { ProxyConfigInput } from '@agw/api';
import { generateSigningKey, jwks, mintToken, request, startEchoUpstream, type EchoUpstream, type SigningKey } from '@agw/test-kit';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig } from './config/apply.js';
import { ConfigStore } from './config/store.js';
import { ProxyMetrics } from './metrics.js';
import { buildGatewayServer } from './server.js';

/** Refetch on unknown kid, proxy side: ask once, wait (bounded) for new keys, never wait twice in a row. */
const ISS = 'https://idp.example';
const URL_ = 'http://idp.example/keys';
let upstream: EchoUpstream;
let old: SigningKey, rotated: SigningKey;
let store: ConfigStore;
let gw: FastifyInstance;
let port: number;
let clock = 1_000_000_000;
const asked: string[] = [];
/** What the key source does when asked: publish `next` keys (or nothing). */
let publish: (() => Promise<void>) | undefined;

const config = (version: string, keys: SigningKey[]): ProxyConfigInput => ({
  schemaVersion: 5,
  version,
  gateway: { namespace: 'd', name: 'gw' },
  listeners: [{ name: 'http', port: 80 }],
  routes: [
    {
      id: 'd/r/0/0',
      listeners: ['http'],
      hostnames: [],
      order: 0,
      match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
      backends: [{ name: 'd/up:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
      policies: { jwt: 'p' },
    },
  ],
  policies: {
    jwt: {
      p: {
        policy: 'd/p',
        mode: 'Strict',
        location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
        providers: [{ id: 'd/p#0', issuer: ISS, keys: jwks(...keys).keys as never, remoteUrl: URL_ }],
      },
    },
  },
});

beforeAll(async () => {
  upstream = await startEchoUpstream();
  [old, rotated] = await Promise.all([generateSigningKey('RS256', 'old'), generateSigningKey('RS256', 'rotated')]);
  store = new ConfigStore();
  expect(await applyConfig(store, config('v1', [old]))).toBeUndefined();
  gw = await buildGatewayServer({
    store,
    metrics: new ProxyMetrics(store, { defaultMetrics: false }),
    logger: pino({ level: 'silent' }),
    listenerPort: 80,
    now: () => clock,
    refetchWaitMs: 300,
    refetchIntervalMs: 30_000,
    requestRefetch: (url, kid) => {
      asked.push(`${url} ${kid}`);
      void publish?.();
    },
  });
  await gw.listen({ port: 0, host: '127.0.0.1' });
  port = (gw.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const call = async (key: SigningKey, kid = key.kid) =>
  request(port, {
    headers: {
      authorization: `Bearer ${await mintToken(key, { claims: { iss: ISS }, header: { kid }, nowSec: Math.floor(clock / 1000) })}`,
    },
  });

describe('unknown kid with a remote key source', () => {
  it('a kid the IdP really has: one refetch request, the new keys arrive, the same request passes', async () => {
    publish = () => applyConfig(store, config('v2', [old, rotated])).then(() => undefined);
    const answers = await Promise.all([call(rotated), call(rotated), call(rotated)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(asked).toEqual([`${URL_} rotated`]); // concurrent requests shared one refetch
  });

  it('a kid nobody has: 401 after the bounded wait, then further unknown kids are refused without waiting', async () => {
    clock += 31_000;
    publish = undefined;
    const first = await call(old, 'ghost-1');
    expect([first.status, first.body]).toEqual([401, 'authentication failure: token uses the unknown key "ghost-1"']);
    expect(asked.at(-1)).toBe(`${URL_} ghost-1`);
    const before = asked.length;
    const second = await call(old, 'ghost-2');
    expect(second.status).toBe(401);
    // No new refetch request within 30 s, hence no wait either: both start together in awaitNewKeys.
    expect(asked.length).toBe(before);
  });
});
