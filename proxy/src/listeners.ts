import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ConfigStore } from './config/store.js';
import type { ProxyMetrics } from './metrics.js';
import type { PathRules } from './routing/request-target.js';
import { buildGatewayServer } from './server.js';

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
  /** See GatewayServerOptions.refetchIntervalMs. */
  readonly refetchIntervalMs?: number;
  /** See GatewayServerOptions.pathRules. */
  readonly pathRules?: PathRules;
}

/**
 * Keeps one HTTP server per listener port of the current config: opens ports that appear, closes
 * ports that go (Fastify routes are never added after start; each server reads the swappable table).
 */
export class ListenerPorts {
  private readonly servers = new Map<number, FastifyInstance>();
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly o: ListenerPortsOptions) {}

  /** Aligns the open ports with the store's current config (serialized). */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.doSync());
    return this.syncing;
  }

  bound(): Map<number, number> {
    return new Map([...this.servers].map(([p, s]) => [p, (s.server.address() as { port: number }).port]));
  }

  async close(): Promise<void> {
    await this.syncing;
    await Promise.all([...this.servers.values()].map((s) => s.close()));
    this.servers.clear();
  }

  private async doSync(): Promise<void> {
    const wanted = new Set(this.o.store.current?.config.listeners.map((l) => l.port) ?? []);
    for (const [port, server] of this.servers) {
      if (!wanted.has(port)) {
        await server.close();
        this.servers.delete(port);
      }
    }
    for (const port of wanted) {
      if (this.servers.has(port)) continue;
      const app = await buildGatewayServer({
        store: this.o.store,
        metrics: this.o.metrics,
        logger: this.o.logger,
        listenerPort: port,
        ...(this.o.requestRefetch ? { requestRefetch: this.o.requestRefetch } : {}),
        ...(this.o.upstreamTimeoutMs !== undefined ? { upstreamTimeoutMs: this.o.upstreamTimeoutMs } : {}),
        ...(this.o.refetchIntervalMs !== undefined ? { refetchIntervalMs: this.o.refetchIntervalMs } : {}),
        ...(this.o.pathRules !== undefined ? { pathRules: this.o.pathRules } : {}),
      });
      await app.listen({ port: this.o.portMap.get(port) ?? port, host: this.o.host });
      this.servers.set(port, app);
      this.o.onListen?.(port, (app.server.address() as { port: number }).port);
    }
  }
}
