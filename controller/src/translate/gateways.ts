import {
  GATEWAY_API_GROUP,
  PROXY_CONFIG_SCHEMA_VERSION,
  type CompiledBackend,
  type CompiledBackendTlsPolicy,
  type CompiledListener,
  type CompiledRoute,
  type FeaturePolicies,
  type Gateway,
  type HttpRoute,
  type PolicyRefs,
  type ProxyConfig,
} from '@agw/api';
import { compiledBackendTls, type BackendTlsIndex } from './backend-tls.js';
import type { BackendIndex } from './backends.js';
import { agentgatewayBackendKey, backendTlsPolicyKey } from './features/backend-tls.js';
import { FEATURES, type FeatureName, type Phase, type PolicyFeature } from './features/index.js';
import { cond, keyOf, type GatewayStatusOut, type ObjectKey, type TlsSecretCheck } from './model.js';
import { isRouteListener, validateListeners } from './listener-tls.js';
import { applicable, type Attachment, type FeatureTables, type PolicyAttachments } from './policies.js';
import { compileRuleFilters } from './route-filters.js';
import { resolveRuleBackends, ruleTimeoutMs, type BackendTarget, type RouteAttachment, type RouteOutcome } from './routes.js';

/** A route without an outcome (none: every attached route has one): no rule left out or refused. */
const NO_OUTCOME: Pick<RouteOutcome, 'unmatchable' | 'refused'> = { unmatchable: new Set(), refused: new Map() };

/**
 * One route attachment's part of a Gateway's config, as the last compile of that Gateway made it:
 * its compiled routes, and the entries of the policy tables they refer to. Everything it was made
 * from but the policies is the attachment's (its route, Gateway and listeners: a RouteOutcome's)
 * or constant while the TranslateMemo holding it lives (backends, Secrets, backend TLS: a change
 * of those starts a new memo); the policies it read are compared by identity before it is reused
 * (a changed policy is a new object, and so is its translation).
 */
interface CompiledAttachment {
  /** The Gateway's policy context when it was made (GatewayContext). */
  readonly stamp: number;
  /** The route-level and rule-level attachments it read (policies compared by identity). */
  readonly routeLevel: ReadonlyArray<readonly Attachment[] | undefined>;
  readonly routes: readonly CompiledRoute[];
  /** The rank (`order`) of its first match, and how many ranks its matches take. */
  readonly firstRank: number;
  readonly ranks: number;
  /** The policy table entries it set, in order. */
  readonly uses: readonly TableEntry[];
}

/** One entry set in a config's policy tables: [table, key, value, whether it overwrites (else `??=`)]. */
type TableEntry = readonly [FeatureName, string, unknown, boolean];

/** The policies every route of a Gateway reads besides its own: Gateway and listener levels, Service levels; and its served listeners. */
interface GatewayContext {
  readonly gateway: readonly Attachment[] | undefined;
  readonly listeners: ReadonlyArray<readonly Attachment[] | undefined>;
  readonly services: ReadonlyMap<string, readonly Attachment[]>;
  readonly served: string;
}

/**
 * Compiled routes kept across passes that change only HTTPRoutes and policies (model.ts
 * TranslateMemo): a route that is unchanged, on a Gateway whose Gateway-, listener- and
 * Service-level policies are unchanged, and whose own route- and rule-level policies are unchanged,
 * keeps its CompiledRoute objects (a new object only when its rank moved).
 */
export interface CompiledRoutesMemo {
  readonly byAttachment: WeakMap<RouteAttachment, CompiledAttachment>;
  readonly gateways: Map<ObjectKey, { readonly context: GatewayContext; readonly stamp: number }>;
  /** The last stamp given to a Gateway context (stamps are unique within the memo). */
  lastStamp: number;
}

export const newCompiledRoutesMemo = (): CompiledRoutesMemo => ({ byAttachment: new WeakMap(), gateways: new Map(), lastStamp: 0 });

/**
 * One Gateway's proxy config (listeners, routes in match order, and per feature the policies they
 * refer to) and its status (listeners with attached route counts). Listeners that cannot be served
 * (listener-tls.ts) are left out with the routes attached only to them; routes still count as
 * attached (Gateway API: attachment depends on allowedRoutes and parentRefs only).
 */
