/** The API resources the controller watches: list/watch path and object kind. */
export interface WatchedResource {
  readonly kind: string;
  readonly apiVersion: string;
  /** Cluster-wide collection path, e.g. /apis/gateway.networking.k8s.io/v1/gateways. */
  readonly path: string;
  /** Namespaced resources: path of one object's status subresource. */
  readonly statusPath?: (ns: string, name: string) => string;
  readonly labelSelector?: string;
}

const gw = (plural: string, version = 'v1') => `/apis/gateway.networking.k8s.io/${version}/${plural}`;
const nsPath = (base: string, plural: string) => (ns: string, name: string) => `${base}/namespaces/${ns}/${plural}/${name}/status`;

export const WATCHED = {
  gatewayClasses: { kind: 'GatewayClass', apiVersion: 'gateway.networking.k8s.io/v1', path: gw('gatewayclasses'), statusPath: (_ns: string, name: string) => `${gw('gatewayclasses')}/${name}/status` },
  gateways: { kind: 'Gateway', apiVersion: 'gateway.networking.k8s.io/v1', path: gw('gateways'), statusPath: nsPath('/apis/gateway.networking.k8s.io/v1', 'gateways') },
  httpRoutes: { kind: 'HTTPRoute', apiVersion: 'gateway.networking.k8s.io/v1', path: gw('httproutes'), statusPath: nsPath('/apis/gateway.networking.k8s.io/v1', 'httproutes') },
  referenceGrants: { kind: 'ReferenceGrant', apiVersion: 'gateway.networking.k8s.io/v1beta1', path: gw('referencegrants', 'v1beta1') },
  policies: { kind: 'AgentgatewayPolicy', apiVersion: 'agentgateway.dev/v1alpha1', path: '/apis/agentgateway.dev/v1alpha1/agentgatewaypolicies', statusPath: nsPath('/apis/agentgateway.dev/v1alpha1', 'agentgatewaypolicies') },
  parameters: { kind: 'AgentgatewayParameters', apiVersion: 'agentgateway.dev/v1alpha1', path: '/apis/agentgateway.dev/v1alpha1/agentgatewayparameters', statusPath: nsPath('/apis/agentgateway.dev/v1alpha1', 'agentgatewayparameters') },
  services: { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services' },
  endpointSlices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', path: '/apis/discovery.k8s.io/v1/endpointslices' },
} as const satisfies Record<string, WatchedResource>;
export type WatchedName = keyof typeof WATCHED;

/** Path of an object's status subresource; throws for a resource whose status we never write. */
export function statusPathOf(resource: WatchedName, ns: string, name: string): string {
  const r: WatchedResource = WATCHED[resource];
  if (r.statusPath === undefined) throw new Error(`${r.kind} has no status written by this controller`);
  return r.statusPath(ns, name);
}
