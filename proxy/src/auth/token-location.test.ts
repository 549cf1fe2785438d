import type { CompiledTokenLocation } from '@agw/api';
import { DEFAULT_TOKEN_LOCATION } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { cookieHeaderWithout, credentialSource, extractToken, rawHeaderSource, urlWithoutQueryParam } from './token-location.js';

const src = (headers: Record<string, string[]>, url = '/') => credentialSource(headers, url);

describe('extractToken', () => {
  const bearer = DEFAULT_TOKEN_LOCATION;
  const query: CompiledTokenLocation = { kind: 'query', name: 'access_token' };
  const cookie: CompiledTokenLocation = { kind: 'cookie', name: 'session' };
  const custom: CompiledTokenLocation = { kind: 'header', name: 'x-token', prefix: 'Token ' };
  const raw: CompiledTokenLocation = { kind: 'header', name: 'cf-access-jwt-assertion' };

  it.each<[string, CompiledTokenLocation, Record<string, string[]>, string, unknown]>([
    ['Bearer', bearer, { authorization: ['Bearer abc'] }, '/', { kind: 'found', token: 'abc' }],
    ['bearer, any case', bearer, { authorization: ['bEaReR abc'] }, '/', { kind: 'found', token: 'abc' }],
    ['extra space stays in the token (then malformed)', bearer, { authorization: ['Bearer  abc'] }, '/', { kind: 'found', token: ' abc' }],
    ['Basic is no token', bearer, { authorization: ['Basic dXNlcjpwYXNz'] }, '/', { kind: 'none' }],
    ['"Bearer" alone is no token', bearer, { authorization: ['Bearer'] }, '/', { kind: 'none' }],
    ['no header', bearer, {}, '/', { kind: 'none' }],
    ['two Authorization headers', bearer, { authorization: ['Bearer a', 'Bearer b'] }, '/', { kind: 'duplicate' }],
    ['two Authorization headers, one Basic', bearer, { authorization: ['Basic x', 'Bearer b'] }, '/', { kind: 'duplicate' }],
    ['header and access_token query', bearer, { authorization: ['Bearer a'] }, '/p?access_token=b', { kind: 'duplicate' }],
    ['query', query, {}, '/p?x=1&access_token=abc', { kind: 'found', token: 'abc' }],
    ['query, percent-encoded', query, {}, '/p?access_token=a%2Eb', { kind: 'found', token: 'a.b' }],
    ['query twice', query, {}, '/p?access_token=a&access_token=b', { kind: 'duplicate' }],
    ['query and Authorization Bearer', query, { authorization: ['Bearer x'] }, '/p?access_token=a', { kind: 'duplicate' }],
    ['cookie', cookie, { cookie: ['a=1; session=tok; b=2'] }, '/', { kind: 'found', token: 'tok' }],
    ['cookie twice', cookie, { cookie: ['session=a', 'session=b'] }, '/', { kind: 'duplicate' }],
    ['cookie absent', cookie, { cookie: ['sessionx=a'] }, '/', { kind: 'none' }],
    ['custom header with prefix', custom, { 'x-token': ['token abc'] }, '/', { kind: 'found', token: 'abc' }],
    ['custom header without prefix: whole value', raw, { 'cf-access-jwt-assertion': ['abc'] }, '/', { kind: 'found', token: 'abc' }],
  ])('%s', (_n, loc, headers, url, expected) => {
    expect(extractToken(src(headers, url), loc)).toEqual(expected);
  });
});

describe('rawHeaderSource', () => {
  it('finds every value of a header, any case, in order; nothing else', () => {
    const s = rawHeaderSource(['Host', 'x', 'Authorization', 'Bearer a', 'accept', '*/*', 'AUTHORIZATION', 'Bearer b'], '/');
    expect(s.header('authorization')).toEqual(['Bearer a', 'Bearer b']);
    expect(s.header('cookie')).toEqual([]);
  });
});

describe('credential removal', () => {
  it.each([
    ['/p?access_token=a&keep=yes', '/p?keep=yes'],
    ['/p?keep=yes&access_token=a', '/p?keep=yes'],
    ['/p?access_token=a', '/p'],
    ['/p?access%5Ftoken=a&x', '/p?x'],
    ['/p', '/p'],
  ])('urlWithoutQueryParam(%s) = %s', (url, expected) => {
    expect(urlWithoutQueryParam(url, 'access_token')).toBe(expected);
  });

  it('removes only the named cookie', () => {
    expect(cookieHeaderWithout(['a=1; session=t', 'b=2'], ['session'])).toBe('a=1; b=2');
    expect(cookieHeaderWithout(['session=t'], ['session'])).toBeUndefined();
  });
});