export function gatewayConfig(
  gw: Gateway,
  attached: readonly RouteAttachment[],
  policies: PolicyAttachments,
  idx: BackendIndex,
  outcomes: Pick<WeakMap<HttpRoute, RouteOutcome>, 'get'>,
  attachedCount: ReadonlyMap<string, number>,
  tlsSecrets: ReadonlyMap<ObjectKey, TlsSecretCheck> = new Map(),
  backendTlsPolicies?: BackendTlsIndex,
  agentgatewayBackendTls: ReadonlyMap<ObjectKey, CompiledBackendTlsPolicy> = new Map(),
  memo?: CompiledRoutesMemo,
): { config: Omit<ProxyConfig, 'version'>; status: GatewayStatusOut } {
  const gen = gw.metadata.generation;
  const gwKey = keyOf(gw);
  // A new feature is a compile error here until it has its table.
  const featurePolicies: FeaturePolicies = { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} };
  /** The policy table entries the route being compiled sets (a memo hit sets them again, in this order). */
  let uses: TableEntry[] | undefined;
  /** Sets a policy table entry: `overwrite` as usePolicy, else only when absent (`??=`). */
  const put = (table: FeatureName, key: string, value: unknown, overwrite: boolean): void => {
    const t = featurePolicies[table] as Record<string, unknown>;
    if (overwrite) t[key] = value;
    else t[key] ??= value;
    uses?.push([table, key, value, overwrite]);
  };
  /**
   * The refs of every feature at a place (attachments of all its levels), each policy used added
   * to the config: a merge-all feature names every applicable policy (oldest first), a
   * most-specific one the policy that wins.
   */
  const refsAt = (phase: Phase, attachments: readonly Attachment[]): PolicyRefs | undefined => {
    const refs: PolicyRefs = {};
    for (const f of FEATURES) {
      const keys = applicable(f, phase, attachments);
      const [first] = keys;
      if (first === undefined) continue;
      for (const k of keys) usePolicy(f, k, policies.byFeature, put);
      if (f.merge === 'merge-all') refs[f.name] = keys;
      else refs[f.name] = first;
    }
    return Object.keys(refs).length === 0 ? undefined : refs;
  };
  /**
   * Service-level backend policies of a backend (port level over Service level); the proxy uses
   * them instead of the route's. TLS without an AgentgatewayPolicy `backend.tls` on the Service
   * comes from a BackendTLSPolicy on it (a Service-level attachment too: it beats route-level
   * `backend.tls`). An AgentgatewayBackend's own `policies.tls` beats every AgentgatewayPolicy
   * (upstream: backend policies take precedence over policy resources). Memoized per Gateway: a
   * backend is usually behind many rules.
   */
  const backendPolicyMemo = new Map<string, { result: CompiledBackend['policies']; entries: readonly TableEntry[] }>();
  const backendPolicies = (target: BackendTarget): CompiledBackend['policies'] => {
    const memoKey = target.kind === 'Service' ? `${target.service}:${target.port}` : agentgatewayBackendKey(target.backend);
    let done = backendPolicyMemo.get(memoKey);
    if (done === undefined) {
      done = resolveBackendPolicies(target, memoKey);
      backendPolicyMemo.set(memoKey, done);
    }
    // Set (again, unchanged when memoized) through put: the route being compiled records what it refers to.
    for (const [table, key, value, overwrite] of done.entries) put(table, key, value, overwrite);
    return done.result;
  };
  const resolveBackendPolicies = (
    target: BackendTarget,
    memoKey: string,
  ): { result: CompiledBackend['policies']; entries: readonly TableEntry[] } => {
    const entries: TableEntry[] = [];
    const add = (table: FeatureName, key: string, value: unknown, overwrite: boolean) => entries.push([table, key, value, overwrite]);
    const attachments =
      target.kind === 'Service'
        ? [...(policies.toServices.get(target.service) ?? []), ...(policies.toServices.get(memoKey) ?? [])]
        : (policies.toServices.get(memoKey) ?? []);
    const out: NonNullable<CompiledBackend['policies']> = {};
    for (const f of FEATURES) {
      if (f.scope !== 'backend') continue;
      const [key] = applicable(f, 'Route', attachments);
      if (key === undefined) continue;
      if (f.name === 'backendTls' && target.kind === 'AgentgatewayBackend' && agentgatewayBackendTls.has(target.backend)) continue;
      usePolicy(f, key, policies.byFeature, add);
      out[f.name] = key;
    }
    const ownTls = target.kind === 'AgentgatewayBackend' ? agentgatewayBackendTls.get(target.backend) : undefined;
    if (ownTls !== undefined) {
      add('backendTls', ownTls.policy, ownTls, false);
      out.backendTls = ownTls.policy;
    }
    if (target.kind === 'Service' && out.backendTls === undefined && backendTlsPolicies !== undefined) {
      const { service, port } = target;
      const [ns, name] = service.split('/') as [string, string];
      const portName = idx.services.get(service)?.spec.ports.find((sp) => sp.port === port)?.name ?? undefined;
      const resolved = backendTlsPolicies.resolveForGateway(ns, name, portName, gwKey);
      if (resolved !== undefined) {
        const key = backendTlsPolicyKey(resolved.policy);
        add('backendTls', key, featurePolicies.backendTls[key] ?? compiledBackendTls(resolved, key), false);
        out.backendTls = key;
      }
    }
    return { result: Object.keys(out).length === 0 ? undefined : out, entries };
  };
  const gwLevel = policies.toGateways.get(gwKey) ?? [];
  const verdicts = validateListeners(gw, tlsSecrets, idx.grants);
  const listeners: CompiledListener[] = [];
  for (const { listener: l, served } of verdicts) {
    if (served === undefined) continue;
    const pre = refsAt('PreRouting', [...gwLevel, ...(policies.toGateways.get(`${gwKey}/${l.name}`) ?? [])]);
    listeners.push({
      name: l.name,
      port: l.port,
      ...(l.hostname ? { hostname: l.hostname } : {}),
      protocol: served.protocol,
      ...(served.certificates !== undefined ? { tls: { certificates: served.certificates } } : {}),
      ...(pre ? { preRouting: pre } : {}),
    });
  }
  const servedNames = new Set(listeners.map((l) => l.name));
  const stamp =
    memo === undefined
      ? 0
      : contextStamp(memo, gwKey, {
          gateway: policies.toGateways.get(gwKey),
          listeners: gw.spec.listeners.map((l) => policies.toGateways.get(`${gwKey}/${l.name}`)),
          services: policies.toServices,
          served: [...servedNames].join('\n'),
        });
  const routes: CompiledRoute[] = [];
  let order = 0;
  for (const att of attached) {
    const route = att.route;
    const rKey = keyOf(route);
    const kept = memo?.byAttachment.get(att);
    if (kept !== undefined && kept.stamp === stamp && sameRouteLevel(kept.routeLevel, route, rKey, policies.toRoutes)) {
      for (const [table, key, value, overwrite] of kept.uses) put(table, key, value, overwrite);
      if (kept.firstRank === order) for (const r of kept.routes) routes.push(r);
      else {
        const moved = kept.routes.map((r) => ({ ...r, order: r.order - kept.firstRank + order }));
        for (const r of moved) routes.push(r);
        memo?.byAttachment.set(att, { ...kept, routes: moved, firstRank: order });
      }
      order += kept.ranks;
      continue;
    }
    const firstRank = order;
    const firstRoute = routes.length;
    if (memo !== undefined) uses = [];
    const { unmatchable: leftOut, refused: refusedRules } = outcomes.get(route) ?? NO_OUTCOME;
    route.spec.rules.forEach((rule, ri) => {
      if (leftOut.has(ri)) return;
      // The rule's policies on each listener it is served on (the same for all its matches).
      const listenerRefs = [...att.listeners.entries()]
        .sort()
        .filter(([listener]) => servedNames.has(listener))
        .map(([listener, hostnames]) => ({
          listener,
          hostnames,
          refs: refsAt('Route', [
            ...gwLevel,
            ...(policies.toGateways.get(`${gwKey}/${listener}`) ?? []),
            ...(policies.toRoutes.get(rKey) ?? []),
            ...(rule.name ? (policies.toRoutes.get(`${rKey}#${rule.name}`) ?? []) : []),
          ]),
        }));
      const routeTls = listenerRefs.some((l) => l.refs?.backendTls !== undefined);
      // A rule whose filters cannot be served is matched and answered 500, with why (routes.ts).
      const refused = refusedRules.get(ri);
      const backends =
        refused !== undefined ? { backends: [], invalid: refused } : resolveRuleBackends(route, ri, idx, backendPolicies, routeTls);
      const timeoutMs = ruleTimeoutMs(rule.timeouts);
      const filters = refused !== undefined ? [] : compileRuleFilters(rule);
      rule.matches.forEach((m, mi) => {
        const rank = order++;
        for (const { listener, hostnames, refs } of listenerRefs) {
          routes.push({
            id: `${rKey}/${ri}/${mi}`,
            listeners: [listener],
            hostnames,
            order: rank,
            match: {
              path: { type: m.path.type, value: m.path.value },
              headers: (m.headers ?? []).map((h) => ({ type: h.type, name: h.name, value: h.value })),
              queryParams: (m.queryParams ?? []).map((q) => ({ type: q.type, name: q.name, value: q.value })),
              ...(m.method ? { method: m.method } : {}),
            },
            backends: backends.backends,
            ...(backends.invalid ? { invalid: backends.invalid } : {}),
            ...(refs ? { policies: refs } : {}),
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
            ...(filters.length > 0 ? { filters } : {}),
          });
        }
      });
    });
    if (memo !== undefined && uses !== undefined) {
      memo.byAttachment.set(att, {
        stamp,
        routeLevel: routeLevelOf(route, rKey, policies.toRoutes),
        routes: routes.slice(firstRoute),
        firstRank,
        ranks: order - firstRank,
        uses,
      });
      uses = undefined;
    }
  }
  const config: Omit<ProxyConfig, 'version'> = {
    schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
    gateway: { namespace: gw.metadata.namespace ?? '', name: gw.metadata.name },
    listeners,
    routes,
    policies: featurePolicies,
  };
  // Gateway API: ListenersNotValid when one or more listeners cannot be served; Accepted stays
  // True while one can (the others are served), False when none can.
  const invalid = verdicts.filter((v) => v.served === undefined);
  const status: GatewayStatusOut = {
    conditions: [
      invalid.length === 0
        ? cond('Accepted', true, 'Accepted', 'Gateway accepted', gen)
        : cond(
            'Accepted',
            listeners.length > 0,
            'ListenersNotValid',
            `listeners not served: ${invalid.map((v) => `${v.listener.name} (${v.problem ?? 'not valid'})`).join(', ')}; ${
              listeners.length > 0 ? 'the other listeners are served' : 'no listener is served'
            }`,
            gen,
          ),
    ],
    listeners: verdicts.map(({ listener: l, conditions }) => ({
      name: l.name,
      attachedRoutes: attachedCount.get(`${gwKey}/${l.name}`) ?? 0,
      supportedKinds: isRouteListener(l) ? [{ group: GATEWAY_API_GROUP, kind: 'HTTPRoute' }] : [],
      conditions,
    })),
  };
  return { config, status };
}

