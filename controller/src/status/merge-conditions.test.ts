import { describe, expect, it } from 'vitest';
import { mergeConditions, sameConditions } from './merge-conditions.js';

const T0 = '2026-01-01T00:00:00Z',
  T1 = '2026-01-02T00:00:00Z';

describe('mergeConditions', () => {
  it('a new condition gets now', () => {
    expect(
      mergeConditions(undefined, [{ type: 'Accepted', status: 'True', reason: 'Valid', message: 'm' }], T1)[0]?.lastTransitionTime,
    ).toBe(T1);
  });
  it('same status, other reason or message: the transition time stays', () => {
    const prev = [{ type: 'Accepted', status: 'True' as const, reason: 'Valid', message: 'a', lastTransitionTime: T0 }];
    expect(
      mergeConditions(prev, [{ type: 'Accepted', status: 'True', reason: 'PartiallyValid', message: 'b' }], T1)[0]?.lastTransitionTime,
    ).toBe(T0);
  });
  it('a flip moves it', () => {
    const prev = [{ type: 'Attached', status: 'True' as const, reason: 'Attached', message: 'a', lastTransitionTime: T0 }];
    expect(mergeConditions(prev, [{ type: 'Attached', status: 'False', reason: 'Pending', message: 'b' }], T1)[0]?.lastTransitionTime).toBe(
      T1,
    );
  });
  it('sameConditions ignores times, not content', () => {
    const a = [{ type: 'A', status: 'True' as const, reason: 'R', message: 'm', observedGeneration: 1 }];
    expect(sameConditions(a, [{ ...a[0]! }])).toBe(true);
    expect(sameConditions(a, [{ ...a[0]!, observedGeneration: 2 }])).toBe(false);
  });
});
