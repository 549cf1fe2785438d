import { GATEWAY_API_GROUP, type ProxyConfig } from '@agw/api';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { retryDelayMs } from './backoff.js';
import { fetchJwks } from './jwks/fetch-jwks.js';
import { JwksCache } from './jwks/jwks-cache.js';
import { JwksPersistence } from './jwks/persistence.js';
import { applyPath, gatewayResources, type ProxyDeploymentParams } from './deployer/gateway-resources.js';
import { InformerSet } from './kube/informers.js';
import { KubeError, type KubeRest } from './kube/kube-rest.js';
import { LeaderElector } from './kube/leader-election.js';
import { WATCHED, statusPathOf } from './kube/resources.js';
import { ControllerMetrics } from './metrics.js';
import { withVersion } from './push/config-version.js';
import { ConfigServer, type Authenticate } from './push/config-server.js';
import { WorkQueue } from './queue/work-queue.js';
import { formatIssue, formatIssues, parseObjects, type ObjectProblem, type ParseMemo } from './resources/parse-objects.js';
import { invalidPolicyStatus } from './status/invalid-policies.js';
import { ownedStatusPatch, policyStatusPatch, routeStatusPatch, type StatusPatch } from './status/desired-status.js';
import { cond, type PendingCondition, type PolicyAncestorOut, type TranslateOutput } from './translate/model.js';
import { translate } from './translate/translate.js';

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
}

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number }; status?: Record<string, unknown> };

/**
 * The controller's composition: informers → coalesced, level-based reconcile (translate) → config
 * pushed to proxies, statuses written by one status writer (leader only), keys kept fresh by the
 * JWKS cache and persisted in ConfigMaps. Every event only schedules a reconcile.
 */
export class Controller {
  readonly metrics: ControllerMetrics;
  readonly configServer: ConfigServer;
  private readonly informers: InformerSet;
  private readonly jwks: JwksCache;
  private readonly persistence: JwksPersistence;
  private readonly leader: LeaderElector | undefined;
  private readonly statusQueue: WorkQueue;
  private desired: TranslateOutput | undefined;
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();
  /**
   * Our last status write per object (`<kind> <ns>/<name>`) until the informer has caught up: the
   * object returned, and the resourceVersions known to be older than it (those our writes were
   * conditional on). resourceVersions are opaque: compared for equality only, never ordered.
   */
  private readonly written = new Map<string, { obj: Obj; olderVersions: ReadonlySet<string> }>();
  /** Gateway key → JSON of the proxy objects last applied (unchanged ones cost no API call). */
  private readonly deployed = new Map<string, string>();
  /** Parse results of unchanged objects (by resourceVersion), reused across reconciles. */
  private readonly parseMemo: ParseMemo = new Map();
  /** Unparseable objects already logged (logged once, not at every reconcile). */
  private readonly reportedProblems = new Set<string>();
  private started = false;

