import { describe, expect, it } from 'vitest';
import { olderFirst, sortedOlderFirst } from './model.js';

/** The decorated sort gives olderFirst's order (Gateway API's tie rule) on the inputs that matter: ties, absent and fractional timestamps. */
describe('sortedOlderFirst', () => {
  it('orders as olderFirst: by creationTimestamp, then <namespace>/<name>', () => {
    const stamps = [undefined, '2026-11-30T00:00:00Z', '2026-11-30T00:00:01Z', '2026-11-30T00:00:00.5Z', '2025-01-01T00:00:00Z'];
    const names = ['a', 'a-b', 'a.b', 'b', 'z9', '0a'];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const list = Array.from({ length: 400 }, (_, i) => ({
      metadata: {
        name: `${names[Math.floor(random() * names.length)]}-${i % 7}`,
        namespace: random() < 0.5 ? 'ns' : 'ns-2',
        creationTimestamp: stamps[Math.floor(random() * stamps.length)],
      },
    }));
    expect(sortedOlderFirst(list)).toEqual([...list].sort(olderFirst));
    expect(sortedOlderFirst(list).map((o) => o.metadata.creationTimestamp)[0]).toBeUndefined();
  });
});
