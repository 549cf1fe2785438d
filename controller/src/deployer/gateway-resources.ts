import { PUSH_TOKEN_AUDIENCE, type AgentgatewayParametersSpec, type Gateway } from '@agw/api';
import { createHash } from 'node:crypto';
import { proxySizing } from './proxy-sizing.js';

/** What every Gateway's proxy gets, from the controller's settings (chart values). */
export interface ProxyDeploymentParams {
  readonly image: string;
  /** `host:port` of the controller's config stream, as seen from proxy pods. */
  readonly controllerAddress: string;
  readonly serviceType: 'LoadBalancer' | 'NodePort' | 'ClusterIP';
  readonly resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Proxy admin port (readyz, metrics), default 15000. */
  readonly adminPort: number;
  /**
   * PEM file of the CA that signed the config stream's certificate (the chart mounts the stream's
   * Secret's ca.crt). Set: proxies dial the stream over TLS, verifying the host part of
   * `controllerAddress`; unset: plaintext. Read at each deployment, so a new CA reaches the proxies.
   */
  readonly controllerCaFile?: string;
}

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const TOKEN_DIR = '/var/run/secrets/tokens';
/**
 * The CA of the config stream, copied into each Gateway's namespace (one per namespace, shared).
 * Not `*-xds-ca`: the chart's own `<release>-xds-ca` may live in a Gateway's namespace.
 */
export const XDS_CA_CONFIGMAP = 'agentgateway-controller-ca';
export const XDS_CA_DIR = '/etc/agentgateway/xds-ca';
/** Pod template annotation: a new CA rolls the proxies (they read it at start). */
export const XDS_CA_HASH_ANNOTATION = 'agentgateway.dev/xds-ca-sha256';
const FIELD_MANAGER = 'agentgateway-ts';

