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
import { resolveRuleBackends, ruleTimeoutMs, type BackendTarget, type RouteAttachment } from './routes.js';

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
  invalidRules: ReadonlyMap<HttpRoute, ReadonlySet<number>>,
  refusedRules: ReadonlyMap<HttpRoute, ReadonlyMap<number, string>>,
  attachedCount: ReadonlyMap<string, number>,
  tlsSecrets: ReadonlyMap<ObjectKey, TlsSecretCheck> = new Map(),
  backendTlsPolicies?: BackendTlsIndex,
  agentgatewayBackendTls: ReadonlyMap<ObjectKey, CompiledBackendTlsPolicy> = new Map(),
): { config: Omit<ProxyConfig, 'version'>; status: GatewayStatusOut } {
  const gen = gw.metadata.generation;
  const gwKey = keyOf(gw);
  // A new feature is a compile error here until it has its table.
  const featurePolicies: FeaturePolicies = { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} };
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
      for (const k of keys) usePolicy(f, k, policies.byFeature, featurePolicies);
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
  const backendPolicyMemo = new Map<string, CompiledBackend['policies']>();
  const backendPolicies = (target: BackendTarget): CompiledBackend['policies'] => {
    const memoKey = target.kind === 'Service' ? `${target.service}:${target.port}` : agentgatewayBackendKey(target.backend);
    if (backendPolicyMemo.has(memoKey)) return backendPolicyMemo.get(memoKey);
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
      usePolicy(f, key, policies.byFeature, featurePolicies);
      out[f.name] = key;
    }
    const ownTls = target.kind === 'AgentgatewayBackend' ? agentgatewayBackendTls.get(target.backend) : undefined;
    if (ownTls !== undefined) {
      featurePolicies.backendTls[ownTls.policy] ??= ownTls;
      out.backendTls = ownTls.policy;
    }
    if (target.kind === 'Service' && out.backendTls === undefined && backendTlsPolicies !== undefined) {
      const { service, port } = target;
      const [ns, name] = service.split('/') as [string, string];
      const portName = idx.services.get(service)?.spec.ports.find((sp) => sp.port === port)?.name ?? undefined;
      const resolved = backendTlsPolicies.resolveForGateway(ns, name, portName, gwKey);
      if (resolved !== undefined) {
        const key = backendTlsPolicyKey(resolved.policy);
        featurePolicies.backendTls[key] ??= compiledBackendTls(resolved, key);
        out.backendTls = key;
      }
    }
    const result = Object.keys(out).length === 0 ? undefined : out;
    backendPolicyMemo.set(memoKey, result);
    return result;
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
  const routes: CompiledRoute[] = [];
  let order = 0;
  for (const att of attached) {
    const route = att.route;
    const rKey = keyOf(route);
    const leftOut = invalidRules.get(route);
    route.spec.rules.forEach((rule, ri) => {
      if (leftOut?.has(ri) === true) return;
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
      const refused = refusedRules.get(route)?.get(ri);
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

/** Adds one policy's compiled form of a feature to the config's table (generic: each table keeps its type). */
function usePolicy<F extends FeatureName>(f: PolicyFeature<F>, key: ObjectKey, tables: FeatureTables, out: FeaturePolicies): void {
  const t = tables[f.name].get(key);
  if (t !== undefined) out[f.name][key] = t.compiled;
}
