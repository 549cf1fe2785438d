import type { AgentgatewayParametersSpec, Gateway } from '@agw/api';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ProxyDeployer } from './deployer/proxy-deployer.js';
import type { ProxyDeploymentParams } from './deployer/gateway-resources.js';
import { EventRecorder } from './events/event-recorder.js';
import { transitionEvents } from './events/transitions.js';
import { KeyStore } from './jwks/key-store.js';
import { InformerSet } from './kube/informers.js';
import { KubeError, type KubeRest } from './kube/kube-rest.js';
import { LeaderElector } from './kube/leader-election.js';
import { refOf, type ObjectRef } from './kube/object-ref.js';
import { WATCHED, type WatchedName } from './kube/resources.js';
import { ControllerMetrics } from './metrics.js';
import { ConfigServer, type Authenticate } from './push/config-server.js';
import { defaultGatewayClass, reconcilePass } from './reconcile/reconcile-pass.js';
import { formatIssue, formatIssues, type ObjectProblem, type ParseMemo } from './resources/parse-objects.js';
import { gatewayAddresses } from './status/gateway-addresses.js';
import { programmedCondition } from './status/programmed.js';
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
 * The controller's composition: informers → coalesced, level-based reconcile (reconcilePass, the
 * same as `agw local`) → configs pushed to proxies; statuses written by the status writer and
 * proxies deployed by the deployer, on the leader only; keys kept fresh by the JWKS cache and
 * persisted in ConfigMaps. Every event only schedules a reconcile.
 */
export class Controller {
  readonly metrics: ControllerMetrics;
  readonly configServer: ConfigServer;
  private readonly informers: InformerSet;
  private readonly keys: KeyStore;
  private readonly leader: LeaderElector | undefined;
  private readonly statuses: StatusWriter;
  private readonly deployer: ProxyDeployer | undefined;
  /** The last translation's Gateways (parsed) and their class parameters, by `<ns>/<name>`, for the deployer. */
  private gateways: ReadonlyMap<string, { gateway: Gateway; parameters: AgentgatewayParametersSpec | undefined }> = new Map();
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();
  private readonly parseMemo: ParseMemo = new Map();
  /** Unparseable objects already logged (logged once, not at every reconcile). */
  private readonly reportedProblems = new Set<string>();
  private started = false;

  constructor(private readonly o: ControllerOptions) {
    const log = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => o.logger[level](fields ?? {}, msg);
    this.metrics = new ControllerMetrics({
      queueDepth: () => this.statuses.depth + (this.deployer?.depth ?? 0),
      connectedProxies: () => this.configServer.connectedProxies,
      leader: () => this.isLeader,
      jwks: () => this.keys.entriesView(),
      now: o.now,
    });
    this.informers = new InformerSet(o.kc, o.rest, {
      onChange: () => this.schedule(),
      onSynced: () => this.schedule(),
      onError: (res, err, retryInMs) =>
        log('warn', 'watch failed; restarting', { resource: res, error: (err as Error)?.message ?? String(err), retryInMs }),
    });
    const events = new EventRecorder({ rest: o.rest, controller: o.controllerName, instance: o.identity, now: o.now, log });
    this.keys = new KeyStore({
      rest: o.rest,
      namespace: o.namespace,
      metrics: this.metrics,
      now: o.now,
      log,
      onChange: () => this.schedule(),
      // Each policy using a JWKS URL hears when its fetches start failing and when they recover (the leader reports).
      onFetchTransition: (url, ok, owners, error) => {
        if (!this.isLeader) return;
        for (const owner of new Set(owners.map((w) => w.split('#', 1)[0] as string))) {
          const [, ns = '', name = ''] = owner.split('/');
          const policy = this.informers.get('policies', ns, name) as StatusObject | undefined;
          events.record(
            {
              apiVersion: WATCHED.policies.apiVersion,
              kind: 'AgentgatewayPolicy',
              namespace: ns,
              name,
              ...(policy?.metadata.uid ? { uid: policy.metadata.uid } : {}),
            },
            ok
              ? { type: 'Normal', reason: 'JwksFetchRecovered', note: `jwks keyset for "${url}" fetched again` }
              : {
                  type: 'Warning',
                  reason: 'JwksFetchFailed',
                  note: `jwks keyset for "${url}" could not be fetched (last known good keys, if any, keep serving): ${error ?? 'unknown error'}`,
                },
          );
        }
      },
      ...(o.jwksRefetchMinIntervalMs !== undefined ? { refetchMinIntervalMs: o.jwksRefetchMinIntervalMs } : {}),
    });
    this.configServer = new ConfigServer(
      o.authenticate,
      {
        onProgrammingChange: () => this.schedule(),
        onRefetch: (url, kid) => this.keys.refetch(url, kid),
        onPushed: () => this.metrics.pushes.inc(),
        log,
      },
      { allowPlaintextKeyPush: o.allowPlaintextKeyPush === true },
    );
    const cached = (ref: ObjectRef) => this.informers.get(ref.resource, ref.namespace, ref.name) as StatusObject | undefined;
    this.statuses = new StatusWriter({
      rest: o.rest,
      metrics: this.metrics,
      controllerName: o.controllerName,
      now: o.now,
      log,
      isLeader: () => this.isLeader,
      cached,
      programmed: (gw, generation) => programmedCondition(gw, this.configServer.programming(gw), generation),
      withheldListeners: (gw) => this.configServer.programming(gw).withheld,
      onWritten: (ref, before, status) => {
        const kind = WATCHED[ref.resource];
        for (const e of transitionEvents(kind.kind, before.status, status, o.controllerName)) {
          events.record(
            {
              apiVersion: kind.apiVersion,
              kind: kind.kind,
              namespace: ref.namespace,
              name: ref.name,
              ...(before.metadata.uid ? { uid: before.metadata.uid } : {}),
            },
            e,
          );
        }
      },
      // The deployer names each Gateway's Service after the Gateway: its addresses are the Gateway's.
      ...(o.deployer !== undefined ? { gatewayAddresses: (gw: string) => gatewayAddresses(cached(refOf('services', gw))) } : {}),
    });
    this.deployer =
      o.deployer === undefined
        ? undefined
        : new ProxyDeployer({ rest: o.rest, params: o.deployer, log, gateway: (key) => this.gateways.get(key) });
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
            if (leader) {
              void this.ensureGatewayClass();
              this.schedule();
            }
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
    this.schedule();
  }

