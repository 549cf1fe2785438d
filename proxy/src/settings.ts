import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { cgroupCpus } from './cgroup-cpus.js';
import { parsePortMap } from './port-map.js';
import { DEFAULT_PATH_RULES, type PathRules } from './routing/request-target.js';
import { TUNNEL_IDLE_TIMEOUT_MS } from './plugins/upgrade.js';
import { PORT, readWholeNumberFlag as num, TIMER_MS, type WholeNumberRange } from '@agw/api';

/** Worker processes: 1 to 64 (as `agw local --workers`; more than the CPUs only adds switching). */
const WORKERS: WholeNumberRange = { min: 1, max: 64, unit: 'worker processes' };
/** Verified-token cache entries per policy: 0 disables; 10 million (~4 GiB of entries) is past any sane bound. */
const CACHE_ENTRIES: WholeNumberRange = { min: 0, max: 10_000_000, unit: 'entries' };

/**
 * One worker per CPU this process may use: the CPUs Node sees, bounded by a cgroup CPU quota
 * (a container limited to 2 CPUs on a 32-core node runs 2 workers, not 32), and by WORKERS.max.
 */
export function defaultWorkers(): number {
  return Math.min(availableParallelism(), cgroupCpus() ?? WORKERS.max, WORKERS.max);
}

/** Every setting of the proxy binary: flags override env, which override defaults. */
export interface ProxySettings {
  /** Serve a config file (JSON or YAML, hot-reloaded) instead of the controller's stream. */
  readonly configFile?: string;
  /** `host:port` of the controller's config server. */
  readonly controller?: string;
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly proxyId: string;
  /** Reads the bearer token for the controller (projected ServiceAccount token), at each connect. */
  readonly token: () => string | undefined;
  readonly host: string;
  readonly portMap: ReadonlyMap<number, number>;
  readonly adminPort: number;
  /** After SIGTERM: readyz fails at once, listeners close after this long, ms (default 5 000). */
  readonly drainMs: number;
  readonly logLevel: string;
  /** Verified-token cache entries per JWT policy (default 10 000; 0 disables the cache). */
  readonly jwtCacheEntries: number;
  /** Worker processes sharing the listener ports (default: one per available CPU; 1 = no cluster). */
  readonly workers: number;
  /** Longest wait for upstream response headers, and between body chunks, ms (default 30 000). */
  readonly upstreamTimeoutMs: number;
  /** A tunnel (WebSocket) with no byte either way for this long is closed, ms (default 3 600 000; 0: never). */
  readonly tunnelIdleTimeoutMs: number;
  /** After waiting for new keys of a JWKS URL, no new wait (nor refetch request) for it for this long, ms (default 30 000, as the controller). */
  readonly refetchIntervalMs: number;
  /** Index of this process among the --workers (set by the primary for each worker it forks). */
  readonly workerIndex: number;
  /** PEM CA file: reach the controller over TLS, verified against it. */
  readonly controllerCaFile?: string;
  /** Name expected in the controller's certificate, if not the address host. */
  readonly controllerServerName?: string;
  /**
   * Development only: accept private keys (HTTPS listeners) over a plaintext config stream (no
   * --controller-ca). Default false: such a snapshot is NACKed.
   */
  readonly allowPlaintextKeyPush: boolean;
  /** Request-target rules (docs/security.md); the defaults are the strict ones. */
  readonly pathRules: PathRules;
}

/** `--path-merge-slashes true|false` (default true), `--path-semicolons reject|keep` (default reject). */
function readPathRules(mergeSlashes: string | undefined, semicolons: string | undefined): PathRules {
  if (mergeSlashes !== undefined && mergeSlashes !== 'true' && mergeSlashes !== 'false')
    throw new Error(`--path-merge-slashes takes true or false, not ${JSON.stringify(mergeSlashes)}`);
  if (semicolons !== undefined && semicolons !== 'reject' && semicolons !== 'keep')
    throw new Error(`--path-semicolons takes reject or keep, not ${JSON.stringify(semicolons)}`);
  return {
    mergeSlashes: mergeSlashes === undefined ? DEFAULT_PATH_RULES.mergeSlashes : mergeSlashes === 'true',
    semicolons: semicolons ?? DEFAULT_PATH_RULES.semicolons,
  };
}

/** Default path of the projected token the deployer mounts. */
export const DEFAULT_TOKEN_FILE = '/var/run/secrets/tokens/agentgateway';

/** `--help`: every flag (each also read from its env variable: docs/operations.md). */
export const USAGE = `usage: node proxy/dist/main.js (--config <file> | --controller <host:port> --gateway <ns>/<name>) [flags]

The agentgateway-ts proxy: serves one Gateway's listeners with its routes and policies. Every flag
also has an env variable (docs/operations.md).

  --config <file>                     serve a config file (JSON or YAML, hot-reloaded)
  --controller <host:port>            the controller's config stream
  --gateway <ns>/<name>               the Gateway to serve (with --controller)
  --controller-ca <pem> --controller-server-name <name>   reach the controller over TLS
  --allow-plaintext-key-push          development only: accept HTTPS listeners' private keys over a
                                      plaintext stream (without --controller-ca they are NACKed)
  --token-file <file>                 bearer token for the stream (default /var/run/secrets/tokens/agentgateway)
  --proxy-id <id>                     this proxy's id (default: POD_NAME or the host name)
  --host <addr>                       listen address (default 0.0.0.0)
  --port-map <listener>=<local>       bind a Gateway listener port to another local port (repeatable)
  --admin-port <port>                 /healthz, /readyz, /metrics, /config_dump (default 15000)
  --workers <n>                       worker processes sharing the ports (default: one per CPU)
  --drain-ms <ms>                     after SIGTERM, listeners close after this long (default 5000)
  --jwt-cache-entries <n>             verified-token cache bound per policy (default 10000; 0 disables)
  --upstream-timeout-ms <ms>          wait for upstream response headers (default 30000)
  --tunnel-idle-timeout-ms <ms>       close a WebSocket tunnel idle both ways this long (default 3600000; 0: never)
  --refetch-interval-ms <ms>          no new wait for keys of a JWKS URL for this long (default 30000)
  --path-semicolons reject|keep       ';' in paths: refused (default) or an ordinary character
  --path-merge-slashes true|false     merge '//' in paths (default true)
  --log-level <level>                 pino level (default info)
  -h, --help                          this text
`;

