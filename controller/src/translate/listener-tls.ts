import { GATEWAY_API_GROUP, SECRET_TYPE_TLS, type CompiledCertificate, type Gateway, type Listener, type ReferenceGrant } from '@agw/api';
import { referenceGranted } from './backends.js';
import { cond, type ObjectKey, type PendingCondition, type TlsSecretCheck } from './model.js';

/**
 * A Gateway's listeners as Gateway API (standard channel v1.4) judges them, and which are served.
 * Pure: certificate Secrets come checked (TranslateInput.tlsSecrets), grants as objects.
 *
 * - HTTP: served. HTTPS with `tls.mode` Terminate (the default): served with the certificates of
 *   its `certificateRefs` that resolve; each ref that does not makes ResolvedRefs=False
 *   (InvalidCertificateRef: not a core Secret, not found, not kubernetes.io/tls, bad PEM, key not
 *   matching; RefNotPermitted: another namespace without a ReferenceGrant there from this
 *   Gateway's namespace). No certificate at all: Programmed=False Invalid, not served.
 * - HTTPS with Passthrough: Accepted=False UnsupportedValue (Passthrough is protocol TLS's mode).
 * - Any other protocol (TLS, TCP, UDP, …): Accepted=False UnsupportedProtocol.
 * - HTTP and HTTPS on one port: Conflicted=True ProtocolConflict on each of them, none served.
 * A listener not served has Programmed=False Invalid; the others get the Gateway's Programmed
 * (from its proxies) from the status writer.
 */
export interface ListenerVerdict {
  readonly listener: Listener;
  /** Set when the listener goes into the proxy config. */
  readonly served?: { readonly protocol: 'HTTP' | 'HTTPS'; readonly certificates?: CompiledCertificate[] };
  /** Why it is not served, in short (the Gateway's ListenersNotValid message; details in the listener's conditions). */
  readonly problem?: string;
  readonly conditions: PendingCondition[];
}

/** Listeners an HTTPRoute attaches to: HTTP, and HTTPS that terminates TLS (Passthrough is TLSRoute's). */
export const isRouteListener = (l: Listener): boolean => l.protocol === 'HTTP' || (l.protocol === 'HTTPS' && l.tls?.mode !== 'Passthrough');

export function validateListeners(
  gw: Gateway,
  tlsSecrets: ReadonlyMap<ObjectKey, TlsSecretCheck>,
  grants: readonly ReferenceGrant[],
): ListenerVerdict[] {
  const gen = gw.metadata.generation;
  const protocolsByPort = new Map<number, Set<string>>();
  for (const l of gw.spec.listeners) {
    if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') continue;
    const set = protocolsByPort.get(l.port) ?? new Set<string>();
    set.add(l.protocol);
    protocolsByPort.set(l.port, set);
  }
  return gw.spec.listeners.map((l): ListenerVerdict => {
    const notServed = (problem: string, accepted: PendingCondition, resolved: PendingCondition, extra: PendingCondition[] = []) => ({
      listener: l,
      problem,
      conditions: [
        accepted,
        resolved,
        ...extra,
        cond('Programmed', false, 'Invalid', `listener ${l.name} is not served: ${problem} (see its other conditions)`, gen),
      ],
    });
    const refsResolved = cond('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', gen);
    if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') {
      const message = `protocol ${l.protocol} is not supported (HTTP and HTTPS only)`;
      return notServed(`protocol ${l.protocol} not supported`, cond('Accepted', false, 'UnsupportedProtocol', message, gen), refsResolved);
    }
    if (l.protocol === 'HTTPS' && l.tls?.mode === 'Passthrough') {
      const message =
        'tls.mode Passthrough is not supported for protocol HTTPS: Passthrough is the mode of protocol TLS (TLSRoute, not served here); HTTPS terminates TLS (mode Terminate)';
      return notServed('tls.mode Passthrough', cond('Accepted', false, 'UnsupportedValue', message, gen), refsResolved);
    }
    const accepted = cond('Accepted', true, 'Accepted', 'Listener accepted', gen);
    const tls = l.protocol === 'HTTPS' ? resolveCertificateRefs(gw, l, tlsSecrets, grants) : undefined;
    const [first] = tls?.problems ?? [];
    const resolved =
      first === undefined
        ? refsResolved
        : cond('ResolvedRefs', false, first.reason, (tls?.problems ?? []).map((p) => p.message).join('; '), gen);
    const protocols = protocolsByPort.get(l.port);
    if (protocols !== undefined && protocols.size > 1) {
      const message = `protocols ${[...protocols].sort().join(' and ')} share port ${l.port}`;
      return notServed(`protocol conflict on port ${l.port}`, accepted, resolved, [
        cond('Conflicted', true, 'ProtocolConflict', message, gen),
      ]);
    }
    if (tls !== undefined && tls.certificates.length === 0) return notServed('no valid certificate', accepted, resolved);
    return {
      listener: l,
      served: { protocol: l.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP', ...(tls !== undefined ? { certificates: tls.certificates } : {}) },
      conditions: [accepted, resolved],
    };
  });
}

interface RefProblem {
  readonly reason: 'InvalidCertificateRef' | 'RefNotPermitted';
  readonly message: string;
}

/**
 * The certificates of an HTTPS listener's `certificateRefs` that resolve (each Secret once, in ref
 * order), and a problem per ref that does not. Messages name the Secret, never its content.
 */
export function resolveCertificateRefs(
  gw: Gateway,
  l: Listener,
  tlsSecrets: ReadonlyMap<ObjectKey, TlsSecretCheck>,
  grants: readonly ReferenceGrant[],
): { certificates: CompiledCertificate[]; problems: RefProblem[] } {
  const gwNs = gw.metadata.namespace ?? '';
  const refs = l.tls?.certificateRefs ?? [];
  const certificates: CompiledCertificate[] = [];
  const problems: RefProblem[] = [];
  if (refs.length === 0)
    problems.push({ reason: 'InvalidCertificateRef', message: `protocol HTTPS needs tls.certificateRefs (listener ${l.name} has none)` });
  refs.forEach((ref, i) => {
    const ns = ref.namespace ?? gwNs;
    const id = `${ns}/${ref.name}`;
    const at = `tls.certificateRefs[${i}]`;
    if (ref.group !== '' || ref.kind !== 'Secret') {
      const kind = ref.group === '' ? ref.kind : `${ref.kind}.${ref.group}`;
      problems.push({ reason: 'InvalidCertificateRef', message: `${at}: ${kind} ${id} is not supported (a core Secret only)` });
      return;
    }
    if (!referenceGranted({ grants }, GATEWAY_API_GROUP, 'Gateway', gwNs, ns, ref.name, 'Secret')) {
      problems.push({
        reason: 'RefNotPermitted',
        message: `${at}: Secret ${id} is in another namespace and no ReferenceGrant in ${ns} allows Gateways of ${gwNs} to refer to it`,
      });
      return;
    }
    const check = tlsSecrets.get(id);
    if (check === undefined) {
      problems.push({
        reason: 'InvalidCertificateRef',
        message: `${at}: Secret ${id} not found (only Secrets of type ${SECRET_TYPE_TLS} are read)`,
      });
      return;
    }
    if (!check.ok) {
      problems.push({ reason: 'InvalidCertificateRef', message: `${at}: ${check.problem}` });
      return;
    }
    if (certificates.some((c) => c.name === id)) return;
    certificates.push({ name: id, certChainPem: check.certChainPem, privateKeyPem: check.privateKeyPem });
  });
  return { certificates, problems };
}
