import { SERVICE_NAME_LABEL, type EndpointSlice, type ReferenceGrant, type Service } from '@agw/api';
import type { BackendProtocol, Endpoint } from '@agw/api';
import { appendTo } from './append-to.js';

export interface BackendIndex {
  readonly services: ReadonlyMap<string, Service>;
  /** EndpointSlices by `<ns>/<service name>`. */
  readonly slices: ReadonlyMap<string, readonly EndpointSlice[]>;
  readonly grants: readonly ReferenceGrant[];
}

export function indexBackends(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  grants: readonly ReferenceGrant[],
): BackendIndex {
  const byService = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (svc === undefined) continue;
    appendTo(byService, `${s.metadata.namespace ?? ''}/${svc}`, s);
  }
  return { services: new Map(services.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s])), slices: byService, grants };
}

export type ResolvedService =
  | { readonly ok: true; readonly endpoints: Endpoint[]; readonly protocol: BackendProtocol }
  | { readonly ok: false; readonly reason: 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind'; readonly message: string };

/**
 * True when a ReferenceGrant in `toNs` lets `fromKind` objects of `fromNs` refer to core-group
 * `toKind` (Service by default, Secret for certificateRefs) `name`.
 */
export function referenceGranted(
  idx: Pick<BackendIndex, 'grants'>,
  fromGroup: string,
  fromKind: string,
  fromNs: string,
  toNs: string,
  name: string,
  toKind = 'Service',
): boolean {
  if (fromNs === toNs) return true;
  return idx.grants.some(
    (g) =>
      (g.metadata.namespace ?? '') === toNs &&
      g.spec.from.some((f) => f.group === fromGroup && f.kind === fromKind && f.namespace === fromNs) &&
      g.spec.to.some((t) => t.group === '' && t.kind === toKind && (t.name === undefined || t.name === '' || t.name === name)),
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
export function resolveServicePort(idx: BackendIndex, ns: string, name: string, port: number | undefined): ResolvedService {
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
