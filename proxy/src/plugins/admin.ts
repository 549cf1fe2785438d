import type { FastifyInstance } from 'fastify';
import type { ConfigStore } from '../config/store.js';
import type { ProxyMetrics } from '../metrics.js';

/** Redacts key material from a config dump: key ids and types stay, the numbers go. */
export function redactConfig(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (key, value: unknown) =>
    key === 'keys' && Array.isArray(value)
      ? value.map((k: Record<string, unknown>) => ({ kid: k['kid'], kty: k['kty'], alg: k['alg'], crv: k['crv'], redacted: true }))
      : value);
}

/** Admin endpoints, on their own port: health, readiness, metrics, redacted config dump. */
export async function adminRoutes(app: FastifyInstance, opts: { store: ConfigStore; metrics: ProxyMetrics; draining: () => boolean }): Promise<void> {
  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) => {
    if (opts.draining()) return reply.code(503).send('draining\n');
    return opts.store.current === undefined ? reply.code(503).send('no config loaded\n') : 'ready\n';
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()));
  app.get('/config_dump', async () => {
    const rt = opts.store.current;
    return rt === undefined ? { config: null } : { config: redactConfig(rt.config), warnings: rt.warnings };
  });
}
