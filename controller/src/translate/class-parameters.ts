import { PARAMETERS_KIND, POLICY_GROUP, type AgentgatewayParameters, type AgentgatewayParametersSpec, type GatewayClass } from '@agw/api';
import { appendTo } from './append-to.js';
import { cond, keyOf, type ObjectKey, type PendingCondition } from './model.js';

/**
 * GatewayClass parametersRef → AgentgatewayParameters: the spec per class, a problem per class
 * whose reference is unusable (Gateway API: Accepted=False InvalidParameters), and a status for
 * each parameters object in use.
 */
export function resolveClassParameters(classes: readonly GatewayClass[], parameters: readonly AgentgatewayParameters[]) {
  const byKey = new Map(parameters.map((p) => [keyOf(p), p]));
  const byClass = new Map<string, AgentgatewayParametersSpec>();
  const problems = new Map<string, string>();
  const users = new Map<ObjectKey, string[]>();
  for (const c of classes) {
    const ref = c.spec.parametersRef;
    if (ref === undefined) continue;
    if (ref.group !== POLICY_GROUP || ref.kind !== PARAMETERS_KIND) {
      problems.set(
        c.metadata.name,
        `parametersRef ${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} is not supported (use ${POLICY_GROUP}/${PARAMETERS_KIND})`,
      );
      continue;
    }
    const key = `${ref.namespace ?? ''}/${ref.name}`;
    const p = byKey.get(key);
    if (ref.namespace === undefined || p === undefined) {
      problems.set(
        c.metadata.name,
        `parametersRef ${PARAMETERS_KIND} ${key} not found${ref.namespace === undefined ? ' (a namespace is required)' : ''}`,
      );
      continue;
    }
    byClass.set(c.metadata.name, p.spec);
    appendTo(users, key, c.metadata.name);
  }
  const status = new Map<ObjectKey, PendingCondition[]>(
    [...users].map(([key, names]) => {
      const p = byKey.get(key) as AgentgatewayParameters;
      return [key, [cond('Accepted', true, 'Accepted', `used by GatewayClass ${names.sort().join(', ')}`, p.metadata.generation)]];
    }),
  );
  return { byClass, problems, status };
}
