import { RE2JS } from 're2js';

/**
 * HTTPRoute `RegularExpression` matches (path, header, query) on RE2 semantics, as Envoy and the
 * Gateway API implementations built on it: matching is linear in the input (no backtracking, so
 * `/(a+)+b` cannot stall a request), and what RE2 refuses (look-around, back-references, repeat
 * counts over 1000) is invalid here too. The controller (status, `agw validate`) and the proxy
 * (matching) compile with this one function, so what one accepts the other runs.
 */
export type RouteRegex =
  | { readonly ok: true; readonly test: (input: string) => boolean }
  | { readonly ok: false; readonly error: string };

/** Longest pattern accepted, characters (Gateway API caps a path value at 1024 and a header value at 4096). */
export const MAX_ROUTE_REGEX_LENGTH = 4096;

/**
 * Compiled patterns by source, so that a reconcile (which validates every route's regexes) and a
 * config swap do not compile an unchanged pattern again (RE2 compilation costs tens of µs). Bounded:
 * emptied when it reaches MEMO_ENTRIES (a pattern is compiled again at most once per fill).
 */
const memo = new Map<string, RouteRegex>();
const MEMO_ENTRIES = 10_000;

/** Compiles a pattern that must match the whole input (Gateway API: a full match, as Envoy's `safe_regex`). */
export function compileRouteRegex(pattern: string): RouteRegex {
  const known = memo.get(pattern);
  if (known !== undefined) return known;
  const compiled = compile(pattern);
  if (memo.size >= MEMO_ENTRIES) memo.clear();
  memo.set(pattern, compiled);
  return compiled;
}

function compile(pattern: string): RouteRegex {
  if (pattern.length > MAX_ROUTE_REGEX_LENGTH) return { ok: false, error: `regular expression longer than ${MAX_ROUTE_REGEX_LENGTH} characters` };
  try {
    const re = RE2JS.compile(pattern);
    return { ok: true, test: (input) => re.testExact(input) };
  } catch (err) {
    // re2js words its errors as Go's regexp/syntax: "error parsing regexp: missing closing ): `/(x`".
    return { ok: false, error: (err as Error).message };
  }
}
