import type { CompiledBackendTlsPolicy, Service } from '@agw/api';
import { appendTo } from './append-to.js';
import type { BackendTlsIndex, ResolvedBackendTls } from './backend-tls.js';
import { backendTlsFeature, jwksTlsOf, translateBackendTls } from './features/backend-tls.js';
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
   * The Service targets (`<ns>/<svc>` or `<ns>/<svc>:<port>`) through which JWKS fetches used
   * AgentgatewayPolicy `policy`'s `backend.tls`, each with the policies that fetched.
   */
  jwksUsers(policy: ObjectKey): ReadonlyMap<string, ReadonlySet<ObjectKey>> | undefined;
}

/**
 * The resolver over every AgentgatewayPolicy that carries `backend.tls` and targets a Service
 * (targetRefs or targetSelectors), and the BackendTLSPolicy index. Pure; the same precedence as
 * route backends (gateways.ts), through the same `applicable`.
 */
export function serviceTlsResolver(
  input: Pick<TranslateInput, 'policies' | 'gateways' | 'httpRoutes' | 'services'>,
  services: ReadonlyMap<string, Service>,
  caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>,
  backendTlsPolicies: BackendTlsIndex | undefined,
): ServiceTlsResolver {
  /** `<ns>/<svc>` or `<ns>/<svc>:<port>` → the `backend.tls` attachments there. */
  const byTarget = new Map<string, Attachment[]>();
  const carries = new Set(['backendTls'] as const);
  for (const p of input.policies) {
    if (p.spec.backend?.tls === undefined) continue;
    const ns = p.metadata.namespace ?? '';
    for (const t of targetsOf(p, input)) {
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
  return {
    resolve(ns, name, port, user) {
      const whole = `${ns}/${name}`;
      const onPort = `${whole}:${port}`;
      const attachments = [...(byTarget.get(whole) ?? []), ...(byTarget.get(onPort) ?? [])];
      const [key] = applicable(backendTlsFeature, 'Route', attachments);
      const winner = attachments.find((a) => a.key === key);
      const tls = winner?.policy.spec.backend?.tls;
      if (key === undefined || winner === undefined || tls === undefined) {
        const portName = services.get(whole)?.spec.ports.find((sp) => sp.port === port)?.name ?? undefined;
        return backendTlsPolicies?.resolve(ns, name, portName, user);
      }
      const target = winner.level === Level.BackendPort ? onPort : whole;
      const byService = users.get(key) ?? new Map<string, Set<ObjectKey>>();
      users.set(key, byService);
      byService.set(target, (byService.get(target) ?? new Set()).add(user));
      let c = compiled.get(key);
      if (c === undefined) compiled.set(key, (c = translateBackendTls(winner.policy, tls, caBundles).compiled));
      return c.invalid !== undefined
        ? { ok: false, policy: key, problem: c.invalid }
        : { ok: true, policy: key, tls: jwksTlsOf(c, ns, name) };
    },
    jwksUsers: (policy) => users.get(policy),
  };
}
