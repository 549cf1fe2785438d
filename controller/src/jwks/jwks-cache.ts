import type { Jwk } from '@agw/api';
import type { JwksKeys, JwksRequest } from '../translate/model.js';
import { retryDelayMs } from '../backoff.js';
import type { FetchTarget } from './fetch-jwks.js';
import { keySetFingerprint, type JwksParse } from './jwks-document.js';

/** At most one forced refetch (unknown kid) per URL per this period, ms. */
export const REFETCH_MIN_INTERVAL_MS = 30_000;

export interface JwksEntryView {
  readonly url: string;
  readonly keys?: readonly Jwk[];
  /** Last successful fetch, ms since the epoch. */
  readonly fetchedAtMs?: number;
  /** Set while the last attempt failed (stale keys, if any, keep serving). */
  readonly lastError?: string;
  readonly consecutiveFailures: number;
  readonly refreshMs: number;
  readonly owners: readonly string[];
}

export interface JwksCacheDeps {
  readonly fetch: (t: FetchTarget) => Promise<JwksParse>;
  /** ms since the epoch. */
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  readonly random: () => number;
  /** Called when a URL's usable keys changed (first fetch, rotation) or its error state did. */
  readonly onChange: (url: string) => void;
  /** Observes every fetch (metrics). */
  readonly onFetch?: (url: string, ok: boolean, durationMs: number, error?: string) => void;
  /** Least time between two forced refetches of one URL, ms (default REFETCH_MIN_INTERVAL_MS). */
  readonly refetchMinIntervalMs?: number;
}

export type RefetchOutcome = 'fetched' | 'rate_limited' | 'known_unknown' | 'unknown_url';

interface Entry {
  request: JwksRequest;
  /** Loaded from a persisted copy and not yet requested by translate(): its first fetch is not scheduled. */
  seeded: boolean;
  keys?: Jwk[];
  /** What the parser said of the last good key set (private parameters removed), for the policy status. */
  notes?: readonly string[];
  fingerprint?: string;
  fetchedAtMs?: number;
  lastError?: string;
  failures: number;
  timer?: unknown;
  inflight?: Promise<void> | undefined;
  lastForcedAtMs?: number;
  /** kid → until (ms): kids still unknown after a forced refetch; no new refetch for them. */
  unknownKids: Map<string, number>;
}

/**
 * Keeps every requested JWKS URL fresh: one fetch per URL however many policies share it,
 * refresh every `refreshMs`, retry with capped jittered backoff on failure while the last good
 * keys keep serving, and a forced refetch on an unknown kid (single-flight, rate-limited).
 */
