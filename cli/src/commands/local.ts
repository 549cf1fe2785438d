import cluster from 'node:cluster';
import { parsePortMap } from '@agw/proxy';
import { destination, pino } from 'pino';
import { startDemoIdp } from '../demo/demo-idp.js';
import { startHttpbin } from '../demo/httpbin.js';
import { EXIT, isListenError, listenFailure } from '../errors.js';
import { LocalGateway } from '../local/local-gateway.js';
import { runLocalWorker } from '../local/worker-data-plane.js';

/** The options of `agw local`, as commander parses them (see main.ts for help and defaults). */
export interface LocalOptions {
  file?: string[];
  portMap?: string[];
  host: string;
  /** Ports: 0 binds any free port. */
  adminPort: number;
  demo?: boolean;
  demoIdpPort: number;
  demoUpstreamPort: number;
  logLevel: string;
  /** false with --no-watch. */
  watch: boolean;
  /** Processes serving the listener ports (1: this one). */
  workers: number;
}

/**
 * `agw local`: starts the demo servers (with --demo) and the local gateway, prints where they
 * listen, and runs until SIGINT/SIGTERM. A port that cannot be bound is an error naming the flag
 * that picks it; whatever was started is closed first.
 */
export async function runLocal(o: LocalOptions, usage: (message: string) => never): Promise<void> {
  if (!o.file?.length) usage('needs -f <file|dir>');
  let portMap: Map<number, number>;
  try {
    portMap = parsePortMap(o.portMap ?? []);
  } catch (err) {
    usage((err as Error).message);
  }
  // A worker of `--workers N` (forked with the same arguments): it serves the ports, nothing else.
  if (cluster.isWorker && process.env['AGW_LOCAL_WORKER'] !== undefined) {
    runLocalWorker({
      host: o.host,
      portMap,
      logger: pino({ level: o.logLevel, base: { worker: Number(process.env['AGW_LOCAL_WORKER']) } }, destination(2)),
    });
    return;
  }
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of closers.splice(0)) await c().catch(() => undefined);
  };
  /** Starts one server; a port it cannot bind becomes a readable error naming the flag to change. */
  const bind = async <T>(start: () => Promise<T>, flag: string, note: string): Promise<T> => {
    try {
      return await start();
    } catch (err) {
      await closeAll();
      throw isListenError(err) ? new Error(listenFailure(err, flag, note)) : err;
    }
  };
  if (o.demo) {
    // examples/quickstart names these two ports (EndpointSlices, the policy's issuer): another port
    // works only with manifests that say so.
    const idp = await bind(
      () => startDemoIdp({ port: o.demoIdpPort }),
      '--demo-idp-port <port>',
      'examples/quickstart expects the demo identity provider on 8081: there, free the port instead',
    );
    closers.push(() => idp.close());
    const bin = await bind(
      () => startHttpbin({ port: o.demoUpstreamPort }),
      '--demo-upstream-port <port>',
      'examples/quickstart expects the demo httpbin on 8082: there, free the port instead',
    );
    closers.push(() => bin.close());
    print(`demo identity provider: ${idp.issuer} (users user1, user2; password "password")`);
    print(`demo upstream (httpbin): http://127.0.0.1:${bin.port}`);
  }
  const gw = new LocalGateway({
    paths: o.file,
    portMap,
    host: o.host,
    adminPort: o.adminPort,
    logger: pino({ level: o.logLevel }, destination(2)),
    print,
    watch: o.watch,
    workers: o.workers,
  });
  try {
    await gw.start();
  } catch (err) {
    await gw.stop().catch(() => undefined);
    await closeAll();
    if (!isListenError(err)) throw err;
    // The admin server binds first: if it is not up, the port that failed is its own.
    if (gw.adminPort === undefined && err.port === o.adminPort) throw new Error(listenFailure(err, '--admin-port <port>'));
    // A Gateway listener port binds the local port --port-map maps it to, or itself.
    const listener = [...portMap].find(([, bound]) => bound === err.port)?.[0] ?? err.port;
    throw new Error(listenFailure(err, `--port-map ${listener}=<port>`));
  }
  print(`admin: http://${o.host}:${gw.adminPort ?? ''}/{healthz,readyz,metrics,config_dump,status}`);
  if (o.demo) {
    const p = portMap.get(80) ?? 80;
    print('\ntry:');
    print(`  curl -i localhost:${p}/headers -H "host: www.example.com"`);
    print(
      `  TOKEN=$(curl -s localhost:${o.demoIdpPort}/realms/master/protocol/openid-connect/token -d grant_type=password -d client_id=agw-client -d username=user1 -d password=password | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    );
    print(`  curl -i localhost:${p}/headers -H "host: www.example.com" -H "Authorization: Bearer $TOKEN"`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gw.stop();
    await closeAll();
    process.exit(EXIT.ok);
  };
  process.on('SIGINT', () => {
    void stop();
  });
  process.on('SIGTERM', () => {
    void stop();
  });
}
