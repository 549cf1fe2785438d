import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Redacted } from './redacted.js';

describe('Redacted', () => {
  it('never prints or serializes the secret; reveal() is the one way in', () => {
    const t = new Redacted('eyJ.secret.sig');
    const state = { token: t, nested: { key: new Redacted({ d: 'private-d', n: 'modulus' }) } };
    expect(JSON.stringify(state)).toBe('{"token":"[redacted]","nested":{"key":"[redacted]"}}');
    expect(inspect(state, { depth: 10 })).not.toMatch(/secret|private-d|modulus/);
    expect(`${t}`).toBe('[redacted]');
    expect(String(t)).toBe('[redacted]');
    expect(Object.keys(t)).toEqual([]);
    expect({ ...t }).toEqual({});
    expect(t.reveal()).toBe('eyJ.secret.sig');
  });
});
