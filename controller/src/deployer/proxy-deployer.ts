import type { AgentgatewayParametersSpec, Gateway } from '@agw/api';
import { readFile } from 'node:fs/promises';
import { retryDelayMs } from '../backoff.js';
import type { KubeRest } from '../kube/kube-rest.js';
import { WorkQueue } from '../queue/work-queue.js';
import { applyPath, gatewayResources, type ProxyDeploymentParams } from './gateway-resources.js';

export interface ProxyDeployerDeps {
  readonly rest: KubeRest;
  readonly params: ProxyDeploymentParams;
  /** The Gateway (parsed) by `<ns>/<name>`, and its class's parameters, as of the last translation. */
  readonly gateway: (key: string) => { gateway: Gateway; parameters: AgentgatewayParametersSpec | undefined } | undefined;
  readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
  /** Reads `params.controllerCaFile` (default: the file system; a test's stand-in). */
  readonly readFile?: (path: string) => Promise<string>;
}

/**
 * Gives every Gateway of the class its proxy ServiceAccount, Deployment and Service (server-side
 * apply, owned by the Gateway), and with a TLS config stream the stream's CA in a ConfigMap of the
 * Gateway's namespace, on its own work queue of Gateway keys. An unchanged set of objects costs no
 * API call (the CA file is re-read each time: a rotated CA is applied and rolls the proxies).
 */
export class ProxyDeployer {
  private readonly queue: WorkQueue;
  /** Gateway key → JSON of the objects last applied. */
  private readonly deployed = new Map<string, string>();

  constructor(private readonly d: ProxyDeployerDeps) {
    this.queue = new WorkQueue((key) => this.deploy(key), {
      concurrency: 2,
      retryDelayMs: (a) => retryDelayMs(a, Math.random),
      onError: (key, err) => d.log('warn', 'proxy deployment failed; retrying', { gateway: key, error: (err as Error).message }),
    });
  }

  /** Queues every Gateway of the latest translation (the leader's job). */
  update(gatewayKeys: Iterable<string>): void {
    for (const k of gatewayKeys) this.queue.add(k);
  }

  get depth(): number {
    return this.queue.depth;
  }

  stop(): void {
    this.queue.stop();
  }

  private async deploy(key: string): Promise<void> {
    const current = this.d.gateway(key);
    if (current === undefined) return;
    const caFile = this.d.params.controllerCaFile;
    // Unreadable: the deploy fails and is retried (a proxy without the CA could not connect).
    const ca = caFile === undefined ? undefined : await (this.d.readFile ?? ((f) => readFile(f, 'utf8')))(caFile);
    const objects = gatewayResources(current.gateway, this.d.params, current.parameters, ca);
    const json = JSON.stringify(objects);
    if (this.deployed.get(key) === json) return;
    for (const o of objects) await this.d.rest.call('PATCH', applyPath(o), o, 'application/apply-patch+yaml');
    this.deployed.set(key, json);
    this.d.log('info', 'applied proxy Deployment, Service and ServiceAccount', { gateway: key, xdsTls: ca !== undefined });
  }
}
