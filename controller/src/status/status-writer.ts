import { GATEWAY_API_GROUP } from '@agw/api';
import { retryDelayMs } from '../backoff.js';
import { KubeError, type KubeRest } from '../kube/kube-rest.js';
import { fromQueueKey, nsName, queueKey, refOf, type ObjectRef } from '../kube/object-ref.js';
import { WATCHED, statusPathOf, type WatchedName } from '../kube/resources.js';
import type { ControllerMetrics } from '../metrics.js';
import { WorkQueue } from '../queue/work-queue.js';
import type { PendingCondition, PolicyAncestorOut, TranslateOutput } from '../translate/model.js';
import { ownedStatusPatch, policyStatusPatch, routeStatusPatch, type StatusPatch } from './desired-status.js';
import {
  applyingNewConfig,
  listenerProgrammed,
  programmedAt,
  policyProgrammedCondition,
  policyProgrammingSummary,
  programmedCondition,
  type GatewayProgramming,
} from './programmed.js';
import { sameStatus } from './same-status.js';

export type StatusObject = {
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; uid?: string };
  status?: Record<string, unknown>;
};

export interface StatusWriterDeps {
  readonly rest: KubeRest;
  readonly metrics: ControllerMetrics;
  readonly controllerName: string;
  /** ms since the epoch. */
  readonly now: () => number;
  /** The informer's copy of an object (O(1)). */
  readonly cached: (ref: ObjectRef) => StatusObject | undefined;
  /** Only the elected leader writes. */
  readonly isLeader: () => boolean;
  /** What the Gateway's proxies did with its config: its Programmed, its listeners', and that of the policies it is an ancestor of. */
  readonly programming: (gatewayKey: string) => GatewayProgramming;
  /** The Gateway's status addresses (its proxy Service), when the controller deploys proxies. */
  readonly gatewayAddresses?: (gatewayKey: string) => Array<{ type: string; value: string }>;
  readonly log: (level: 'warn', msg: string, fields: Record<string, unknown>) => void;
  /** After a write: the object as it was and the status written (events for transitions that need a human). */
  readonly onWritten?: (ref: ObjectRef, before: StatusObject, status: Record<string, unknown>) => void;
}

/**
 * Resources whose status this controller writes, each with its desired statuses in a translation;
 * `inPlace`: kinds many objects of which may have a status, whose unchanged ones are not queued
 * again (StatusWriter.inPlace).
 */
const WRITTEN: ReadonlyArray<{ resource: WatchedName; desired: (out: TranslateOutput) => ReadonlyMap<string, unknown>; inPlace?: true }> = [
  { resource: 'gatewayClasses', desired: (o) => o.status.gatewayClasses },
  { resource: 'gateways', desired: (o) => o.status.gateways },
  { resource: 'httpRoutes', desired: (o) => o.status.httpRoutes, inPlace: true },
  { resource: 'policies', desired: (o) => o.status.policies, inPlace: true },
  { resource: 'parameters', desired: (o) => o.status.parameters },
  { resource: 'backendTlsPolicies', desired: (o) => o.status.backendTlsPolicies },
  { resource: 'agentgatewayBackends', desired: (o) => o.status.agentgatewayBackends },
];

/**
 * How long (ms) a Gateway's proxies may take to apply a new config before its Programmed (and
 * that of a policy of a new generation on it) is written Pending. Proxies apply a config in tens
 * of ms: written at once, every route change made the Gateway's status go Pending and back to True,
 * two writes (and two watch events for every `kubectl get -w`), where one says what happened. A
 * proxy that refuses the config (NACK) or the last proxy going away is written at once.
 */
export const PENDING_GRACE_MS = 1_000;

/**
 * The only code that writes `.status` (DESIGN §4): one work queue of object refs, each written by a
 * merge-patch of its status subresource conditional on the resourceVersion it was computed from,
 * only when something changed, retried with backoff, on the leader only.
 *
 * Cost of a full pass: O(n) for n objects with a status. Each write reads its object from the
 * informer's index (O(1)) and compares conditions (O(conditions)); nothing rescans a cache.
 */
