import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RedactedToken } from './request-state.js';

describe('RedactedToken', () => {
  it('never prints or serializes the token; reveal() is the one way in', () => {
    const t = new RedactedToken('eyJ.secret.sig');
    const state = { token: t };
    expect(JSON.stringify(state)).toBe('{"token":"[redacted]"}');
    expect(inspect(state)).not.toContain('secret');
    expect(`${t}`).toBe('[redacted]');
    expect(Object.keys(t)).toEqual([]);
    expect(t.reveal()).toBe('eyJ.secret.sig');
  });
});
