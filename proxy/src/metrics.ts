import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { JwtVerifier } from './auth/jwt-verifier.js';
import type { ConfigStore } from './config/store.js';
import { TallyCounter, TallyHistogram } from './tallies.js';

/** The proxy's Prometheus metrics, on a registry of its own (one per process, or per test). */
export class ProxyMetrics {
  readonly registry = new Registry();
  /** Requests answered, by listener port, route and status code (hot path: tallies, see tallies.ts). */
  readonly requests = new TallyCounter({
    name: 'agw_proxy_requests_total',
    help: 'Requests answered, by listener port, route and status code.',
    labelNames: ['port', 'route', 'status'] as const,
    registry: this.registry,
  });
  readonly duration = new TallyHistogram(
    'agw_proxy_request_duration_seconds',
    'Time from request start to response end, seconds.',
    'route',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly jwt = new TallyCounter({
    name: 'agw_jwt_auth_total',
    help: 'JWT checks by policy, provider, result (valid|missing|rejected|passed_unverified) and reason code.',
    labelNames: ['policy', 'provider', 'result', 'reason'] as const,
    registry: this.registry,
  });
  readonly authorization = new TallyCounter({
    name: 'agw_authorization_total',
    help: 'Authorization decisions by the deciding rule\'s policy ("" when no rule decided) and result (allow|deny).',
    labelNames: ['policy', 'result'] as const,
    registry: this.registry,
  });
  readonly refetch = new Counter({
    name: 'agw_jwt_refetch_on_unknown_kid_total',
    help: 'Unknown-kid refetch requests by outcome (found|not_found).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly configUpdates = new Counter({
    name: 'agw_config_updates_total',
    help: 'Configs received, by result (applied|rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly stores = new Set<ConfigStore>();

  /** Counts one answered request and its duration (seconds). */
  countRequest(port: string, route: string, status: number, seconds: number): void {
    this.requests.at(port, route, statusText(status)).n++;
    this.duration.observe(this.duration.child(route), seconds);
  }

  /** Counts one JWT check. */
  countJwt(policy: string, provider: string, result: string, reason: string): void {
    this.jwt.at(policy, provider, result, reason).n++;
  }

  /** Counts one authorization decision. */
  countAuthorization(policy: string, result: 'allow' | 'deny'): void {
    this.authorization.at(policy, result).n++;
  }

  /** @param store the config store(s) whose state the gauges report; more can be added with watch(). */
  constructor(store?: ConfigStore, opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    // Both results exported from the start at 0: a counter that appears only at its first
    // increment hides that increment from Prometheus' increase() (a first NACK would go unalerted).
    for (const result of ['applied', 'rejected']) this.configUpdates.inc({ result }, 0);
    if (store !== undefined) this.watch(store);
    const stores = this.stores;
    new Gauge({
      name: 'agw_config_info',
      help: 'The config version being served (value 1).',
      labelNames: ['version'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of stores) {
          const v = s.current?.config.version;
          if (v !== undefined) this.set({ version: v }, 1);
        }
      },
    });
    new Gauge({
      name: 'agw_jwt_keys',
      help: 'Usable keys per JWT policy and provider.',
      labelNames: ['policy', 'provider'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const v of verifiersOf(stores)) for (const [provider, n] of v.keyCounts) this.set({ policy: v.policy.policy, provider }, n);
      },
    });
    new Gauge({
      name: 'agw_jwt_cache_entries',
      help: 'Verified-token cache entries per JWT policy.',
      labelNames: ['policy'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const v of verifiersOf(stores)) this.set({ policy: v.policy.policy }, v.cache.size);
      },
    });
    new Gauge({
      name: 'agw_jwt_cache_lookups',
      help: 'Verified-token cache lookups of the current config, by outcome (hit|miss).',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        let hits = 0,
          misses = 0;
        for (const v of verifiersOf(stores)) {
          hits += v.cache.hits;
          misses += v.cache.misses;
        }
        this.set({ outcome: 'hit' }, hits);
        this.set({ outcome: 'miss' }, misses);
      },
    });
  }

  /** Reports on another config store (local mode serves several Gateways from one process). */
  watch(store: ConfigStore): void {
    if (this.stores.has(store)) return;
    this.stores.add(store);
    store.onChange((e) => this.configUpdates.inc({ result: e.type }));
  }
}

function* verifiersOf(stores: Iterable<ConfigStore>): Iterable<JwtVerifier> {
  for (const s of stores) yield* s.current?.verifiers.values() ?? [];
}

/** Status codes as label text, made once each (100-599; anything else converted per call). */
const STATUS_TEXT = Array.from({ length: 600 }, (_, i) => String(i));
const statusText = (status: number): string => STATUS_TEXT[status] ?? String(status);
