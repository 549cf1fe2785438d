import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './forward-headers.js';

const ctx = { host: 'app.example', clientAddress: '10.0.0.7', requestId: 'rid-1' };

describe('upstreamRequestHeaders', () => {
  it('keeps end-to-end headers, restores Host, sets X-Forwarded-* and X-Request-Id', () => {
    const out = upstreamRequestHeaders(
      { host: 'ignored', accept: 'text/plain', 'x-custom': ['a', 'b'], 'x-request-id': 'client-chosen' },
      ctx,
    );
    expect(out).toEqual({
      accept: 'text/plain',
      'x-custom': ['a', 'b'],
      host: 'app.example',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.example',
      'x-request-id': 'rid-1',
      forwarded: 'for=10.0.0.7;host="app.example";proto=http',
    });
  });

  it("replaces a client's Forwarded header with our own element (IPv6 quoted and bracketed)", () => {
    const forged = { forwarded: 'for=1.2.3.4;host=admin.internal;proto=https' };
    expect(upstreamRequestHeaders(forged, ctx).forwarded).toBe('for=10.0.0.7;host="app.example";proto=http');
    expect(upstreamRequestHeaders({ forwarded: ['a', 'b'] }, { ...ctx, clientAddress: '::1', host: 'h:8080' }).forwarded).toBe(
      'for="[::1]";host="h:8080";proto=http',
    );
    // A quote or backslash (the request-target checks let none through) is escaped, never ends the string.
    expect(upstreamRequestHeaders({}, { ...ctx, host: 'a"b\\c' }).forwarded).toBe('for=10.0.0.7;host="a\\"b\\\\c";proto=http');
  });

  it('drops hop-by-hop headers and every header the Connection header lists (RFC 9110 §7.6.1)', () => {
    const out = upstreamRequestHeaders(
      {
        connection: 'keep-alive, X-Secret-Hop , Upgrade',
        'x-secret-hop': 'v',
        upgrade: 'websocket',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic eA==',
        te: 'trailers',
        trailer: 'x',
        'transfer-encoding': 'chunked',
        expect: '100-continue',
        'proxy-connection': 'keep-alive',
        'http2-settings': 'AAMAAABkAAQAAP__',
        'x-kept': '1',
      },
      ctx,
    );
    expect(Object.keys(out).sort()).toEqual([
      'forwarded',
      'host',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-kept',
      'x-request-id',
    ]);
  });

  it('appends the client to an existing X-Forwarded-For (string or repeated)', () => {
    expect(upstreamRequestHeaders({ 'x-forwarded-for': '1.1.1.1' }, ctx)['x-forwarded-for']).toBe('1.1.1.1, 10.0.0.7');
    expect(upstreamRequestHeaders({ 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] }, ctx)['x-forwarded-for']).toBe(
      '1.1.1.1, 2.2.2.2, 10.0.0.7',
    );
    expect(upstreamRequestHeaders({ 'x-forwarded-for': '' }, ctx)['x-forwarded-for']).toBe('10.0.0.7');
  });

  it("applies the stages' edits: a removed credential header or cookie, set and appended values", () => {
    const overlay = (o: Record<string, string[] | null>) => ({ ...ctx, overlay: new Map(Object.entries(o)) });
    expect(upstreamRequestHeaders({ authorization: 'Bearer t', 'x-other': '1' }, overlay({ authorization: null }))).not.toHaveProperty(
      'authorization',
    );
    expect(upstreamRequestHeaders({ cookie: 'session=t; a=1' }, overlay({ cookie: ['a=1'] })).cookie).toBe('a=1');
    expect(upstreamRequestHeaders({ cookie: 'session=t' }, overlay({ cookie: null }))).not.toHaveProperty('cookie');
    expect(upstreamRequestHeaders({ cookie: 'session=t' }, ctx).cookie).toBe('session=t');
    const out = upstreamRequestHeaders(
      { 'x-a': 'client', 'x-b': 'keep' },
      overlay({ 'x-a': ['set'], 'x-c': ['1', '2'], connection: ['x'] }),
    );
    expect(out['x-a']).toBe('set');
    expect(out['x-b']).toBe('keep');
    expect(out['x-c']).toEqual(['1', '2']);
    expect(out.connection).toBeUndefined();
  });

  it("a transformation's authority is the upstream Host; X-Forwarded-Host keeps the client's", () => {
    const out = upstreamRequestHeaders({}, { ...ctx, authority: 'internal.svc' });
    expect(out.host).toBe('internal.svc');
    expect(out['x-forwarded-host']).toBe(ctx.host);
  });
});

describe('downstreamResponseHeaders', () => {
  it('drops hop-by-hop and connection-listed headers, keeps repeated Set-Cookie and Content-Length', () => {
    const out = downstreamResponseHeaders({
      connection: 'close, x-internal',
      'x-internal': 'secret',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'http2-settings': 'AAMAAABkAAQAAP__',
      'set-cookie': ['a=1', 'b=2'],
      'content-length': '12',
      'content-type': 'text/plain',
    });
    expect(out).toEqual({ 'set-cookie': ['a=1', 'b=2'], 'content-length': '12', 'content-type': 'text/plain' });
  });
});
