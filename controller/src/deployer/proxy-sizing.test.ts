import { describe, expect, it } from 'vitest';
import { proxySizing } from './proxy-sizing.js';
import { parseQuantity } from './quantity.js';

describe('parseQuantity (Kubernetes resource quantities)', () => {
  it.each([
    ['100m', 0.1],
    ['2', 2],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['1000M', 1e9],
    ['128974848', 128974848],
    ['129e6', 129e6],
    ['1k', 1000],
    ['250u', 250e-6],
  ])('%s → %d', (q, want) => expect(parseQuantity(q)).toBeCloseTo(want, 9));

  it.each(['', 'Mi', '1 Gi', '1gi', '1MiB', '--1', '1.2.3', 'NaN', '1e', '1e999'])('%j is not a quantity', (q) =>
    expect(parseQuantity(q)).toBeUndefined(),
  );

  it('a long run of digits that ends wrong is refused (the pattern is linear: each digit matches one way)', () => {
    expect(parseQuantity(`${'1'.repeat(200_000)}x`)).toBeUndefined();
  });
});

describe('proxySizing: workers and heap from the container resources, not from the node', () => {
  it("the chart's defaults (cpu request 100m, memory limit 512Mi): one worker, 307 MiB of old space", () => {
    expect(proxySizing({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } })).toEqual({
      workers: 1,
      maxOldSpaceMiB: 307,
    });
  });

  it('one worker per CPU of the limit (over the request), rounded up, the heap shared among them', () => {
    expect(proxySizing({ requests: { cpu: '1' }, limits: { cpu: '2', memory: '1Gi' } })).toEqual({ workers: 2, maxOldSpaceMiB: 307 });
    expect(proxySizing({ limits: { cpu: '1500m', memory: '2Gi' } })).toEqual({ workers: 2, maxOldSpaceMiB: 614 });
  });

  it('no more workers than the memory limit holds at 160 MiB each, at least one', () => {
    expect(proxySizing({ limits: { cpu: '32', memory: '512Mi' } })).toEqual({ workers: 3, maxOldSpaceMiB: 102 });
    expect(proxySizing({ limits: { cpu: '4', memory: '100Mi' } })).toEqual({ workers: 1, maxOldSpaceMiB: 60 });
    expect(proxySizing({ limits: { cpu: '8', memory: '1Gi' } })).toEqual({ workers: 6, maxOldSpaceMiB: 102 });
  });

  it('an absurd limit sizes within the bounds (64 workers at most, a heap flag Node can read)', () => {
    expect(proxySizing({ limits: { cpu: '1e300', memory: '1e300' } })).toEqual({ workers: 64, maxOldSpaceMiB: 4 * 2 ** 20 });
  });

  it('no CPU said (or nothing parseable): one worker; no memory limit: no heap flag', () => {
    expect(proxySizing({ limits: { memory: '1Gi' } })).toEqual({ workers: 1, maxOldSpaceMiB: 614 });
    expect(proxySizing({ limits: { cpu: '3' } })).toEqual({ workers: 3 });
    expect(proxySizing({})).toEqual({ workers: 1 });
    expect(proxySizing({ limits: { cpu: 'lots', memory: 'much' } })).toEqual({ workers: 1 });
  });
});
