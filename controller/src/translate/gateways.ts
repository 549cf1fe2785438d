import {
  GATEWAY_API_GROUP,
  type CompiledListener,
  type CompiledRoute,
  type FeaturePolicies,
  type Gateway,
  type HttpRoute,
  type PolicyRefs,
  type ProxyConfig,
} from '@agw/api';
import type { BackendIndex } from './backends.js';
import { FEATURES, type Phase } from './features/index.js';
import { cond, keyOf, type GatewayStatusOut } from './model.js';
import { applicable, type Attachment, type PolicyAttachments } from './policies.js';
import { isHttpListener, resolveRuleBackends, ruleTimeoutMs, type RouteAttachment } from './routes.js';

/**
 * One Gateway's proxy config (listeners, routes in match order, and per feature the policies they
 * refer to) and its status (listeners with attached route counts).
 */
export function gatewayConfig(
  gw: Gateway,
  attached: readonly RouteAttachment[],
  policies: PolicyAttachments,
  idx: BackendIndex,
  invalidRules: ReadonlyMap<HttpRoute, ReadonlySet<number>>,
  attachedCount: ReadonlyMap<string, number>,
): { config: Omit<ProxyConfig, 'version'>; status: GatewayStatusOut } {
  const gen = gw.metadata.generation;
  const gwKey = keyOf(gw);
  const featurePolicies: FeaturePolicies = { jwt: {} };
  /** The refs of every feature at a place (attachments of all its levels), each policy used added to the config. */
  const refsAt = (phase: Phase, attachments: readonly Attachment[]): PolicyRefs | undefined => {
    const refs: Record<string, string> = {};
    for (const f of FEATURES) {
      const keys = applicable(f, phase, attachments);
      if (keys.length === 0) continue;
      for (const k of keys) (featurePolicies[f.name] as Record<string, unknown>)[k] = policies.byFeature.get(f.name)?.get(k)?.compiled;
      // most-specific features name one policy (merge-all ones will name a list).
      refs[f.name] = keys[0] as string;
    }
    return Object.keys(refs).length === 0 ? undefined : (refs as PolicyRefs);
  };
  const gwLevel = policies.toGateways.get(gwKey) ?? [];
  const listeners: CompiledListener[] = gw.spec.listeners.filter(isHttpListener).map((l) => {
    const pre = refsAt('PreRouting', [...gwLevel, ...(policies.toGateways.get(`${gwKey}/${l.name}`) ?? [])]);
    return { name: l.name, port: l.port, ...(l.hostname ? { hostname: l.hostname } : {}), ...(pre ? { preRouting: pre } : {}) };
  });
  const routes: CompiledRoute[] = [];
  let order = 0;
  for (const att of attached) {
    const route = att.route;
    const rKey = keyOf(route);
    const leftOut = invalidRules.get(route);
    route.spec.rules.forEach((rule, ri) => {
      if (leftOut?.has(ri) === true) return;
      const backends = resolveRuleBackends(route, ri, idx);
      const timeoutMs = ruleTimeoutMs(rule.timeouts);
      rule.matches.forEach((m, mi) => {
        const rank = order++;
        for (const [listener, hostnames] of [...att.listeners.entries()].sort()) {
          const refs = refsAt('Route', [
            ...gwLevel,
            ...(policies.toGateways.get(`${gwKey}/${listener}`) ?? []),
            ...(policies.toRoutes.get(rKey) ?? []),
            ...(rule.name ? (policies.toRoutes.get(`${rKey}#${rule.name}`) ?? []) : []),
          ]);
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
          });
        }
      });
    });
  }
  const config = {
    schemaVersion: 2 as const,
    gateway: { namespace: gw.metadata.namespace ?? '', name: gw.metadata.name },
    listeners,
    routes,
    policies: featurePolicies,
  };
  const status: GatewayStatusOut = {
    conditions: [cond('Accepted', true, 'Accepted', 'Gateway accepted', gen)],
    listeners: gw.spec.listeners.map((l) => ({
      name: l.name,
      attachedRoutes: attachedCount.get(`${gwKey}/${l.name}`) ?? 0,
      supportedKinds: isHttpListener(l) ? [{ group: GATEWAY_API_GROUP, kind: 'HTTPRoute' }] : [],
      conditions: isHttpListener(l)
        ? [
            cond('Accepted', true, 'Accepted', 'Listener accepted', gen),
            cond('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', gen),
          ]
        : [
            cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not supported (HTTP only)`, gen),
            cond('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', gen),
          ],
    })),
  };
  return { config, status };
}
