import type { CompiledBackendTlsPolicy } from '@agw/api';
import { appendTo } from './append-to.js';
import type { BackendTlsIndex, ResolvedBackendTls } from './backend-tls.js';
import { isAgentgatewayBackendRef, type BackendIndex } from './backends.js';
import { agentgatewayBackendKey, backendTlsFeature, jwksTlsOf, serviceHostname, translateBackendTls } from './features/backend-tls.js';
import { keyOf, type CaBundleCheck, type ObjectKey, type TranslateInput } from './model.js';
import { applicable, Level, servicePortOf, targetsOf, type Attachment } from './policies.js';

/**
 * TLS of the calls the controller itself makes to a Service port (JWKS fetches), by upstream's
 * lookup order: an AgentgatewayPolicy `backend.tls` targeting the Service (its port over the whole
 * Service, then the oldest), else a Gateway API BackendTLSPolicy targeting it. Undefined: plain HTTP.
 */
export interface ServiceTlsResolver {
  /** `user`: the AgentgatewayPolicy (`<ns>/<name>`) whose fetch this is; its Gateways become ancestors of the policy used. */
  resolve(ns: string, name: string, port: number, user: ObjectKey): ResolvedBackendTls | undefined;
  /**
   * The same for AgentgatewayBackend `ns/name`, in upstream's order: its own `spec.policies.tls`,
   * else an AgentgatewayPolicy `backend.tls` targeting it (the oldest). The default SNI and
   * verified name is its `static.host`. Undefined: plain HTTP.
   */
  resolveAgentgatewayBackend(ns: string, name: string, user: ObjectKey): ResolvedBackendTls | undefined;
  /**
   * The backend targets (`<ns>/<svc>`, `<ns>/<svc>:<port>` or `AgentgatewayBackend/<ns>/<name>`)
   * through which JWKS fetches used AgentgatewayPolicy `policy`'s `backend.tls`, each with the
   * policies that fetched.
   */
  jwksUsers(policy: ObjectKey): ReadonlyMap<string, ReadonlySet<ObjectKey>> | undefined;
}

/**
 * The resolver over every AgentgatewayPolicy that carries `backend.tls` and targets a Service or
 * an AgentgatewayBackend (targetRefs or targetSelectors), the BackendTLSPolicy index, and the
 * AgentgatewayBackends' own `policies.tls` (`ownTls`, by `<ns>/<name>`). Pure; the same precedence
 * as route backends (gateways.ts), through the same `applicable`.
 */
export function serviceTlsResolver(
  input: Pick<TranslateInput, 'policies' | 'gateways' | 'httpRoutes' | 'services' | 'agentgatewayBackends'>,
  idx: Pick<BackendIndex, 'services' | 'agentgatewayBackends'>,
  caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>,
  backendTlsPolicies: BackendTlsIndex | undefined,
  ownTls: ReadonlyMap<ObjectKey, CompiledBackendTlsPolicy> = new Map(),
): ServiceTlsResolver {
  const services = idx.services;
  /** `<ns>/<svc>`, `<ns>/<svc>:<port>` or `AgentgatewayBackend/<ns>/<name>` → the `backend.tls` attachments there. */
  const byTarget = new Map<string, Attachment[]>();
  const carries = new Set(['backendTls'] as const);
  for (const p of input.policies) {
    if (p.spec.backend?.tls === undefined) continue;
    const ns = p.metadata.namespace ?? '';
    for (const t of targetsOf(p, input)) {
      // A static backend has no sub-backends: a sectionName on it names nothing (not attached).
      if (isAgentgatewayBackendRef(t) && t.sectionName === undefined && idx.agentgatewayBackends.has(`${ns}/${t.name}`)) {
        const key = keyOf(p);
        appendTo(byTarget, agentgatewayBackendKey(`${ns}/${t.name}`), { policy: p, key, level: Level.Backend, phase: 'Route', carries });
        continue;
      }
      if (!(t.kind === 'Service' && t.group === '')) continue;
      const svc = services.get(`${ns}/${t.name}`);
      if (svc === undefined) continue;
      const port = t.sectionName === undefined ? undefined : servicePortOf(svc, t.sectionName);
      if (t.sectionName !== undefined && port === undefined) continue;
      const attachment: Attachment = {
        policy: p,
        key: keyOf(p),
        level: port === undefined ? Level.Backend : Level.BackendPort,
        phase: 'Route',
        carries,
      };
      appendTo(byTarget, port === undefined ? `${ns}/${t.name}` : `${ns}/${t.name}:${port.port}`, attachment);
    }
  }
  const compiled = new Map<ObjectKey, CompiledBackendTlsPolicy>();
  const users = new Map<ObjectKey, Map<string, Set<ObjectKey>>>();
  /** The `backend.tls` of the policy that wins among `attachments` (the user recorded under `target`), or undefined. */
  const fromPolicies = (
    attachments: readonly Attachment[],
    targetOf: (winner: Attachment) => string,
    hostname: string,
    user: ObjectKey,
  ): ResolvedBackendTls | undefined => {
    const [key] = applicable(backendTlsFeature, 'Route', attachments);
    const winner = attachments.find((a) => a.key === key);
    const tls = winner?.policy.spec.backend?.tls;
    if (key === undefined || winner === undefined || tls === undefined) return undefined;
    const target = targetOf(winner);
    const byService = users.get(key) ?? new Map<string, Set<ObjectKey>>();
    users.set(key, byService);
    byService.set(target, (byService.get(target) ?? new Set()).add(user));
    let c = compiled.get(key);
    if (c === undefined) compiled.set(key, (c = translateBackendTls(winner.policy, tls, caBundles).compiled));
    return c.invalid !== undefined
      ? { ok: false, policy: key, problem: c.invalid }
      : { ok: true, policy: key, tls: jwksTlsOf(c, hostname) };
  };
  return {
    resolve(ns, name, port, user) {
      const whole = `${ns}/${name}`;
      const onPort = `${whole}:${port}`;
      const attachments = [...(byTarget.get(whole) ?? []), ...(byTarget.get(onPort) ?? [])];
      const resolved = fromPolicies(attachments, (w) => (w.level === Level.BackendPort ? onPort : whole), serviceHostname(ns, name), user);
      if (resolved !== undefined) return resolved;
      const portName = services.get(whole)?.spec.ports.find((sp) => sp.port === port)?.name ?? undefined;
      return backendTlsPolicies?.resolve(ns, name, portName, user);
    },
    resolveAgentgatewayBackend(ns, name, user) {
      const key = `${ns}/${name}`;
      const host = idx.agentgatewayBackends.get(key)?.spec.static?.host ?? '';
      const own = ownTls.get(key);
      if (own !== undefined)
        return own.invalid !== undefined
          ? { ok: false, policy: own.policy, problem: own.invalid }
          : { ok: true, policy: own.policy, tls: jwksTlsOf(own, host) };
      const target = agentgatewayBackendKey(key);
      return fromPolicies(byTarget.get(target) ?? [], () => target, host, user);
    },
    jwksUsers: (policy) => users.get(policy),
  };
}