export class StatusWriter {
  private readonly queue: WorkQueue;
  private desired: TranslateOutput | undefined;
  /**
   * Our last write per object until the informer has caught up: the object returned, and the
   * resourceVersions known to be older than it (those our writes were conditional on).
   * resourceVersions are opaque: compared for equality only, never ordered.
   */
  private readonly written = new Map<string, { obj: StatusObject; olderVersions: ReadonlySet<string> }>();
  /**
   * HTTPRoute and AgentgatewayPolicy statuses known to be in place, by resource and `<ns>/<name>`:
   * the desired status last written or found unchanged. A pass whose desired status for the object
   * is that one (the same object: translate keeps an unchanged route's parents, its RouteOutcome,
   * and an unchanged policy's status, its PolicyRecord; or an equal one: a selector or Service
   * policy's status is built anew every pass) does not queue it again: at 10,000 routes and 2,000
   * policies a route change no longer queues 12,000 comparisons (~30 µs each for a policy). What
   * else a status is made of invalidates: anyone else's write to it comes back as a recheck, and
   * a change in what a Gateway's proxies did (Programmed, on each policy's Gateway ancestors) as
   * programmingChanged.
   */
  private readonly inPlace = new Map<WatchedName, Map<string, unknown>>(
    WRITTEN.filter((w) => w.inPlace).map((w) => [w.resource, new Map<string, unknown>()]),
  );
  /** Policies whose Programmed on some Gateway ancestor was last found not True: checked again at every programming change. */
  private readonly waitingPolicies = new Set<string>();
  /** Each Gateway's policyProgrammingSummary when its policies were last queued for it. */
  private readonly programmingSeen = new Map<string, string>();
  /** Per Gateway whose proxies have not all applied its current config: since when (ms since the epoch). */
  private readonly pendingSince = new Map<string, number>();
  /** Writes held back while proxies apply a new config (PENDING_GRACE_MS), by queue key: queued again when it ends. */
  private readonly deferred = new Map<string, NodeJS.Timeout>();

  constructor(private readonly d: StatusWriterDeps) {
    this.queue = new WorkQueue((key) => this.write(fromQueueKey(key)), {
      concurrency: 4,
      retryDelayMs: (a) => retryDelayMs(a, Math.random),
      onError: (key, err) => d.log('warn', 'status write failed; retrying', { key, error: (err as Error).message }),
    });
  }

  get depth(): number {
    return this.queue.depth;
  }

  /** Resolves when no write is queued or running (writes held back by PENDING_GRACE_MS are not counted). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * A new translation: every object with a desired status is queued (unchanged ones cost no API
   * call), and so is every route whose status still holds an entry of ours that it no longer should.
   */
  update(out: TranslateOutput, routesWithOurEntries: Iterable<string>): void {
    this.desired = out;
    for (const k of this.waitingPolicies) if (!out.status.policies.has(k)) this.waitingPolicies.delete(k);
    for (const k of this.programmingSeen.keys()) if (!out.status.gateways.has(k)) this.programmingSeen.delete(k);
    for (const k of this.pendingSince.keys()) if (!out.status.gateways.has(k)) this.pendingSince.delete(k);
    for (const { resource, desired } of WRITTEN) {
      const statuses = desired(out);
      const inPlace = this.inPlace.get(resource);
      if (inPlace !== undefined) for (const k of inPlace.keys()) if (!statuses.has(k)) inPlace.delete(k);
      for (const [k, now] of statuses) {
        const was = inPlace?.get(k);
        if (was !== undefined && (was === now || sameStatus(was, now))) continue;
        this.queue.add(queueKey(refOf(resource, k)));
      }
    }
    const routes = out.status.httpRoutes;
    for (const k of routesWithOurEntries) if (!routes.has(k)) this.queue.add(queueKey(refOf('httpRoutes', k)));
  }

  /**
   * One object's status again, against the last translation (its status changed and nothing else:
   * our own write, which costs nothing to confirm, or someone else's, which is put right).
   */
  recheck(ref: ObjectRef): void {
    this.inPlace.get(ref.resource)?.delete(nsName(ref));
    if (this.desired !== undefined) this.queue.add(queueKey(ref));
  }

