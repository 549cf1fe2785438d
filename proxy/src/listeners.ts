import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ConfigStore } from './config/store.js';
import type { ProxyMetrics } from './metrics.js';
import type { PathRules } from './routing/request-target.js';
import { buildGatewayServer } from './server.js';
import { PortTlsHolder } from './tls-server.js';

export interface ListenerPortsOptions {
  readonly store: ConfigStore;
  readonly metrics: ProxyMetrics;
  readonly logger: FastifyBaseLogger;
  readonly host: string;
  /** Gateway listener port → local port (unmapped: the same port; 0: any free port). */
  readonly portMap: ReadonlyMap<number, number>;
  readonly requestRefetch?: (remoteUrl: string, kid: string) => void;
  readonly onListen?: (listenerPort: number, boundPort: number) => void;
  /** Upstream response timeout, ms (default 30 000). */
  readonly upstreamTimeoutMs?: number;
  /** See GatewayServerOptions.tunnelIdleTimeoutMs. */
  readonly tunnelIdleTimeoutMs?: number;
  /** See GatewayServerOptions.refetchIntervalMs. */
  readonly refetchIntervalMs?: number;
  /** See GatewayServerOptions.pathRules. */
  readonly pathRules?: PathRules;
}

/** One open port: its server, and for an HTTPS port the holder its SNI reads. */
interface OpenPort {
  readonly app: FastifyInstance;
  readonly tls: PortTlsHolder | undefined;
}

/**
 * Keeps one server per listener port of the current config: opens ports that appear, closes ports
 * that go (Fastify routes are never added after start; each server reads the swappable table). A
 * port whose listeners are HTTPS is served by a TLS server (HTTP/2 and HTTP/1.1, tls-server.ts),
 * one whose listeners are HTTP by a plaintext server (HTTP/1.1 and h2c, plain-server.ts). A config change swaps an HTTPS port's
 * certificates in place: new connections get the new ones, open connections and requests in flight
 * keep going. A port that changes between HTTP and HTTPS gets a new server: the old one stops
 * accepting at once and drains (its requests in flight finish) while the new one takes the port.
 */
export class ListenerPorts {
  private readonly servers = new Map<number, OpenPort>();
  /** Servers being drained after a port changed between HTTP and HTTPS. */
  private readonly draining = new Set<Promise<void>>();
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly o: ListenerPortsOptions) {}

  /** Aligns the open ports with the store's current config (serialized). */
  sync(): Promise<void> {
    // A failed sync (a port that would not open) must not block the next one.
    this.syncing = this.syncing.catch(() => undefined).then(() => this.doSync());
    return this.syncing;
  }

  bound(): Map<number, number> {
    return new Map([...this.servers].map(([p, s]) => [p, (s.app.server.address() as { port: number }).port]));
  }

  async close(): Promise<void> {
    await this.syncing.catch(() => undefined);
    await Promise.all([...this.servers.values()].map((s) => s.app.close()));
    this.servers.clear();
    await Promise.all([...this.draining]);
  }

  private async doSync(): Promise<void> {
    const runtime = this.o.store.current;
    const wanted = new Set(runtime?.config.listeners.map((l) => l.port) ?? []);
    for (const [port, open] of this.servers) {
      if (!wanted.has(port)) {
        await open.app.close();
        this.servers.delete(port);
      }
    }
    for (const port of wanted) {
      const tls = runtime?.tls.get(port);
      const open = this.servers.get(port);
      if (open !== undefined) {
        if (tls !== undefined && open.tls !== undefined) open.tls.swap(tls);
        if ((tls === undefined) === (open.tls === undefined)) continue;
        // HTTP ↔ HTTPS: a new server. The old one stops listening now (server.close() unbinds at
        // once) and finishes its requests in the background.
        this.servers.delete(port);
        const closing = open.app.close().catch((err: unknown) => this.o.logger.warn({ err, listenerPort: port }, 'close failed'));
        this.draining.add(closing);
        void closing.finally(() => this.draining.delete(closing));
        await untilUnbound(open.app);
      }
      const holder = tls === undefined ? undefined : new PortTlsHolder(tls);
      const app = await buildGatewayServer({
        store: this.o.store,
        metrics: this.o.metrics,
        logger: this.o.logger,
        listenerPort: port,
        ...(holder !== undefined ? { tls: holder } : {}),
        ...(this.o.requestRefetch ? { requestRefetch: this.o.requestRefetch } : {}),
        ...(this.o.upstreamTimeoutMs !== undefined ? { upstreamTimeoutMs: this.o.upstreamTimeoutMs } : {}),
        ...(this.o.tunnelIdleTimeoutMs !== undefined ? { tunnelIdleTimeoutMs: this.o.tunnelIdleTimeoutMs } : {}),
        ...(this.o.refetchIntervalMs !== undefined ? { refetchIntervalMs: this.o.refetchIntervalMs } : {}),
        ...(this.o.pathRules !== undefined ? { pathRules: this.o.pathRules } : {}),
      });
      try {
        await app.listen({ port: this.o.portMap.get(port) ?? port, host: this.o.host });
      } catch (err) {
        // EADDRINUSE and the like: nothing is kept for this port, so the next sync tries it again.
        await app.close();
        // The message names the Gateway listener port; code and port (the local one) stay for callers (agw local's hint).
        const e = err as Error & { code?: string; port?: number };
        throw Object.assign(new Error(`listener port ${port} could not be opened: ${e.message}`), {
          cause: err,
          code: e.code,
          port: e.port,
        });
      }
      this.servers.set(port, { app, tls: holder });
      this.o.onListen?.(port, (app.server.address() as { port: number }).port);
    }
  }
}

/** Resolves once the server no longer holds its port (Fastify closes it after its preClose hooks). */
async function untilUnbound(app: FastifyInstance): Promise<void> {
  for (let i = 0; i < 1000 && app.server.listening; i++) await new Promise((r) => setTimeout(r, 1));
}
