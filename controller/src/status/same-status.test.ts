import { describe, expect, it } from 'vitest';
import { sameStatus } from './same-status.js';

const ancestor = (message: string, generation = 1) => [
  {
    ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'd', name: 'gw' },
    controllerName: 'agentgateway.dev/agentgateway',
    conditions: [{ type: 'Accepted', status: 'True', reason: 'Valid', message, observedGeneration: generation }],
  },
];

describe('sameStatus', () => {
  it('equal content in new objects is the same', () => {
    expect(sameStatus(ancestor('Policy accepted'), ancestor('Policy accepted'))).toBe(true);
    expect(sameStatus([], [])).toBe(true);
    expect(sameStatus({ a: undefined }, { a: undefined })).toBe(true);
  });

  it.each([
    ['a message', ancestor('Policy accepted'), ancestor('Policy accepted (note)')],
    ['a generation', ancestor('x', 1), ancestor('x', 2)],
    ['one more entry', ancestor('x'), [...ancestor('x'), ...ancestor('x')]],
    ['entry order', [1, 2], [2, 1]],
    ['an array against an object', [], {}],
    ['an object against an array', { length: 0 }, []],
    ['a key missing on one side', { a: 1 }, { b: 1 }],
    ['a key set against undefined', { a: 1 }, {}],
    ['undefined against an absent key', { a: undefined, b: 1 }, { b: 1, c: 2 }],
    ['null against an object', null, {}],
    ['a number against its string', 1, '1'],
  ])('differs by %s', (_what, a, b) => {
    expect(sameStatus(a, b)).toBe(false);
    expect(sameStatus(b, a)).toBe(false);
  });
});
