import {
  GATEWAY_API_GROUP,
  parseDurationMs,
  type CompiledBackend,
  type CompiledRoute,
  type ConditionReason,
  type Gateway,
  type HttpRoute,
  type Listener,
} from '@agw/api';
import {
  isAgentgatewayBackendRef,
  referenceGranted,
  resolveAgentgatewayBackend,
  resolveServicePort,
  type BackendIndex,
} from './backends.js';
import { serviceHostname } from './features/backend-tls.js';
import { intersectHostnames } from './hostnames.js';
import { appendTo } from './append-to.js';
import {
  byCodeUnits,
  cond,
  keyOf,
  olderFirstKey,
  sortedOlderFirst,
  type ObjectKey,
  type PendingCondition,
  type RouteParentStatusOut,
} from './model.js';
import { isRouteListener } from './listener-tls.js';
import { routeFilterProblems } from './route-filters.js';
import { routeRegexProblems } from './route-regexes.js';

/** A route accepted by a Gateway: the listeners it attaches to, each with the effective hostnames. */
export interface RouteAttachment {
  readonly route: HttpRoute;
  readonly gateway: Gateway;
  readonly listeners: ReadonlyMap<string, string[]>;
}

export interface RoutesToGateways {
  /** Our parent entries of each route. */
  readonly status: Map<ObjectKey, readonly RouteParentStatusOut[]>;
  /** Each Gateway's attachments, routes older first (a route's own in its parentRefs' order). */
  readonly byGateway: Map<ObjectKey, readonly RouteAttachment[]>;
  /** Routes attached per `<gw key>/<listener>` (the listener's attachedRoutes). */
  readonly attachedCount: Map<string, number>;
  /**
   * Every route's outcome, by route object: its Gateways (policy ancestors), the rules left out of
   * every config (a regular expression that does not compile: the rule cannot be matched) and the
   * rules matched but answered 500, with why (a filter the proxy does not serve or a value it
   * refuses: left out, such a request would fall through to a broader rule and be served without
   * the filter). Kept across passes that change only routes and policies (model.ts TranslateMemo).
   */
  readonly outcomes: WeakMap<HttpRoute, RouteOutcome>;
  /** Every route by `<ns>/<name>` (of two routes of one name, files in local mode, the last listed). */
  readonly routesByKey: Map<ObjectKey, HttpRoute>;
}

/** Routes added, removed or replaced since a previous pass: [new or undefined, old or undefined] (reconcile/change-scope.ts). */
export type RouteChanges = ReadonlyArray<readonly [HttpRoute | undefined, HttpRoute | undefined]>;

/**
 * HTTPRoutes → our Gateways (Gateway API attachment: parentRefs, sectionName/port, allowedRoutes,
 * hostname intersection), with each route's parent status. Routes in age order.
 */
export function attachRoutes(
  httpRoutes: readonly HttpRoute[],
  gatewaysByKey: ReadonlyMap<string, Gateway>,
  idx: BackendIndex,
  controllerName: string,
  memo: WeakMap<HttpRoute, RouteOutcome> = new WeakMap(),
): RoutesToGateways {
  const out: RoutesToGateways = {
    status: new Map(),
    byGateway: new Map(),
    attachedCount: new Map(),
    outcomes: memo,
    routesByKey: new Map(httpRoutes.map((r) => [keyOf(r), r])),
  };
  const byGateway = out.byGateway as Map<ObjectKey, RouteAttachment[]>;
  for (const route of sortedOlderFirst(httpRoutes)) {
    const outcome = outcomeOf(route, gatewaysByKey, idx, controllerName, memo);
    addOutcome(out, route, outcome);
    for (const a of outcome.attachments) appendTo(byGateway, keyOf(a.gateway), a);
  }
  return out;
}

/**
 * attachRoutes after `changes`, from the previous pass's result (not modified): what an unchanged
 * route came to depends only on it, the Gateways and the backends, which a change confined to
 * routes and policies leaves alone (model.ts ChangeScope). Copies the previous maps (O(routes),
 * a few ms at 10,000) and recomputes the changed routes and the Gateways they leave or join.
 */
