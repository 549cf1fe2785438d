import type { Condition } from '@agw/api';
import type { PendingCondition } from '../translate/model.js';

/**
 * Stamps translate()'s conditions with lastTransitionTime: kept from `previous` when the status of
 * that type did not flip (only reason or message changed), `now` (RFC 3339) otherwise.
 */
export function mergeConditions(previous: readonly Condition[] | undefined, next: readonly PendingCondition[], now: string): Condition[] {
  return next.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: before !== undefined && before.status === c.status ? before.lastTransitionTime : now };
  });
}

/** True when two condition lists say the same thing (times ignored): no status write needed. */
export function sameConditions(
  a: readonly Omit<Condition, 'lastTransitionTime'>[],
  b: readonly Omit<Condition, 'lastTransitionTime'>[],
): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return (
      y !== undefined &&
      x.type === y.type &&
      x.status === y.status &&
      x.reason === y.reason &&
      x.message === y.message &&
      x.observedGeneration === y.observedGeneration
    );
  });
}