/** Adds one policy's compiled form of a feature to the config's table. */
function usePolicy<F extends FeatureName>(
  f: PolicyFeature<F>,
  key: ObjectKey,
  tables: FeatureTables,
  put: (table: FeatureName, key: string, value: unknown, overwrite: boolean) => void,
): void {
  const t = tables[f.name].get(key);
  if (t !== undefined) put(f.name, key, t.compiled, true);
}

/** The Gateway's stamp: the last one while its context is the same, else a new one. */
function contextStamp(memo: CompiledRoutesMemo, gwKey: ObjectKey, context: GatewayContext): number {
  const last = memo.gateways.get(gwKey);
  if (
    last !== undefined &&
    last.context.served === context.served &&
    sameAttachments(last.context.gateway, context.gateway) &&
    last.context.listeners.length === context.listeners.length &&
    last.context.listeners.every((a, i) => sameAttachments(a, context.listeners[i])) &&
    last.context.services.size === context.services.size &&
    [...last.context.services].every(([k, a]) => sameAttachments(a, context.services.get(k)))
  )
    return last.stamp;
  const stamp = ++memo.lastStamp;
  memo.gateways.set(gwKey, { context, stamp });
  return stamp;
}

/** The route-level attachments of a route, then the rule-level ones of each rule (the lists compileRoute reads). */
function routeLevelOf(route: HttpRoute, rKey: ObjectKey, toRoutes: ReadonlyMap<string, Attachment[]>): Array<Attachment[] | undefined> {
  return [toRoutes.get(rKey), ...route.spec.rules.map((rule) => (rule.name ? toRoutes.get(`${rKey}#${rule.name}`) : undefined))];
}

function sameRouteLevel(
  kept: ReadonlyArray<readonly Attachment[] | undefined>,
  route: HttpRoute,
  rKey: ObjectKey,
  toRoutes: ReadonlyMap<string, Attachment[]>,
): boolean {
  if (kept.length !== route.spec.rules.length + 1 || !sameAttachments(kept[0], toRoutes.get(rKey))) return false;
  return route.spec.rules.every((rule, i) => sameAttachments(kept[i + 1], rule.name ? toRoutes.get(`${rKey}#${rule.name}`) : undefined));
}

/** The same policies at the same levels, in the same order (a policy's translation is by object: model.ts TranslateMemo). */
function sameAttachments(a: readonly Attachment[] | undefined, b: readonly Attachment[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((x, i) => x.policy === b[i]?.policy && x.level === b[i]?.level && x.key === b[i]?.key && x.phase === b[i]?.phase);
}
