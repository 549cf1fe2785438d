import { KubeConfig } from '@kubernetes/client-node';
import { generateSigningKey, getJson, kubectl, type SigningKey } from '@agw/test-kit';
import type { Jwk } from '@agw/api';
import { beforeAll, describe, expect, inject, it } from 'vitest';
// The controller's modules by path (JwksPersistence is not in @agw/controller's root export, and
// @agw/controller is not a dependency of e2e).
import { KubeRest } from '../../controller/dist/kube/kube-rest.js';
import { JWKS_STORE_LABEL, JwksPersistence, configMapName, type PersistedKeySet } from '../../controller/dist/jwks/persistence.js';

/**
 * JWKS persistence (last-known-good key sets in ConfigMaps) against the real API server: what a
 * controller writes, a restarted one reads back; corrupt ConfigMaps are skipped; orphans are
 * deleted; unchanged keys cost no write. Each test uses its own namespace (namespaces never finish
 * deleting on a bare API server) and new JwksPersistence instances, as a restarted controller has.
 */
const admin = () => inject('kubeconfig');
let rest: KubeRest;
let a: PersistedKeySet;
let b: PersistedKeySet;

const keySet = (url: string, fetchedAt: string, ...keys: SigningKey[]): PersistedKeySet => ({
  url,
  fetchedAt,
  jwks: { keys: keys.map((k) => k.jwk as Jwk) },
});
const byUrl = (sets: readonly PersistedKeySet[]) => [...sets].sort((x, y) => x.url.localeCompare(y.url));

async function namespace(name: string): Promise<string> {
  const r = await kubectl(admin(), ['create', 'namespace', name]);
  expect(r.code, r.stderr).toBe(0);
  return name;
}

/** Names and resourceVersions of the jwks-store ConfigMaps of a namespace. */
async function stored(ns: string): Promise<Map<string, string>> {
  const list = await getJson<{ items: Array<{ metadata: { name: string; resourceVersion: string } }> }>(admin(), [
    'configmaps',
    '-n',
    ns,
    '-l',
    JWKS_STORE_LABEL,
  ]);
  return new Map((list?.items ?? []).map((i) => [i.metadata.name, i.metadata.resourceVersion]));
}

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(admin());
  rest = new KubeRest(kc);
  const [k1, k2, k3] = await Promise.all([
    generateSigningKey('RS256', 'p-k1'),
    generateSigningKey('ES256', 'p-k2'),
    generateSigningKey('RS256', 'p-k3'),
  ]);
  a = keySet('https://idp-a.example/jwks', '2026-01-01T00:00:00.000Z', k1, k2);
  b = keySet('https://idp-b.example/realms/x/certs', '2026-01-02T00:00:00.000Z', k3);
});

