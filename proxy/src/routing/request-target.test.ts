import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PATH_RULES,
  TARGET_ERROR_BODY,
  TargetErrorCode as E,
  canonicalPath,
  canonicalTarget,
  isValidAuthority,
} from './request-target.js';

/** Each input → its canonical path, or the code it is refused with (default, strict rules). */
const PATHS: ReadonlyArray<readonly [string, string]> = [
  // Already canonical: unchanged.
  ['/', '/'],
  ['/secure', '/secure'],
  ['/secure/', '/secure/'],
  ['/a/b.c/d-e_f~g', '/a/b.c/d-e_f~g'],
  ['/.well-known/jwks', '/.well-known/jwks'],
  ['/...', '/...'],
  ['/a/..b', '/a/..b'],
  ['/a/b..', '/a/b..'],
  ["/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="],
  // Percent-encoded unreserved characters are decoded; other escapes upper-cased.
  ['/%73ecure', '/secure'],
  ['/secur%65/x', '/secure/x'],
  ['/%7Euser', '/~user'],
  ['/%41%5a%30%2D%5F', '/AZ0-_'],
  ['/caf%c3%a9', '/caf%C3%A9'],
  ['/a%20b', '/a%20b'],
  ['/a%3fb', '/a%3Fb'],
  ['/a%23b', '/a%23b'],
  ['/a%25b', '/a%25b'],
  ['/a%252e%252e/x', '/a%252e%252e/x'],
  // Raw characters outside pchar that Node lets through: encoded (one spelling).
  ['/a{b}', '/a%7Bb%7D'],
  ['/a|b', '/a%7Cb'],
  ['/a"b', '/a%22b'],
  ['/a^b`', '/a%5Eb%60'],
  ['/a[b]', '/a%5Bb%5D'],
  // Dot segments, raw or encoded.
  ['/open/../secure', '/secure'],
  ['/open/%2e%2e/secure', '/secure'],
  ['/open/%2E%2E/secure', '/secure'],
  ['/open/.%2e/secure', '/secure'],
  ['/./secure', '/secure'],
  ['/%2e/secure', '/secure'],
  ['/a/./b/../c', '/a/c'],
  ['/a/.', '/a/'],
  ['/a/..', '/'],
  ['/a/b/..', '/a/'],
  ['/.', '/'],
  // Merged slashes (Envoy merge_slashes, Istio MERGE_SLASHES).
  ['//secure', '/secure'],
  ['/a//b', '/a/b'],
  ['/a///b//', '/a/b/'],
  ['//', '/'],
  ['///', '/'],
  ['//..//secure', E.Traversal],
  ['/a//../secure', '/secure'],
  // Refused: ambiguous in some upstream.
  ['/secure%2Fx', E.EncodedSlash],
  ['/%2Fsecure', E.EncodedSlash],
  ['/secure%2fx', E.EncodedSlash],
  ['/a%5Cb', E.EncodedSlash],
  ['/a%5cb', E.EncodedSlash],
  ['/open\\..\\secure', E.Backslash],
  ['/a\\b', E.Backslash],
  ['/..', E.Traversal],
  ['/../secure', E.Traversal],
  ['/a/../..', E.Traversal],
  ['/%2e%2e/secure', E.Traversal],
  ['/a/../../b', E.Traversal],
  ['/secure;x', E.PathParameter],
  ['/open/..;/secure', E.PathParameter],
  ['/secure;jsessionid=1/x', E.PathParameter],
  ['/a%3Bb', E.PathParameter],
  ['/a%3bb', E.PathParameter],
  ['/a%00b', E.InvalidCharacter],
  ['/a%0d%0aX: y', E.InvalidCharacter],
  ['/a%7f', E.InvalidCharacter],
  ['/a\u0001', E.InvalidCharacter],
  ['/caf\u00e9', E.InvalidCharacter],
  ['/a b', '/a%20b'],
  ['/a%', E.BadEscape],
  ['/a%2', E.BadEscape],
  ['/a%zz', E.BadEscape],
  ['/a%g0', E.BadEscape],
  ['/%%32%65', E.BadEscape],
  ['secure', E.Form],
  ['', E.Form],
];

