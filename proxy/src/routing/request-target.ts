/**
 * The request target, made canonical once, before listener and route selection: routing, every
 * policy and forwarding see the same path and host, so a path that an upstream would read as
 * `/secure` can never reach it under another route's policy (RFC 3986 §6.2.2, RFC 9112 §3.2).
 *
 * What is done (docs/security.md has the table and the Envoy/Istio comparison):
 * - percent-encoded unreserved characters are decoded (`%73ecure` → `secure`, `%2e` → `.`), other
 *   escapes upper-cased (`%c3%a9` → `%C3%A9`), characters outside RFC 3986's `pchar` that Node lets
 *   through (`"`, `{`, `|`, …) percent-encoded: one spelling per path;
 * - dot segments removed (`/a/./b/../c` → `/a/c`); repeated slashes merged (`//a` → `/a`, as
 *   Envoy's `merge_slashes` and Istio's MERGE_SLASHES), unless `mergeSlashes` is off;
 * - the query is left exactly as sent.
 * What is refused (400), because no canonical form is unambiguous: a fragment, a backslash raw or
 * encoded, an encoded slash, dot segments that climb above the root, control and non-ASCII
 * characters raw or encoded, malformed escapes, and `;` path parameters raw or encoded (unless
 * `semicolons: 'keep'`; even then a `..;` or `.;` segment is refused), an asterisk-form target on
 * any method but OPTIONS, authority-form, a scheme other than http(s), and userinfo in the authority.
 */

/** Stable codes of a refused request target (docs/errors.md; access log field `code`). */
export const TargetErrorCode = {
  Fragment: 'PROXY_ERR_TARGET_FRAGMENT',
  Backslash: 'PROXY_ERR_TARGET_BACKSLASH',
  EncodedSlash: 'PROXY_ERR_TARGET_ENCODED_SLASH',
  Traversal: 'PROXY_ERR_TARGET_TRAVERSAL',
  InvalidCharacter: 'PROXY_ERR_TARGET_INVALID_CHARACTER',
  BadEscape: 'PROXY_ERR_TARGET_BAD_ESCAPE',
  PathParameter: 'PROXY_ERR_TARGET_PATH_PARAMETER',
  Form: 'PROXY_ERR_TARGET_FORM',
  Host: 'PROXY_ERR_TARGET_HOST',
} as const;
export type TargetErrorCode = (typeof TargetErrorCode)[keyof typeof TargetErrorCode];

/** The plain-text body of each refusal (status 400). */
export const TARGET_ERROR_BODY: Readonly<Record<TargetErrorCode, string>> = {
  PROXY_ERR_TARGET_FRAGMENT: 'invalid request target: fragment not allowed',
  PROXY_ERR_TARGET_BACKSLASH: 'invalid request target: backslash in path',
  PROXY_ERR_TARGET_ENCODED_SLASH: 'invalid request target: encoded slash or backslash in path',
  PROXY_ERR_TARGET_TRAVERSAL: 'invalid request target: path climbs above the root',
  PROXY_ERR_TARGET_INVALID_CHARACTER: 'invalid request target: control or non-ASCII character in path',
  PROXY_ERR_TARGET_BAD_ESCAPE: 'invalid request target: malformed percent-encoding',
  PROXY_ERR_TARGET_PATH_PARAMETER: 'invalid request target: path parameter (;) in path',
  PROXY_ERR_TARGET_FORM: 'invalid request target: unsupported form',
  PROXY_ERR_TARGET_HOST: 'invalid request: missing, repeated or malformed host',
};

/** What may be relaxed (per proxy: `--path-merge-slashes`, `--path-semicolons`); the defaults are the strict ones. */
export interface PathRules {
  /** Merge `//` into `/` (default true). Off: empty segments are kept and routed as they are. */
  readonly mergeSlashes: boolean;
  /**
   * `reject` (default): any `;` (raw or `%3B`) in the path is refused, since Tomcat, Spring and
   * Jetty strip `;…` from each segment (`/secure;x` is their `/secure`). `keep`: `;` is an ordinary
   * character, routed and forwarded as sent: only for upstreams that do not treat it specially.
   */
  readonly semicolons: 'reject' | 'keep';
}
export const DEFAULT_PATH_RULES: PathRules = { mergeSlashes: true, semicolons: 'reject' };

export type RequestTarget =
  /** `path` is canonical, `query` is `''` or `?…` as sent; `authority` is set for absolute-form targets. */
  | { readonly kind: 'origin'; readonly path: string; readonly query: string; readonly authority?: string }
  /** `OPTIONS *`: about the server, never forwarded. */
  | { readonly kind: 'asterisk' }
  | { readonly kind: 'refused'; readonly code: TargetErrorCode };

const refused = (code: TargetErrorCode): RequestTarget => ({ kind: 'refused', code });

/** A path that cannot be made canonical, and why. */
export interface PathRefusal {
  readonly refused: TargetErrorCode;
}
const isRefusal = (v: string | PathRefusal): v is PathRefusal => typeof v !== 'string';

/**
 * A path that needs no work: `/`-separated segments of unreserved characters, sub-delims but `;`,
 * `:` and `@`, with no empty, `.` or `..` segment, and at most a query after it (no `#`, `%`, `\`).
 * Nearly every request takes this branch: one regex test, no allocation beyond the split at `?`.
 */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)*\/?$/;

