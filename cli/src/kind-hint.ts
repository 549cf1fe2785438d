import { WATCHED_KINDS } from '@agw/api';
/** The kinds of a group the controller reads (api's registry). */
function kindsOf(group: string): string[] {
  return Object.values(WATCHED_KINDS)
    .filter((k) => k.group === group)
    .map((k) => k.kind);
}

/**
 * Kinds of the agentgateway.dev and gateway.networking.k8s.io groups, by group: what the
 * controller reads (controller/src/kube/resources.ts, controller/src/resources/parse-objects.ts)
 * plus the other kinds of these groups a manifest for agentgateway may carry. Only used to catch
 * a kind spelled with the wrong case, which would otherwise be skipped silently as "not a kind
 * agw reads" (a policy typed `kind: AgentGatewayPolicy` would protect nothing).
 */
const KNOWN_KINDS: Readonly<Record<string, readonly string[]>> = {
  'agentgateway.dev': kindsOf('agentgateway.dev'),
  'gateway.networking.k8s.io': [
    ...kindsOf('gateway.networking.k8s.io'),
    'GRPCRoute',
    'TCPRoute',
    'TLSRoute',
    'UDPRoute',
    'BackendTLSPolicy',
  ],
};

/**
 * The known kind that `object`'s kind differs from only by letter case, in its apiVersion's group
 * (undefined when the kind is exact, unknown, or the group is not one of the two above).
 */
export function kindCaseHint(object: unknown): string | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  const { apiVersion, kind } = object as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  const slash = apiVersion.indexOf('/');
  const known = KNOWN_KINDS[slash < 0 ? '' : apiVersion.slice(0, slash)];
  if (known === undefined || known.includes(kind)) return undefined;
  return known.find((k) => k.toLowerCase() === kind.toLowerCase());
}

/** `kind AgentGatewayPolicy is not a kind agw reads; did you mean AgentgatewayPolicy?` */
export const kindCaseMessage = (kind: string, hint: string): string =>
  `kind ${kind} is not a kind agw reads (skipped); did you mean ${hint}?`;
