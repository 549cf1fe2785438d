import type { Condition } from '@agw/api';
import type { PendingCondition, PolicyAncestorOut, RouteParentStatusOut } from '../translate/model.js';
import { mergeConditions, sameConditions } from './merge-conditions.js';

type Obj = { metadata?: { resourceVersion?: string }; status?: Record<string, unknown> };

/** The status body to write for one object, or undefined when the current one already says it. */
export type StatusPatch = { metadata: { resourceVersion: string }; status: Record<string, unknown> } | undefined;

const strip = (cs: readonly Condition[] | undefined) => (cs ?? []).map(({ lastTransitionTime: _t, ...rest }) => rest);
const refKey = (r: Record<string, unknown>) =>
  `${String(r['group'] ?? '')}/${String(r['kind'] ?? '')}/${String(r['namespace'] ?? '')}/${String(r['name'] ?? '')}/${String(r['sectionName'] ?? '')}`;

/** A status entry of one controller, identified by its reference field (ancestorRef, parentRef). */
type Entry = { controllerName: string; conditions: readonly Condition[] } & Record<string, unknown>;
type OurEntry = { readonly controllerName: string; readonly conditions: readonly PendingCondition[] };

/**
 * Entries of several controllers in one status list (policy ancestors, route parents): ours are
 * replaced by `ours` (condition times carried over per reference and type), other controllers'
 * are kept. Undefined when ours already say the same.
 */
function mergeControllerEntries(
  existing: readonly Entry[],
  ours: readonly OurEntry[],
  refField: 'ancestorRef' | 'parentRef',
  controllerName: string,
  now: string,
): { others: Entry[]; next: Entry[] } | undefined {
  const ref = (e: object) => refKey(((e as Record<string, unknown>)[refField] ?? {}) as Record<string, unknown>);
  const others = existing.filter((e) => e.controllerName !== controllerName);
  const mine = existing.filter((e) => e.controllerName === controllerName);
  const next: Entry[] = ours.map((o) => {
    const before = mine.find((m) => ref(m) === ref(o));
    return { ...o, conditions: mergeConditions(before?.conditions, o.conditions, now) };
  });
  const unchanged =
    next.length === mine.length &&
    next.every((n, i) => {
      const m = mine[i];
      return m !== undefined && ref(m) === ref(n) && sameConditions(strip(m.conditions), strip(n.conditions));
    });
  return unchanged ? undefined : { others, next };
}

const entriesOf = (current: Obj, field: string) => (current.status?.[field] as Entry[] | undefined) ?? [];

/**
 * AgentgatewayPolicy: our ancestors replace our previous ones; other controllers' stay (upstream
 * MergeAncestors), all sorted by reference.
 */
export function policyStatusPatch(current: Obj, ours: readonly PolicyAncestorOut[], controllerName: string, now: string): StatusPatch {
  const merged = mergeControllerEntries(entriesOf(current, 'ancestors'), ours, 'ancestorRef', controllerName, now);
  if (merged === undefined) return undefined;
  const byRef = (e: Entry) => refKey(e['ancestorRef'] as Record<string, unknown>);
  const ancestors = [...merged.others, ...merged.next].sort((x, y) => byRef(x).localeCompare(byRef(y)));
  return { metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' }, status: { ancestors } };
}

/** HTTPRoute: our parents replace our previous ones; other controllers' parents stay (first). */
export function routeStatusPatch(current: Obj, ours: readonly RouteParentStatusOut[], controllerName: string, now: string): StatusPatch {
  const merged = mergeControllerEntries(entriesOf(current, 'parents'), ours, 'parentRef', controllerName, now);
  return merged === undefined
    ? undefined
    : { metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' }, status: { parents: [...merged.others, ...merged.next] } };
}

/** Objects owned by one controller (Gateway, GatewayClass): conditions (and listeners) replaced. */
export function ownedStatusPatch(
  current: Obj,
  conditions: readonly PendingCondition[],
  now: string,
  listeners?: ReadonlyArray<{
    name: string;
    attachedRoutes: number;
    supportedKinds: ReadonlyArray<{ group: string; kind: string }>;
    conditions: PendingCondition[];
  }>,
  addresses?: ReadonlyArray<{ type: string; value: string }>,
): StatusPatch {
  const curConds = current.status?.['conditions'] as Condition[] | undefined;
  const nextConds = mergeConditions(curConds, conditions, now);
  const curListeners =
    (current.status?.['listeners'] as
      Array<{ name: string; attachedRoutes: number; supportedKinds: unknown[]; conditions: Condition[] }> | undefined) ?? [];
  const nextListeners = listeners?.map((l) => ({
    name: l.name,
    attachedRoutes: l.attachedRoutes,
    supportedKinds: l.supportedKinds,
    conditions: mergeConditions(curListeners.find((c) => c.name === l.name)?.conditions, l.conditions, now),
  }));
  const sameListeners =
    nextListeners === undefined ||
    (nextListeners.length === curListeners.length &&
      nextListeners.every((l, i) => {
        const c = curListeners[i];
        return (
          c !== undefined &&
          c.name === l.name &&
          c.attachedRoutes === l.attachedRoutes &&
          JSON.stringify(c.supportedKinds) === JSON.stringify(l.supportedKinds) &&
          sameConditions(strip(c.conditions), strip(l.conditions))
        );
      }));
  const sameAddresses = addresses === undefined || JSON.stringify(current.status?.['addresses'] ?? []) === JSON.stringify(addresses);
  if (sameConditions(strip(curConds), strip(nextConds)) && sameListeners && sameAddresses) return undefined;
  return {
    metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' },
    status: { conditions: nextConds, ...(nextListeners ? { listeners: nextListeners } : {}), ...(addresses ? { addresses } : {}) },
  };
}
