import type { AgentgatewayParametersSpec, Gateway } from '@agw/api';
import type { Logger } from 'pino';
import type { ProxyDeployer } from '../deployer/proxy-deployer.js';
import type { KeyStore } from '../jwks/key-store.js';
import type { InformerSet } from '../kube/informers.js';
import { WATCHED, type WatchedName } from '../kube/resources.js';
import type { ControllerMetrics } from '../metrics.js';
import type { ConfigServer } from '../push/config-server.js';
import { formatIssue, formatIssues, newParseMemo, type ObjectProblem, type ParseMemo } from '../resources/parse-objects.js';
import type { StatusObject, StatusWriter } from '../status/status-writer.js';
import { reconcilePass, type ReconcilePass } from './reconcile-pass.js';

export interface ReconcileLoopDeps {
  readonly informers: InformerSet;
  readonly keys: KeyStore;
  readonly configServer: ConfigServer;
  readonly statuses: StatusWriter;
  readonly deployer: ProxyDeployer | undefined;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly controllerName: string;
  readonly isLeader: () => boolean;
}

/** A Gateway of the last pass, with its class parameters, for the deployer. */
export interface DeployableGateway {
  readonly gateway: Gateway;
  readonly parameters: AgentgatewayParametersSpec | undefined;
}

/**
 * The controller's level-based loop: every event only schedules a pass; passes are coalesced (one
 * runs at a time, at most one more is queued behind it). A pass reads every watched object from
 * the informer caches, runs `reconcilePass` (the same as `agw local`), pushes the configs, and on
 * the leader hands statuses to the status writer and Gateways to the deployer, then persists keys.
 */
export class ReconcileLoop {
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();
  private readonly parseMemo: ParseMemo = newParseMemo();
  /** Unparseable objects already logged (logged once, not at every pass). */
  private readonly reportedProblems = new Set<string>();
  /** The last pass, so that a change confined to routes and policies compiles only the Gateways it touches. */
  private lastPass: ReconcilePass | undefined;
  /**
   * Per informer object (the cache keeps one until the API server changes it): its `<ns>/<name>`
   * when its status holds an entry of ours, else null; 10,000 routes' statuses were read each pass.
   */
  private readonly ourEntries = new WeakMap<object, string | null>();
  /** The last pass's Gateways, by `<ns>/<name>`. */
  private gateways: ReadonlyMap<string, DeployableGateway> = new Map();

  constructor(private readonly d: ReconcileLoopDeps) {}

  gateway(key: string): DeployableGateway | undefined {
    return this.gateways.get(key);
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.running = this.running
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(() => {
        this.scheduled = false;
        return this.pass();
      })
      .catch((err: unknown) => {
        this.d.metrics.reconciles.inc({ result: 'error' });
        this.d.logger.error({ error: (err as Error).message }, 'reconcile failed');
      });
  }

  /** Resolves when the pass under way (and the one queued behind it) is done. */
  settled(): Promise<void> {
    return this.running;
  }

  private async pass(): Promise<void> {
    const d = this.d;
    if (!d.informers.synced) return;
    const end = d.metrics.reconcileDuration.startTimer();
    const objects = (Object.keys(WATCHED) as WatchedName[]).flatMap((k) => d.informers.list(k));
    const pass = reconcilePass({
      objects,
      controllerName: d.controllerName,
      jwks: d.keys.keys(),
      jwksErrors: d.keys.errors(),
      memo: this.parseMemo,
      namesUnique: true, // each list is one informer's cache, keyed by namespace and name
      ...(this.lastPass !== undefined ? { previous: this.lastPass } : {}),
    });
    this.lastPass = pass;
    const compiled = pass.compiled === 'all' ? pass.configs.size : pass.compiled.size;
    d.metrics.gatewayConfigs.inc({ outcome: 'compiled' }, compiled);
    d.metrics.gatewayConfigs.inc({ outcome: 'kept' }, pass.configs.size - compiled);
    const { parsed, out, configs } = pass;
    this.logNewProblems(parsed.problems);
    d.keys.sync(out.jwksRequests);
    d.configServer.update(configs);
    this.gateways = new Map(
      parsed.gateways.map((g) => {
        const key = `${g.metadata.namespace ?? ''}/${g.metadata.name}`;
        return [key, { gateway: g, parameters: out.gatewayParameters.get(key) }];
      }),
    );
    // The configs just written to the proxies' streams leave only when the event loop turns (HTTP/2
    // sends from a native immediate): without this turn the leader's bookkeeping below (~20 ms at
    // 12,000 statuses) and the status and deployer work it starts held every push back ~45 ms
    // (bench:controller at 10,000 routes, a helper's trace: push to proxy receipt 32.5 → 11.5 ms
    // median). Passes run one at a time, so none starts in this turn; leadership is read after it.
    await new Promise<void>((r) => setImmediate(r));
    if (d.isLeader()) {
      d.statuses.update(out, this.routesWithOurEntries());
      d.deployer?.update(out.status.gateways.keys());
      await d.keys.persist();
    }
    end();
    d.metrics.reconciles.inc({ result: 'ok' });
  }

  /** Routes whose status holds an entry of ours (so one we no longer parent gets it removed). */
  private *routesWithOurEntries(): Iterable<string> {
    for (const r of this.d.informers.list('httpRoutes') as StatusObject[]) {
      let key = this.ourEntries.get(r);
      if (key === undefined) {
        const parents = (r.status?.['parents'] as Array<{ controllerName: string }> | undefined) ?? [];
        key = parents.some((p) => p.controllerName === this.d.controllerName) ? `${r.metadata.namespace ?? ''}/${r.metadata.name}` : null;
        this.ourEntries.set(r, key);
      }
      if (key !== null) yield key;
    }
  }

  /** Logs each unparseable object once (not at every pass), and forgets fixed ones. */
  private logNewProblems(problems: readonly ObjectProblem[]): void {
    const current = new Set(problems.map((p) => `${p.ref}: ${formatIssues(p)}`));
    for (const p of problems) {
      if (!this.reportedProblems.has(`${p.ref}: ${formatIssues(p)}`))
        this.d.logger.warn({ object: p.ref, issues: p.issues.map(formatIssue) }, 'object does not parse; ignored');
    }
    this.reportedProblems.clear();
    for (const k of current) this.reportedProblems.add(k);
  }
}
