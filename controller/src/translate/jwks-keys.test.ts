import { describe, expect, it } from 'vitest';
import { parseJwks } from './jwks-keys.js';

const rsa = { kty: 'RSA', kid: 'r', n: 'bm9wZQ', e: 'AQAB', alg: 'RS256', use: 'sig' };

describe('parseJwks: one verdict for inline and fetched key sets', () => {
  it('keeps public parameters of RSA, EC and OKP keys', () => {
    const ec = { kty: 'EC', kid: 'e', crv: 'P-256', x: 'eA', y: 'eQ' };
    const okp = { kty: 'OKP', kid: 'o', crv: 'Ed25519', x: 'eA' };
    expect(parseJwks(JSON.stringify({ keys: [rsa, ec, okp] }))).toEqual({ ok: true, keys: [rsa, ec, okp], notes: [] });
  });

  it('removes every private parameter and says so; unknown extra members are dropped too', () => {
    const priv = { ...rsa, d: 'ZA', p: 'cA', q: 'cQ', dp: 'ZHA', dq: 'ZHE', qi: 'cWk', oth: [], extra: 'x' };
    const r = parseJwks(JSON.stringify({ keys: [priv, { kty: 'EC', kid: 'e', crv: 'P-256', x: 'eA', y: 'eQ', d: 'ZA' }] }));
    expect(r).toEqual({
      ok: true,
      keys: [rsa, { kty: 'EC', kid: 'e', crv: 'P-256', x: 'eA', y: 'eQ' }],
      notes: ['private key parameters removed (only public keys are used)'],
    });
    expect(JSON.stringify(r)).not.toMatch(/"(d|p|q|dp|dq|qi|oth)":/);
  });

  it.each([
    ['{', 'not JSON'],
    ['[]', 'no "keys" array'],
    ['{"keys":{}}', 'no "keys" array'],
    ['{"keys":[1]}', 'key 0 is not an object'],
    ['{"keys":[{"kid":"x"}]}', 'key 0 has no "kty"'],
    [JSON.stringify({ keys: [rsa, { kty: 'oct', kid: 'h', k: 'c2VjcmV0' }] }), 'key 1: symmetric (oct) keys are not accepted'],
    ['{"keys":[{"kty":"RSB"}]}', 'key 0: unsupported kty "RSB"'],
  ])('%s → %s (the whole set, as upstream fails the whole provider)', (text, error) => {
    expect(parseJwks(text)).toEqual({ ok: false, error });
  });

  it('a refusal never echoes key material', () => {
    const r = parseJwks(JSON.stringify({ keys: [{ kty: 'oct', k: 'dG9wLXNlY3JldA' }] }));
    expect(JSON.stringify(r)).not.toContain('dG9wLXNlY3JldA');
  });
});