export function updateRoutes(
  previous: RoutesToGateways,
  changes: RouteChanges,
  gatewaysByKey: ReadonlyMap<string, Gateway>,
  idx: BackendIndex,
  controllerName: string,
  memo: WeakMap<HttpRoute, RouteOutcome>,
): RoutesToGateways {
  const out: RoutesToGateways = {
    status: new Map(previous.status),
    byGateway: new Map(previous.byGateway),
    attachedCount: new Map(previous.attachedCount),
    outcomes: memo,
    routesByKey: new Map(previous.routesByKey),
  };
  const gone = new Set<HttpRoute>();
  const touched = new Set<ObjectKey>();
  // Every old version out first: a route renamed or replaced under its own name comes back below.
  for (const [, before] of changes) {
    if (before === undefined) continue;
    const outcome = outcomeOf(before, gatewaysByKey, idx, controllerName, memo);
    const key = keyOf(before);
    out.status.delete(key);
    out.routesByKey.delete(key);
    for (const k of outcome.listenerKeys) {
      const n = (out.attachedCount.get(k) ?? 0) - 1;
      if (n > 0) out.attachedCount.set(k, n);
      else out.attachedCount.delete(k);
    }
    for (const a of outcome.attachments) touched.add(keyOf(a.gateway));
    gone.add(before);
  }
  const joining = new Map<ObjectKey, RouteAttachment[]>();
  for (const [now] of changes) {
    if (now === undefined) continue;
    const outcome = outcomeOf(now, gatewaysByKey, idx, controllerName, memo);
    out.routesByKey.set(keyOf(now), now);
    addOutcome(out, now, outcome);
    for (const a of outcome.attachments) {
      touched.add(keyOf(a.gateway));
      appendTo(joining, keyOf(a.gateway), a);
    }
  }
  for (const gw of touched) {
    const kept = (previous.byGateway.get(gw) ?? []).filter((a) => !gone.has(a.route));
    // A stable sort: one route's attachments keep their parentRefs' order.
    const list = [...kept, ...(joining.get(gw) ?? [])].sort((a, b) => byCodeUnits(olderFirstKey(a.route), olderFirstKey(b.route)));
    if (list.length > 0) out.byGateway.set(gw, list);
    else out.byGateway.delete(gw);
  }
  return out;
}

function outcomeOf(
  route: HttpRoute,
  gatewaysByKey: ReadonlyMap<string, Gateway>,
  idx: BackendIndex,
  controllerName: string,
  memo: WeakMap<HttpRoute, RouteOutcome> | undefined,
): RouteOutcome {
  let outcome = memo?.get(route);
  if (outcome === undefined) {
    outcome = attachRoute(route, gatewaysByKey, idx, controllerName);
    memo?.set(route, outcome);
  }
  return outcome;
}

/** Records one route's status and attachedRoutes counts (its Gateways' attachment lists apart). */
function addOutcome(out: RoutesToGateways, route: HttpRoute, outcome: RouteOutcome): void {
  if (outcome.parents.length > 0) out.status.set(keyOf(route), outcome.parents);
  for (const k of outcome.listenerKeys) out.attachedCount.set(k, (out.attachedCount.get(k) ?? 0) + 1);
}

/**
 * One route against the Gateways and backends: its parent statuses, its attachments, the rules no
 * request can match (a regex the proxy refuses) and the rules answered 500 with why (a filter not
 * served). Depends on the route, the Gateways and the backend index only, so a pass that changed
 * only other routes reuses it (model.ts TranslateMemo). Read-only once made.
 */
export interface RouteOutcome {
  readonly parents: readonly RouteParentStatusOut[];
  readonly attachments: readonly RouteAttachment[];
  /** The Gateways of `attachments`, in their order (policy ancestors). */
  readonly gateways: readonly ObjectKey[];
  /** `<gw key>/<listener>` of every listener the route attaches to (attachedRoutes counts). */
  readonly listenerKeys: readonly string[];
  readonly unmatchable: ReadonlySet<number>;
  readonly refused: ReadonlyMap<number, string>;
}

function attachRoute(
  route: HttpRoute,
  gatewaysByKey: ReadonlyMap<string, Gateway>,
  idx: BackendIndex,
  controllerName: string,
): RouteOutcome {
  const gen = route.metadata.generation;
  const rns = route.metadata.namespace ?? '';
  const { resolved, unmatchable, refused, unsupported } = checkRoute(route, idx);
  const parents: RouteParentStatusOut[] = [];
  const attachments: RouteAttachment[] = [];
  const listenerKeys: string[] = [];
  for (const ref of route.spec.parentRefs) {
    if (ref.group !== GATEWAY_API_GROUP || ref.kind !== 'Gateway') continue;
    const gwKey = `${ref.namespace ?? rns}/${ref.name}`;
    const gw = gatewaysByKey.get(gwKey);
    if (gw === undefined) continue; // not ours (or absent): another controller's business
    const parentRef = {
      group: GATEWAY_API_GROUP,
      kind: 'Gateway',
      namespace: ref.namespace ?? rns,
      name: ref.name,
      ...(ref.sectionName ? { sectionName: ref.sectionName } : {}),
    };
    const candidates = gw.spec.listeners.filter(
      (l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port),
    );
    const allowed = candidates.filter((l) => isRouteListener(l) && allowsRoute(l, gw, rns));
    const byListener = new Map<string, string[]>();
    for (const l of allowed) {
      const hosts = intersectHostnames(l.hostname, route.spec.hostnames);
      if (hosts !== 'none') byListener.set(l.name, hosts);
    }
    let accepted: PendingCondition;
    if (candidates.length === 0)
      accepted = cond(
        'Accepted',
        false,
        'NoMatchingParent',
        `no listener matches parentRef ${ref.sectionName ?? ''}${ref.port ?? ''}`.trim(),
        gen,
      );
    else if (allowed.length === 0)
      accepted = cond('Accepted', false, 'NotAllowedByListeners', 'no listener of the Gateway allows this route', gen);
    else if (byListener.size === 0)
      accepted = cond('Accepted', false, 'NoMatchingListenerHostname', 'no hostname of the route matches a listener hostname', gen);
    else if (unsupported !== undefined) accepted = cond('Accepted', false, 'UnsupportedValue', unsupported, gen);
    else accepted = cond('Accepted', true, 'Accepted', 'Route accepted', gen);
    parents.push({ parentRef, controllerName, conditions: [accepted, resolved.condition(gen)] });
    if (byListener.size > 0) attachments.push({ route, gateway: gw, listeners: byListener });
    for (const l of byListener.keys()) listenerKeys.push(`${gwKey}/${l}`);
  }
  return { parents, attachments, gateways: attachments.map((a) => keyOf(a.gateway)), listenerKeys, unmatchable, refused };
}

