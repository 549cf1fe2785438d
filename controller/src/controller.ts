import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ProxyDeployer } from './deployer/proxy-deployer.js';
import type { ProxyDeploymentParams } from './deployer/gateway-resources.js';
import { EventRecorder } from './events/event-recorder.js';
import { ControllerEvents } from './events/controller-events.js';
import { KeyStore } from './jwks/key-store.js';
import { InformerSet } from './kube/informers.js';
import { KubeError, type KubeRest } from './kube/kube-rest.js';
import { LeaderElector } from './kube/leader-election.js';
import { refOf, type ObjectRef } from './kube/object-ref.js';
import { WATCHED } from './kube/resources.js';
import { ControllerMetrics } from './metrics.js';
import { ConfigServer, type Authenticate } from './push/config-server.js';
import { defaultGatewayClass } from './reconcile/reconcile-pass.js';
import { ReconcileLoop } from './reconcile/reconcile-loop.js';
import { gatewayAddresses } from './status/gateway-addresses.js';
import { StatusWriter, type StatusObject } from './status/status-writer.js';

export interface ControllerOptions {
  readonly kc: KubeConfig;
  readonly rest: KubeRest;
  readonly logger: Logger;
  readonly namespace: string;
  readonly controllerName: string;
  readonly className: string;
  readonly identity: string;
  readonly authenticate: Authenticate;
  readonly leaderElection: boolean;
  readonly now: () => number;
  /** Create each Gateway's proxy Deployment/Service/ServiceAccount; undefined: not deployed (proxies run elsewhere). */
  readonly deployer?: ProxyDeploymentParams;
  /** Least time between forced JWKS refetches of one URL (unknown kid), ms; default 30 000. */
  readonly jwksRefetchMinIntervalMs?: number;
  /** Push HTTPS listeners' private keys over a plaintext config stream (development only; default false). */
  readonly allowPlaintextKeyPush?: boolean;
}

/**
 * The controller's composition: informers → the reconcile loop (reconcile/reconcile-loop.ts,
 * coalesced, level-based, the same pass as `agw local`) → configs pushed to proxies; statuses
 * written by the status writer and proxies deployed by the deployer, on the leader only; keys kept
 * fresh by the key store and persisted in ConfigMaps; Events by controller-events.ts. Every
 * event only schedules a pass.
 */
export class Controller {
  readonly metrics: ControllerMetrics;
  readonly configServer: ConfigServer;
  private readonly informers: InformerSet;
  private readonly keys: KeyStore;
  private readonly leader: LeaderElector | undefined;
  private readonly statuses: StatusWriter;
  private readonly deployer: ProxyDeployer | undefined;
  private readonly loop: ReconcileLoop;
  private started = false;

