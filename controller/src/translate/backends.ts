import {
  BACKEND_KIND,
  POLICY_GROUP,
  SERVICE_NAME_LABEL,
  type AgentgatewayBackend,
  type EndpointSlice,
  type ReferenceGrant,
  type Service,
} from '@agw/api';
import type { BackendProtocol, Endpoint } from '@agw/api';
import { appendTo } from './append-to.js';

export interface BackendIndex {
  readonly services: ReadonlyMap<string, Service>;
  /** EndpointSlices by `<ns>/<service name>`. */
  readonly slices: ReadonlyMap<string, readonly EndpointSlice[]>;
  readonly grants: readonly ReferenceGrant[];
  /** AgentgatewayBackends by `<ns>/<name>`. */
  readonly agentgatewayBackends: ReadonlyMap<string, AgentgatewayBackend>;
}

export function indexBackends(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  grants: readonly ReferenceGrant[],
  agentgatewayBackends: readonly AgentgatewayBackend[] = [],
): BackendIndex {
  const byService = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (svc === undefined) continue;
    appendTo(byService, `${s.metadata.namespace ?? ''}/${svc}`, s);
  }
  return {
    services: new Map(services.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s])),
    slices: byService,
    grants,
    agentgatewayBackends: new Map(agentgatewayBackends.map((b) => [`${b.metadata.namespace ?? ''}/${b.metadata.name}`, b])),
  };
}

/** A reference (HTTPRoute backendRef, JWKS backendRef, policy targetRef) names an AgentgatewayBackend. */
export const isAgentgatewayBackendRef = (ref: { group?: string | undefined; kind?: string | undefined }): boolean =>
  ref.group === POLICY_GROUP && ref.kind === BACKEND_KIND;

/** `group/kind` of a reference as messages name it (`Service`, `agentgateway.dev/AgentgatewayBackend`). */
export const refKindOf = (ref: { group?: string | undefined; kind?: string | undefined }): string =>
  `${ref.group === undefined || ref.group === '' ? '' : `${ref.group}/`}${ref.kind ?? ''}`;

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/**
 * Why an AgentgatewayBackend's `static.host` cannot be connected to, or undefined: it must be a
 * host name (labels of letters, digits, `-` and `_`), an IPv4 address or an IPv6 address (without
 * brackets). The CRD only bounds its length, so `https://idp.example.com` or `idp:8443` get here.
 */
export function staticHostProblem(host: string): string | undefined {
  const ipv6 = host.includes(':');
  let ok = ipv6 || HOST_NAME.test(host);
  if (ok) {
    try {
      // The WHATWG parser refuses malformed IPv6 and out-of-range IPv4 (`999.1.1.1`).
      new URL(`http://${ipv6 ? `[${host}]` : host}/`);
    } catch {
      ok = false;
    }
  }
  return ok ? undefined : `static.host "${host}" is not a host name or IP address`;
}

/** A host as it is written in a URL (an IPv6 address in brackets). */
export const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

export type ResolvedAgentgatewayBackend =
  | { readonly ok: true; readonly backend: AgentgatewayBackend; readonly endpoint: Endpoint }
  | { readonly ok: false; readonly reason: 'BackendNotFound'; readonly found: boolean; readonly message: string };

/**
 * The endpoint of AgentgatewayBackend `ns/name`: its `static.host` (a name the proxy or the
 * fetcher resolves when connecting) and `static.port`. Not found, or not usable (a host that is
 * not one), with the message for a status.
 */
export function resolveAgentgatewayBackend(idx: BackendIndex, ns: string, name: string): ResolvedAgentgatewayBackend {
  const b = idx.agentgatewayBackends.get(`${ns}/${name}`);
  if (b === undefined) return { ok: false, reason: 'BackendNotFound', found: false, message: `${BACKEND_KIND} ${ns}/${name} not found` };
  const s = b.spec.static;
  // The schema requires static (host and port); files in local mode go through the same schema.
  if (s?.host === undefined || s.port === undefined)
    return { ok: false, reason: 'BackendNotFound', found: true, message: `only static backends are supported; backend: ${ns}/${name}` };
  const problem = staticHostProblem(s.host);
  if (problem !== undefined)
    return { ok: false, reason: 'BackendNotFound', found: true, message: `${BACKEND_KIND} ${ns}/${name} is not valid: ${problem}` };
  return { ok: true, backend: b, endpoint: { host: s.host, port: s.port } };
}

