import type { KubeRest } from '../kube/kube-rest.js';
import type { ControllerMetrics } from '../metrics.js';
import type { JwksKeys, JwksRequest } from '../translate/model.js';
import { fetchJwks } from './fetch-jwks.js';
import { JwksCache, type JwksEntryView } from './jwks-cache.js';
import { JwksPersistence } from './persistence.js';

export interface KeyStoreOptions {
  readonly rest: KubeRest;
  /** Namespace of the persisted key sets (the controller's). */
  readonly namespace: string;
  readonly metrics: ControllerMetrics;
  /** ms since the epoch. */
  readonly now: () => number;
  /** Called when a URL's usable keys changed (first fetch, rotation) or its error state did: re-translate. */
  readonly onChange: () => void;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Least time between forced refetches of one URL (unknown kid), ms; default 30 000. */
  readonly refetchMinIntervalMs?: number;
  /**
   * A URL's fetches started failing (its first failure, or the first after a success) or recovered,
   * with the policies that use it (`AgentgatewayPolicy/<ns>/<name>#<field>`): an event each.
   */
  readonly onFetchTransition?: (url: string, ok: boolean, owners: readonly string[], error: string | undefined) => void;
}

/**
 * The controller's JWKS key store: the fetcher and its cache (refresh, backoff, last-known-good,
 * refetch on unknown kid) and the persisted copies in ConfigMaps, loaded at start so a restarted
 * controller serves keys while the IdP is down, and written by the leader after each reconcile.
 */
export class KeyStore {
  private readonly cache: JwksCache;
  private readonly persistence: JwksPersistence;
  /** Per URL, whether its last fetch succeeded (absent: not fetched yet). */
  private readonly lastOk = new Map<string, boolean>();

  constructor(private readonly o: KeyStoreOptions) {
    this.cache = new JwksCache({
      fetch: (t) => fetchJwks(t),
      now: o.now,
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onChange: () => o.onChange(),
      ...(o.refetchMinIntervalMs !== undefined ? { refetchMinIntervalMs: o.refetchMinIntervalMs } : {}),
      onFetch: (url, ok, ms, error) => {
        o.metrics.jwksFetches.inc({ result: ok ? 'ok' : 'error' });
        o.metrics.jwksFetchDuration.observe(ms / 1000);
        if (!ok) o.log('warn', 'jwks fetch failed', { url });
        const before = this.lastOk.get(url);
        this.lastOk.set(url, ok);
        if (before === ok || (before === undefined && ok)) return;
        const entry = this.cache.entriesView().find((e) => e.url === url);
        o.onFetchTransition?.(url, ok, entry?.owners ?? [], error);
      },
    });
    this.persistence = new JwksPersistence(o.rest, o.namespace);
  }

  /** Seeds the cache with the persisted key sets (before the first push); a failure only means fetching afresh. */
  async loadPersisted(): Promise<void> {
    try {
      for (const p of await this.persistence.load()) this.cache.seed(p.url, p.jwks.keys, Date.parse(p.fetchedAt));
    } catch (err) {
      this.o.log('warn', 'could not load persisted jwks; fetching afresh', { error: (err as Error).message });
    }
  }

  /** Usable keys by URL, for translate(). */
  keys(): Map<string, JwksKeys> {
    return this.cache.keys();
  }

  /** Last fetch errors of URLs without usable keys, for translate() (the policy status). */
  errors(): Map<string, string> {
    return this.cache.errors();
  }

  /** What translate() asks to keep fresh. */
  sync(requests: readonly JwksRequest[]): void {
    this.cache.sync(requests);
  }

  entriesView(): JwksEntryView[] {
    return this.cache.entriesView();
  }

  /** A proxy saw an unknown kid of this URL. */
  refetch(url: string, kid: string): void {
    void this.cache.refetch(url, kid).then((outcome) => this.o.metrics.refetches.inc({ outcome }));
  }

  /** Persists the current key sets (the leader's job); a failure is logged, and retried after the next reconcile. */
  async persist(): Promise<void> {
    const sets = this.cache
      .entriesView()
      .filter((e) => e.keys !== undefined && e.fetchedAtMs !== undefined)
      .map((e) => ({ url: e.url, fetchedAt: new Date(e.fetchedAtMs as number).toISOString(), jwks: { keys: [...(e.keys ?? [])] } }));
    try {
      await this.persistence.sync(sets);
    } catch (err) {
      this.o.log('warn', 'could not persist jwks', { error: (err as Error).message });
    }
  }

  stop(): void {
    this.cache.stop();
  }
}
