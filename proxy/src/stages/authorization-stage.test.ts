import { toCelValue, type CelActivation, type CompiledAuthorizationRule } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { compileAuthorization, decideAuthorization, mergeAuthorization, type CompiledAuthorization } from './authorization-stage.js';

/** Compiles policies of rules and decides with `activation` (upstream's unit tables, reference §7). */
function decide(policies: CompiledAuthorizationRule[][], activation: CelActivation) {
  const compiled = new Map<string, CompiledAuthorization>(
    policies.map((rules, i) => [`p${i}`, compileAuthorization({ policy: `ns/p${i}`, rules })]),
  );
  return decideAuthorization(mergeAuthorization([...compiled.keys()], compiled), activation);
}
const allow = (expression: string): CompiledAuthorizationRule => ({ action: 'Allow', expression });
const deny = (expression: string): CompiledAuthorizationRule => ({ action: 'Deny', expression });
const require = (expression: string): CompiledAuthorizationRule => ({ action: 'Require', expression });
const jwt = (claims: Record<string, unknown>): CelActivation => ({ jwt: toCelValue(claims) });
const headers = (h: Record<string, string>): CelActivation =>
  ({
    request: { method: 'GET', uri: '', host: '', scheme: 'http', path: '/', pathAndQuery: '/', version: 'HTTP/1.1', headers: h },
  }) as CelActivation;

describe('authorization: upstream evaluation of the merged rules', () => {
  it('no rules → allow, decided by no rule', () => {
    expect(decide([], {})).toEqual({ allow: true });
  });

  it('deny-only: a non-matching request passes, a matching one is denied (a deny-list)', () => {
    const rules = [[deny('jwt.sub == "mallory"')]];
    expect(decide(rules, jwt({ sub: 'alice' })).allow).toBe(true);
    const d = decide(rules, jwt({ sub: 'mallory' }));
    expect(d.allow).toBe(false);
    expect(d.rule?.policy).toBe('ns/p0');
    expect(d.rule?.index).toBe(0);
  });

  it('stacked denies across policies: any true one denies', () => {
    const rules = [[deny('jwt.sub == "a"')], [deny('jwt.sub == "b"'), deny('jwt.role == "guest"')]];
    expect(decide(rules, jwt({ sub: 'c', role: 'admin' })).allow).toBe(true);
    expect(decide(rules, jwt({ sub: 'b' })).rule).toMatchObject({ policy: 'ns/p1', index: 0 });
    expect(decide(rules, jwt({ sub: 'c', role: 'guest' })).rule).toMatchObject({ policy: 'ns/p1', index: 1 });
  });

  it('mixed allow and deny: deny wins, allow admits, nothing matching is denied by default', () => {
    const rules = [[allow('jwt.sub == "alice"'), allow('jwt.sub == "mallory"')], [deny('jwt.sub == "mallory"')]];
    expect(decide(rules, jwt({ sub: 'alice' }))).toMatchObject({ allow: true, rule: { index: 0 } });
    expect(decide(rules, jwt({ sub: 'mallory' }))).toMatchObject({ allow: false, rule: { policy: 'ns/p1' } });
    const d = decide(rules, jwt({ sub: 'bob' }));
    expect(d.allow).toBe(false);
    expect(d.rule).toBeUndefined();
  });

  it('require-only: allows when every Require holds', () => {
    expect(decide([[require('jwt.role == "admin"')]], jwt({ role: 'admin' })).allow).toBe(true);
    expect(decide([[require('jwt.role == "admin"')]], jwt({ role: 'user' })).allow).toBe(false);
  });

  it('all requires must pass, across policies', () => {
    const rules = [[require('jwt.role == "admin"')], [require("request.headers['x-internal'] == 'true'")]];
    const both = { ...jwt({ role: 'admin' }), ...headers({ 'x-internal': 'true' }) };
    expect(decide(rules, both).allow).toBe(true);
    expect(decide(rules, { ...jwt({ role: 'admin' }), ...headers({}) })).toMatchObject({ allow: false, rule: { policy: 'ns/p1' } });
  });

  it('a Require is not sufficient when Allow rules exist', () => {
    const rules = [[require('jwt.role == "admin"'), allow('jwt.sub == "alice"')]];
    expect(decide(rules, jwt({ role: 'admin', sub: 'bob' })).allow).toBe(false);
    expect(decide(rules, jwt({ role: 'admin', sub: 'alice' })).allow).toBe(true);
    expect(decide(rules, jwt({ role: 'user', sub: 'alice' })).allow).toBe(false);
  });

  it('nested keys and array contains', () => {
    expect(decide([[allow('jwt.user.role == "admin"')]], jwt({ user: { role: 'admin' } })).allow).toBe(true);
    expect(decide([[allow('jwt.user.role == "admin"')]], jwt({ user: { role: 'x' } })).allow).toBe(false);
    expect(decide([[allow('jwt.groups.contains("admins")')]], jwt({ groups: ['dev', 'admins'] })).allow).toBe(true);
    expect(decide([[allow('"admins" in jwt.groups')]], jwt({ groups: ['dev'] })).allow).toBe(false);
    expect(decide([[allow("jwt.scope.split(' ').exists(s, s == 'read')")]], jwt({ scope: 'write read' })).allow).toBe(true);
  });

  it('an error is false: an erroring Allow or Require denies, an erroring Deny does not', () => {
    // No token: `jwt` is absent, so `jwt.sub` errors.
    expect(decide([[allow('jwt.sub == "alice"')]], {}).allow).toBe(false);
    expect(decide([[require('jwt.sub == "alice"')]], {}).allow).toBe(false);
    expect(decide([[deny('jwt.sub == "alice"')]], {}).allow).toBe(true);
    expect(decide([[allow('has(jwt.group) && jwt.group == "eng"')]], jwt({})).allow).toBe(false);
    expect(decide([[deny('1 / 0 == 1')]], {}).allow).toBe(true);
  });

  it('a non-boolean result is false', () => {
    expect(decide([[allow('jwt.sub')]], jwt({ sub: 'alice' })).allow).toBe(false);
    expect(decide([[deny('"yes"')]], {}).allow).toBe(true);
    expect(decide([[require('1')]], {}).allow).toBe(false);
  });

  it('an expression that does not compile is always false (kept, with a warning)', () => {
    const p = compileAuthorization({ policy: 'ns/bad', rules: [allow('jwt.sub == ')] });
    expect(p.warnings).toEqual([expect.stringMatching(/^rule 0 \(Allow\) is always false: /)]);
    expect(decide([[allow('{{ jwt.sub }}')]], jwt({ sub: 'x' })).allow).toBe(false);
    expect(decide([[deny('{{ jwt.sub }}')]], jwt({ sub: 'x' })).allow).toBe(true);
  });

  it('reports whether the deciding rule reads jwt (the insufficient_scope challenge)', () => {
    expect(decide([[deny('jwt.sub == "x"')]], jwt({ sub: 'x' }))).toMatchObject({ allow: false, readsJwt: true });
    expect(decide([[deny('request.path == "/"')]], headers({}))).toMatchObject({ allow: false, readsJwt: false });
    expect(decide([[allow('jwt.sub == "x"')]], jwt({ sub: 'y' }))).toMatchObject({ allow: false, readsJwt: true });
  });

  it('a set naming a policy the proxy lacks is unavailable (fails closed)', () => {
    expect(mergeAuthorization(['nope'], new Map()).unavailable).toBe('nope');
  });
});