export type ResolvedService =
  | { readonly ok: true; readonly endpoints: Endpoint[]; readonly protocol: BackendProtocol }
  | { readonly ok: false; readonly reason: 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind'; readonly message: string };

/**
 * True when a ReferenceGrant in `toNs` lets `fromKind` objects of `fromNs` refer to `toKind` of
 * `toGroup` (a core Service by default, Secret for certificateRefs, agentgateway.dev
 * AgentgatewayBackend) `name`.
 */
export function referenceGranted(
  idx: Pick<BackendIndex, 'grants'>,
  fromGroup: string,
  fromKind: string,
  fromNs: string,
  toNs: string,
  name: string,
  toKind = 'Service',
  toGroup = '',
): boolean {
  if (fromNs === toNs) return true;
  return idx.grants.some(
    (g) =>
      (g.metadata.namespace ?? '') === toNs &&
      g.spec.from.some((f) => f.group === fromGroup && f.kind === fromKind && f.namespace === fromNs) &&
      g.spec.to.some((t) => t.group === toGroup && t.kind === toKind && (t.name === undefined || t.name === '' || t.name === name)),
  );
}

/**
 * The protocol to a Service port's endpoints by its `appProtocol` (Gateway API, GEP-1911):
 * `kubernetes.io/h2c` is HTTP/2 with prior knowledge; `kubernetes.io/ws`, `http`, none or any
 * other value is HTTP/1.1 (WebSocket upgrades are HTTP/1.1 requests).
 */
export function backendProtocolOf(appProtocol: string | null | undefined): BackendProtocol {
  return appProtocol === 'kubernetes.io/h2c' ? 'h2c' : 'http1';
}

/**
 * Ready endpoint addresses of Service `ns/name` on `port` (the Service port; the EndpointSlice port
 * of the same name carries the target port), and the port's protocol. Not-ready endpoints are left out.
 */
/**
 * Resolutions of one pass's index, by namespace, name and port: many rules (and JWKS fetches)
 * name the same Service port, and the answer cannot change within a pass. Nested Maps keyed by the
 * strings the parsed objects already hold: no key string is built per lookup.
 */
const resolvedByIndex = new WeakMap<BackendIndex, Map<string, Map<string, Map<number | undefined, ResolvedService>>>>();

export function resolveServicePort(idx: BackendIndex, ns: string, name: string, port: number | undefined): ResolvedService {
  let byNs = resolvedByIndex.get(idx);
  if (byNs === undefined) resolvedByIndex.set(idx, (byNs = new Map()));
  let byName = byNs.get(ns);
  if (byName === undefined) byNs.set(ns, (byName = new Map()));
  let byPort = byName.get(name);
  if (byPort === undefined) byName.set(name, (byPort = new Map()));
  let r = byPort.get(port);
  if (r === undefined) byPort.set(port, (r = resolveUncached(idx, ns, name, port)));
  return r;
}

function resolveUncached(idx: BackendIndex, ns: string, name: string, port: number | undefined): ResolvedService {
  const svc = idx.services.get(`${ns}/${name}`);
  if (svc === undefined) return { ok: false, reason: 'BackendNotFound', message: `Service ${ns}/${name} not found` };
  if (port === undefined) return { ok: false, reason: 'BackendNotFound', message: `backendRef to Service ${ns}/${name} needs a port` };
  const svcPort = svc.spec.ports.find((p) => p.port === port);
  if (svcPort === undefined) return { ok: false, reason: 'BackendNotFound', message: `port ${port} not found on Service ${ns}/${name}` };
  const endpoints: Endpoint[] = [];
  for (const slice of idx.slices.get(`${ns}/${name}`) ?? []) {
    const slicePort =
      slice.ports.find((p) => (p.name ?? '') === (svcPort.name ?? '')) ?? (slice.ports.length === 1 ? slice.ports[0] : undefined);
    const target = slicePort?.port ?? (typeof svcPort.targetPort === 'number' ? svcPort.targetPort : svcPort.port);
    if (target === undefined || target === null) continue;
    for (const ep of slice.endpoints) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses) endpoints.push({ host: address, port: target });
    }
  }
  return { ok: true, endpoints, protocol: backendProtocolOf(svcPort.appProtocol) };
}
