import { RE2JS } from 're2js';
import { boundedMemo } from './bounded-memo.js';

/**
 * HTTPRoute `RegularExpression` matches (path, header, query) on RE2 semantics, as Envoy and the
 * Gateway API implementations built on it: matching is linear in the input (no backtracking, so
 * `/(a+)+b` cannot stall a request), and what RE2 refuses (look-around, back-references, repeat
 * counts over 1000) is invalid here too. The controller (status, `agw validate`) and the proxy
 * (matching) compile with this one function, so what one accepts the other runs.
 */
export type RouteRegex = { readonly ok: true; readonly test: (input: string) => boolean } | { readonly ok: false; readonly error: string };

/** Longest pattern accepted, characters (Gateway API caps a path value at 1024 and a header value at 4096). */
export const MAX_ROUTE_REGEX_LENGTH = 4096;

/**
 * Compiles a pattern that must match the whole input (Gateway API: a full match, as Envoy's
 * `safe_regex`). Memoized by source (up to 10,000 patterns): a reconcile validates every route's
 * regexes and RE2 compilation costs tens of µs.
 */
export const compileRouteRegex: (pattern: string) => RouteRegex = boundedMemo(compile, 10_000);

function compile(pattern: string): RouteRegex {
  if (pattern.length > MAX_ROUTE_REGEX_LENGTH)
    return { ok: false, error: `regular expression longer than ${MAX_ROUTE_REGEX_LENGTH} characters` };
  try {
    const re = RE2JS.compile(pattern);
    return { ok: true, test: (input) => re.testExact(input) };
  } catch (err) {
    // re2js words its errors as Go's regexp/syntax: "error parsing regexp: missing closing ): `/(x`".
    return { ok: false, error: (err as Error).message };
  }
}
