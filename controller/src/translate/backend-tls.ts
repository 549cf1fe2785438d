import { GATEWAY_API_GROUP, type BackendTlsPolicy, type CompiledBackendTlsPolicy } from '@agw/api';
import { appendTo } from './append-to.js';
import {
  cond,
  keyOf,
  olderFirst,
  type CaBundleCheck,
  type JwksTls,
  type ObjectKey,
  type PendingCondition,
  type PolicyAncestorOut,
} from './model.js';

/** At most this many ancestors in a BackendTLSPolicy status (Gateway API's list limit). */
export const MAX_ANCESTORS = 16;

/** The TLS a Service port gets from its BackendTLSPolicy, or why that policy cannot be used (fail closed). */
export type ResolvedBackendTls =
  | { readonly ok: true; readonly policy: ObjectKey; readonly tls: JwksTls }
  | { readonly ok: false; readonly policy: ObjectKey; readonly problem: string };

interface Checked {
  readonly policy: BackendTlsPolicy;
  readonly key: ObjectKey;
  /** Accepted and ResolvedRefs, the same for every ancestor. */
  readonly conditions: PendingCondition[];
  /** The settings, or (any invalid ref, an unsupported value) why connections must fail. */
  readonly resolved: ResolvedBackendTls;
}

export interface BackendTlsIndex {
  /**
   * The BackendTLSPolicy of Service `ns/name` on the port named `portName` (a policy whose
   * targetRef sectionName names the port wins over one for the whole Service; among equals the
   * oldest, the others are Conflicted). Undefined: none targets it, plain HTTP. `user` (an
   * AgentgatewayPolicy key) is recorded: its Gateways become the policies' ancestors.
   */
  resolve(ns: string, name: string, portName: string | undefined, user: ObjectKey): ResolvedBackendTls | undefined;
  /**
   * The same for a backend of a route served by Gateway `gateway` (`<ns>/<name>`): the Gateway
   * becomes an ancestor of the policy that applies.
   */
  resolveForGateway(ns: string, name: string, portName: string | undefined, gateway: ObjectKey): ResolvedBackendTls | undefined;
  /**
   * Every BackendTLSPolicy's ancestors: the Gateways of the AgentgatewayPolicies that used them
   * (JWKS fetches) and the Gateways whose routes use a Service they apply to.
   */
  status(
    policyAncestors: ReadonlyMap<ObjectKey, readonly PolicyAncestorOut[]>,
    controllerName: string,
  ): Map<ObjectKey, PolicyAncestorOut[]>;
}

/**
 * Gateway API BackendTLSPolicy (v1.4) as this controller applies it, pure: validation of each
 * policy (its CA references against the checked bundles), the per-target winner, and the status
 * (Accepted, ResolvedRefs) per Gateway that uses a targeted Service, as a route backend or for its
 * JWKS.
 */
export function indexBackendTls(policies: readonly BackendTlsPolicy[], caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>): BackendTlsIndex {
  const checked = new Map<ObjectKey, Checked>();
  /** `<ns>/<svc>` (whole Service) or `<ns>/<svc>#<sectionName>` → policies, oldest first. */
  const byTarget = new Map<string, Checked[]>();
  for (const p of [...policies].sort(olderFirst)) {
    const c = checkPolicy(p, caBundles);
    checked.set(c.key, c);
    const ns = p.metadata.namespace ?? '';
    for (const t of p.spec.targetRefs)
      if (t.group === '' && t.kind === 'Service')
        appendTo(byTarget, t.sectionName !== undefined && t.sectionName !== '' ? `${ns}/${t.name}#${t.sectionName}` : `${ns}/${t.name}`, c);
  }
  /** BackendTLSPolicy key → the AgentgatewayPolicies that use a Service it targets, and whether it lost a conflict there. */
  const users = new Map<ObjectKey, Set<ObjectKey>>();
  /** BackendTLSPolicy key → the Gateways whose routes use a Service it targets. */
  const gatewayUsers = new Map<ObjectKey, Set<ObjectKey>>();
  const conflicted = new Map<ObjectKey, string>();
  const pick = (ns: string, name: string, portName: string | undefined, user: ObjectKey, into: Map<ObjectKey, Set<ObjectKey>>) => {
    const candidates =
      (portName !== undefined && portName !== '' ? byTarget.get(`${ns}/${name}#${portName}`) : undefined) ?? byTarget.get(`${ns}/${name}`);
    if (candidates === undefined || candidates.length === 0) return undefined;
    const [winner, ...losers] = candidates as [Checked, ...Checked[]];
    for (const c of candidates) {
      let set = into.get(c.key);
      if (set === undefined) into.set(c.key, (set = new Set()));
      set.add(user);
    }
    for (const l of losers) conflicted.set(l.key, `Service ${ns}/${name} is already the target of BackendTLSPolicy ${winner.key} (older)`);
    return winner.resolved;
  };
  return {
    resolve: (ns, name, portName, user) => pick(ns, name, portName, user, users),
    resolveForGateway: (ns, name, portName, gateway) => pick(ns, name, portName, gateway, gatewayUsers),
    status(policyAncestors, controllerName) {
      const out = new Map<ObjectKey, PolicyAncestorOut[]>();
      for (const [key, c] of checked) {
        const gateways = new Set<string>(gatewayUsers.get(key));
        for (const user of users.get(key) ?? [])
          for (const a of policyAncestors.get(user) ?? [])
            if (a.ancestorRef.group === GATEWAY_API_GROUP && a.ancestorRef.kind === 'Gateway' && a.ancestorRef.namespace !== undefined)
              gateways.add(`${a.ancestorRef.namespace}/${a.ancestorRef.name}`);
        const lost = conflicted.get(key);
        const g = c.policy.metadata.generation;
        const conditions =
          lost === undefined
            ? c.conditions
            : [cond('Accepted', false, 'Conflicted', lost, g), ...c.conditions.filter((x) => x.type !== 'Accepted')];
        out.set(
          key,
          [...gateways]
            .sort()
            .slice(0, MAX_ANCESTORS)
            .map((gw) => {
              const [namespace, name] = gw.split('/') as [string, string];
              return {
                ancestorRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace, name },
                controllerName,
                conditions: conditions.map((x) => ({ ...x })),
              };
            }),
        );
      }
      return out;
    },
  };
}