export function readSettings(argv: readonly string[], env: NodeJS.ProcessEnv): ProxySettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string' },
      controller: { type: 'string' },
      gateway: { type: 'string' },
      'proxy-id': { type: 'string' },
      'token-file': { type: 'string' },
      host: { type: 'string' },
      'port-map': { type: 'string', multiple: true },
      'admin-port': { type: 'string' },
      'drain-ms': { type: 'string' },
      'log-level': { type: 'string' },
      'jwt-cache-entries': { type: 'string' },
      workers: { type: 'string' },
      'upstream-timeout-ms': { type: 'string' },
      'tunnel-idle-timeout-ms': { type: 'string' },
      'refetch-interval-ms': { type: 'string' },
      'controller-ca': { type: 'string' },
      'controller-server-name': { type: 'string' },
      'allow-plaintext-key-push': { type: 'boolean' },
      'path-merge-slashes': { type: 'string' },
      'path-semicolons': { type: 'string' },
    },
  });
  const gw =
    values.gateway ?? (env['GATEWAY_NAMESPACE'] && env['GATEWAY_NAME'] ? `${env['GATEWAY_NAMESPACE']}/${env['GATEWAY_NAME']}` : undefined);
  const configFile = values.config ?? env['AGW_CONFIG_FILE'];
  const controller = values.controller ?? env['AGW_CONTROLLER_ADDRESS'];
  if (configFile === undefined && controller === undefined) throw new Error('one of --config <file> or --controller <host:port> is needed');
  if (controller !== undefined && gw === undefined) throw new Error('--gateway <namespace>/<name> is needed with --controller');
  const [namespace = '', name = ''] = (gw ?? '/').split('/');
  const tokenFile = values['token-file'] ?? env['AGW_TOKEN_FILE'] ?? DEFAULT_TOKEN_FILE;
  const portMap = parsePortMap(values['port-map'] ?? (env['AGW_PORT_MAP'] ? env['AGW_PORT_MAP'].split(',') : []));
  const controllerCaFile = values['controller-ca'] ?? env['AGW_CONTROLLER_CA'];
  const controllerServerName = values['controller-server-name'] ?? env['AGW_CONTROLLER_SERVER_NAME'];
  return {
    ...(controllerCaFile !== undefined ? { controllerCaFile } : {}),
    ...(controllerServerName !== undefined ? { controllerServerName } : {}),
    ...(configFile !== undefined ? { configFile } : {}),
    ...(controller !== undefined ? { controller } : {}),
    gateway: { namespace, name },
    proxyId: values['proxy-id'] ?? env['POD_NAME'] ?? hostname(),
    token: () => (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined),
    host: values.host ?? env['AGW_HOST'] ?? '0.0.0.0',
    portMap,
    adminPort: num('admin-port', values['admin-port'] ?? env['AGW_ADMIN_PORT'], 15_000, PORT),
    drainMs: num('drain-ms', values['drain-ms'] ?? env['AGW_DRAIN_MS'], 5_000, TIMER_MS),
    logLevel: values['log-level'] ?? env['AGW_LOG_LEVEL'] ?? 'info',
    jwtCacheEntries: num('jwt-cache-entries', values['jwt-cache-entries'] ?? env['AGW_JWT_CACHE_ENTRIES'], 10_000, CACHE_ENTRIES),
    workers: num('workers', values.workers ?? env['AGW_WORKERS'], defaultWorkers(), WORKERS),
    upstreamTimeoutMs: num('upstream-timeout-ms', values['upstream-timeout-ms'] ?? env['AGW_UPSTREAM_TIMEOUT_MS'], 30_000, TIMER_MS),
    tunnelIdleTimeoutMs: num(
      'tunnel-idle-timeout-ms',
      values['tunnel-idle-timeout-ms'] ?? env['AGW_TUNNEL_IDLE_TIMEOUT_MS'],
      TUNNEL_IDLE_TIMEOUT_MS,
      TIMER_MS,
    ),
    refetchIntervalMs: num('refetch-interval-ms', values['refetch-interval-ms'] ?? env['AGW_REFETCH_INTERVAL_MS'], 30_000, TIMER_MS),
    workerIndex: num('worker-index (AGW_WORKER_INDEX)', env['AGW_WORKER_INDEX'], 0, {
      min: 0,
      max: WORKERS.max - 1,
      unit: 'a worker index',
    }),
    allowPlaintextKeyPush: values['allow-plaintext-key-push'] ?? env['AGW_ALLOW_PLAINTEXT_KEY_PUSH'] === 'true',
    pathRules: readPathRules(
      values['path-merge-slashes'] ?? env['AGW_PATH_MERGE_SLASHES'],
      values['path-semicolons'] ?? env['AGW_PATH_SEMICOLONS'],
    ),
  };
}