describe('JWKS persistence on a real API server', () => {
  it('sync() of two key sets creates one labelled ConfigMap per URL; a new instance load()s them back equal', async () => {
    const ns = await namespace('e2e-jwks-roundtrip');
    await new JwksPersistence(rest, ns).sync([a, b]);
    expect([...(await stored(ns)).keys()].sort()).toEqual([configMapName(a.url), configMapName(b.url)].sort());
    const cm = await getJson<{ metadata: { labels: Record<string, string> }; data: Record<string, string> }>(admin(), [
      'configmap',
      configMapName(a.url),
      '-n',
      ns,
    ]);
    expect(cm?.metadata.labels).toMatchObject({
      'app.kubernetes.io/component': 'jwks-store',
      'app.kubernetes.io/managed-by': 'agentgateway-ts',
    });
    expect(JSON.parse(cm?.data['jwks-store'] ?? '')).toEqual({ url: a.url, fetchedAt: a.fetchedAt, jwks: a.jwks });
    expect(byUrl(await new JwksPersistence(rest, ns).load())).toEqual(byUrl([a, b]));
  });

  it('ConfigMaps with garbage data are skipped, no throw: load() returns the good ones; the next sync removes them', async () => {
    const ns = await namespace('e2e-jwks-garbage');
    await new JwksPersistence(rest, ns).sync([a]);
    const bad = (name: string, data?: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/component': 'jwks-store' } },
      ...(data ? { data } : {}),
    });
    for (const cm of [
      bad('jwks-store-not-json', { 'jwks-store': '{"url": "https://x.example", "jwks": {"keys": [' }),
      bad('jwks-store-null', { 'jwks-store': 'null' }),
      bad('jwks-store-a-string', { 'jwks-store': '"just a string"' }),
      bad('jwks-store-url-not-string', { 'jwks-store': JSON.stringify({ url: 5, fetchedAt: a.fetchedAt, jwks: a.jwks }) }),
      bad('jwks-store-keys-not-array', {
        'jwks-store': JSON.stringify({ url: 'https://y.example', fetchedAt: a.fetchedAt, jwks: { keys: {} } }),
      }),
      bad('jwks-store-no-jwks', { 'jwks-store': JSON.stringify({ url: 'https://z.example', fetchedAt: a.fetchedAt }) }),
      bad('jwks-store-other-key', { other: 'x' }),
      bad('jwks-store-no-data'),
    ])
      await rest.call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm);
    expect((await stored(ns)).size).toBe(9);
    const restarted = new JwksPersistence(rest, ns);
    await expect(restarted.load()).resolves.toEqual([a]);
    await restarted.sync([a]);
    expect([...(await stored(ns)).keys()]).toEqual([configMapName(a.url)]);
  });

  it("sync() with one set deletes the other set's ConfigMap (orphan) and keeps the first, unrewritten", async () => {
    const ns = await namespace('e2e-jwks-orphan');
    await new JwksPersistence(rest, ns).sync([a, b]);
    const before = await stored(ns);
    const restarted = new JwksPersistence(rest, ns);
    await restarted.load();
    await restarted.sync([a]);
    const after = await stored(ns);
    expect([...after.keys()]).toEqual([configMapName(a.url)]);
    expect(after.get(configMapName(a.url))).toBe(before.get(configMapName(a.url))); // same keys: no write
    expect(await new JwksPersistence(rest, ns).load()).toEqual([a]);
  });

  it('a refresh with the same keys costs no write; new keys are written (in place, same name)', async () => {
    const ns = await namespace('e2e-jwks-refresh');
    const p = new JwksPersistence(rest, ns);
    await p.sync([a]);
    const v1 = (await stored(ns)).get(configMapName(a.url));
    await p.sync([{ ...a, fetchedAt: '2026-01-01T00:05:00.000Z' }]);
    expect((await stored(ns)).get(configMapName(a.url))).toBe(v1);
    const rotated = { ...a, fetchedAt: '2026-01-01T00:10:00.000Z', jwks: { keys: [...b.jwks.keys, ...a.jwks.keys] } };
    await p.sync([rotated]);
    const v2 = (await stored(ns)).get(configMapName(a.url));
    expect(v2).toBeDefined();
    expect(v2).not.toBe(v1);
    expect(await new JwksPersistence(rest, ns).load()).toEqual([rotated]);
  });

  it('a key set over the ConfigMap size limit (1 MiB) is not persisted (said), and it never keeps the others from being written or orphans from being removed', async () => {
    const ns = await namespace('e2e-jwks-oversized');
    await new JwksPersistence(rest, ns).sync([b]);
    // ~1.2 MB of (syntactically plausible) RSA public keys: persistence does not validate keys.
    const keys = Array.from({ length: 300 }, (_, i) => ({ kty: 'RSA', kid: `big-${i}`, e: 'AQAB', n: 'x'.repeat(4_000) }) as Jwk);
    const big: PersistedKeySet = { url: 'https://huge.example/jwks', fetchedAt: a.fetchedAt, jwks: { keys } };
    const restarted = new JwksPersistence(rest, ns);
    await restarted.load();
    const err = await restarted.sync([big, a]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(
      /^could not persist every key set: https:\/\/huge\.example\/jwks: key set of \d+ bytes is over 1000000 and is not persisted$/,
    );
    // a written, b (an orphan now) removed, nothing of big stored.
    expect([...(await stored(ns)).keys()]).toEqual([configMapName(a.url)]);
    await expect(new JwksPersistence(rest, ns).load()).resolves.toEqual([a]);
  });
});