  /**
   * What the proxies of `gateway` (`<ns>/<name>`) did changed (connected, disconnected, ACK, NACK):
   * its Programmed condition is in the Gateway's status and in every policy's that has it as an
   * ancestor, so those are written again (nothing else reads it: no pass is needed).
   */
  programmingChanged(gateway: string): void {
    const out = this.desired;
    if (out === undefined) return;
    this.queue.add(queueKey(refOf('gateways', gateway)));
    // A policy's Programmed changes with whether the proxies applied the current config only
    // while it waits for them (policyProgrammedCondition); with the rest, for every policy.
    const summary = policyProgrammingSummary(this.d.programming(gateway));
    const every = this.programmingSeen.get(gateway) !== summary;
    this.programmingSeen.set(gateway, summary);
    const inPlace = this.inPlace.get('policies');
    for (const [k, ancestors] of out.status.policies) {
      if (!every && !this.waitingPolicies.has(k)) continue;
      const isAncestor = ancestors.some(
        (a) => a.ancestorRef.group === GATEWAY_API_GROUP && `${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}` === gateway,
      );
      if (!isAncestor) continue;
      inPlace?.delete(k);
      this.queue.add(queueKey(refOf('policies', k)));
    }
  }

  stop(): void {
    this.queue.stop();
    for (const t of this.deferred.values()) clearTimeout(t);
    this.deferred.clear();
  }

  /**
   * How long the write of `ref` waits (ms; 0: now): while the proxies of a Gateway it would show
   * Pending for are applying a new config, within PENDING_GRACE_MS of it (its ACKs queue it again:
   * programmingChanged).
   */
  private holdBack(ref: ObjectRef, out: TranslateOutput, cur: StatusObject, nowMs: number): number {
    if (ref.resource === 'gateways') return this.graceLeft(nsName(ref), nowMs);
    if (ref.resource !== 'policies') return 0;
    let wait = 0;
    for (const a of out.status.policies.get(nsName(ref)) ?? []) {
      if (a.ancestorRef.group !== GATEWAY_API_GROUP) continue;
      // Programmed at this generation already: it stays so (policyProgrammedCondition), nothing to hold.
      if (programmedAt(this.programmedNow(cur, a.ancestorRef), cur.metadata.generation)) continue;
      wait = Math.max(wait, this.graceLeft(`${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`, nowMs));
    }
    return wait;
  }

  /** What is left of the Gateway's grace (0 when its proxies are not applying a new config). */
  private graceLeft(gateway: string, nowMs: number): number {
    const p = this.d.programming(gateway);
    if (!applyingNewConfig(p)) {
      this.pendingSince.delete(gateway);
      return 0;
    }
    // Since the proxies fell behind, across the versions that followed: a version every few
    // hundred ms must not keep a proxy that applies none of them showing True.
    let since = this.pendingSince.get(gateway);
    if (since === undefined) this.pendingSince.set(gateway, (since = nowMs));
    return Math.max(0, since + PENDING_GRACE_MS - nowMs);
  }

  /** Queues `ref` again in `ms` (once: a write already held back keeps its timer). */
  private deferWrite(ref: ObjectRef, ms: number): void {
    const key = queueKey(ref);
    if (this.deferred.has(key)) return;
    const t = setTimeout(() => {
      this.deferred.delete(key);
      this.queue.add(key);
    }, ms);
    t.unref();
    this.deferred.set(key, t);
  }

  /** The informer's copy, unless it has not seen our last write yet (then ours, which is newer). */
  private current(ref: ObjectRef): StatusObject | undefined {
    const cached = this.d.cached(ref);
    const key = queueKey(ref);
    const mine = this.written.get(key);
    if (cached !== undefined && mine !== undefined) {
      if (mine.olderVersions.has(cached.metadata.resourceVersion ?? '')) return mine.obj;
      this.written.delete(key);
    }
    return cached;
  }

