import { PUSH_TOKEN_AUDIENCE, type AgentgatewayParametersSpec, type Gateway } from '@agw/api';

/** What every Gateway's proxy gets, from the controller's settings (chart values). */
export interface ProxyDeploymentParams {
  readonly image: string;
  /** `host:port` of the controller's config stream, as seen from proxy pods. */
  readonly controllerAddress: string;
  readonly serviceType: 'LoadBalancer' | 'NodePort' | 'ClusterIP';
  readonly resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Proxy admin port (readyz, metrics), default 15000. */
  readonly adminPort: number;
}

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const TOKEN_DIR = '/var/run/secrets/tokens';

/**
 * The objects that run one Gateway's proxy, as agentgateway's deployer makes them: a
 * ServiceAccount (its token, projected with audience `agentgateway`, is the proxy's identity on the
 * config stream), a Deployment and a Service (ports = listener ports), all named after the Gateway
 * and owned by it (deleted with it). Pure: server-side apply makes it idempotent.
 */
export function gatewayResources(
  gw: Gateway,
  defaults: ProxyDeploymentParams,
  classParams?: AgentgatewayParametersSpec,
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
  const ports = [...new Map(gw.spec.listeners.map((l) => [l.port, l])).values()].sort((a, b) => a.port - b.port);
  const minPort = Math.min(...ports.map((l) => l.port));
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata,
      spec: {
        replicas,
        selector: { matchLabels: { [GATEWAY_NAME_LABEL]: name } },
        template: {
          metadata: { labels },
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
                  'proxy/dist/main.js',
                  `--controller=${p.controllerAddress}`,
                  `--gateway=${namespace}/${name}`,
                  `--admin-port=${p.adminPort}`,
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
                volumeMounts: [{ name: 'agentgateway-token', mountPath: TOKEN_DIR, readOnly: true }],
              },
            ],
            volumes: [
              {
                name: 'agentgateway-token',
                projected: {
                  sources: [{ serviceAccountToken: { audience: PUSH_TOKEN_AUDIENCE, path: 'agentgateway', expirationSeconds: 3600 } }],
                },
              },
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

/** API path for server-side apply of one of those objects. */
export function applyPath(o: Record<string, unknown>): string {
  const md = o['metadata'] as { name: string; namespace: string };
  const plural = { ServiceAccount: 'serviceaccounts', Deployment: 'deployments', Service: 'services' }[o['kind'] as string];
  const base = o['apiVersion'] === 'v1' ? '/api/v1' : `/apis/${String(o['apiVersion'])}`;
  return `${base}/namespaces/${md.namespace}/${plural ?? ''}/${md.name}?fieldManager=agentgateway-ts&force=true`;
}
