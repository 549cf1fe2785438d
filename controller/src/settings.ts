import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { PORT, readWholeNumberFlag, TIMER_MS } from '@agw/api';

/** Every setting of the controller binary: flags override env (AGW_* as upstream), which override defaults. */
export interface ControllerSettings {
  /** Kubeconfig file; unset: in-cluster config (or the default kubeconfig outside a cluster). */
  readonly kubeconfig?: string;
  /** Namespace of the controller: leases, JWKS ConfigMaps (default agentgateway-system). */
  readonly namespace: string;
  readonly controllerName: string;
  readonly className: string;
  /** gRPC config server address. */
  readonly xdsHost: string;
  readonly xdsPort: number;
  /** Health and metrics HTTP port. */
  readonly adminPort: number;
  readonly adminHost: string;
  /** `tokenreview` (default) or `none` (development only). */
  readonly proxyAuth: 'tokenreview' | 'none';
  readonly leaderElection: boolean;
  readonly identity: string;
  readonly logLevel: string;
  /** Deploy each Gateway's proxy: image (AGW_PROXY_IMAGE); unset: no Deployment is created. */
  readonly proxyImage?: string;
  /** Config stream address proxies dial (default agentgateway.<namespace>.svc:<xds port>). */
  readonly proxyControllerAddress: string;
  /**
   * PEM file of the CA of the config stream's certificate: the deployer copies it into each
   * Gateway's namespace and its proxies dial the stream over TLS, verifying the host part of
   * `proxyControllerAddress`. Unset: deployed proxies dial plaintext.
   */
  readonly proxyControllerCaFile?: string;
  readonly proxyServiceType: 'LoadBalancer' | 'NodePort' | 'ClusterIP';
  /** JSON of the proxy container's resources (AGW_PROXY_RESOURCES). */
  readonly proxyResources: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Least time between forced JWKS refetches of one URL (unknown kid), ms (default 30 000). */
  readonly jwksRefetchMinIntervalMs: number;
  /** PEM certificate chain and key files: serve the config stream over TLS (both, or neither). */
  readonly xdsTlsCertFile?: string;
  readonly xdsTlsKeyFile?: string;
  /**
   * Push HTTPS listeners' private keys over a plaintext config stream (no --xds-tls-cert/key).
   * Default false: such listeners are not sent and the Gateway's status says why. Development only.
   */
  readonly allowPlaintextKeyPush: boolean;
}

/** `--help`: every flag (each also read from its env variable: docs/operations.md). */
export const USAGE = `usage: node controller/dist/main.js [flags]

The agentgateway-ts controller: watches Gateway API objects and AgentgatewayPolicies, pushes each
Gateway's config to its proxies, writes statuses. Every flag also has an env variable (docs/operations.md).

  --kubeconfig <file>                 API server access (KUBECONFIG; default: in-cluster)
  --namespace <ns>                    Lease and JWKS ConfigMaps (POD_NAMESPACE; default agentgateway-system)
  --controller-name <name>            GatewayClass controllerName served (default agentgateway.dev/agentgateway)
  --class-name <name>                 GatewayClass created at start (default agentgateway)
  --xds-host <host> --xds-port <port> gRPC config stream (default 0.0.0.0:9978)
  --xds-tls-cert <pem> --xds-tls-key <pem>   serve the config stream over TLS (needed to push HTTPS
                                      listeners' private keys to proxies)
  --allow-plaintext-key-push          development only: push private keys over a plaintext config
                                      stream (AGW_ALLOW_PLAINTEXT_KEY_PUSH=true; default: HTTPS
                                      listeners are not sent and the Gateway's status says why)
  --admin-host <host> --admin-port <port>    /healthz, /readyz, /metrics (default 0.0.0.0:9092)
  --proxy-auth tokenreview|none       how proxies are authenticated (default tokenreview)
  --leader-elect true|false           Lease-based leader election (default true)
  --identity <id>                     this replica's identity in the Lease (default: host name)
  --proxy-image <image>               deploy each Gateway's proxy with this image (default: no deployer)
  --proxy-controller-address <addr>   what proxy pods dial (default agentgateway.<ns>.svc:<xds port>)
  --proxy-controller-ca-file <pem>    CA of the config stream's certificate, copied to each Gateway's
                                      namespace: deployed proxies dial over TLS, checking the host of
                                      --proxy-controller-address (default: they dial plaintext)
  --proxy-service-type <type>         Service type per Gateway (default LoadBalancer)
  --jwks-refetch-min-interval-ms <ms> least time between forced refetches of one JWKS URL (default 30000)
  --log-level <level>                 pino level (default info)
  -h, --help                          this text
`;

