import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JwksEntryView } from './jwks/jwks-cache.js';

/** The controller's Prometheus metrics, on a registry of its own. */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'agw_controller_reconcile_total',
    help: 'Reconciles (translate passes) by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'agw_controller_reconcile_duration_seconds',
    help: 'Time of one reconcile (read cache, translate, push, enqueue status), seconds.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly gatewayConfigs = new Counter({
    name: 'agw_controller_gateway_configs_total',
    help: 'Gateway configs per reconcile by outcome: compiled, or kept from the previous pass (a change confined to HTTPRoutes that do not name the Gateway).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'agw_controller_status_writes_total',
    help: 'Status writes by kind and result (written|unchanged|deferred|conflict|error; deferred: held while proxies apply a new config).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'agw_controller_config_pushes_total',
    help: 'Config snapshots sent to proxies.',
    registers: [this.registry],
  });
  readonly jwksFetches = new Counter({
    name: 'agw_jwks_fetch_total',
    help: 'JWKS fetches by result (ok|error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly jwksFetchDuration = new Histogram({
    name: 'agw_jwks_fetch_duration_seconds',
    help: 'JWKS fetch time, seconds.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly refetches = new Counter({
    name: 'agw_jwks_refetch_on_unknown_kid_total',
    help: 'Refetch requests from proxies by outcome (fetched|rate_limited|known_unknown|unknown_url).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(src: {
    queueDepth: () => number;
    connectedProxies: () => number;
    leader: () => boolean;
    jwks: () => JwksEntryView[];
    now: () => number;
  }) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'agw_controller_queue_depth',
      help: 'Status writes waiting or in progress.',
      registers: [this.registry],
      collect() {
        this.set(src.queueDepth());
      },
    });
    new Gauge({
      name: 'agw_controller_connected_proxies',
      help: 'Proxies connected to the config stream.',
      registers: [this.registry],
      collect() {
        this.set(src.connectedProxies());
      },
    });
    new Gauge({
      name: 'agw_controller_leader',
      help: '1 while this replica holds the leader lease.',
      registers: [this.registry],
      collect() {
        this.set(src.leader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'agw_jwks_keys',
      help: 'Keys held per JWKS URL.',
      labelNames: ['url'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const e of src.jwks()) this.set({ url: e.url }, e.keys?.length ?? 0);
      },
    });
    new Gauge({
      name: 'agw_jwks_seconds_since_success',
      help: 'Seconds since the last successful fetch per JWKS URL (absent: never fetched).',
      labelNames: ['url'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const e of src.jwks()) if (e.fetchedAtMs !== undefined) this.set({ url: e.url }, (src.now() - e.fetchedAtMs) / 1000);
      },
    });
    new Gauge({
      name: 'agw_jwks_stale',
      help: '1 while the last fetch of a JWKS URL failed (keys, if any, are served stale).',
      labelNames: ['url'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const e of src.jwks()) this.set({ url: e.url }, e.lastError !== undefined ? 1 : 0);
      },
    });
  }
}
