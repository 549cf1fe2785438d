import type { AgentgatewayPolicy, BackendTls, CompiledBackendTlsPolicy } from '@agw/api';
import { keyOf, type CaBundleCheck, type JwksTls, type ObjectKey } from '../model.js';
import type { PolicyFeature } from './feature.js';

/** A Service's DNS name in the cluster: the default SNI and verified name of TLS to it (upstream). */
export const serviceHostname = (ns: string, name: string): string => `${name}.${ns}.svc.cluster.local`;

/** Key of a Gateway API BackendTLSPolicy in the config's `policies.backendTls` (never an AgentgatewayPolicy key: two slashes). */
export const backendTlsPolicyKey = (key: ObjectKey): string => `BackendTLSPolicy/${key}`;

/**
 * Key of an AgentgatewayBackend (`<ns>/<name>`): its own `policies.tls` in the config's
 * `policies.backendTls`, and the target of AgentgatewayPolicies attached to it (never a Service
 * target or a policy key: upper case, two slashes).
 */
export const agentgatewayBackendKey = (key: ObjectKey): string => `AgentgatewayBackend/${key}`;

/**
 * `verifySubjectAltNames` as the proxy checks them: a name with `://` is a URI (matched exactly),
 * anything else a DNS name or IP address (matched as a host name, wildcards included).
 */
function subjectAltNames(names: readonly string[] | undefined): CompiledBackendTlsPolicy['subjectAltNames'] {
  if (names === undefined || names.length === 0) return undefined;
  return { hostnames: names.filter((n) => !n.includes('://')), uris: names.filter((n) => n.includes('://')) };
}

export interface TranslatedBackendTls {
  readonly compiled: CompiledBackendTlsPolicy;
  /** What is wrong with the CA reference (the compiled form then refuses every connection); the policy is PartiallyValid. */
  readonly problem?: string;
}

/**
 * `spec.backend.tls` → the proxy's form. The CA ConfigMap (key `ca.crt`, the policy's namespace) is
 * resolved from the bundles checked at the edge (resources/ca-bundles.ts). A missing or invalid one
 * fails closed: the compiled form carries `invalid`, and the proxy refuses every call under it,
 * never falling back to plaintext or to the system's CAs.
 */
export function translateBackendTls(
  policy: AgentgatewayPolicy,
  tls: BackendTls,
  caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>,
): TranslatedBackendTls {
  const key = keyOf(policy);
  return compileBackendTls(key, policy.metadata.namespace ?? '', tls, caBundles, `AgentgatewayPolicy ${key} backend.tls`);
}

/**
 * A `BackendTls` (AgentgatewayPolicy `backend.tls`, AgentgatewayBackend `policies.tls`) → the
 * proxy's form under `key`, its CA ConfigMap looked up in namespace `ns`. `owner` names the field
 * in the message of an unusable CA reference (the compiled form then refuses every connection).
 */
export function compileBackendTls(
  key: string,
  ns: string,
  tls: BackendTls,
  caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>,
  owner: string,
): TranslatedBackendTls {
  const sans = subjectAltNames(tls.verifySubjectAltNames);
  const settings: CompiledBackendTlsPolicy = {
    policy: key,
    ...(tls.sni !== undefined ? { sni: tls.sni } : {}),
    ...(tls.insecureSkipVerify !== undefined ? { insecureSkipVerify: tls.insecureSkipVerify } : {}),
    ...(sans !== undefined ? { subjectAltNames: sans } : {}),
  };
  const ref = tls.caCertificateRefs?.[0];
  if (ref === undefined) return { compiled: settings };
  const bundle = caBundles.get(`${ns}/${ref.name}`);
  if (bundle?.ok === true) return { compiled: { ...settings, caPem: bundle.pem } };
  const problem =
    bundle === undefined ? `caCertificateRefs[0]: ConfigMap ${ns}/${ref.name} not found` : `caCertificateRefs[0]: ${bundle.problem}`;
  return { compiled: { policy: key, invalid: `${owner}: ${problem}` }, problem };
}

/**
 * The TLS of a JWKS fetch under a translated `backend.tls` (or `policies.tls`): SNI and verified
 * name `sni`, else `hostname` (a Service's DNS name, an AgentgatewayBackend's `static.host`).
 */
export function jwksTlsOf(compiled: CompiledBackendTlsPolicy, hostname: string): JwksTls {
  return {
    servername: compiled.sni ?? hostname,
    ...(compiled.caPem !== undefined ? { caPem: compiled.caPem } : {}),
    ...(compiled.subjectAltNames !== undefined ? { subjectAltNames: compiled.subjectAltNames } : {}),
    ...(compiled.insecureSkipVerify !== undefined ? { insecureSkipVerify: compiled.insecureSkipVerify } : {}),
  };
}

/**
 * `spec.backend.tls`: TLS from the proxy to the backends (scope `backend`). Most specific replaces:
 * Service port > Service > route rule > route > listener > Gateway; on a Service an
 * AgentgatewayPolicy's `backend.tls` wins over a Gateway API BackendTLSPolicy, which itself wins
 * over route-, listener- and Gateway-level `backend.tls` (it is a Service-level attachment).
 * `traffic.phase` does not apply to it. A CA reference that does not resolve is PartiallyValid and
 * fails closed (the compiled form refuses every connection).
 */
export const backendTlsFeature: PolicyFeature<'backendTls'> = {
  name: 'backendTls',
  scope: 'backend',
  phases: new Set(['Route']),
  merge: 'most-specific',
  translate(policy, ctx) {
    const tls = policy.spec.backend?.tls;
    if (tls === undefined) return undefined;
    const t = translateBackendTls(policy, tls, ctx.caBundles ?? new Map());
    return {
      compiled: t.compiled,
      errors: t.problem === undefined ? [] : [`backend.tls: ${t.problem}; connections to its backends fail`],
      notes: [],
      jwksRequests: [],
    };
  },
};
