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

/**
 * Each Gateway's ConfigStore and ListenerPorts in one process: what the in-process data plane is,
 * and what each `--workers` process runs (worker-data-plane.ts). A config whose version is the one
 * served changes nothing; a refused one keeps the previous; the ports follow the current config
 * (a port that cannot be opened throws, with the ListenerPorts error's code and port).
 */
export class GatewayRuntimes {
  private readonly gateways = new Map<string, { readonly store: ConfigStore; readonly ports: ListenerPorts }>();

  constructor(
    private readonly o: Omit<DataPlaneOptions, 'print'> & {
      readonly metrics: ProxyMetrics;
      readonly onListen?: (gateway: string, port: number, bound: number) => void;
    },
  ) {}

  async apply(gateway: string, config: ProxyConfig): Promise<Applied> {
    let rt = this.gateways.get(gateway);
    if (rt === undefined) {
      const store = new ConfigStore();
      this.o.metrics.watch(store);
      const onListen = this.o.onListen;
      rt = {
        store,
        ports: new ListenerPorts({
          store,
          metrics: this.o.metrics,
          logger: this.o.logger,
          host: this.o.host,
          portMap: this.o.portMap,
          requestRefetch: this.o.requestRefetch,
          ...(onListen !== undefined ? { onListen: (port: number, bound: number) => onListen(gateway, port, bound) } : {}),
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

  /** Local ports bound by one Gateway's listener ports. */
  boundOf(gateway: string): Map<number, number> {
    return this.gateways.get(gateway)?.ports.bound() ?? new Map();
  }

  bound(): Map<string, number> {
    const out = new Map<string, number>();
    for (const gw of this.gateways.keys()) for (const [p, b] of this.boundOf(gw)) out.set(`${gw}:${p}`, b);
    return out;
  }

  stores(): Map<string, ConfigStore> {
    return new Map([...this.gateways].map(([k, v]) => [k, v.store]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.gateways.values()].map((g) => g.ports.close()));
  }
}

/** Every Gateway served by this process. */
export class InProcessDataPlane implements DataPlane {
  readonly replicas = 1;
  private readonly metrics = new ProxyMetrics(undefined);
  private readonly runtimes: GatewayRuntimes;

  constructor(o: DataPlaneOptions) {
    this.runtimes = new GatewayRuntimes({
      ...o,
      metrics: this.metrics,
      onListen: (gateway, port, bound) => o.print(`Gateway ${gateway} listener port ${port} → http://${o.host}:${bound}`),
    });
  }

  get registry(): Registry {
    return this.metrics.registry;
  }

  apply(gateway: string, config: ProxyConfig): Promise<Applied> {
    return this.runtimes.apply(gateway, config);
  }

  remove(gateway: string): Promise<void> {
    return this.runtimes.remove(gateway);
  }

  bound(): Map<string, number> {
    return this.runtimes.bound();
  }

  stores(): Map<string, ConfigStore> {
    return this.runtimes.stores();
  }

  close(): Promise<void> {
    return this.runtimes.close();
  }
}
