import { POLICY_GROUP } from '@agw/api';
import { formatIssues, type ObjectProblem } from '../resources/parse-objects.js';
import { cond, type PendingCondition, type PolicyAncestorOut } from '../translate/model.js';

const PREFIX = 'AgentgatewayPolicy ';

/**
 * The status of each policy that does not parse (e.g. stored under an older CRD): a StatusSummary
 * ancestor with Accepted=False Invalid and the field-level reasons, by `<ns>/<name>`.
 */
export function invalidPolicyStatus(problems: readonly ObjectProblem[], controllerName: string): Map<string, PolicyAncestorOut[]> {
  const out = new Map<string, PolicyAncestorOut[]>();
  for (const p of problems) {
    if (!p.ref.startsWith(PREFIX)) continue;
    const generation = (p.object as { metadata?: { generation?: number } }).metadata?.generation;
    out.set(p.ref.slice(PREFIX.length), [
      {
        ancestorRef: { group: POLICY_GROUP, kind: 'Gateway', name: 'StatusSummary' },
        controllerName,
        conditions: [cond('Accepted', false, 'Invalid', `policy does not parse: ${formatIssues(p)}`, generation)],
      },
    ]);
  }
  return out;
}

const BACKEND_PREFIX = 'AgentgatewayBackend ';

/**
 * The conditions of each AgentgatewayBackend that does not parse (e.g. stored under another CRD
 * with fields this project does not implement): Accepted=False Invalid with the field-level
 * reasons, by `<ns>/<name>`. References to it are "not found".
 */
export function invalidBackendStatus(problems: readonly ObjectProblem[]): Map<string, PendingCondition[]> {
  const out = new Map<string, PendingCondition[]>();
  for (const p of problems) {
    if (!p.ref.startsWith(BACKEND_PREFIX)) continue;
    const generation = (p.object as { metadata?: { generation?: number } }).metadata?.generation;
    out.set(p.ref.slice(BACKEND_PREFIX.length), [
      cond('Accepted', false, 'Invalid', `backend does not parse: ${formatIssues(p)}`, generation),
    ]);
  }
  return out;
}
