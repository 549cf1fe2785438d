import { compileExpression, type CompiledExpression } from '@agw/api';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { JwtSuccess } from '../auth/jwt-verifier.js';
import { RequestActivation, evaluatesTrue } from './cel-activation.js';
import type { RequestState } from './request-state.js';

/** A request as the pipeline hands it to the stages: raw Node fields and the pipeline's state. */
function fakeRequest(state: Partial<RequestState> = {}): FastifyRequest {
  return {
    raw: {
      method: 'GET',
      url: '/admin?x=1',
      httpVersion: '1.1',
      rawHeaders: ['Host', 'a.test', 'X-Team', 'blue'],
      headers: { host: 'a.test', 'x-team': 'blue' },
      socket: { remoteAddress: '127.0.0.1', remotePort: 5000 },
    },
    headers: { host: 'a.test', 'x-team': 'blue' },
    agw: { host: 'a.test', ...state },
  } as unknown as FastifyRequest;
}

const expr = (source: string): CompiledExpression => {
  const c = compileExpression(source);
  if (!c.ok) throw new Error(c.error);
  return c;
};
const verified = (claims: Record<string, unknown>): JwtSuccess => ({ ok: true, claims, providerId: 'p' });

describe('RequestActivation.evaluate', () => {
  it('a jwt-only expression is evaluated once per verified token, then answered from the token', () => {
    const token = verified({ sub: 'alice', groups: ['admins'] });
    const isAdmin = expr("jwt.groups.exists(g, g == 'admins')");
    expect(isAdmin.onlyJwt).toBe(true);
    const first = new RequestActivation(fakeRequest({ verified: token })).evaluate(isAdmin);
    expect(first).toEqual({ ok: true, value: true });
    // The next request with the same (cached) token: the same result object, not a new evaluation.
    expect(new RequestActivation(fakeRequest({ verified: token })).evaluate(isAdmin)).toBe(first);
    expect(token.celResults?.get(isAdmin.source)).toBe(first);
    // Another token has its own results.
    const other = verified({ sub: 'bob', groups: [] });
    expect(new RequestActivation(fakeRequest({ verified: other })).evaluate(isAdmin)).toEqual({ ok: true, value: false });
  });

  it('errors are kept too (a missing claim stays missing for that token), and nothing is kept without a token', () => {
    const token = verified({ sub: 'alice' });
    const role = expr('jwt.role');
    const r = new RequestActivation(fakeRequest({ verified: token })).evaluate(role);
    expect(r).toMatchObject({ ok: false, code: 'no_such_key' });
    expect(token.celResults?.size).toBe(1);
    expect(new RequestActivation(fakeRequest()).evaluate(role)).toMatchObject({ ok: false, code: 'unknown_variable' });
  });

  it('expressions that read the request, or call uuid()/random(), are evaluated every time', () => {
    const token = verified({ sub: 'alice' });
    const a = new RequestActivation(fakeRequest({ verified: token }));
    expect(a.evaluate(expr("jwt.sub + ':' + request.path"))).toEqual({ ok: true, value: 'alice:/admin' });
    const id = expr('jwt.sub + uuid()');
    expect(id.onlyJwt).toBe(false);
    const one = a.evaluate(id);
    expect(a.evaluate(id)).not.toEqual(one);
    expect(token.celResults).toBeUndefined();
  });

  it('keeps at most 32 results per token', () => {
    const token = verified({ n: 1 });
    const a = new RequestActivation(fakeRequest({ verified: token }));
    for (let i = 0; i < 40; i++) expect(a.evaluate(expr(`jwt.n + ${i}`))).toEqual({ ok: true, value: BigInt(1 + i) });
    expect(token.celResults?.size).toBe(32);
  });

  it('builds the header map only for an expression that reads headers, and adds it when a later one does', () => {
    const a = new RequestActivation(fakeRequest());
    expect(evaluatesTrue(expr("request.method == 'GET' && request.path == '/admin'"), a)).toBe(true);
    expect((a.request as { headers?: unknown }).headers).toBeInstanceOf(Map); // read outside evaluate(): complete
    const b = new RequestActivation(fakeRequest());
    expect(b.evaluate(expr("request.path.startsWith('/ad')"))).toEqual({ ok: true, value: true });
    expect(b.evaluate(expr("request.headers['x-team']"))).toEqual({ ok: true, value: 'blue' });
    expect(b.evaluate(expr('toJson(request.headers)'))).toEqual({ ok: true, value: '{"host":"a.test","x-team":"blue"}' });
  });
});