const HEX = '0123456789ABCDEF';
const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
const isUnreserved = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
/** RFC 3986 `pchar` besides unreserved and `%`: sub-delims (`;` handled apart), `:` and `@`. */
const isPcharDelimiter = (c: number): boolean => c === 33 || c === 36 || (c >= 38 && c <= 44) || c === 61 || c === 58 || c === 64;

/**
 * One segment in canonical form, or a refusal. `%XX` of an unreserved character is decoded, other
 * escapes upper-cased; raw characters outside pchar are encoded.
 */
function canonicalSegment(seg: string, rules: PathRules): string | PathRefusal {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(seg.charCodeAt(i + 1)),
        lo = hexValue(seg.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { refused: TargetErrorCode.BadEscape };
      const b = hi * 16 + lo;
      if (b === 0x2f || b === 0x5c) return { refused: TargetErrorCode.EncodedSlash };
      if (b < 0x20 || b === 0x7f) return { refused: TargetErrorCode.InvalidCharacter };
      if (b === 0x3b && rules.semicolons === 'reject') return { refused: TargetErrorCode.PathParameter };
      out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
    } else if (c === 59 /* ; */) {
      if (rules.semicolons === 'reject') return { refused: TargetErrorCode.PathParameter };
      out += ';';
    } else if (c === 92 /* \ */) {
      return { refused: TargetErrorCode.Backslash };
    } else if (c < 0x20 || c >= 0x7f) {
      return { refused: TargetErrorCode.InvalidCharacter };
    } else if (isUnreserved(c) || isPcharDelimiter(c)) {
      out += seg[i];
    } else {
      // `"`, `<`, `>`, `[`, `]`, `^`, `` ` ``, `{`, `|`, `}`, space: one spelling, encoded.
      out += `%${HEX[c >> 4]}${HEX[c & 15]}`;
    }
  }
  return out;
}

/** The canonical form of an origin-form path (no query), or a refusal. */
export function canonicalPath(path: string, rules: PathRules = DEFAULT_PATH_RULES): string | PathRefusal {
  if (path.charCodeAt(0) !== 47 /* / */) return { refused: TargetErrorCode.Form };
  if (PLAIN_PATH.test(path)) return path;
  const raw = path.split('/');
  const out: string[] = [];
  // raw[0] is the empty string before the leading `/`; the last one is empty for a trailing `/`.
  for (let i = 1; i < raw.length; i++) {
    const seg = canonicalSegment(raw[i] as string, rules);
    if (isRefusal(seg)) return seg;
    const last = i === raw.length - 1;
    // A segment that is a dot segment only once its parameters are cut (`..;x`) is ambiguous.
    const base = rules.semicolons === 'keep' ? (seg.split(';', 1)[0] as string) : seg;
    if (base !== seg && (base === '.' || base === '..')) return { refused: TargetErrorCode.PathParameter };
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      // Climb one segment; the empty segments of `//` merged away do not count as levels.
      if (out.length === 0) return { refused: TargetErrorCode.Traversal };
      out.pop();
      if (last) out.push('');
    } else if (seg === '' && !last && rules.mergeSlashes) {
      continue;
    } else {
      out.push(seg);
    }
  }
  // A trailing `/` survives as a last empty segment (`/a//` merged is `/a/`; `//` is `/`).
  return `/${out.join('/')}`;
}

/**
 * Host header or absolute-form authority: a DNS-style name (letters, digits, `-`, `.`, `_`, `~`) or
 * an IP literal, and an optional port. Stricter than RFC 3986's reg-name on purpose: sub-delims and
 * escapes in a host name only serve to make two spellings of one name.
 */
const AUTHORITY = /^(?:[A-Za-z0-9\-._~]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;

/** True for a Host header value (or absolute-form authority) that names one host unambiguously. */
export function isValidAuthority(value: string): boolean {
  return value.length <= 255 && AUTHORITY.test(value);
}

/**
 * Parses and canonicalizes a request target as Node hands it over (`req.url`), for `method`.
 * Forms (RFC 9112 §3.2): origin (`/p?q`), absolute (`http://host/p?q`), asterisk (`*`, OPTIONS
 * only); authority-form (CONNECT) is not served.
 */
export function canonicalTarget(url: string, method: string, rules: PathRules = DEFAULT_PATH_RULES): RequestTarget {
  if (url.includes('#')) return refused(TargetErrorCode.Fragment);
  if (url === '*') return method === 'OPTIONS' ? { kind: 'asterisk' } : refused(TargetErrorCode.Form);
  let authority: string | undefined;
  let rest = url;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const m = /^(https?):\/\/([^/?]*)/i.exec(url);
    if (m === null) return refused(TargetErrorCode.Form);
    authority = m[2] as string;
    if (authority === '' || !isValidAuthority(authority))
      return refused(authority.includes('@') ? TargetErrorCode.Form : TargetErrorCode.Host);
    rest = url.slice(m[0].length);
    if (rest === '' || rest.charCodeAt(0) === 63 /* ? */) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  const path = canonicalPath(q < 0 ? rest : rest.slice(0, q), rules);
  if (isRefusal(path)) return refused(path.refused);
  const query = q < 0 ? '' : rest.slice(q);
  return authority === undefined ? { kind: 'origin', path, query } : { kind: 'origin', path, query, authority };
}
