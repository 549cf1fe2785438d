import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeError, type KubeRest } from '@agw/controller';
import { KubeConfig } from '@kubernetes/client-node';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Policy {
  metadata: { name: string; namespace: string };
  status?: {
    ancestors?: Array<{
      ancestorRef: { kind?: string; namespace?: string; name: string };
      controllerName: string;
      conditions: Condition[];
    }>;
  };
}

/** One row per policy and ancestor: what `kubectl get agpol` shows, plus reasons and messages. */
export function statusTable(policies: readonly Policy[]): string {
  const rows: string[][] = [['NAMESPACE', 'POLICY', 'ANCESTOR', 'ACCEPTED', 'ATTACHED', 'PROGRAMMED', 'MESSAGE']];
  for (const p of policies) {
    const ancestors = p.status?.ancestors ?? [];
    if (ancestors.length === 0)
      rows.push([p.metadata.namespace, p.metadata.name, '-', '-', '-', '-', 'no status yet (is the controller running?)']);
    for (const a of ancestors) {
      const c = (t: string) => a.conditions.find((x) => x.type === t);
      const cell = (t: string) => {
        const x = c(t);
        return x === undefined ? '-' : `${x.status}/${x.reason}`;
      };
      const message = [
        ...new Set(
          a.conditions
            .filter((x) => x.status !== 'True' || x.reason === 'PartiallyValid' || x.message.includes('stale'))
            .map((x) => x.message),
        ),
      ]
        .join(' | ')
        .replace(/\n/g, ' | ');
      const ancestor =
        a.ancestorRef.name === 'StatusSummary'
          ? 'StatusSummary'
          : `${a.ancestorRef.kind ?? 'Gateway'} ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`;
      rows.push([p.metadata.namespace, p.metadata.name, ancestor, cell('Accepted'), cell('Attached'), cell('Programmed'), message]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export async function fetchPolicies(rest: KubeRest, namespace: string | undefined): Promise<Policy[]> {
  const path =
    namespace === undefined
      ? '/apis/agentgateway.dev/v1alpha1/agentgatewaypolicies'
      : `/apis/agentgateway.dev/v1alpha1/namespaces/${namespace}/agentgatewaypolicies`;
  const r = await rest.get<{ items: Policy[] }>(path);
  return [...r.body.items].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
}

/** Where client-node finds credentials inside a Pod (its in-cluster fallback). */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Where a kubeconfig is looked for when `--kubeconfig` is not given: the environment, the home and the Pod's token (tests pass their own). */
export interface KubeConfigSearch {
  readonly env: NodeJS.ProcessEnv;
  readonly serviceAccountToken: string;
}

/** Why a kubeconfig could not be read, without the syscall noise (`ENOENT: …, open 'f'`). */
const readFailure = (err: unknown) => {
  const e = err as Error & { code?: string };
  return e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
};

/**
 * The kubeconfig `agw status` uses: `--kubeconfig`, else as kubectl and client-node look for it
 * (KUBECONFIG, ~/.kube/config, in-cluster service account). Throws a readable error when there is
 * none: client-node would otherwise fall back to http://localhost:8080 and fail with "HTTP
 * protocol is not allowed when skipTLSVerify is not set or false".
 */
export function loadKubeConfig(
  file: string | undefined,
  search: KubeConfigSearch = { env: process.env, serviceAccountToken: SERVICE_ACCOUNT_TOKEN },
): { kc: KubeConfig; server: string } {
  const kc = new KubeConfig();
  let source: string;
  if (file !== undefined) {
    source = file;
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${file}: ${readFailure(err)}`);
    }
  } else {
    const home = join(search.env.HOME ?? homedir(), '.kube', 'config');
    if (search.env.KUBECONFIG) source = `KUBECONFIG=${search.env.KUBECONFIG}`;
    else if (existsSync(home)) source = home;
    else if (existsSync(search.serviceAccountToken)) source = 'the in-cluster service account';
    else throw new Error('no kubeconfig: set KUBECONFIG or pass --kubeconfig');
    try {
      kc.loadFromDefault();
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${source}: ${readFailure(err)}`);
    }
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    throw new Error(`kubeconfig ${source} has no current context with a cluster: pick one with kubectl config use-context <name>`);
  return { kc, server: cluster.server };
}

/** The AgentgatewayPolicy resource of the API server is unknown: the CRDs are not installed. */
export const CRD_MISSING =
  'the AgentgatewayPolicy CRD is not installed: install the chart: helm install agentgateway charts/agentgateway -n agentgateway-system --create-namespace';

/** Socket error codes that mean the API server could not be reached at all (DNS, TCP, timeout). */
const UNREACHABLE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/**
 * What `agw status` says when listing policies fails: which of the common failures it is (CRD not
 * installed, cluster unreachable, TLS, credentials), naming the server URL of the kubeconfig.
 * `server` is the current cluster's URL, e.g. https://127.0.0.1:6443.
 */
export function kubeFailure(err: unknown, server: string): string {
  const e = err as Error & { code?: string };
  if (err instanceof KubeError) {
    if (err.status === 404 && /agentgatewaypolicies/.test(err.message)) return CRD_MISSING;
    if (err.status === 401)
      return `the cluster at ${server} refused the kubeconfig's credentials (401 Unauthorized): log in again or pick another context`;
    return `the cluster at ${server} answered ${err.message}`;
  }
  if (e.code !== undefined && UNREACHABLE[e.code] !== undefined)
    return `cannot reach the cluster at ${server}: ${UNREACHABLE[e.code]} (${e.code}); is it running, and is the kubeconfig's current context the right one?`;
  if (/timed out after/.test(e.message)) return `cannot reach the cluster at ${server}: ${e.message}`;
  // client-node refuses a plain-http server unless the cluster entry skips TLS verification.
  if (/HTTP protocol is not allowed/.test(e.message))
    return `the kubeconfig's cluster ${server} is plain http: use https, or set insecure-skip-tls-verify: true on that cluster`;
  if (e.code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code))
    return `TLS to the cluster at ${server} failed: ${e.message} (${e.code})`;
  return `the cluster at ${server}: ${e.message}`;
}