  private patchFor(ref: ObjectRef, out: TranslateOutput, cur: StatusObject, now: string): StatusPatch {
    const key = nsName(ref);
    switch (ref.resource) {
      case 'gatewayClasses': {
        const conds = out.status.gatewayClasses.get(ref.name);
        return conds ? ownedStatusPatch(cur, conds, now) : undefined;
      }
      case 'gateways': {
        const st = out.status.gateways.get(key);
        if (st === undefined) return undefined;
        const programming = this.d.programming(key);
        const programmed = programmedCondition(key, programming, cur.metadata.generation);
        return ownedStatusPatch(
          cur,
          [...st.conditions, programmed],
          now,
          st.listeners.map((l) => ({
            ...l,
            conditions: [...l.conditions, ...listenerProgrammed(l, programmed, programming.withheld)],
          })),
          this.d.gatewayAddresses?.(key),
        );
      }
      case 'httpRoutes':
        return routeStatusPatch(cur, out.status.httpRoutes.get(key) ?? [], this.d.controllerName, now);
      case 'parameters': {
        const conds = out.status.parameters.get(key);
        return conds ? ownedStatusPatch(cur, conds, now) : undefined;
      }
      case 'policies': {
        // Gateway ancestors also get Programmed (StatusSummary has no proxies to ask).
        let waiting = false;
        const ancestors: PolicyAncestorOut[] = (out.status.policies.get(key) ?? []).map((a) => {
          if (a.ancestorRef.group !== GATEWAY_API_GROUP) return a;
          const gateway = `${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`;
          const programmed = policyProgrammedCondition(
            gateway,
            this.d.programming(gateway),
            cur.metadata.generation,
            this.programmedNow(cur, a.ancestorRef),
          );
          waiting ||= programmed.status !== 'True';
          return { ...a, conditions: [...a.conditions, programmed] };
        });
        if (waiting) this.waitingPolicies.add(key);
        else this.waitingPolicies.delete(key);
        return policyStatusPatch(cur, ancestors, this.d.controllerName, now);
      }
      case 'agentgatewayBackends': {
        // No controllerName on a backend (upstream neither): its conditions are ours.
        const conds = out.status.agentgatewayBackends.get(key);
        return conds ? ownedStatusPatch(cur, conds, now) : undefined;
      }
      case 'backendTlsPolicies':
        // Ancestors as for AgentgatewayPolicy: ours replaced, other controllers' kept.
        return policyStatusPatch(cur, out.status.backendTlsPolicies.get(key) ?? [], this.d.controllerName, now);
      default:
        return undefined;
    }
  }

  /** A policy's Programmed on a Gateway ancestor, as our entry in its status has it now. */
  private programmedNow(cur: StatusObject, ref: PolicyAncestorOut['ancestorRef']): PendingCondition | undefined {
    const entries = (cur.status?.['ancestors'] as Array<Record<string, unknown>> | undefined) ?? [];
    for (const e of entries) {
      const r = e['ancestorRef'] as PolicyAncestorOut['ancestorRef'] | undefined;
      if (e['controllerName'] !== this.d.controllerName || r === undefined) continue;
      if (r.group !== ref.group || r.kind !== ref.kind || r.name !== ref.name || (r.namespace ?? '') !== (ref.namespace ?? '')) continue;
      return (e['conditions'] as PendingCondition[] | undefined)?.find((c) => c.type === 'Programmed');
    }
    return undefined;
  }

  private async write(ref: ObjectRef): Promise<void> {
    const out = this.desired;
    if (out === undefined || !this.d.isLeader()) return;
    const cur = this.current(ref);
    if (cur === undefined) return;
    const nowMs = this.d.now();
    const kind = WATCHED[ref.resource].kind;
    const wait = this.holdBack(ref, out, cur, nowMs);
    if (wait > 0) {
      // A policy waits like its Gateway: an ACK re-queues the policies waiting for it.
      if (ref.resource === 'policies') this.waitingPolicies.add(nsName(ref));
      this.d.metrics.statusWrites.inc({ kind, result: 'deferred' });
      this.deferWrite(ref, wait);
      return;
    }
    const now = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const patch = this.patchFor(ref, out, cur, now);
    /** The desired status, recorded once it is in place (unchanged, or written). */
    const inPlace = () => {
      const kept = this.inPlace.get(ref.resource);
      const desired =
        kept === undefined
          ? undefined
          : WRITTEN.find((w) => w.resource === ref.resource)
              ?.desired(out)
              .get(nsName(ref));
      if (desired !== undefined) kept?.set(nsName(ref), desired);
    };
    if (patch === undefined) {
      this.d.metrics.statusWrites.inc({ kind, result: 'unchanged' });
      inPlace();
      return;
    }
    try {
      const r = await this.d.rest.mergePatch<StatusObject>(statusPathOf(ref.resource, ref.namespace, ref.name), patch);
      const key = queueKey(ref);
      const older = new Set(this.written.get(key)?.olderVersions).add(patch.metadata.resourceVersion);
      this.written.set(key, { obj: r.body, olderVersions: older });
      this.d.metrics.statusWrites.inc({ kind, result: 'written' });
      inPlace();
      this.d.onWritten?.(ref, cur, patch.status);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return; // deleted meanwhile
      this.d.metrics.statusWrites.inc({ kind, result: err instanceof KubeError && err.status === 409 ? 'conflict' : 'error' });
      throw err;
    }
  }
}
