import type { TranslateOutput } from '@agw/controller';

export interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

const fmt = (cs: readonly Cond[]) =>
  cs.map((c) => `${c.type}=${c.status} ${c.reason}${c.message ? ` "${c.message.replace(/\n/g, ' | ')}"` : ''}`).join('; ');

/**
 * One line per status entry (`programmed`: per Gateway, its Programmed and its policies'), keyed so that only changed lines are printed again:
 * `AgentgatewayPolicy ns/name → Gateway ns/gw: Accepted=True Valid "Policy accepted"; …`,
 * `AgentgatewayBackend ns/name: Accepted=True Accepted "Backend accepted"`.
 */
export function statusLines(
  out: TranslateOutput,
  programmed: ReadonlyMap<string, { readonly gateway: Cond; readonly policies: Cond }>,
): Map<string, string> {
  const lines = new Map<string, string>();
  for (const [name, cs] of out.status.gatewayClasses) lines.set(`GatewayClass ${name}`, fmt(cs));
  for (const [gw, s] of out.status.gateways) {
    const p = programmed.get(gw)?.gateway;
    lines.set(
      `Gateway ${gw}`,
      fmt([...s.conditions, ...(p ? [p] : [])]) +
        ` (listeners: ${s.listeners.map((l) => `${l.name} ${l.attachedRoutes} routes`).join(', ')})`,
    );
  }
  for (const [route, parents] of out.status.httpRoutes) {
    for (const p of parents) lines.set(`HTTPRoute ${route} → Gateway ${p.parentRef.namespace}/${p.parentRef.name}`, fmt(p.conditions));
  }
  for (const [backend, cs] of out.status.agentgatewayBackends) lines.set(`AgentgatewayBackend ${backend}`, fmt(cs));
  for (const [policy, ancestors] of out.status.policies) {
    for (const a of ancestors) {
      const gw =
        a.ancestorRef.name === 'StatusSummary' ? 'StatusSummary' : `Gateway ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`;
      const p =
        a.ancestorRef.name === 'StatusSummary'
          ? undefined
          : programmed.get(`${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`)?.policies;
      lines.set(`AgentgatewayPolicy ${policy} → ${gw}`, fmt([...a.conditions, ...(p ? [p] : [])]));
    }
  }
  return lines;
}
