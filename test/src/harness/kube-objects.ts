import { stringify } from 'yaml';
import { kubectl } from './control-plane.js';
import { waitFor } from './process.js';

export interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
export interface Ancestor {
  ancestorRef: { group?: string; kind?: string; namespace?: string; name: string };
  controllerName: string;
  conditions: Cond[];
}

/** kubectl apply of objects (YAML documents); throws with kubectl's stderr on failure. */
export async function apply(kubeconfig: string, objects: unknown[]): Promise<void> {
  const r = await kubectl(kubeconfig, ['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

export async function getJson<T>(kubeconfig: string, args: string[]): Promise<T | undefined> {
  const r = await kubectl(kubeconfig, ['get', ...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

/** The policy's ancestors, as `kubectl get agentgatewaypolicy -o json | jq .status.ancestors`. */
export async function policyAncestors(kubeconfig: string, ns: string, name: string): Promise<Ancestor[]> {
  const p = await getJson<{ status?: { ancestors?: Ancestor[] } }>(kubeconfig, ['agentgatewaypolicy', name, '-n', ns]);
  return p?.status?.ancestors ?? [];
}

export const condOf = (a: Ancestor | undefined, type: string) => a?.conditions.find((c) => c.type === type);

/** Waits until `probe` holds for the policy's ancestor on `gateway` (or StatusSummary). */
export async function waitForAncestor(
  kubeconfig: string,
  ns: string,
  name: string,
  gateway: string,
  probe: (a: Ancestor) => boolean,
  timeoutMs = 30_000,
): Promise<Ancestor> {
  let last: Ancestor[] = [];
  try {
    await waitFor(
      `status of AgentgatewayPolicy ${ns}/${name} on ${gateway}`,
      async () => {
        last = await policyAncestors(kubeconfig, ns, name);
        const a = last.find((x) => x.ancestorRef.name === gateway);
        return a !== undefined && probe(a);
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last ancestors: ${JSON.stringify(last)}`);
  }
  return last.find((x) => x.ancestorRef.name === gateway) as Ancestor;
}
