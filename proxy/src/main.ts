#!/usr/bin/env node
/**
 * The proxy binary: the only place that builds servers, clients and timers from settings.
 * With --workers N > 1 (default: one per CPU) a primary process forks N workers that share the
 * listener ports (node:cluster); the primary serves the admin port with every worker's metrics
 * aggregated, and is ready when every worker has a config. Each worker keeps its own config
 * stream (proxy id `<pod>/w<i>`), so the controller's Programmed condition waits for all of them.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { AggregatorRegistry } from 'prom-client';
import { pino, type Logger } from 'pino';
import type { ControllerSource } from './config/controller-source.js';
import { loadConfigFile, watchConfigFile } from './config/file-source.js';
import { ConfigStore } from './config/store.js';
import { ListenerPorts } from './listeners.js';
import { ProxyMetrics } from './metrics.js';
import { buildAdminServer } from './server.js';
import { USAGE, readSettings, type ProxySettings } from './settings.js';
import { WITHOUT_ROUTE_SCHEMAS } from './without-route-schemas.js';

const RETRY_BASE_MS = 200,
  RETRY_CAP_MS = 15_000;
type WorkerMessage = { type: 'agw-ready'; ready: boolean };

/** One proxy: config source, listener ports, and (when alone) the admin server. */
async function runProxy(s: ProxySettings, logger: Logger, worker: number | undefined): Promise<void> {
  const store = new ConfigStore(s.jwtCacheEntries);
  const metrics = new ProxyMetrics(store, { defaultMetrics: worker === undefined });
  if (worker !== undefined) {
    AggregatorRegistry.setRegistries([metrics.registry]);
    // prom-client installs the worker's answer to the primary's metrics requests only when an
    // AggregatorRegistry is constructed in that process.
    new AggregatorRegistry();
  }
  let draining = false;
  let source: ControllerSource | undefined;
  const ports = new ListenerPorts({
    store,
    metrics,
    logger,
    host: s.host,
    portMap: s.portMap,
    upstreamTimeoutMs: s.upstreamTimeoutMs,
    tunnelIdleTimeoutMs: s.tunnelIdleTimeoutMs,
    refetchIntervalMs: s.refetchIntervalMs,
    pathRules: s.pathRules,
    requestRefetch: (url, kid) => source?.requestRefetch(url, kid),
    onListen: (port, bound) => logger.info({ listenerPort: port, boundPort: bound }, 'listening'),
  });
  /**
   * A listener port that could not be opened (in use, no permission): /readyz says so (503) and the
   * ports are tried again every second, so the process is never "ready" while not serving a listener.
   */
  let listenerError: string | undefined;
  let retry: NodeJS.Timeout | undefined;
  const syncPorts = (): void => {
    if (retry !== undefined) clearTimeout(retry);
    retry = undefined;
    ports
      .sync()
      .then(() => {
        listenerError = undefined;
        process.send?.({ type: 'agw-ready', ready: true } satisfies WorkerMessage);
      })
      .catch((err: unknown) => {
        listenerError = (err as Error).message;
        logger.error({ error: listenerError }, 'cannot open listener; not ready, retrying in 1 s');
        retry = setTimeout(syncPorts, 1000);
        retry.unref();
      });
  };
  store.onChange((e) => {
    if (e.type === 'applied') {
      logger.info({ version: e.version, warnings: e.warnings }, 'config applied');
      syncPorts();
    } else {
      logger.warn({ version: e.version, error: e.error }, 'config rejected; the last good config keeps serving');
    }
  });
  if (s.configFile !== undefined) {
    await loadConfigFile(store, s.configFile);
    watchConfigFile(store, s.configFile);
  } else {
    // Loaded only here: a proxy on a config file has no use for gRPC (~4 MiB of RSS).
    const { ControllerSource } = await import('./config/controller-source.js');
    source = new ControllerSource({
      address: s.controller as string,
      gateway: s.gateway,
      proxyId: worker === undefined ? s.proxyId : `${s.proxyId}/w${worker}`,
      token: s.token,
      store,
      log: (level, msg, fields) => logger[level](fields ?? {}, msg),
      retryDelayMs: (a) => Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(a, 10)) * (0.5 + Math.random() / 2),
      ...(s.controllerCaFile !== undefined ? { tlsCa: readFileSync(s.controllerCaFile) } : {}),
      ...(s.controllerServerName !== undefined ? { tlsServerName: s.controllerServerName } : {}),
      allowPlaintextKeyPush: s.allowPlaintextKeyPush,
    });
    if (s.controllerCaFile === undefined && s.allowPlaintextKeyPush)
      logger.warn('--allow-plaintext-key-push: private keys of HTTPS listeners are accepted over a plaintext stream (development only)');
    source.start();
  }
  const admin =
    worker === undefined
      ? await buildAdminServer({
          stores: () => new Map([[`${s.gateway.namespace}/${s.gateway.name}`, store]]),
          metrics,
          logger,
          draining: () => draining,
          notServing: () => listenerError,
        })
      : undefined;
  await admin?.listen({ port: s.adminPort, host: s.host });
  const stop = async (signal: string) => {
    if (draining) return;
    draining = true; // readyz fails now; load balancers stop sending before listeners close
    logger.info({ signal, drainMs: s.drainMs }, 'draining');
    await new Promise((r) => setTimeout(r, s.drainMs));
    await ports.close();
    source?.stop();
    await admin?.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** The primary of --workers N: forks and re-forks workers, serves admin with aggregated metrics. */
async function runPrimary(s: ProxySettings, logger: Logger): Promise<void> {
  const ready = new Map<number, boolean>();
  let draining = false;
  let restarts = 0;
  const fork = (index: number) => {
    const w = cluster.fork({ AGW_WORKER_INDEX: String(index) });
    ready.set(w.id, false);
    w.on('message', (m: WorkerMessage) => {
      if (m?.type === 'agw-ready') ready.set(w.id, m.ready);
    });
    w.on('exit', (code, signal) => {
      ready.delete(w.id);
      if (draining) return;
      // A crashed worker is replaced; the delay grows with repeated crashes (up to 15 s).
      const delay = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(restarts++, 10));
      logger.error({ worker: index, code, signal, restartInMs: delay }, 'worker exited; restarting');
      setTimeout(() => fork(index), delay);
    });
  };
  for (let i = 0; i < s.workers; i++) fork(i);
  const aggregator = new AggregatorRegistry();
  const admin = Fastify({ ...WITHOUT_ROUTE_SCHEMAS, loggerInstance: logger });
  admin.get('/healthz', async () => 'ok\n');
  admin.get('/readyz', async (_req, reply) => {
    const all = [...ready.values()];
    return !draining && all.length === s.workers && all.every(Boolean)
      ? 'ready\n'
      : reply.code(503).send(`${all.filter(Boolean).length} of ${s.workers} workers ready\n`);
  });
  admin.get('/metrics', async (_req, reply) =>
    reply.header('content-type', aggregator.contentType).send(await aggregator.clusterMetrics()),
  );
  await admin.listen({ port: s.adminPort, host: s.host });
  logger.info({ workers: s.workers, adminPort: s.adminPort }, 'proxy primary started');
  const stop = (signal: NodeJS.Signals) => {
    if (draining) return;
    draining = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    const exit = () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        void admin.close();
        process.exit(0);
      }
    };
    cluster.on('exit', exit);
    exit();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const s = readSettings(process.argv.slice(2), process.env);
  const worker = cluster.isWorker ? s.workerIndex : undefined;
  const logger = pino({
    level: s.logLevel,
    // No config is logged whole; should one ever be, its private keys are not (compile-tls.ts keeps none in the served config).
    redact: {
      paths: [
        'privateKeyPem',
        '*.privateKeyPem',
        'config.listeners[*].tls.certificates[*].privateKeyPem',
        'tls.certificates[*].privateKeyPem',
      ],
      censor: '[redacted]',
    },
    base: { component: 'proxy', gateway: `${s.gateway.namespace}/${s.gateway.name}`, ...(worker !== undefined ? { worker } : {}) },
  });
  if (cluster.isPrimary && s.workers > 1) await runPrimary(s, logger);
  else await runProxy(s, logger, worker);
}

main().catch((err: unknown) => {
  process.stderr.write(`proxy: ${(err as Error).message}\n`);
  process.exit(1);
});
