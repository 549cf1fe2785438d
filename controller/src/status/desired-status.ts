import type { Condition } from '@agw/api';
import type { PendingCondition, PolicyAncestorOut, TranslateOutput } from '../translate/model.js';
import { mergeConditions, sameConditions } from './merge-conditions.js';

type Obj = { metadata?: { resourceVersion?: string }; status?: Record<string, unknown> };

/** The status body to write for one object, or undefined when the current one already says it. */
export type StatusPatch = { metadata: { resourceVersion: string }; status: Record<string, unknown> } | undefined;

const strip = (cs: readonly Condition[] | undefined) => (cs ?? []).map(({ lastTransitionTime: _t, ...rest }) => rest);
const refKey = (r: Record<string, unknown>) => `${String(r['group'] ?? '')}/${String(r['kind'] ?? '')}/${String(r['namespace'] ?? '')}/${String(r['name'] ?? '')}/${String(r['sectionName'] ?? '')}`;

/**
 * AgentgatewayPolicy: our ancestors replace our previous ones; other controllers' stay (upstream
 * MergeAncestors). Times are carried over per ancestor and condition type.
 */
export function policyStatusPatch(current: Obj, ours: readonly PolicyAncestorOut[], controllerName: string, now: string): StatusPatch {
  const existing = (current.status?.['ancestors'] as Array<{ ancestorRef: Record<string, unknown>; controllerName: string; conditions: Condition[] }> | undefined) ?? [];
  const others = existing.filter((a) => a.controllerName !== controllerName);
  const mine = existing.filter((a) => a.controllerName === controllerName);
  const next = ours.map((a) => {
    const before = mine.find((m) => refKey(m.ancestorRef) === refKey(a.ancestorRef as Record<string, unknown>));
    return { ancestorRef: a.ancestorRef, controllerName: a.controllerName, conditions: mergeConditions(before?.conditions, a.conditions, now) };
  });
  const unchanged = next.length === mine.length && next.every((a, i) => {
    const m = mine[i];
    return m !== undefined && refKey(m.ancestorRef) === refKey(a.ancestorRef as Record<string, unknown>) && sameConditions(strip(m.conditions), strip(a.conditions));
  });
  if (unchanged) return undefined;
  const ancestors = [...others, ...next].sort((x, y) => refKey(x.ancestorRef as Record<string, unknown>).localeCompare(refKey(y.ancestorRef as Record<string, unknown>)));
  return { metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' }, status: { ancestors } };
}

/** HTTPRoute: our parents replace our previous ones; other controllers' parents stay. */
export function routeStatusPatch(current: Obj, ours: TranslateOutput['status']['httpRoutes'] extends ReadonlyMap<string, infer V> ? V : never, controllerName: string, now: string): StatusPatch {
  const existing = (current.status?.['parents'] as Array<{ parentRef: Record<string, unknown>; controllerName: string; conditions: Condition[] }> | undefined) ?? [];
  const others = existing.filter((p) => p.controllerName !== controllerName);
  const mine = existing.filter((p) => p.controllerName === controllerName);
  const next = ours.map((p) => {
    const before = mine.find((m) => refKey(m.parentRef) === refKey(p.parentRef));
    return { parentRef: p.parentRef, controllerName: p.controllerName, conditions: mergeConditions(before?.conditions, p.conditions, now) };
  });
  const unchanged = next.length === mine.length && next.every((p, i) => {
    const m = mine[i];
    return m !== undefined && refKey(m.parentRef) === refKey(p.parentRef) && sameConditions(strip(m.conditions), strip(p.conditions));
  });
  return unchanged ? undefined : { metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' }, status: { parents: [...others, ...next] } };
}

/** Objects owned by one controller (Gateway, GatewayClass): conditions (and listeners) replaced. */
export function ownedStatusPatch(
  current: Obj, conditions: readonly PendingCondition[], now: string,
  listeners?: ReadonlyArray<{ name: string; attachedRoutes: number; supportedKinds: ReadonlyArray<{ group: string; kind: string }>; conditions: PendingCondition[] }>,
  addresses?: ReadonlyArray<{ type: string; value: string }>,
): StatusPatch {
  const curConds = current.status?.['conditions'] as Condition[] | undefined;
  const nextConds = mergeConditions(curConds, conditions, now);
  const curListeners = (current.status?.['listeners'] as Array<{ name: string; attachedRoutes: number; supportedKinds: unknown[]; conditions: Condition[] }> | undefined) ?? [];
  const nextListeners = listeners?.map((l) => ({
    name: l.name, attachedRoutes: l.attachedRoutes, supportedKinds: l.supportedKinds,
    conditions: mergeConditions(curListeners.find((c) => c.name === l.name)?.conditions, l.conditions, now),
  }));
  const sameListeners = nextListeners === undefined || (nextListeners.length === curListeners.length && nextListeners.every((l, i) => {
    const c = curListeners[i];
    return c !== undefined && c.name === l.name && c.attachedRoutes === l.attachedRoutes
      && JSON.stringify(c.supportedKinds) === JSON.stringify(l.supportedKinds) && sameConditions(strip(c.conditions), strip(l.conditions));
  }));
  const sameAddresses = addresses === undefined || JSON.stringify(current.status?.['addresses'] ?? []) === JSON.stringify(addresses);
  if (sameConditions(strip(curConds), strip(nextConds)) && sameListeners && sameAddresses) return undefined;
  return {
    metadata: { resourceVersion: current.metadata?.resourceVersion ?? '' },
    status: { conditions: nextConds, ...(nextListeners ? { listeners: nextListeners } : {}), ...(addresses ? { addresses } : {}) },
  };
}
