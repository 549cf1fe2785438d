import type { FastifyInstance } from 'fastify';
import type { ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';

/** Redacts key material from a config dump: key ids and types stay, the numbers go. */
export function redactConfig(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (key, value: unknown) =>
    key === 'keys' && Array.isArray(value)
      ? value.map((k: Record<string, unknown>) => ({ kid: k['kid'], kty: k['kty'], alg: k['alg'], crv: k['crv'], redacted: true }))
      : value,
  );
}

export interface AdminOptions {
  /** Config stores served by this process, by Gateway (`<ns>/<name>`). */
  stores: () => ReadonlyMap<string, ConfigStore>;
  metrics: ProxyMetrics;
  draining: () => boolean;
}

/**
 * Admin endpoints, on their own port: /healthz (process alive), /readyz (every Gateway has a
 * config, not draining), /metrics (Prometheus text), /config_dump (redacted, per Gateway).
 */
export async function adminRoutes(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) => {
    if (opts.draining()) return reply.code(503).send('draining\n');
    const stores = [...opts.stores().values()];
    return stores.length === 0 || stores.some((s) => s.current === undefined) ? reply.code(503).send('no config loaded\n') : 'ready\n';
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()),
  );
  app.get('/config_dump', async () => ({
    gateways: Object.fromEntries(
      [...opts.stores()].map(([gw, s]) => [
        gw,
        s.current === undefined ? { config: null } : { config: redactConfig(s.current.config), warnings: s.current.warnings },
      ]),
    ),
  }));
}