/**
 * What one route's rules and references come to, given the backends: its ResolvedRefs, the rules
 * no request can match, the rules answered 500 with why, and the UnsupportedValue message.
 */
interface RouteChecks {
  readonly resolved: { condition(generation: number | undefined): PendingCondition };
  readonly unmatchable: ReadonlySet<number>;
  readonly refused: ReadonlyMap<number, string>;
  readonly unsupported: string | undefined;
}

function checkRoute(route: HttpRoute, idx: BackendIndex): RouteChecks {
  const resolved = resolveRouteRefs(route, idx);
  // Regular expressions the proxy's engine refuses, and filters it does not serve or values the
  // Gateway API CRD refuses: never a rule served without one of its matches or filters.
  const regexProblems = routeRegexProblems(route);
  const filterProblems = routeFilterProblems(route);
  const ruleProblems = [...regexProblems, ...filterProblems].sort((a, b) => a.ruleIndex - b.ruleIndex);
  const badRules = new Set(ruleProblems.map((p) => p.ruleIndex));
  const unmatchable = new Set(regexProblems.map((p) => p.ruleIndex));
  const refused = new Map<number, string>();
  for (const p of filterProblems) {
    if (unmatchable.has(p.ruleIndex)) continue;
    const prior = refused.get(p.ruleIndex);
    refused.set(p.ruleIndex, prior === undefined ? p.message : `${prior}; ${p.message}`);
  }
  // Gateway API: an unsupported value is Accepted=False UnsupportedValue; the rule alone is left out.
  const unsupported =
    ruleProblems.length === 0
      ? undefined
      : `${ruleProblems.map((p) => p.message).join('; ')}; ${
          badRules.size < route.spec.rules.length ? 'the other rules are served' : 'no rule is served'
        }`;
  return { resolved, unmatchable, refused, unsupported };
}

function allowsRoute(l: Listener, gw: Gateway, routeNs: string): boolean {
  const kinds = l.allowedRoutes.kinds;
  if (
    kinds !== undefined &&
    kinds.length > 0 &&
    !kinds.some((k) => k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP)
  )
    return false;
  switch (l.allowedRoutes.namespaces.from) {
    case 'All':
      return true;
    case 'Same':
      return routeNs === (gw.metadata.namespace ?? '');
    case 'Selector':
      return false; // Namespace labels are not watched: refuse rather than guess.
  }
}

function resolveRouteRefs(route: HttpRoute, idx: BackendIndex): RouteChecks['resolved'] {
  const rns = route.metadata.namespace ?? '';
  const problems: Array<{ reason: ConditionReason; message: string }> = [];
  for (const rule of route.spec.rules) {
    for (const ref of rule.backendRefs) {
      if (isAgentgatewayBackendRef(ref)) {
        const ns = ref.namespace ?? rns;
        if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name, ref.kind, ref.group)) {
          problems.push({
            reason: 'RefNotPermitted',
            message: `backendRef to AgentgatewayBackend ${ns}/${ref.name} not permitted by any ReferenceGrant`,
          });
          continue;
        }
        const r = resolveAgentgatewayBackend(idx, ns, ref.name);
        if (!r.ok) problems.push({ reason: r.reason, message: r.message });
        continue;
      }
      if (!(ref.group === '' && ref.kind === 'Service')) {
        problems.push({ reason: 'InvalidKind', message: `backendRef kind ${ref.kind} is not supported` });
        continue;
      }
      const ns = ref.namespace ?? rns;
      if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name)) {
        problems.push({
          reason: 'RefNotPermitted',
          message: `backendRef to Service ${ns}/${ref.name} not permitted by any ReferenceGrant`,
        });
        continue;
      }
      const r = resolveServicePort(idx, ns, ref.name, ref.port);
      if (!r.ok) problems.push({ reason: r.reason, message: r.message });
    }
  }
  return {
    condition: (g: number | undefined) =>
      problems.length === 0
        ? cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', g)
        : cond('ResolvedRefs', false, (problems[0] as { reason: ConditionReason }).reason, problems.map((p) => p.message).join('; '), g),
  };
}

