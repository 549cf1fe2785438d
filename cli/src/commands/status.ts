import { KubeRest } from '@agw/controller';
import { fetchPolicies, kubeFailure, loadKubeConfig, statusTable } from '../status.js';

/** `agw status`: the policies of the kubeconfig's cluster, as a table or JSON. */
export async function runStatus(o: {
  kubeconfig?: string;
  namespace?: string;
  allNamespaces?: boolean;
  output: 'text' | 'json';
}): Promise<void> {
  const { kc, server } = loadKubeConfig(o.kubeconfig);
  const ns = o.allNamespaces ? undefined : (o.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default');
  let policies: Awaited<ReturnType<typeof fetchPolicies>>;
  try {
    policies = await fetchPolicies(new KubeRest(kc), ns);
  } catch (err) {
    throw new Error(kubeFailure(err, server));
  }
  process.stdout.write(
    o.output === 'json'
      ? `${JSON.stringify(
          policies.map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, ancestors: p.status?.ancestors ?? [] })),
          null,
          2,
        )}\n`
      : statusTable(policies),
  );
}