export function readSettings(argv: readonly string[], env: NodeJS.ProcessEnv): ControllerSettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'controller-name': { type: 'string' },
      'class-name': { type: 'string' },
      'xds-host': { type: 'string' },
      'xds-port': { type: 'string' },
      'admin-port': { type: 'string' },
      'admin-host': { type: 'string' },
      'proxy-auth': { type: 'string' },
      'leader-elect': { type: 'string' },
      identity: { type: 'string' },
      'log-level': { type: 'string' },
      'proxy-image': { type: 'string' },
      'jwks-refetch-min-interval-ms': { type: 'string' },
      'xds-tls-cert': { type: 'string' },
      'xds-tls-key': { type: 'string' },
      'allow-plaintext-key-push': { type: 'boolean' },
      'proxy-controller-address': { type: 'string' },
      'proxy-controller-ca-file': { type: 'string' },
      'proxy-service-type': { type: 'string' },
    },
  });
  const proxyAuth = values['proxy-auth'] ?? env['AGW_PROXY_AUTH'] ?? 'tokenreview';
  if (proxyAuth !== 'tokenreview' && proxyAuth !== 'none') throw new Error(`--proxy-auth ${proxyAuth}: expected tokenreview or none`);
  const kubeconfig = values.kubeconfig ?? env['KUBECONFIG'];
  const namespace = values.namespace ?? env['POD_NAMESPACE'] ?? 'agentgateway-system';
  const xdsPort = readWholeNumberFlag('xds-port', values['xds-port'] ?? env['AGW_XDS_PORT'], 9978, PORT);
  const serviceType = values['proxy-service-type'] ?? env['AGW_PROXY_SERVICE_TYPE'] ?? 'LoadBalancer';
  if (!['LoadBalancer', 'NodePort', 'ClusterIP'].includes(serviceType))
    throw new Error(`--proxy-service-type ${serviceType}: expected LoadBalancer, NodePort or ClusterIP`);
  const proxyImage = values['proxy-image'] ?? env['AGW_PROXY_IMAGE'];
  const proxyCaFile = values['proxy-controller-ca-file'] ?? env['AGW_PROXY_CONTROLLER_CA_FILE'];
  const tlsCert = values['xds-tls-cert'] ?? env['AGW_XDS_TLS_CERT'];
  const tlsKey = values['xds-tls-key'] ?? env['AGW_XDS_TLS_KEY'];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new Error('--xds-tls-cert and --xds-tls-key go together');
  return {
    ...(tlsCert !== undefined && tlsKey !== undefined ? { xdsTlsCertFile: tlsCert, xdsTlsKeyFile: tlsKey } : {}),
    ...(proxyImage ? { proxyImage } : {}),
    ...(proxyCaFile ? { proxyControllerCaFile: proxyCaFile } : {}),
    proxyControllerAddress:
      values['proxy-controller-address'] ?? env['AGW_PROXY_CONTROLLER_ADDRESS'] ?? `agentgateway.${namespace}.svc:${xdsPort}`,
    proxyServiceType: serviceType as ControllerSettings['proxyServiceType'],
    proxyResources: readProxyResources(env['AGW_PROXY_RESOURCES']),
    ...(kubeconfig ? { kubeconfig } : {}),
    namespace,
    controllerName: values['controller-name'] ?? env['AGW_CONTROLLER_NAME'] ?? 'agentgateway.dev/agentgateway',
    className: values['class-name'] ?? env['AGW_AGENTGATEWAY_CLASS_NAME'] ?? 'agentgateway',
    xdsHost: values['xds-host'] ?? env['AGW_XDS_HOST'] ?? '0.0.0.0',
    xdsPort,
    adminPort: readWholeNumberFlag('admin-port', values['admin-port'] ?? env['AGW_ADMIN_PORT'], 9092, PORT),
    adminHost: values['admin-host'] ?? env['AGW_ADMIN_HOST'] ?? '0.0.0.0',
    proxyAuth,
    leaderElection: (values['leader-elect'] ?? env['AGW_LEADER_ELECT'] ?? 'true') !== 'false',
    identity: values.identity ?? env['POD_NAME'] ?? hostname(),
    logLevel: values['log-level'] ?? env['AGW_LOG_LEVEL'] ?? 'info',
    allowPlaintextKeyPush: values['allow-plaintext-key-push'] ?? env['AGW_ALLOW_PLAINTEXT_KEY_PUSH'] === 'true',
    jwksRefetchMinIntervalMs: readWholeNumberFlag(
      'jwks-refetch-min-interval-ms',
      values['jwks-refetch-min-interval-ms'] ?? env['AGW_JWKS_REFETCH_MIN_INTERVAL_MS'],
      30_000,
      TIMER_MS,
    ),
  };
}

/** AGW_PROXY_RESOURCES (the chart's proxy.resources as JSON): an object, or a one-line error at start. */
function readProxyResources(raw: string | undefined): ControllerSettings['proxyResources'] {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`AGW_PROXY_RESOURCES is not JSON: ${(err as Error).message}`);
  }
  if (parsed === null) return {}; // helm's toJson of an unset value
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('AGW_PROXY_RESOURCES must be a JSON object (a container resources block: requests, limits)');
  return parsed as ControllerSettings['proxyResources'];
}
