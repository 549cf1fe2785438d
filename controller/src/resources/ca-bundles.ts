import {
  CA_CERTIFICATE_KEY,
  boundedMemo,
  type AgentgatewayBackend,
  type AgentgatewayPolicy,
  type BackendTlsPolicy,
  type ConfigMap,
} from '@agw/api';
import { X509Certificate } from 'node:crypto';
import type { CaBundleCheck, ObjectKey } from '../translate/model.js';

/**
 * The CA bundles translate gets: the `ca.crt` of the ConfigMaps some BackendTLSPolicy's
 * `validation.caCertificateRefs`, some AgentgatewayPolicy's `backend.tls.caCertificateRefs` or
 * some AgentgatewayBackend's `policies.tls.caCertificateRefs` names (ConfigMaps in the object's
 * namespace), each checked here, at the edge, with node:crypto
 * (translate imports no `node:*`). Every other ConfigMap the informer holds (the controller's
 * persisted key sets among them) is left out.
 */
export function referencedCaBundles(
  policies: readonly BackendTlsPolicy[],
  configMaps: readonly ConfigMap[],
  agentgatewayPolicies: readonly AgentgatewayPolicy[] = [],
  agentgatewayBackends: readonly AgentgatewayBackend[] = [],
): Map<ObjectKey, CaBundleCheck> {
  const wanted = caBundleRefs(policies, agentgatewayPolicies, agentgatewayBackends);
  const out = new Map<ObjectKey, CaBundleCheck>();
  if (wanted.size === 0) return out;
  for (const cm of configMaps) {
    const key = `${cm.metadata.namespace ?? ''}/${cm.metadata.name}`;
    if (wanted.has(key)) out.set(key, checkCaBundle(cm));
  }
  return out;
}

/** The ConfigMaps (`<ns>/<name>`) the objects name as CA bundles: the only ones a pass reads. */
export function caBundleRefs(
  policies: readonly BackendTlsPolicy[],
  agentgatewayPolicies: readonly AgentgatewayPolicy[] = [],
  agentgatewayBackends: readonly AgentgatewayBackend[] = [],
): Set<ObjectKey> {
  const wanted = new Set<ObjectKey>();
  for (const p of policies)
    for (const ref of p.spec.validation.caCertificateRefs ?? [])
      if (ref.group === '' && ref.kind === 'ConfigMap') wanted.add(`${p.metadata.namespace ?? ''}/${ref.name}`);
  for (const p of agentgatewayPolicies)
    for (const ref of p.spec.backend?.tls?.caCertificateRefs ?? []) wanted.add(`${p.metadata.namespace ?? ''}/${ref.name}`);
  for (const b of agentgatewayBackends)
    for (const ref of b.spec.policies?.tls?.caCertificateRefs ?? []) wanted.add(`${b.metadata.namespace ?? ''}/${ref.name}`);
  return wanted;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * One ConfigMap's `ca.crt`: present, at least one PEM certificate, every one a valid X.509
 * certificate. The problem names the ConfigMap and the fault (Gateway API: "which reference is
 * invalid and why"), never node's error text.
 */
export function checkCaBundle(cm: ConfigMap): CaBundleCheck {
  const id = `ConfigMap ${cm.metadata.namespace ?? ''}/${cm.metadata.name}`;
  const pem = cm.data[CA_CERTIFICATE_KEY];
  if (pem === undefined || pem.trim() === '') return { ok: false, problem: `${id} has no ${CA_CERTIFICATE_KEY}` };
  const problem = checkPem(pem).problem;
  return problem === undefined ? { ok: true, pem } : { ok: false, problem: `${id}: ${problem}` };
}

/** Memoized by content (every reconcile sees every referenced ConfigMap; they rarely change). */
const checkPem = boundedMemo((pem: string): { problem?: string } => {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return { problem: `${CA_CERTIFICATE_KEY} holds no PEM certificate` };
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return { problem: `${CA_CERTIFICATE_KEY}: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate` };
    }
  }
  return {};
}, 1_000);