/**
 * A BackendTLSPolicy's settings as the proxy gets them (`policies.backendTls`): SNI and verified
 * name `validation.hostname` (or its subjectAltNames), its CA bundles or the system's; an invalid
 * one refuses every connection (Gateway API: connections using an invalid CACertificateRef fail).
 */
export function compiledBackendTls(resolved: ResolvedBackendTls, key: string): CompiledBackendTlsPolicy {
  if (!resolved.ok) return { policy: key, invalid: resolved.problem };
  const t = resolved.tls;
  return {
    policy: key,
    sni: t.servername,
    ...(t.caPem !== undefined ? { caPem: t.caPem } : {}),
    ...(t.subjectAltNames !== undefined
      ? { subjectAltNames: { hostnames: [...t.subjectAltNames.hostnames], uris: [...t.subjectAltNames.uris] } }
      : {}),
  };
}

/** One policy on its own: what its references resolve to, its conditions, and the TLS settings. */
function checkPolicy(p: BackendTlsPolicy, caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>): Checked {
  const key = keyOf(p);
  const ns = p.metadata.namespace ?? '';
  const g = p.metadata.generation;
  const v = p.spec.validation;
  const refs = v.caCertificateRefs ?? [];
  const wellKnown = v.wellKnownCACertificates ?? '';
  const subjectAltNames =
    v.subjectAltNames !== undefined && v.subjectAltNames.length > 0
      ? {
          subjectAltNames: {
            hostnames: v.subjectAltNames.flatMap((s) => (s.type === 'Hostname' && s.hostname !== undefined ? [s.hostname] : [])),
            uris: v.subjectAltNames.flatMap((s) => (s.type === 'URI' && s.uri !== undefined ? [s.uri] : [])),
          },
        }
      : {};
  const invalid = (message: string): Checked => ({
    policy: p,
    key,
    conditions: [cond('Accepted', false, 'Invalid', message, g), cond('ResolvedRefs', true, 'ResolvedRefs', 'Resolved all references', g)],
    resolved: { ok: false, policy: key, problem: `BackendTLSPolicy ${key} is invalid: ${message}` },
  });
  // The CRD refuses both and neither; files (local mode) are not checked by it.
  if (refs.length > 0 && wellKnown !== '') return invalid('must not contain both CACertificateRefs and WellKnownCACertificates');
  if (refs.length === 0 && wellKnown === '') return invalid('must specify either CACertificateRefs or WellKnownCACertificates');
  if (wellKnown !== '') {
    if (wellKnown !== 'System') return invalid(`wellKnownCACertificates "${wellKnown}" is not supported (only System)`);
    return {
      policy: p,
      key,
      conditions: [
        cond('Accepted', true, 'Accepted', 'Policy accepted', g),
        cond('ResolvedRefs', true, 'ResolvedRefs', 'Resolved all references', g),
      ],
      resolved: { ok: true, policy: key, tls: { servername: v.hostname, ...subjectAltNames } },
    };
  }
  const problems: Array<{ reason: 'InvalidKind' | 'InvalidCACertificateRef'; message: string }> = [];
  const pems: string[] = [];
  for (const [i, ref] of refs.entries()) {
    if (!(ref.group === '' && ref.kind === 'ConfigMap')) {
      problems.push({
        reason: 'InvalidKind',
        message: `caCertificateRefs[${i}]: unsupported kind ${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} (only ConfigMap)`,
      });
      continue;
    }
    const bundle = caBundles.get(`${ns}/${ref.name}`);
    if (bundle === undefined)
      problems.push({ reason: 'InvalidCACertificateRef', message: `caCertificateRefs[${i}]: ConfigMap ${ns}/${ref.name} not found` });
    else if (!bundle.ok) problems.push({ reason: 'InvalidCACertificateRef', message: `caCertificateRefs[${i}]: ${bundle.problem}` });
    else pems.push(bundle.pem);
  }
  const first = problems[0];
  if (first === undefined)
    return {
      policy: p,
      key,
      conditions: [
        cond('Accepted', true, 'Accepted', 'Policy accepted', g),
        cond('ResolvedRefs', true, 'ResolvedRefs', 'Resolved all references', g),
      ],
      resolved: { ok: true, policy: key, tls: { servername: v.hostname, caPem: pems.join('\n'), ...subjectAltNames } },
    };
  const message = problems.map((x) => x.message).join('; ');
  return {
    policy: p,
    key,
    conditions: [
      pems.length === 0
        ? cond('Accepted', false, 'NoValidCACertificate', 'No valid CA certificate: every caCertificateRef is invalid', g)
        : cond('Accepted', true, 'Accepted', 'Policy accepted', g),
      cond('ResolvedRefs', false, first.reason, message, g),
    ],
    // Connections using an invalid CACertificateRef must fail (Gateway API): no fetch at all.
    resolved: { ok: false, policy: key, problem: `BackendTLSPolicy ${key}: ${message}` },
  };
}
