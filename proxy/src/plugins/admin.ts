import type { FastifyInstance } from 'fastify';
import { REDACTED, describeCertificate } from '../config/compile-tls.js';
import type { ConfigStore } from '../config/store.js';
import type { Registry } from 'prom-client';

/**
 * Redacts key material from a config dump: JWKS key ids and types stay, the numbers go; a
 * listener certificate shows its name and the leaf's subject, SANs, expiry and fingerprint, with
 * `privateKeyPem: "[redacted]"` (compile-tls.ts already keeps no key in the served config; this
 * holds for any config given here). Any other `privateKeyPem` is redacted too.
 */
export function redactConfig(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (key, value: unknown) => {
    if (key === 'keys' && Array.isArray(value))
      return value.map((k: Record<string, unknown>) => ({ kid: k['kid'], kty: k['kty'], alg: k['alg'], crv: k['crv'], redacted: true }));
    if (key === 'certificates' && Array.isArray(value))
      return value.map((c: unknown) => (typeof c === 'object' && c !== null ? describeCertificate(c) : REDACTED));
    if (key === 'privateKeyPem') return REDACTED;
    return value;
  });
}

export interface AdminOptions {
  /** Config stores served by this process, by Gateway (`<ns>/<name>`). */
  stores: () => ReadonlyMap<string, ConfigStore>;
  /** What /metrics exposes: the process's registry (or, in a cluster primary, one that aggregates its workers'). */
  metrics: { readonly registry: Registry };
  draining: () => boolean;
  /** Why the process cannot serve although it has a config (a listener port it could not open), else undefined. */
  notServing?: () => string | undefined;
}

/**
 * Admin endpoints, on their own port: /healthz (process alive), /readyz (every Gateway has a
 * config, every listener port is open, not draining), /metrics (Prometheus text), /config_dump (redacted, per Gateway).
 */
export async function adminRoutes(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) => {
    if (opts.draining()) return reply.code(503).send('draining\n');
    const notServing = opts.notServing?.();
    if (notServing !== undefined) return reply.code(503).send(`${notServing}\n`);
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