  constructor(private readonly o: ControllerOptions) {
    const log = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => o.logger[level](fields ?? {}, msg);
    this.informers = new InformerSet(o.kc, o.rest, {
      onChange: () => this.schedule(), onSynced: () => this.schedule(),
      onError: (res, err, retryInMs) => log('warn', 'watch failed; restarting', { resource: res, error: (err as Error)?.message ?? String(err), retryInMs }),
    });
    this.jwks = new JwksCache({
      fetch: (t) => fetchJwks(t), now: o.now, random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms), clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onChange: () => this.schedule(),
      ...(o.jwksRefetchMinIntervalMs !== undefined ? { refetchMinIntervalMs: o.jwksRefetchMinIntervalMs } : {}),
      onFetch: (url, ok, ms) => {
        this.metrics.jwksFetches.inc({ result: ok ? 'ok' : 'error' });
        this.metrics.jwksFetchDuration.observe(ms / 1000);
        if (!ok) log('warn', 'jwks fetch failed', { url });
      },
    });
    this.persistence = new JwksPersistence(o.rest, o.namespace);
    this.configServer = new ConfigServer(o.authenticate, {
      onProgrammingChange: () => this.schedule(),
      onRefetch: (url, kid) => { void this.jwks.refetch(url, kid).then((outcome) => this.metrics.refetches.inc({ outcome })); },
      onPushed: () => this.metrics.pushes.inc(),
      log,
    });
    this.statusQueue = new WorkQueue((key) => this.writeStatus(key), {
      concurrency: 4, retryDelayMs: (a) => retryDelayMs(a, Math.random),
      onError: (key, err) => log('warn', 'status write failed; retrying', { key, error: (err as Error).message }),
    });
    this.leader = o.leaderElection ? new LeaderElector(o.rest, {
      namespace: o.namespace, name: 'agentgateway-ts-controller', identity: o.identity, leaseDurationMs: 15_000, renewEveryMs: 5_000,
      now: o.now, log, onChange: (leader) => { if (leader) { void this.ensureGatewayClass(); this.schedule(); } },
    }) : undefined;
    this.metrics = new ControllerMetrics({
      queueDepth: () => this.statusQueue.depth, connectedProxies: () => this.configServer.connectedProxies,
      leader: () => this.isLeader, jwks: () => this.jwks.entriesView(), now: o.now,
    });
  }

  get isLeader(): boolean { return this.leader === undefined ? true : this.leader.isLeader; }
  get ready(): boolean { return this.started && this.informers.synced; }

  async start(): Promise<void> {
    // Persisted keys first: the first push after a restart already carries them (IdP down or not).
    try {
      for (const p of await this.persistence.load()) this.jwks.seed(p.url, p.jwks.keys, Date.parse(p.fetchedAt));
    } catch (err) {
      this.o.logger.warn({ error: (err as Error).message }, 'could not load persisted jwks; fetching afresh');
    }
    if (this.leader) this.leader.start(); else void this.ensureGatewayClass();
    await this.informers.start();
    this.started = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    await this.leader?.stop();
    this.jwks.stop();
    this.statusQueue.stop();
    await this.informers.stop();
    await this.running;
    await this.configServer.close();
  }


  /** Coalesces events: one reconcile runs at a time, and at most one more is queued behind it. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.running = this.running.then(() => new Promise<void>((r) => setImmediate(r))).then(() => {
      this.scheduled = false;
      return this.reconcile();
    }).catch((err: unknown) => {
      this.metrics.reconciles.inc({ result: 'error' });
      this.o.logger.error({ error: (err as Error).message }, 'reconcile failed');
    });
  }

  private async ensureGatewayClass(): Promise<void> {
    try {
      await this.o.rest.call('POST', WATCHED.gatewayClasses.path, {
        apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: this.o.className },
        spec: { controllerName: this.o.controllerName, description: 'Specialized class for agentgateway.' },
      });
      this.o.logger.info({ name: this.o.className }, 'created GatewayClass');
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) this.o.logger.warn({ error: (err as Error).message }, 'could not create GatewayClass');
    }
  }

  private objects(): unknown[] {
    return (Object.keys(WATCHED) as Array<keyof typeof WATCHED>).flatMap((k) => this.informers.list(k));
  }

  private async reconcile(): Promise<void> {
    if (!this.informers.synced) return;
    const end = this.metrics.reconcileDuration.startTimer();
    const parsed = parseObjects(this.objects(), 'default', this.parseMemo);
    this.logNewProblems(parsed.problems);
    const translated = translate({ ...parsed, controllerName: this.o.controllerName, jwks: this.jwks.keys() });
    const policies = new Map([...translated.status.policies, ...invalidPolicyStatus(parsed.problems, this.o.controllerName)]);
    const out: TranslateOutput = { ...translated, status: { ...translated.status, policies } };
    this.jwks.sync(out.jwksRequests);
    const configs = new Map<string, ProxyConfig>([...out.configs].map(([gw, cfg]) => [gw, withVersion(cfg)]));
    this.configServer.update(configs);
    this.desired = out;
    if (this.isLeader) {
      this.enqueueStatusWrites(out);
      await this.persistKeys();
    }
    end();
    this.metrics.reconciles.inc({ result: 'ok' });
  }

  /** Logs each unparseable object once (not at every reconcile), and forgets fixed ones. */
  private logNewProblems(problems: readonly ObjectProblem[]): void {
    const current = new Set(problems.map((p) => `${p.ref}: ${formatIssues(p)}`));
    for (const p of problems) {
      if (!this.reportedProblems.has(`${p.ref}: ${formatIssues(p)}`)) this.o.logger.warn({ object: p.ref, issues: p.issues.map(formatIssue) }, 'object does not parse; ignored');
    }
    this.reportedProblems.clear();
    for (const k of current) this.reportedProblems.add(k);
  }

  /** Every object with a desired status (the writer skips unchanged ones), and each proxy deployment. */
  private enqueueStatusWrites(out: TranslateOutput): void {
    // Keys are `<Kind> <namespace>/<name>`; cluster-scoped GatewayClasses have an empty namespace.
    for (const k of out.status.gatewayClasses.keys()) this.statusQueue.add(`GatewayClass /${k}`);
    for (const k of out.status.gateways.keys()) this.statusQueue.add(`Gateway ${k}`);
    if (this.o.deployer !== undefined) for (const k of out.status.gateways.keys()) this.statusQueue.add(`Deploy ${k}`);
    for (const k of out.status.httpRoutes.keys()) this.statusQueue.add(`HTTPRoute ${k}`);
    for (const k of out.status.policies.keys()) this.statusQueue.add(`AgentgatewayPolicy ${k}`);
    for (const k of out.status.parameters.keys()) this.statusQueue.add(`AgentgatewayParameters ${k}`);
    // Routes we no longer parent keep no stale entry of ours.
    for (const r of this.informers.list('httpRoutes') as Obj[]) {
      const key = `${r.metadata.namespace ?? ''}/${r.metadata.name}`;
      if (!out.status.httpRoutes.has(key) && ((r.status?.['parents'] as Array<{ controllerName: string }> | undefined) ?? []).some((p) => p.controllerName === this.o.controllerName)) {
        this.statusQueue.add(`HTTPRoute ${key}`);
      }
    }
  }

  private async persistKeys(): Promise<void> {
    const sets = this.jwks.entriesView().filter((e) => e.keys !== undefined && e.fetchedAtMs !== undefined)
      .map((e) => ({ url: e.url, fetchedAt: new Date(e.fetchedAtMs as number).toISOString(), jwks: { keys: [...(e.keys ?? [])] } }));
    try { await this.persistence.sync(sets); } catch (err) {
      this.o.logger.warn({ error: (err as Error).message }, 'could not persist jwks');
    }
  }

  /** Programmed (beyond upstream): every connected proxy of the Gateway ACKed the current config. */
  private programmed(gateway: string, generation: number | undefined): PendingCondition {
    const p = this.configServer.programming(gateway);
    if (p.nacks.length > 0) return cond('Programmed', false, 'Rejected', p.nacks.map((n) => `proxy ${n.proxy}: ${n.reason}`).join('; '), generation);
    if (p.proxies === 0) return cond('Programmed', false, 'Pending', `no proxy of Gateway ${gateway} is connected`, generation);
    if (p.acked < p.proxies) return cond('Programmed', false, 'Pending', `${p.acked} of ${p.proxies} proxies applied config ${p.version ?? ''}`, generation);
    const applied = `config ${p.version ?? ''} applied by ${p.proxies} ${p.proxies === 1 ? 'proxy' : 'proxies'}`;
    // Parts a proxy could not compile are left out there and said here (the controller validates first, so this is rare).
    const leftOut = [...new Set(p.warnings.map((w) => w.warning))];
    return cond('Programmed', true, 'Programmed', leftOut.length === 0 ? applied : `${applied}; left out: ${leftOut.join('; ')}`, generation);
  }

  /** Addresses of the Gateway's Service: load-balancer ingress when assigned, else its cluster IP. */
  private gatewayAddresses(key: string): Array<{ type: string; value: string }> {
    const svc = this.current('services', key) as (Obj & { spec?: { clusterIP?: string }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } } }) | undefined;
    const ingress = svc?.status?.loadBalancer?.ingress ?? [];
    const fromLb = ingress.flatMap((i) => (i.ip ? [{ type: 'IPAddress', value: i.ip }] : i.hostname ? [{ type: 'Hostname', value: i.hostname }] : []));
    if (fromLb.length > 0) return fromLb;
    const ip = svc?.spec?.clusterIP;
    return ip && ip !== 'None' ? [{ type: 'IPAddress', value: ip }] : [];
  }

  /** Server-side applies the Gateway's proxy objects when they changed. */
  private async deploy(key: string): Promise<void> {
    const params = this.o.deployer;
    const [ns, name] = key.split('/') as [string, string];
    const gw = parseObjects(this.informers.list('gateways')).gateways.find((g) => g.metadata.namespace === ns && g.metadata.name === name);
    if (params === undefined || gw === undefined) return;
    const objects = gatewayResources(gw, params, this.desired?.gatewayParameters.get(key));
    const json = JSON.stringify(objects);
    if (this.deployed.get(key) === json) return;
    for (const o of objects) await this.o.rest.call('PATCH', applyPath(o), o, 'application/apply-patch+yaml');
    this.deployed.set(key, json);
    this.o.logger.info({ gateway: key }, 'applied proxy Deployment, Service and ServiceAccount');
  }

  private current(kind: keyof typeof WATCHED, key: string): Obj | undefined {
    const [ns, name] = key.split('/') as [string, string];
    const cached = (this.informers.list(kind) as Obj[]).find((o) => (o.metadata.namespace ?? '') === ns && o.metadata.name === name);
    const writtenKey = `${kind} ${key}`;
    const mine = this.written.get(writtenKey);
    if (cached !== undefined && mine !== undefined) {
      // The informer may not have seen our last write yet: while it holds a version our writes were
      // conditional on, ours is newer. Any other version is our write or a later one.
      if (mine.olderVersions.has(cached.metadata.resourceVersion ?? '')) return mine.obj;
      this.written.delete(writtenKey);
    }
    return cached;
  }

  private async writeStatus(queueKey: string): Promise<void> {
    const out = this.desired;
    if (out === undefined || !this.isLeader) return;
    const [kindName, key] = queueKey.split(' ') as [string, string];
    const now = new Date(this.o.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    let resource: keyof typeof WATCHED;
    let patch: StatusPatch;
    const obj = (k: keyof typeof WATCHED) => this.current(k, key);
    if (kindName === 'Deploy') { await this.deploy(key); return; }
    switch (kindName) {
      case 'GatewayClass': {
        resource = 'gatewayClasses';
        const cur = obj(resource);
        const conds = out.status.gatewayClasses.get(key.slice(1));
        patch = cur && conds ? ownedStatusPatch(cur, conds, now) : undefined;
        break;
      }
      case 'Gateway': {
        resource = 'gateways';
        const cur = obj(resource);
        const st = out.status.gateways.get(key);
        if (cur === undefined || st === undefined) { patch = undefined; break; }
        const programmed = this.programmed(key, cur.metadata.generation);
        patch = ownedStatusPatch(cur, [...st.conditions, programmed], now,
          st.listeners.map((l) => ({ ...l, conditions: [...l.conditions, programmed] })),
          this.o.deployer !== undefined ? this.gatewayAddresses(key) : undefined);
        break;
      }
      case 'HTTPRoute': {
        resource = 'httpRoutes';
        const cur = obj(resource);
        patch = cur ? routeStatusPatch(cur, out.status.httpRoutes.get(key) ?? [], this.o.controllerName, now) : undefined;
        break;
      }
      case 'AgentgatewayParameters': {
        resource = 'parameters';
        const cur = obj(resource);
        const conds = out.status.parameters.get(key);
        patch = cur && conds ? ownedStatusPatch(cur, conds, now) : undefined;
        break;
      }
      case 'AgentgatewayPolicy': {
        resource = 'policies';
        const cur = obj(resource);
        if (cur === undefined) { patch = undefined; break; }
        // Gateway ancestors also get Programmed (StatusSummary has no proxies to ask).
        const ancestors: PolicyAncestorOut[] = (out.status.policies.get(key) ?? []).map((a) => a.ancestorRef.group !== GATEWAY_API_GROUP ? a
          : { ...a, conditions: [...a.conditions, this.programmed(`${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`, cur.metadata.generation)] });
        patch = policyStatusPatch(cur, ancestors, this.o.controllerName, now);
        break;
      }
      default: return;
    }
    if (patch === undefined) { this.metrics.statusWrites.inc({ kind: kindName, result: 'unchanged' }); return; }
    const [ns, name] = key.split('/') as [string, string];
    try {
      const r = await this.o.rest.mergePatch<Obj>(statusPathOf(resource, ns, name), patch);
      const writtenKey = `${resource} ${key}`;
      const older = new Set(this.written.get(writtenKey)?.olderVersions).add(patch.metadata.resourceVersion);
      this.written.set(writtenKey, { obj: r.body, olderVersions: older });
      this.metrics.statusWrites.inc({ kind: kindName, result: 'written' });
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return; // deleted meanwhile
      this.metrics.statusWrites.inc({ kind: kindName, result: err instanceof KubeError && err.status === 409 ? 'conflict' : 'error' });
      throw err;
    }
  }
}
