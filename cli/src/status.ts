import type { KubeRest } from '@agw/controller';

interface Condition { type: string; status: string; reason: string; message: string }
interface Policy {
  metadata: { name: string; namespace: string };
  status?: { ancestors?: Array<{ ancestorRef: { kind?: string; namespace?: string; name: string }; controllerName: string; conditions: Condition[] }> };
}

/** One row per policy and ancestor: what `kubectl get agpol` shows, plus reasons and messages. */
export function statusTable(policies: readonly Policy[]): string {
  const rows: string[][] = [['NAMESPACE', 'POLICY', 'ANCESTOR', 'ACCEPTED', 'ATTACHED', 'PROGRAMMED', 'MESSAGE']];
  for (const p of policies) {
    const ancestors = p.status?.ancestors ?? [];
    if (ancestors.length === 0) rows.push([p.metadata.namespace, p.metadata.name, '-', '-', '-', '-', 'no status yet (is the controller running?)']);
    for (const a of ancestors) {
      const c = (t: string) => a.conditions.find((x) => x.type === t);
      const cell = (t: string) => { const x = c(t); return x === undefined ? '-' : `${x.status}/${x.reason}`; };
      const message = [...new Set(a.conditions.filter((x) => x.status !== 'True' || x.reason === 'PartiallyValid' || x.message.includes('stale')).map((x) => x.message))].join(' | ').replace(/\n/g, ' | ');
      const ancestor = a.ancestorRef.name === 'StatusSummary' ? 'StatusSummary' : `${a.ancestorRef.kind ?? 'Gateway'} ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`;
      rows.push([p.metadata.namespace, p.metadata.name, ancestor, cell('Accepted'), cell('Attached'), cell('Programmed'), message]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

export async function fetchPolicies(rest: KubeRest, namespace: string | undefined): Promise<Policy[]> {
  const path = namespace === undefined ? '/apis/agentgateway.dev/v1alpha1/agentgatewaypolicies' : `/apis/agentgateway.dev/v1alpha1/namespaces/${namespace}/agentgatewaypolicies`;
  const r = await rest.get<{ items: Policy[] }>(path);
  return [...r.body.items].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
}