/** A backend whose own policies are looked up: a Service port, or an AgentgatewayBackend (`<ns>/<name>`). */
export type BackendTarget =
  | { readonly kind: 'Service'; readonly service: ObjectKey; readonly port: number }
  | { readonly kind: 'AgentgatewayBackend'; readonly backend: ObjectKey };

/**
 * A rule's backends with their ready endpoints; `invalid` when every backendRef is (Gateway API:
 * answer 500). `policiesOf` gives a backend's own (Service- or backend-level) policies, if any. A
 * backend gets its `hostname` (the default SNI) when TLS applies to it: its own, or the route's
 * (`routeTls`). An AgentgatewayBackend is one endpoint, its `static.host` (a name the proxy
 * resolves when connecting) and `static.port`; the ref's port is not used.
 */
export function resolveRuleBackends(
  route: HttpRoute,
  ruleIndex: number,
  idx: BackendIndex,
  policiesOf: (target: BackendTarget) => CompiledBackend['policies'] = () => undefined,
  routeTls = false,
): { backends: CompiledRoute['backends']; invalid?: string } {
  const rns = route.metadata.namespace ?? '';
  const rule = route.spec.rules[ruleIndex];
  if (rule === undefined) return { backends: [] };
  const backends: CompiledRoute['backends'] = [];
  const errors: string[] = [];
  for (const ref of rule.backendRefs) {
    const ns = ref.namespace ?? rns;
    if (isAgentgatewayBackendRef(ref)) {
      if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name, ref.kind, ref.group)) {
        errors.push(`backendRef to AgentgatewayBackend ${ns}/${ref.name} not permitted`);
        continue;
      }
      const r = resolveAgentgatewayBackend(idx, ns, ref.name);
      if (!r.ok) {
        errors.push(r.message);
        continue;
      }
      const policies = policiesOf({ kind: 'AgentgatewayBackend', backend: `${ns}/${ref.name}` });
      backends.push({
        name: `AgentgatewayBackend/${ns}/${ref.name}`,
        weight: ref.weight,
        endpoints: [r.endpoint],
        ...(routeTls || policies?.backendTls !== undefined ? { hostname: r.endpoint.host } : {}),
        ...(policies ? { policies } : {}),
      });
      continue;
    }
    if (!(ref.group === '' && ref.kind === 'Service')) {
      errors.push(`backendRef kind ${ref.kind} is not supported`);
      continue;
    }
    if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name)) {
      errors.push(`backendRef to Service ${ns}/${ref.name} not permitted`);
      continue;
    }
    const r = resolveServicePort(idx, ns, ref.name, ref.port);
    if (!r.ok) {
      errors.push(r.message);
      continue;
    }
    // resolveServicePort refuses a ref without a port, so `ref.port` is set here.
    const policies = ref.port === undefined ? undefined : policiesOf({ kind: 'Service', service: `${ns}/${ref.name}`, port: ref.port });
    backends.push({
      name: `${ns}/${ref.name}:${ref.port}`,
      weight: ref.weight,
      endpoints: r.endpoints,
      // Only h2c is written: unset is HTTP/1.1, so configs of HTTP/1.1 backends are unchanged.
      ...(r.protocol === 'h2c' ? { protocol: r.protocol } : {}),
      ...(routeTls || policies?.backendTls !== undefined ? { hostname: serviceHostname(ns, ref.name) } : {}),
      ...(policies ? { policies } : {}),
    });
  }
  return backends.length === 0 && errors.length > 0 ? { backends, invalid: `invalid backend: ${errors.join('; ')}` } : { backends };
}

/**
 * HTTPRoute rule timeouts (Gateway API durations, e.g. "10s"): the shorter of `request` and
 * `backendRequest` (there are no retries, so both bound the one upstream exchange); "0s" or unset
 * means no route timeout (the proxy's default applies).
 */
export function ruleTimeoutMs(t: { request?: string | undefined; backendRequest?: string | undefined } | undefined): number | undefined {
  const values = [t?.request, t?.backendRequest]
    .map((d) => (d === undefined ? undefined : parseDurationMs(d)))
    .filter((v): v is number => v !== undefined && v > 0);
  return values.length === 0 ? undefined : Math.min(...values);
}
