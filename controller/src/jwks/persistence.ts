import { createHash } from 'node:crypto';
import type { Jwk } from '@agw/api';
import { KubeError, type KubeRest } from '../kube/kube-rest.js';

/** Label of the ConfigMaps holding last-known-good key sets (upstream's). */
export const JWKS_STORE_LABEL = 'app.kubernetes.io/component=jwks-store';
const DATA_KEY = 'jwks-store';

export interface PersistedKeySet {
  readonly url: string;
  readonly fetchedAt: string;
  readonly jwks: { keys: Jwk[] };
}

export const configMapName = (url: string) => `jwks-store-${createHash('sha256').update(url).digest('hex').slice(0, 40)}`;

/**
 * Largest key set persisted, bytes of its stored JSON: a ConfigMap holds at most 1 MiB (the API
 * server answers 422 beyond), less its metadata. A larger set is served from memory, not persisted.
 */
export const MAX_PERSISTED_BYTES = 1_000_000;

/**
 * Last-known-good key sets in ConfigMaps of the controller's namespace (upstream's layout: one
 * `jwks-store-<sha256>` per URL, label app.kubernetes.io/component=jwks-store, data key
 * `jwks-store` holding {url, fetchedAt, jwks}). Loaded at start, before the first push, so a
 * restarted controller serves keys even while the IdP is down.
 */
export class JwksPersistence {
  private readonly written = new Map<string, string>(); // name → JSON last written
  /** ConfigMaps of ours that hold no usable key set (corrupt, or of an older layout): removed at the next sync unless reused. */
  private readonly unusable = new Set<string>();

  constructor(
    private readonly rest: KubeRest,
    private readonly namespace: string,
  ) {}

  private base() {
    return `/api/v1/namespaces/${this.namespace}/configmaps`;
  }

  async load(): Promise<PersistedKeySet[]> {
    const r = await this.rest.get<{ items: Array<{ metadata: { name: string }; data?: Record<string, string> }> }>(
      `${this.base()}?labelSelector=${encodeURIComponent(JWKS_STORE_LABEL)}`,
    );
    const out: PersistedKeySet[] = [];
    for (const cm of r.body.items) {
      const raw = cm.data?.[DATA_KEY];
      let v: PersistedKeySet | undefined;
      try {
        v = raw === undefined ? undefined : (JSON.parse(raw) as PersistedKeySet);
      } catch {
        v = undefined;
      }
      if (raw !== undefined && v !== undefined && v !== null && typeof v.url === 'string' && Array.isArray(v.jwks?.keys)) {
        out.push(v);
        this.written.set(cm.metadata.name, raw);
      } else {
        this.unusable.add(cm.metadata.name);
      }
    }
    return out;
  }

  /**
   * Writes changed key sets and deletes ConfigMaps of URLs no longer used (orphans) and unusable
   * ones. Each write and delete stands alone: one that fails (an oversized set, a conflict, an API
   * error) does not keep the others from happening; the failures are thrown together at the end,
   * and retried at the next sync.
   */
  async sync(sets: readonly PersistedKeySet[]): Promise<void> {
    const failures: string[] = [];
    const wanted = new Map(sets.map((s) => [configMapName(s.url), s]));
    for (const [name, set] of wanted) {
      const data = JSON.stringify({ url: set.url, fetchedAt: set.fetchedAt, jwks: set.jwks });
      const prev = this.written.get(name);
      // Only a change of keys is written: a refresh returning the same keys costs no API call.
      if (prev !== undefined && JSON.stringify((JSON.parse(prev) as PersistedKeySet).jwks) === JSON.stringify(set.jwks)) continue;
      if (Buffer.byteLength(data) > MAX_PERSISTED_BYTES) {
        failures.push(`${set.url}: key set of ${Buffer.byteLength(data)} bytes is over ${MAX_PERSISTED_BYTES} and is not persisted`);
        continue;
      }
      const body = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace: this.namespace,
          labels: { 'app.kubernetes.io/component': 'jwks-store', 'app.kubernetes.io/managed-by': 'agentgateway-ts' },
        },
        data: { [DATA_KEY]: data },
      };
      try {
        try {
          await this.rest.call('PUT', `${this.base()}/${name}`, body);
        } catch (err) {
          if (!(err instanceof KubeError && err.status === 404)) throw err;
          await this.rest.call('POST', this.base(), body);
        }
        this.written.set(name, data);
        this.unusable.delete(name);
      } catch (err) {
        failures.push(`${set.url}: ${(err as Error).message}`);
      }
    }
    for (const name of [...this.written.keys(), ...this.unusable]) {
      if (wanted.has(name)) continue;
      try {
        await this.rest.call('DELETE', `${this.base()}/${name}`);
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 404)) {
          failures.push(`delete ${name}: ${(err as Error).message}`);
          continue;
        }
      }
      this.written.delete(name);
      this.unusable.delete(name);
    }
    if (failures.length > 0) throw new Error(`could not persist every key set: ${failures.join('; ')}`);
  }
}
