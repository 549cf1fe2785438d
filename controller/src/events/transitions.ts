import { GATEWAY_API_GROUP } from '@agw/api';

/** An event a status transition calls for: what a human should look at. */
export interface TransitionEvent {
  readonly type: 'Normal' | 'Warning';
  /** CamelCase, e.g. PolicyPartiallyValid. */
  readonly reason: string;
  readonly note: string;
}

type Cond = { type?: unknown; status?: unknown; reason?: unknown; message?: unknown };
type Entry = { controllerName?: unknown; conditions?: Cond[] } & Record<string, unknown>;

const find = (conds: readonly Cond[] | undefined, type: string) => conds?.find((c) => c.type === type);
const refKey = (r: unknown) => JSON.stringify(r ?? null);

/**
 * Reasons that need a human, per condition type, and the event each entry into it (Warning) or exit
 * from it back to health (Normal) is recorded as. Anything else is routine and makes no event.
 */
const WATCHED_REASONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Accepted: {
    PartiallyValid: 'PolicyPartiallyValid',
    Invalid: 'PolicyInvalid',
    InvalidParameters: 'InvalidParameters',
    UnsupportedValue: 'RouteRuleRejected',
  },
  Programmed: { Rejected: 'ConfigRejected' },
};
const RECOVERED: Readonly<Record<string, string>> = {
  PolicyPartiallyValid: 'PolicyValid',
  PolicyInvalid: 'PolicyValid',
  InvalidParameters: 'ParametersValid',
  RouteRuleRejected: 'RouteAccepted',
  ConfigRejected: 'ConfigApplied',
};

const BACKEND_EVENT_REASONS: Readonly<Record<string, string>> = { PolicyInvalid: 'BackendInvalid', PolicyValid: 'BackendValid' };

function compare(before: readonly Cond[] | undefined, after: readonly Cond[] | undefined, where: string): TransitionEvent[] {
  const out: TransitionEvent[] = [];
  for (const [type, reasons] of Object.entries(WATCHED_REASONS)) {
    const b = find(before, type);
    const a = find(after, type);
    const badBefore = typeof b?.reason === 'string' ? reasons[b.reason] : undefined;
    const badAfter = typeof a?.reason === 'string' ? reasons[a.reason] : undefined;
    if (badAfter !== undefined && (badAfter !== badBefore || a?.message !== b?.message)) {
      out.push({ type: 'Warning', reason: badAfter, note: `${where}${String(a?.message ?? '')}` });
    } else if (badAfter === undefined && badBefore !== undefined && a !== undefined) {
      out.push({
        type: 'Normal',
        reason: RECOVERED[badBefore] ?? 'Recovered',
        note: `${where}${type}=${String(a.status)} ${String(a.reason)}`,
      });
    }
  }
  return out;
}

/**
 * The events one status write calls for, from the status before and after it (pure). Our entries
 * only (other controllers' are not ours to report); for policies and routes, per ancestor/parent.
 */
export function transitionEvents(
  kind: string,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
  controllerName: string,
): TransitionEvent[] {
  const listField = kind === 'AgentgatewayPolicy' ? 'ancestors' : kind === 'HTTPRoute' ? 'parents' : undefined;
  if (listField === undefined) {
    const events = compare(before?.['conditions'] as Cond[] | undefined, after['conditions'] as Cond[] | undefined, '');
    // An AgentgatewayBackend's Accepted=False Invalid is the backend's, not a policy's.
    return kind === 'AgentgatewayBackend' ? events.map((e) => ({ ...e, reason: BACKEND_EVENT_REASONS[e.reason] ?? e.reason })) : events;
  }
  const refField = listField === 'ancestors' ? 'ancestorRef' : 'parentRef';
  const ours = (s: Record<string, unknown> | undefined) =>
    ((s?.[listField] as Entry[] | undefined) ?? []).filter((e) => e.controllerName === controllerName);
  const prior = new Map(ours(before).map((e) => [refKey(e[refField]), e]));
  return ours(after).flatMap((e) => {
    const ref = e[refField] as { group?: string; kind?: string; namespace?: string; name?: string } | undefined;
    const where =
      ref?.name === 'StatusSummary' && ref.group !== GATEWAY_API_GROUP ? '' : `Gateway ${ref?.namespace ?? ''}/${ref?.name ?? ''}: `;
    return compare(prior.get(refKey(e[refField]))?.conditions, e.conditions, where);
  });
}