/** `host` of `host:port`, `[v6]:port`, or a bare host: the name the stream's certificate is checked against. */
export function hostOf(address: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (v6) return v6[1] as string;
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/**
 * The objects that run one Gateway's proxy, as agentgateway's deployer makes them: a
 * ServiceAccount (its token, projected with audience `agentgateway`, is the proxy's identity on the
 * config stream), a Deployment and a Service (ports = listener ports), all named after the Gateway
 * and owned by it (deleted with it). Pure: server-side apply makes it idempotent.
 *
 * With `controllerCa` (PEM; the config stream is TLS), first the ConfigMap `agentgateway-controller-ca`
 * holding it in the Gateway's namespace (a pod mounts ConfigMaps of its own namespace only): one
 * per namespace, shared by its Gateways, each of them a (non-controller) owner applying its own
 * ownerReference with its own field manager (`fieldManagerOf`), so it goes with the last of them.
 * The proxy mounts it and verifies the stream against it, with the host of `controllerAddress` as
 * server name.
 */
export function gatewayResources(
  gw: Gateway,
  defaults: ProxyDeploymentParams,
  classParams?: AgentgatewayParametersSpec,
  controllerCa?: string,
): Array<Record<string, unknown>> {
  // The class's AgentgatewayParameters override the controller's defaults field by field.
  const p = {
    ...defaults,
    ...(classParams?.image !== undefined ? { image: classParams.image } : {}),
    ...(classParams?.serviceType !== undefined ? { serviceType: classParams.serviceType } : {}),
    ...(classParams?.resources !== undefined ? { resources: classParams.resources } : {}),
  };
  const replicas = classParams?.replicas ?? 1;
  const name = gw.metadata.name;
  const namespace = gw.metadata.namespace ?? 'default';
  const labels = {
    'app.kubernetes.io/name': 'agentgateway-proxy',
    'app.kubernetes.io/managed-by': 'agentgateway-ts',
    [GATEWAY_NAME_LABEL]: name,
  };
  const owner = [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      name,
      uid: gw.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const metadata = { name, namespace, labels, ownerReferences: owner };
  const ca =
    controllerCa === undefined
      ? undefined
      : {
          configMap: {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: XDS_CA_CONFIGMAP,
              namespace,
              // No gateway-name label: the ConfigMap is every Gateway's of the namespace.
              labels: { 'app.kubernetes.io/name': 'agentgateway-proxy', 'app.kubernetes.io/managed-by': 'agentgateway-ts' },
              ownerReferences: owner.map((o) => ({ ...o, controller: false })),
            },
            data: { 'ca.crt': controllerCa },
          },
          hash: createHash('sha256').update(controllerCa).digest('hex'),
        };
  const ports = [...new Map(gw.spec.listeners.map((l) => [l.port, l])).values()].sort((a, b) => a.port - b.port);
  const minPort = Math.min(...ports.map((l) => l.port));
  // Node sees the node's CPUs and memory, not the container's: workers and heap from the resources (proxy-sizing.ts).
  const sizing = proxySizing(p.resources);
  return [
    ...(ca !== undefined ? [ca.configMap] : []),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata,
      spec: {
        replicas,
        selector: { matchLabels: { [GATEWAY_NAME_LABEL]: name } },
        template: {
          metadata: { labels, ...(ca !== undefined ? { annotations: { [XDS_CA_HASH_ANNOTATION]: ca.hash } } : {}) },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 10101,
              runAsGroup: 10101,
              seccompProfile: { type: 'RuntimeDefault' },
              // Lets the non-root proxy bind listener ports below 1024 (e.g. 80), as upstream does.
              ...(minPort < 1024 ? { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] } : {}),
            },
            containers: [
              {
                name: 'agent-gateway',
                image: p.image,
                args: [
                  'node',
                  ...(sizing.maxOldSpaceMiB !== undefined ? [`--max-old-space-size=${sizing.maxOldSpaceMiB}`] : []),
                  'proxy/dist/main.js',
                  `--controller=${p.controllerAddress}`,
                  `--gateway=${namespace}/${name}`,
                  `--admin-port=${p.adminPort}`,
                  `--workers=${sizing.workers}`,
                  ...(ca !== undefined
                    ? [`--controller-ca=${XDS_CA_DIR}/ca.crt`, `--controller-server-name=${hostOf(p.controllerAddress)}`]
                    : []),
                ],
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                ports: [
                  ...ports.map((l) => ({ name: `listener-${l.port}`, containerPort: l.port, protocol: 'TCP' })),
                  { name: 'admin', containerPort: p.adminPort, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/readyz', port: 'admin' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 10 },
                resources: p.resources,
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'agentgateway-token', mountPath: TOKEN_DIR, readOnly: true },
                  ...(ca !== undefined ? [{ name: XDS_CA_CONFIGMAP, mountPath: XDS_CA_DIR, readOnly: true }] : []),
                ],
              },
            ],
            volumes: [
              {
                name: 'agentgateway-token',
                projected: {
                  sources: [{ serviceAccountToken: { audience: PUSH_TOKEN_AUDIENCE, path: 'agentgateway', expirationSeconds: 3600 } }],
                },
              },
              ...(ca !== undefined
                ? [{ name: XDS_CA_CONFIGMAP, configMap: { name: XDS_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]
                : []),
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: {
        type: p.serviceType,
        selector: { [GATEWAY_NAME_LABEL]: name },
        ports: ports.map((l) => ({ name: `listener-${l.port}`, port: l.port, targetPort: l.port, protocol: 'TCP' })),
      },
    },
  ];
}

/**
 * Server-side apply field manager of one of those objects: `agentgateway-ts`, or for the shared CA
 * ConfigMap `agentgateway-ts/<Gateway uid>`, so that each Gateway's apply keeps the others'
 * ownerReferences (a manager's apply drops the list entries it set before and no longer sends).
 */
export function fieldManagerOf(o: Record<string, unknown>): string {
  if (o['kind'] !== 'ConfigMap') return FIELD_MANAGER;
  const owners = (o['metadata'] as { ownerReferences?: Array<{ uid: string }> }).ownerReferences ?? [];
  return `${FIELD_MANAGER}/${owners[0]?.uid ?? ''}`;
}

/** API path for server-side apply of one of those objects. */
export function applyPath(o: Record<string, unknown>): string {
  const md = o['metadata'] as { name: string; namespace: string };
  const plural = { ServiceAccount: 'serviceaccounts', Deployment: 'deployments', Service: 'services', ConfigMap: 'configmaps' }[
    o['kind'] as string
  ];
  const base = o['apiVersion'] === 'v1' ? '/api/v1' : `/apis/${String(o['apiVersion'])}`;
  const manager = encodeURIComponent(fieldManagerOf(o));
  return `${base}/namespaces/${md.namespace}/${plural ?? ''}/${md.name}?fieldManager=${manager}&force=true`;
}
