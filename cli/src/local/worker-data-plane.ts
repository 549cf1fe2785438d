import cluster, { type Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import type { ProxyConfig } from '@agw/api';
import { ConfigStore, ProxyMetrics, applyConfig } from '@agw/proxy';
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import { GatewayRuntimes, type Applied, type DataPlane, type DataPlaneOptions } from './data-plane.js';

/** Primary → worker. */
type ToWorker = { type: 'apply'; seq: number; gateway: string; config: ProxyConfig } | { type: 'remove'; seq: number; gateway: string };
/** Worker → primary. */
type FromWorker =
  | {
      type: 'done';
      seq: number;
      error?: string;
      warnings?: string[];
      /** A listener port that could not be opened: code and local port, as ListenerPorts throws them. */
      listen?: { message: string; code?: string | undefined; port?: number | undefined };
      bound: Array<[number, number]>;
    }
  | { type: 'refetch'; url: string; kid: string }
  /** Its message handler is installed: messages sent before would be lost. */
  | { type: 'ready' };

/** Longest wait for every worker to apply a config, ms (a worker that does not answer is restarted). */
const APPLY_TIMEOUT_MS = 30_000;
/** Restart delay of a crashed worker, ms, doubling with repeated crashes up to 15 s (as the proxy's primary). */
const RESTART_BASE_MS = 200,
  RESTART_CAP_MS = 15_000;

/**
 * `agw local --workers N`: N processes (node:cluster) serve every Gateway's listener ports, which
 * the cluster shares (the primary accepts, the workers take turns), as the proxy binary's
 * `--workers` does. This process keeps translating and fetching keys; each config goes to every
 * worker, and a Gateway counts as applied when all have applied it. A worker that crashes is
 * forked again and given the current configs. /metrics sums the workers' (prom-client cluster).
 */
export class WorkerDataPlane implements DataPlane {
  readonly registry: Registry = new ClusterRegistry();
  /** The configs every worker applied, compiled here too: /config_dump and /readyz. */
  private readonly copies = new Map<string, ConfigStore>();
  /** The latest config sent for each Gateway: what a restarted worker is given. */
  private readonly latest = new Map<string, ProxyConfig>();
  private readonly boundPorts = new Map<string, Map<number, number>>();
  private readonly pending = new Map<
    number,
    { want: Set<number>; replies: Array<Extract<FromWorker, { type: 'done' }>>; done: () => void }
  >();
  private readonly workers = new Map<number, Worker>();
  /** Resolves when a worker (by cluster id) said it is ready for messages. */
  private readonly ready = new Map<number, Promise<void>>();
  private seq = 0;
  private restarts = 0;
  private closing = false;

  constructor(
    private readonly o: DataPlaneOptions,
    readonly replicas: number,
  ) {
    for (let i = 0; i < replicas; i++) this.fork(i);
  }

  private fork(index: number): void {
    const w = cluster.fork({ AGW_LOCAL_WORKER: String(index) });
    this.workers.set(index, w);
    let isReady: () => void = () => undefined;
    this.ready.set(w.id, new Promise<void>((r) => (isReady = r)));
    w.on('message', (m: FromWorker) => {
      if (m?.type === 'refetch') this.o.requestRefetch(m.url, m.kid);
      else if (m?.type === 'done') this.answered(w.id, m);
      else if (m?.type === 'ready') isReady();
    });
    w.on('exit', (code, signal) => {
      this.ready.delete(w.id);
      for (const p of this.pending.values()) if (p.want.delete(w.id) && p.want.size === 0) p.done();
      if (this.closing) return;
      const delay = Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** Math.min(this.restarts++, 10));
      this.o.print(`error: local worker ${index} exited (${signal ?? code}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (this.closing) return;
        this.fork(index);
        // The new worker gets every Gateway's latest config.
        for (const [gateway, config] of this.latest)
          void this.send([this.workers.get(index) as Worker], { type: 'apply', seq: ++this.seq, gateway, config });
      }, delay);
    });
  }

  private answered(workerId: number, m: Extract<FromWorker, { type: 'done' }>): void {
    const p = this.pending.get(m.seq);
    if (p === undefined || !p.want.delete(workerId)) return;
    p.replies.push(m);
    if (p.want.size === 0) p.done();
  }

  /** Sends to `to` and resolves with their answers (a worker that exits or times out gives none). */
  private send(to: Worker[], msg: ToWorker): Promise<Array<Extract<FromWorker, { type: 'done' }>>> {
    return new Promise((resolve) => {
      const entry = {
        want: new Set(to.map((w) => w.id)),
        replies: [] as Array<Extract<FromWorker, { type: 'done' }>>,
        done: () => {
          clearTimeout(timer);
          this.pending.delete(msg.seq);
          resolve(entry.replies);
        },
      };
      const timer = setTimeout(() => {
        for (const id of entry.want)
          this.o.print(
            `error: local worker (pid ${cluster.workers?.[id]?.process.pid ?? '?'}) did not apply a config in ${APPLY_TIMEOUT_MS} ms`,
          );
        entry.done();
      }, APPLY_TIMEOUT_MS);
      this.pending.set(msg.seq, entry);
      if (entry.want.size === 0) entry.done();
      for (const w of to) void this.ready.get(w.id)?.then(() => w.isConnected() && w.send(msg));
    });
  }

  async apply(gateway: string, config: ProxyConfig): Promise<Applied> {
    if (this.copies.get(gateway)?.current?.config.version === config.version) return { changed: false, warnings: [] };
    // The same code as the workers': a config refused here is refused there, and not sent. The
    // copy is kept once every worker applied it (then /readyz and /config_dump show it).
    const copy = new ConfigStore();
    const error = await applyConfig(copy, config);
    if (error !== undefined) return { changed: true, error, warnings: [] };
    this.latest.set(gateway, config);
    const replies = await this.send([...this.workers.values()], { type: 'apply', seq: ++this.seq, gateway, config });
    const first = replies[0];
    if (first !== undefined) this.boundPorts.set(gateway, new Map(first.bound));
    const listen = replies.find((r) => r.listen !== undefined)?.listen;
    if (listen !== undefined) throw Object.assign(new Error(listen.message), { code: listen.code, port: listen.port });
    const refused = replies.find((r) => r.error !== undefined);
    if (refused !== undefined) return { changed: true, error: refused.error as string, warnings: [] };
    if (replies.length === this.workers.size) this.copies.set(gateway, copy);
    for (const [port, bound] of this.boundPorts.get(gateway) ?? [])
      if (!this.announced.has(`${gateway}:${port}:${bound}`)) {
        this.announced.add(`${gateway}:${port}:${bound}`);
        this.o.print(`Gateway ${gateway} listener port ${port} → http://${this.o.host}:${bound} (${this.replicas} workers)`);
      }
    return { changed: true, warnings: copy.current?.warnings ?? [] };
  }
  private readonly announced = new Set<string>();

  async remove(gateway: string): Promise<void> {
    this.copies.delete(gateway);
    this.latest.delete(gateway);
    this.boundPorts.delete(gateway);
    await this.send([...this.workers.values()], { type: 'remove', seq: ++this.seq, gateway });
  }

  bound(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [gw, ports] of this.boundPorts) for (const [p, b] of ports) out.set(`${gw}:${p}`, b);
    return out;
  }

  stores(): Map<string, ConfigStore> {
    return new Map(this.copies);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.workers.values()].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** A registry whose text is every worker's metrics, aggregated (what /metrics serves with workers). */
class ClusterRegistry extends AggregatorRegistry<PrometheusContentType> {
  override metrics(): Promise<string> {
    return this.clusterMetrics();
  }
}

/**
 * The worker side: ConfigStore + ListenerPorts per Gateway, configs from the primary, refetch
 * requests to it. Runs until SIGTERM (ports closed first) or until the primary is gone.
 */
export function runLocalWorker(o: { host: string; portMap: ReadonlyMap<number, number>; logger: FastifyBaseLogger }): void {
  const metrics = new ProxyMetrics(undefined, { defaultMetrics: false });
  AggregatorRegistry.setRegistries([metrics.registry]);
  // prom-client answers the primary's metrics requests only once an AggregatorRegistry exists here.
  new AggregatorRegistry();
  const send = (m: FromWorker) => process.send?.(m);
  const runtimes = new GatewayRuntimes({
    host: o.host,
    portMap: o.portMap,
    logger: o.logger,
    metrics,
    requestRefetch: (url, kid) => send({ type: 'refetch', url, kid }),
  });
  let chain = Promise.resolve();
  const handle = async (m: ToWorker): Promise<void> => {
    if (m.type === 'remove') {
      await runtimes.remove(m.gateway);
      send({ type: 'done', seq: m.seq, bound: [] });
      return;
    }
    let applied: Applied;
    try {
      applied = await runtimes.apply(m.gateway, m.config);
    } catch (err) {
      const e = err as Error & { code?: string; port?: number };
      send({
        type: 'done',
        seq: m.seq,
        listen: { message: e.message, code: e.code, port: e.port },
        bound: [...runtimes.boundOf(m.gateway)],
      });
      return;
    }
    send({
      type: 'done',
      seq: m.seq,
      ...(applied.error !== undefined ? { error: applied.error } : { warnings: [...applied.warnings] }),
      bound: [...runtimes.boundOf(m.gateway)],
    });
  };
  process.on('message', (m: ToWorker) => {
    // The same channel carries prom-client's metrics requests (its own listener answers them).
    if (m?.type !== 'apply' && m?.type !== 'remove') return;
    chain = chain.then(() => handle(m)).catch((err: unknown) => o.logger.error({ err }, 'local worker failed to apply a config'));
  });
  send({ type: 'ready' });
  const stop = () => {
    void chain.then(async () => {
      await runtimes.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', () => undefined); // the primary stops the workers (Ctrl-C reaches the whole group)
  process.once('disconnect', stop);
}