  async stop(): Promise<void> {
    await this.leader?.stop();
    this.keys.stop();
    this.statuses.stop();
    this.deployer?.stop();
    await this.informers.stop();
    await this.running;
    await this.configServer.close();
  }

  /** Coalesces events: one reconcile runs at a time, and at most one more is queued behind it. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.running = this.running
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(() => {
        this.scheduled = false;
        return this.reconcile();
      })
      .catch((err: unknown) => {
        this.metrics.reconciles.inc({ result: 'error' });
        this.o.logger.error({ error: (err as Error).message }, 'reconcile failed');
      });
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

  private async reconcile(): Promise<void> {
    if (!this.informers.synced) return;
    const end = this.metrics.reconcileDuration.startTimer();
    const objects = (Object.keys(WATCHED) as WatchedName[]).flatMap((k) => this.informers.list(k));
    const { parsed, out, configs } = reconcilePass({
      objects,
      controllerName: this.o.controllerName,
      jwks: this.keys.keys(),
      jwksErrors: this.keys.errors(),
      memo: this.parseMemo,
    });
    this.logNewProblems(parsed.problems);
    this.keys.sync(out.jwksRequests);
    this.configServer.update(configs);
    this.gateways = new Map(
      parsed.gateways.map((g) => {
        const key = `${g.metadata.namespace ?? ''}/${g.metadata.name}`;
        return [key, { gateway: g, parameters: out.gatewayParameters.get(key) }];
      }),
    );
    if (this.isLeader) {
      this.statuses.update(out, this.routesWithOurEntries());
      this.deployer?.update(out.status.gateways.keys());
      await this.keys.persist();
    }
    end();
    this.metrics.reconciles.inc({ result: 'ok' });
  }

  /** Routes whose status holds an entry of ours (so one we no longer parent gets it removed). */
  private *routesWithOurEntries(): Iterable<string> {
    for (const r of this.informers.list('httpRoutes') as StatusObject[]) {
      const parents = (r.status?.['parents'] as Array<{ controllerName: string }> | undefined) ?? [];
      if (parents.some((p) => p.controllerName === this.o.controllerName)) yield `${r.metadata.namespace ?? ''}/${r.metadata.name}`;
    }
  }

  /** Logs each unparseable object once (not at every reconcile), and forgets fixed ones. */
  private logNewProblems(problems: readonly ObjectProblem[]): void {
    const current = new Set(problems.map((p) => `${p.ref}: ${formatIssues(p)}`));
    for (const p of problems) {
      if (!this.reportedProblems.has(`${p.ref}: ${formatIssues(p)}`))
        this.o.logger.warn({ object: p.ref, issues: p.issues.map(formatIssue) }, 'object does not parse; ignored');
    }
    this.reportedProblems.clear();
    for (const k of current) this.reportedProblems.add(k);
  }
}