  constructor(private readonly o: ControllerOptions) {
    const log = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => o.logger[level](fields ?? {}, msg);
    const schedule = () => this.loop.schedule();
    this.metrics = new ControllerMetrics({
      queueDepth: () => this.statuses.depth + (this.deployer?.depth ?? 0),
      connectedProxies: () => this.configServer.connectedProxies,
      leader: () => this.isLeader,
      jwks: () => this.keys.entriesView(),
      now: o.now,
    });
    this.informers = new InformerSet(o.kc, o.rest, {
      onChange: schedule,
      // Our own status writes come back as updates: a reconcile pass each would be wasted work.
      onStatusOnly: (res, namespace, name) => this.statuses.recheck(refOf(res, `${namespace}/${name}`)),
      onSynced: schedule,
      // A kind the cluster does not serve is said once; its watch's 404s, retried with backoff, are not.
      onMissing: (res, kind) =>
        log(
          'warn',
          `${kind} is not served by the API server (its CRD is not installed, or is older than this controller; helm upgrade does not update CRDs): no ${kind} objects until it is. Install or upgrade it (this project's: kubectl apply --server-side -f crds/; Gateway API's: its standard channel, v1.4 or later)`,
          { resource: res },
        ),
      onError: (res, err, retryInMs) => {
        if (this.informers.missingKinds.includes(res)) return;
        log('warn', 'watch failed; restarting', { resource: res, error: (err as Error)?.message ?? String(err), retryInMs });
      },
    });
    const cached = (ref: ObjectRef) => this.informers.get(ref.resource, ref.namespace, ref.name) as StatusObject | undefined;
    const events = new ControllerEvents({
      recorder: new EventRecorder({ rest: o.rest, controller: o.controllerName, instance: o.identity, now: o.now, log }),
      controllerName: o.controllerName,
      isLeader: () => this.isLeader,
      policy: (namespace, name) => cached(refOf('policies', `${namespace}/${name}`)),
    });
    this.keys = new KeyStore({
      rest: o.rest,
      namespace: o.namespace,
      metrics: this.metrics,
      now: o.now,
      log,
      onChange: schedule,
      onFetchTransition: (url, ok, owners, error) => events.jwksFetchTransition(url, ok, owners, error),
      ...(o.jwksRefetchMinIntervalMs !== undefined ? { refetchMinIntervalMs: o.jwksRefetchMinIntervalMs } : {}),
    });
    this.configServer = new ConfigServer(
      o.authenticate,
      {
        // Only statuses read what proxies did (Programmed): no pass, that Gateway's statuses again.
        onProgrammingChange: (gateway) => this.statuses.programmingChanged(gateway),
        onRefetch: (url, kid) => this.keys.refetch(url, kid),
        onPushed: () => this.metrics.pushes.inc(),
        log,
      },
      { allowPlaintextKeyPush: o.allowPlaintextKeyPush === true },
    );
    this.statuses = new StatusWriter({
      rest: o.rest,
      metrics: this.metrics,
      controllerName: o.controllerName,
      now: o.now,
      log,
      isLeader: () => this.isLeader,
      cached,
      programming: (gw) => this.configServer.programming(gw),
      onWritten: (ref, before, status) => events.statusWritten(ref, before, status),
      ...(o.deployer !== undefined ? { gatewayAddresses: (gw: string) => gatewayAddresses(cached(refOf('services', gw))) } : {}),
    });
    this.deployer =
      o.deployer === undefined
        ? undefined
        : new ProxyDeployer({ rest: o.rest, params: o.deployer, log, gateway: (key) => this.loop.gateway(key) });
    this.loop = new ReconcileLoop({
      informers: this.informers,
      keys: this.keys,
      configServer: this.configServer,
      statuses: this.statuses,
      deployer: this.deployer,
      metrics: this.metrics,
      logger: o.logger,
      controllerName: o.controllerName,
      isLeader: () => this.isLeader,
    });
    this.leader = o.leaderElection
      ? new LeaderElector(o.rest, {
          namespace: o.namespace,
          name: 'agentgateway-ts-controller',
          identity: o.identity,
          leaseDurationMs: 15_000,
          renewEveryMs: 5_000,
          now: o.now,
          log,
          onChange: (leader) => {
            if (!leader) return;
            void this.ensureGatewayClass();
            schedule();
          },
        })
      : undefined;
  }

  get isLeader(): boolean {
    return this.leader === undefined ? true : this.leader.isLeader;
  }
  get ready(): boolean {
    return this.started && this.informers.synced;
  }

  async start(): Promise<void> {
    // Persisted keys first: the first push after a restart already carries them (IdP down or not).
    await this.keys.loadPersisted();
    if (this.leader) this.leader.start();
    else void this.ensureGatewayClass();
    await this.informers.start();
    this.started = true;
    this.loop.schedule();
  }

  async stop(): Promise<void> {
    await this.leader?.stop();
    this.keys.stop();
    this.statuses.stop();
    this.deployer?.stop();
    await this.informers.stop();
    await this.loop.settled();
    await this.configServer.close();
  }

  private async ensureGatewayClass(): Promise<void> {
    try {
      await this.o.rest.call('POST', WATCHED.gatewayClasses.path, defaultGatewayClass(this.o.className, this.o.controllerName));
      this.o.logger.info({ name: this.o.className }, 'created GatewayClass');
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409))
        this.o.logger.warn({ error: (err as Error).message }, 'could not create GatewayClass');
    }
  }
}