describe('canonicalPath (default rules)', () => {
  it.each(PATHS)('%j → %j', (input, expected) => {
    const out = canonicalPath(input);
    expect(typeof out === 'string' ? out : out.refused).toBe(expected);
  });

  it('is idempotent: a canonical path is its own canonical form', () => {
    for (const [, expected] of PATHS) {
      if (expected.startsWith('PROXY_ERR_')) continue;
      expect(canonicalPath(expected)).toBe(expected);
    }
  });
});

describe('canonicalPath (relaxed rules)', () => {
  const keep = { ...DEFAULT_PATH_RULES, semicolons: 'keep' as const };
  it.each([
    ['/secure;x', '/secure;x'],
    ['/a;b/c', '/a;b/c'],
    ['/a%3bb', '/a%3Bb'],
    ['/open/..;/secure', E.PathParameter],
    ['/open/.;x/secure', E.PathParameter],
    ['/..;', E.PathParameter],
  ])('semicolons kept: %j → %j', (input, expected) => {
    const out = canonicalPath(input, keep);
    expect(typeof out === 'string' ? out : out.refused).toBe(expected);
  });
  const noMerge = { ...DEFAULT_PATH_RULES, mergeSlashes: false };
  it.each([
    ['//secure', '//secure'],
    ['/a//b', '/a//b'],
    ['/a//..', '/a/'],
    ['/a/./b', '/a/b'],
  ])('slashes not merged: %j → %j', (input, expected) => {
    expect(canonicalPath(input, noMerge)).toBe(expected);
  });
});

describe('canonicalTarget', () => {
  it.each([
    ['/secure?x=/../a&y=%2F#', 'GET', { kind: 'refused', code: E.Fragment }],
    ['/secure#frag', 'GET', { kind: 'refused', code: E.Fragment }],
    ['/open/../secure?a=%2F..%5C&b', 'GET', { kind: 'origin', path: '/secure', query: '?a=%2F..%5C&b' }],
    ['/?', 'GET', { kind: 'origin', path: '/', query: '?' }],
    ['http://paths.example.com/secure/x', 'GET', { kind: 'origin', path: '/secure/x', query: '', authority: 'paths.example.com' }],
    [
      'HTTP://Paths.Example.com:8080/open/%2e%2e/secure?q=1',
      'GET',
      { kind: 'origin', path: '/secure', query: '?q=1', authority: 'Paths.Example.com:8080' },
    ],
    ['http://paths.example.com', 'GET', { kind: 'origin', path: '/', query: '', authority: 'paths.example.com' }],
    ['http://paths.example.com?q', 'GET', { kind: 'origin', path: '/', query: '?q', authority: 'paths.example.com' }],
    ['https://[::1]:8443/a', 'GET', { kind: 'origin', path: '/a', query: '', authority: '[::1]:8443' }],
    ['http://user:pw@paths.example.com/secure', 'GET', { kind: 'refused', code: E.Form }],
    ['http:///secure', 'GET', { kind: 'refused', code: E.Host }],
    ['http://a b/secure', 'GET', { kind: 'refused', code: E.Host }],
    ['ftp://paths.example.com/secure', 'GET', { kind: 'refused', code: E.Form }],
    ['paths.example.com:80', 'GET', { kind: 'refused', code: E.Form }],
    ['*', 'OPTIONS', { kind: 'asterisk' }],
    ['*', 'GET', { kind: 'refused', code: E.Form }],
    ['http://paths.example.com/secure;x', 'GET', { kind: 'refused', code: E.PathParameter }],
  ])('%j %s', (url, method, expected) => {
    expect(canonicalTarget(url, method)).toEqual(expected);
  });
});

describe('isValidAuthority', () => {
  it.each([
    ['www.example.com', true],
    ['www.example.com:8080', true],
    ['127.0.0.1:80', true],
    ['[::1]', true],
    ['[::1]:80', true],
    ['my_host.local', true],
    ['', true],
    ['a b', false],
    ['a/b', false],
    ['a@b', false],
    ['a\\b', false],
    ['a:b:c', false],
    ['[::1', false],
    ['a%2eb', false],
    ['a,b', false],
    ['a:123456', false],
    ['x'.repeat(256), false],
  ])('%j → %s', (host, ok) => {
    expect(isValidAuthority(host)).toBe(ok);
  });
});

it('every refusal code has a body', () => {
  for (const code of Object.values(E)) expect(TARGET_ERROR_BODY[code]).toMatch(/^invalid request/);
});
