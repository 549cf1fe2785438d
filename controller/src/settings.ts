import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

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
}

export function readSettings(argv: readonly string[], env: NodeJS.ProcessEnv): ControllerSettings {
  const { values } = parseArgs({
    args: [...argv], options: {
      kubeconfig: { type: 'string' }, namespace: { type: 'string' }, 'controller-name': { type: 'string' }, 'class-name': { type: 'string' },
      'xds-host': { type: 'string' }, 'xds-port': { type: 'string' }, 'admin-port': { type: 'string' }, 'admin-host': { type: 'string' },
      'proxy-auth': { type: 'string' }, 'leader-elect': { type: 'string' }, identity: { type: 'string' }, 'log-level': { type: 'string' },
    },
  });
  const proxyAuth = values['proxy-auth'] ?? env['AGW_PROXY_AUTH'] ?? 'tokenreview';
  if (proxyAuth !== 'tokenreview' && proxyAuth !== 'none') throw new Error(`--proxy-auth ${proxyAuth}: expected tokenreview or none`);
  const kubeconfig = values.kubeconfig ?? env['KUBECONFIG'];
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    namespace: values.namespace ?? env['POD_NAMESPACE'] ?? 'agentgateway-system',
    controllerName: values['controller-name'] ?? env['AGW_CONTROLLER_NAME'] ?? 'agentgateway.dev/agentgateway',
    className: values['class-name'] ?? env['AGW_AGENTGATEWAY_CLASS_NAME'] ?? 'agentgateway',
    xdsHost: values['xds-host'] ?? env['AGW_XDS_HOST'] ?? '0.0.0.0',
    xdsPort: Number(values['xds-port'] ?? env['AGW_XDS_PORT'] ?? 9978),
    adminPort: Number(values['admin-port'] ?? env['AGW_ADMIN_PORT'] ?? 9092),
    adminHost: values['admin-host'] ?? env['AGW_ADMIN_HOST'] ?? '0.0.0.0',
    proxyAuth,
    leaderElection: (values['leader-elect'] ?? env['AGW_LEADER_ELECT'] ?? 'true') !== 'false',
    identity: values.identity ?? env['POD_NAME'] ?? hostname(),
    logLevel: values['log-level'] ?? env['AGW_LOG_LEVEL'] ?? 'info',
  };
}
