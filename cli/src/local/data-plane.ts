import type { FastifyBaseLogger } from 'fastify';
import type { ProxyConfig } from '@agw/api';
import { ConfigStore, ListenerPorts, ProxyMetrics, applyConfig } from '@agw/proxy';
import type { Registry } from 'prom-client';

/** What a data plane did with one Gateway's config. */
export interface Applied {
  /** False when the config's version was already the one served (nothing was applied). */
  readonly changed: boolean;
  /** Why the config was refused (the previous one is kept), as the proxy words it. */
  readonly error?: string;
  readonly warnings: readonly string[];
}

/**
 * Where `agw local` serves its Gateways: in its own process (the default) or in `--workers N`
 * processes (worker-data-plane.ts). The local gateway translates; the data plane applies.
 */
export interface DataPlane {
  /** Processes serving each Gateway (what Programmed counts as proxies). */
  readonly replicas: number;
  /** Applies a Gateway's config and opens or closes its listener ports to match. */
  apply(gateway: string, config: ProxyConfig): Promise<Applied>;
  /** Closes a Gateway's ports (it is gone from the manifests). */
  remove(gateway: string): Promise<void>;
  /** Local ports bound, by `<gateway>:<listener port>`. */
  bound(): Map<string, number>;
  /** Each Gateway's config as applied, for /config_dump and /readyz. */
  stores(): Map<string, ConfigStore>;
  /** The metrics /metrics exposes (with workers: every worker's, aggregated). */
  readonly registry: Registry;
  close(): Promise<void>;
}

export interface DataPlaneOptions {
  readonly host: string;
  /** Gateway listener port → local port (unmapped ports bind as they are; 0: any free one). */
  readonly portMap: ReadonlyMap<number, number>;
  readonly logger: FastifyBaseLogger;
  readonly print: (line: string) => void;
  /** A request met a token whose kid no key has: ask the JWKS cache to refetch that URL. */
  readonly requestRefetch: (url: string, kid: string) => void;
}

interface GatewayRuntime {
  readonly store: ConfigStore;
  readonly ports: ListenerPorts;
}

/** Every Gateway served by this process (the proxy's ListenerPorts on one ConfigStore each). */
export class InProcessDataPlane implements DataPlane {
  readonly replicas = 1;
  private readonly metrics = new ProxyMetrics(undefined);
  private readonly gateways = new Map<string, GatewayRuntime>();

  constructor(private readonly o: DataPlaneOptions) {}

  get registry(): Registry {
    return this.metrics.registry;
  }

  async apply(gateway: string, config: ProxyConfig): Promise<Applied> {
    let rt = this.gateways.get(gateway);
    if (rt === undefined) {
      const store = new ConfigStore();
      this.metrics.watch(store);
      rt = {
        store,
        ports: new ListenerPorts({
          store,
          metrics: this.metrics,
          logger: this.o.logger,
          host: this.o.host,
          portMap: this.o.portMap,
          requestRefetch: this.o.requestRefetch,
          onListen: (port, bound) => this.o.print(`Gateway ${gateway} listener port ${port} → http://${this.o.host}:${bound}`),
        }),
      };
      this.gateways.set(gateway, rt);
    }
    let applied: Applied = { changed: false, warnings: [] };
    if (rt.store.current?.config.version !== config.version) {
      const error = await applyConfig(rt.store, config);
      applied =
        error === undefined ? { changed: true, warnings: rt.store.current?.warnings ?? [] } : { changed: true, error, warnings: [] };
    }
    await rt.ports.sync();
    return applied;
  }

  async remove(gateway: string): Promise<void> {
    await this.gateways.get(gateway)?.ports.close();
    this.gateways.delete(gateway);
  }

  bound(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [gw, rt] of this.gateways) for (const [p, b] of rt.ports.bound()) out.set(`${gw}:${p}`, b);
    return out;
  }

  stores(): Map<string, ConfigStore> {
    return new Map([...this.gateways].map(([k, v]) => [k, v.store]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.gateways.values()].map((g) => g.ports.close()));
  }
}