export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  private readonly refetchMinIntervalMs: number;

  constructor(private readonly deps: JwksCacheDeps) {
    this.refetchMinIntervalMs = deps.refetchMinIntervalMs ?? REFETCH_MIN_INTERVAL_MS;
  }

  /** Seeds last-known-good keys (persisted copies) before the first sync; fresh ones delay the first fetch. */
  seed(url: string, keys: Jwk[], fetchedAtMs: number): void {
    const e = this.entries.get(url);
    if (e !== undefined) return;
    this.entries.set(url, {
      request: { url, refreshMs: Number.POSITIVE_INFINITY, owners: [] },
      seeded: true,
      keys,
      fingerprint: keySetFingerprint(keys),
      fetchedAtMs,
      failures: 0,
      unknownKids: new Map(),
    });
  }

  /** Aligns the cache with what translate() asks for: new URLs are fetched, gone ones dropped. */
  sync(requests: readonly JwksRequest[]): void {
    const wanted = new Map(requests.map((r) => [r.url, r]));
    for (const [url, e] of this.entries) {
      if (!wanted.has(url)) {
        this.deps.clearTimer(e.timer);
        this.entries.delete(url);
      }
    }
    for (const r of requests) {
      const e = this.entries.get(r.url);
      if (e === undefined) {
        this.entries.set(r.url, { request: r, seeded: false, failures: 0, unknownKids: new Map() });
        this.schedule(r.url, 0);
        continue;
      }
      const seeded = e.seeded;
      const periodChanged = e.request.refreshMs !== r.refreshMs;
      // New trust settings (another CA bundle, SNI, names): fetched now, so a wrong CA is said at
      // once; the last good keys keep serving meanwhile, as for any failing fetch.
      const tlsChanged = !seeded && JSON.stringify(e.request.tls ?? null) !== JSON.stringify(r.tls ?? null);
      e.request = r;
      e.seeded = false;
      if (tlsChanged) {
        e.failures = 0;
        this.schedule(r.url, 0);
      } else if (seeded || periodChanged) {
        // A persisted copy younger than the period delays the first fetch (upstream's startup rule).
        const age = e.fetchedAtMs === undefined ? Number.POSITIVE_INFINITY : this.deps.now() - e.fetchedAtMs;
        this.schedule(r.url, e.lastError !== undefined ? e.failures : Math.max(0, r.refreshMs - age));
      }
    }
  }

  /** Usable keys by URL, for translate(), marked stale while the last fetch failed. */
  keys(): Map<string, JwksKeys> {
    const out = new Map<string, JwksKeys>();
    for (const [url, e] of this.entries) {
      if (e.keys === undefined) continue;
      const stale =
        e.lastError !== undefined && e.fetchedAtMs !== undefined
          ? { stale: { fetchedAt: new Date(e.fetchedAtMs).toISOString(), lastError: e.lastError } }
          : {};
      out.set(url, { keys: e.keys, ...stale, ...(e.notes !== undefined && e.notes.length > 0 ? { notes: e.notes } : {}) });
    }
    return out;
  }

  /** The last error of each URL that has no usable keys (never fetched successfully), for the policy status. */
  errors(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [url, e] of this.entries) if (e.keys === undefined && e.lastError !== undefined) out.set(url, e.lastError);
    return out;
  }

  entriesView(): JwksEntryView[] {
    return [...this.entries.values()].map((e) => ({
      url: e.request.url,
      consecutiveFailures: e.failures,
      refreshMs: e.request.refreshMs,
      owners: e.request.owners,
      ...(e.keys !== undefined ? { keys: e.keys } : {}),
      ...(e.fetchedAtMs !== undefined ? { fetchedAtMs: e.fetchedAtMs } : {}),
      ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
    }));
  }

  /**
   * A proxy saw a token with an unknown `kid` whose issuer uses `url`. Fetch now unless a fetch is
   * under way (join it), the URL was force-fetched in the last 30 s, or the kid was still unknown
   * after the last forced fetch. Resolves once the cache holds the outcome.
   */
  async refetch(url: string, kid: string): Promise<RefetchOutcome> {
    const e = this.entries.get(url);
    if (e === undefined) return 'unknown_url';
    const now = this.deps.now();
    if ((e.unknownKids.get(kid) ?? 0) > now) return 'known_unknown';
    if (e.inflight === undefined) {
      if (e.lastForcedAtMs !== undefined && now - e.lastForcedAtMs < this.refetchMinIntervalMs) return 'rate_limited';
      e.lastForcedAtMs = now;
      this.deps.clearTimer(e.timer);
      e.timer = undefined;
      void this.fetchNow(url);
    }
    await e.inflight;
    if (!(e.keys ?? []).some((k) => k.kid === kid)) e.unknownKids.set(kid, this.deps.now() + this.refetchMinIntervalMs);
    return 'fetched';
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.deps.clearTimer(e.timer);
  }

  private schedule(url: string, delayMs: number): void {
    const e = this.entries.get(url);
    if (e === undefined || this.stopped) return;
    this.deps.clearTimer(e.timer);
    e.timer = this.deps.setTimer(() => {
      e.timer = undefined;
      void this.fetchNow(url);
    }, delayMs);
  }

  private fetchNow(url: string): Promise<void> {
    const e = this.entries.get(url);
    if (e === undefined) return Promise.resolve();
    if (e.inflight !== undefined) return e.inflight;
    const started = this.deps.now();
    e.inflight = this.deps
      .fetch({ url, ...(e.request.connect ? { connect: e.request.connect } : {}), ...(e.request.tls ? { tls: e.request.tls } : {}) })
      .then((r) => {
        e.inflight = undefined;
        this.deps.onFetch?.(url, r.ok, this.deps.now() - started, r.ok ? undefined : r.error);
        if (this.entries.get(url) !== e) return; // dropped meanwhile
        const hadError = e.lastError !== undefined;
        if (r.ok) {
          const fp = keySetFingerprint(r.keys);
          const changed = fp !== e.fingerprint;
          const notesChanged = JSON.stringify(r.notes) !== JSON.stringify(e.notes ?? []);
          e.keys = r.keys;
          e.notes = r.notes;
          e.fingerprint = fp;
          e.fetchedAtMs = this.deps.now();
          e.failures = 0;
          delete e.lastError;
          if (changed) e.unknownKids.clear();
          this.schedule(url, e.request.refreshMs);
          if (changed || hadError || notesChanged) this.deps.onChange(url);
        } else {
          const first = e.lastError === undefined;
          e.lastError = r.error;
          this.schedule(url, retryDelayMs(e.failures, this.deps.random));
          e.failures++;
          if (first) this.deps.onChange(url);
        }
      });
    return e.inflight;
  }
}
