#!/usr/bin/env node
/** The proxy binary: the only place that builds servers, clients and timers from settings. */
import { pino } from 'pino';
import { ControllerSource } from './config/controller-source.js';
import { loadConfigFile, watchConfigFile } from './config/file-source.js';
import { ConfigStore } from './config/store.js';
import { ListenerPorts } from './listeners.js';
import { ProxyMetrics } from './metrics.js';
import { buildAdminServer } from './server.js';
import { readSettings } from './settings.js';

const RETRY_BASE_MS = 200, RETRY_CAP_MS = 15_000;

async function main(): Promise<void> {
  const s = readSettings(process.argv.slice(2), process.env);
  const logger = pino({ level: s.logLevel, base: { component: 'proxy', gateway: `${s.gateway.namespace}/${s.gateway.name}` } });
  const store = new ConfigStore(s.jwtCacheEntries);
  const metrics = new ProxyMetrics(store);
  let draining = false;
  let source: ControllerSource | undefined;
  const ports = new ListenerPorts({
    store, metrics, logger, host: s.host, portMap: s.portMap,
    requestRefetch: (url, kid) => source?.requestRefetch(url, kid),
    onListen: (port, bound) => logger.info({ listenerPort: port, boundPort: bound }, 'listening'),
  });
  store.onChange((e) => {
    if (e.type === 'applied') {
      logger.info({ version: e.version, warnings: e.warnings }, 'config applied');
      void ports.sync().catch((err: unknown) => logger.error({ error: (err as Error).message }, 'cannot open listener'));
    } else {
      logger.warn({ version: e.version, error: e.error }, 'config rejected; the last good config keeps serving');
    }
  });
  if (s.configFile !== undefined) {
    await loadConfigFile(store, s.configFile);
    watchConfigFile(store, s.configFile);
  } else {
    source = new ControllerSource({
      address: s.controller as string, gateway: s.gateway, proxyId: s.proxyId, token: s.token, store,
      log: (level, msg, fields) => logger[level](fields ?? {}, msg),
      retryDelayMs: (a) => Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(a, 10)) * (0.5 + Math.random() / 2),
    });
    source.start();
  }
  const admin = await buildAdminServer({ stores: () => new Map([[`${s.gateway.namespace}/${s.gateway.name}`, store]]), metrics, logger, draining: () => draining });
  await admin.listen({ port: s.adminPort, host: s.host });
  const stop = async (signal: string) => {
    if (draining) return;
    draining = true; // readyz fails now; load balancers stop sending before listeners close
    logger.info({ signal, drainMs: s.drainMs }, 'draining');
    await new Promise((r) => setTimeout(r, s.drainMs));
    await ports.close();
    source?.stop();
    await admin.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`proxy: ${(err as Error).message}\n`);
  process.exit(1);
});
