import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kubectl } from './control-plane.js';
import { LOG_DIR, freePort, startProcess, waitFor, type Managed } from './process.js';

const root = resolve(import.meta.dirname, '../../..');

export interface RunningController {
  readonly xdsPort: number;
  readonly adminPort: number;
  readonly proc: Managed;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Starts the built controller (controller/dist/main.js) as the chart's ServiceAccount would run it. */
export async function startController(o: {
  kubeconfig: string;
  name?: string;
  namespace?: string;
  xdsPort?: number;
  adminPort?: number;
  extraArgs?: string[];
  /** node flags before the script (e.g. the chart's `--max-old-space-size=307`). */
  nodeFlags?: readonly string[];
}): Promise<RunningController> {
  const xdsPort = o.xdsPort ?? (await freePort());
  const adminPort = o.adminPort ?? (await freePort());
  const name = o.name ?? 'controller';
  const proc = startProcess(name, 'node', [
    ...(o.nodeFlags ?? []),
    join(root, 'controller/dist/main.js'),
    `--kubeconfig=${o.kubeconfig}`,
    `--namespace=${o.namespace ?? 'agentgateway-system'}`,
    '--xds-host=127.0.0.1',
    `--xds-port=${xdsPort}`,
    '--admin-host=127.0.0.1',
    `--admin-port=${adminPort}`,
    `--identity=${name}-${Date.now()}`,
    '--log-level=debug',
    '--proxy-image=ghcr.io/agentgateway-ts/agentgateway-ts:0.1.0',
    '--proxy-controller-address=agentgateway.agentgateway-system.svc:9978',
    ...(o.extraArgs ?? []),
  ]);
  await waitFor('controller /readyz', async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, 60_000);
  return { xdsPort, adminPort, proc, log: () => readFileSync(join(LOG_DIR, `${name}.log`), 'utf8'), stop: () => proc.stop() };
}

export interface RunningProxy {
  readonly port: number;
  readonly adminPort: number;
  readonly proc: Managed;
  stop(): Promise<void>;
}

/**
 * Starts the built proxy for a Gateway, connected to the controller with a real projected-style
 * ServiceAccount token (TokenRequest via `kubectl create token`, audience agentgateway).
 */
export async function startProxy(o: {
  adminKubeconfig: string;
  xdsPort: number;
  gateway: string;
  serviceAccount?: string;
  listenerPort?: number;
  name?: string;
  port?: number;
  extraArgs?: string[];
}): Promise<RunningProxy> {
  const [ns, gwName] = o.gateway.split('/') as [string, string];
  const sa = o.serviceAccount ?? gwName;
  await kubectl(o.adminKubeconfig, ['create', 'serviceaccount', sa, '-n', ns]); // may exist already
  const token = await kubectl(o.adminKubeconfig, ['create', 'token', sa, '-n', ns, '--audience=agentgateway', '--duration=2h']);
  if (token.code !== 0) throw new Error(`kubectl create token: ${token.stderr}`);
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'agw-token-')), 'token');
  writeFileSync(tokenFile, token.stdout.trim());
  const port = o.port ?? (await freePort());
  const adminPort = await freePort();
  const proc = startProcess(o.name ?? 'proxy', 'node', [
    join(root, 'proxy/dist/main.js'),
    `--controller=127.0.0.1:${o.xdsPort}`,
    `--gateway=${o.gateway}`,
    `--token-file=${tokenFile}`,
    '--host=127.0.0.1',
    `--port-map=${o.listenerPort ?? 80}=${port}`,
    `--admin-port=${adminPort}`,
    '--drain-ms=0',
    '--log-level=info',
    '--workers=1',
    ...(o.extraArgs ?? []),
  ]);
  return { port, adminPort, proc, stop: () => proc.stop() };
}
