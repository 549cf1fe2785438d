import type {
  CompiledHeaderModifier,
  CompiledPathModifier,
  CompiledRouteFilter,
  HttpHeaderFilter,
  HttpPathModifier,
  HttpRoute,
} from '@agw/api';

type HttpRouteRule = HttpRoute['spec']['rules'][number];
type HttpRouteFilter = HttpRouteRule['filters'][number];

/** An HTTPRoute filter this project refuses, or a value the Gateway API CRD (or the proxy) cannot take. */
export interface RouteFilterProblem {
  readonly ruleIndex: number;
  /** Field path inside the HTTPRoute object (`spec.rules.0.filters.1`), for file:line. */
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** The filter types served at rule level; every other type leaves its rule out (never served without it). */
const SUPPORTED = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'] as const;
type Supported = (typeof SUPPORTED)[number];

/** Each filter type's own field (Gateway API HTTPRouteFilter union), for the CRD's "must be nil / must be specified" rules. */
const FIELD_OF: Readonly<Record<string, string>> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
  ExternalAuth: 'externalAuth',
};

/** Gateway API HTTPHeaderName (RFC 7230 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** A value a header can carry (as Node and undici check them): no CR, LF, NUL or other controls. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;
/** Gateway API PreciseHostname. */
const PRECISE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/**
 * An absolute path the proxy forwards as written: RFC 3986 `pchar`s and `/`, percent-escapes of
 * anything but `/`, `\\` and controls; no `;` (the proxy refuses path parameters in request
 * targets), query, fragment or space.
 */
const PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,=:@/]|%(?![01][0-9A-Fa-f]|7[Ff]|2[Ff]|5[Cc])[0-9A-Fa-f]{2})*$/;
/**
 * Headers a filter may not write or remove: the hop-by-hop ones (RFC 9110 §7.6.1) and the message
 * framing, which forwarding owns, and (request side) `host`, which is the authority (URLRewrite
 * `hostname` sets it).
 */
const RESERVED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
/** Gateway API: `filters` has at most 16 items; a header filter's `set`, `add` and `remove` 16 each. */
const MAX_FILTERS = 16;
const MAX_HEADERS = 16;

function ruleNameOf(rule: HttpRouteRule, ri: number): string {
  return rule.name === undefined ? `rule ${ri}` : `rule ${ri} (${rule.name})`;
}

/** Problems of one header filter, worded as the CRD and our own checks (each name in one list only, header-safe values). */
function headerFilterProblems(h: HttpHeaderFilter, request: boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const checkName = (list: string, name: string) => {
    if (name.length === 0 || name.length > 256 || !HEADER_NAME.test(name)) {
      out.push(`${list} header name ${JSON.stringify(name)} is not a valid HTTP header name`);
      return;
    }
    const lower = name.toLowerCase();
    if (RESERVED.has(lower) || (request && lower === 'host'))
      out.push(
        `${list} header ${JSON.stringify(name)} cannot be modified by a filter${lower === 'host' ? ' (use URLRewrite hostname)' : ''}`,
      );
    // Gateway API: only one action for a given header name is permitted (names case-insensitive).
    if (seen.has(lower)) out.push(`header ${JSON.stringify(name)} appears more than once: one action per header name`);
    seen.add(lower);
  };
  for (const list of ['add', 'set'] as const) {
    const entries = h[list] ?? [];
    if (entries.length > MAX_HEADERS) out.push(`${list}: must have at most ${MAX_HEADERS} items`);
    for (const e of entries) {
      checkName(list, e.name);
      if (e.value.length === 0 || e.value.length > 4096 || !HEADER_VALUE.test(e.value))
        out.push(`${list} header ${JSON.stringify(e.name)}: value must be 1-4096 characters a header can carry (no control characters)`);
    }
  }
  const remove = h.remove ?? [];
  if (remove.length > MAX_HEADERS) out.push(`remove: must have at most ${MAX_HEADERS} items`);
  for (const name of remove) checkName('remove', name);
  return out;
}

/** Problems of a path modifier (the CRD's rules, then the proxy's: a path it can forward). */
function pathModifierProblems(p: HttpPathModifier, rule: HttpRouteRule, filterType: string): string[] {
  const out: string[] = [];
  if (p.type !== 'ReplaceFullPath' && p.type !== 'ReplacePrefixMatch') {
    out.push(`path type ${JSON.stringify(p.type)} is not supported (ReplaceFullPath, ReplacePrefixMatch)`);
    return out;
  }
  if (p.type === 'ReplaceFullPath' && p.replaceFullPath === undefined)
    out.push("replaceFullPath must be specified when type is set to 'ReplaceFullPath'");
  if (p.replaceFullPath !== undefined && p.type !== 'ReplaceFullPath')
    out.push("type must be 'ReplaceFullPath' when replaceFullPath is set");
  if (p.type === 'ReplacePrefixMatch' && p.replacePrefixMatch === undefined)
    out.push("replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'");
  if (p.replacePrefixMatch !== undefined && p.type !== 'ReplacePrefixMatch')
    out.push("type must be 'ReplacePrefixMatch' when replacePrefixMatch is set");
  if (out.length > 0) return out;
  const value = (p.type === 'ReplaceFullPath' ? p.replaceFullPath : p.replacePrefixMatch) ?? '';
  if (value.length > 1024) out.push(`${p.type}: may not be longer than 1024`);
  // An empty prefix replacement is allowed (Gateway API: `/foo/bar` with prefix `/foo` and "" is `/bar`).
  else if (!(p.type === 'ReplacePrefixMatch' && value === '') && !PATH.test(value))
    out.push(`${p.type} ${JSON.stringify(value)} is not an absolute path (starts with "/", no query, fragment or space)`);
  if (p.type === 'ReplacePrefixMatch') {
    const [only, ...more] = rule.matches;
    if (only === undefined || more.length > 0 || only.path.type !== 'PathPrefix')
      out.push(`When using ${filterType} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified`);
  }
  return out;
}

/** Problems of one rule-level filter of a supported type (its own field checked). */
function filterValueProblems(f: HttpRouteFilter, type: Supported, rule: HttpRouteRule): string[] {
  switch (type) {
    case 'RequestHeaderModifier':
      return headerFilterProblems(f.requestHeaderModifier ?? {}, true);
    case 'ResponseHeaderModifier':
      return headerFilterProblems(f.responseHeaderModifier ?? {}, false);
    case 'RequestRedirect': {
      const r = f.requestRedirect ?? {};
      const out: string[] = [];
      if (r.scheme !== undefined && r.scheme !== 'http' && r.scheme !== 'https')
        out.push(`scheme ${JSON.stringify(r.scheme)} is not supported (http, https)`);
      if (r.hostname !== undefined && (r.hostname.length > 253 || !PRECISE_HOSTNAME.test(r.hostname)))
        out.push(`hostname ${JSON.stringify(r.hostname)} is not a valid precise hostname`);
      if (r.port !== undefined && (r.port < 1 || r.port > 65535)) out.push(`port ${r.port} is not in 1-65535`);
      if (r.statusCode !== undefined && !REDIRECT_CODES.has(r.statusCode))
        out.push(`statusCode ${r.statusCode} is not supported (301, 302, 303, 307, 308)`);
      if (r.path !== undefined) out.push(...pathModifierProblems(r.path, rule, 'RequestRedirect'));
      return out;
    }
    case 'URLRewrite': {
      const r = f.urlRewrite ?? {};
      const out: string[] = [];
      if (r.hostname !== undefined && (r.hostname.length > 253 || !PRECISE_HOSTNAME.test(r.hostname)))
        out.push(`hostname ${JSON.stringify(r.hostname)} is not a valid precise hostname`);
      if (r.path !== undefined) out.push(...pathModifierProblems(r.path, rule, 'URLRewrite'));
      return out;
    }
  }
}

const isSupported = (t: string): t is Supported => (SUPPORTED as readonly string[]).includes(t);

/**
 * Every reason a route's rules cannot be served with their filters: a filter type this project does
 * not serve (RequestMirror, CORS, ExtensionRef, ExternalAuth, unknown), a filter on a backendRef
 * (not served at that level), or a value the Gateway API CRD refuses (its CEL messages) or the proxy
 * cannot forward. Such a rule is left out of the config, the route Accepted=False UnsupportedValue:
 * a rule is never served while ignoring one of its filters.
 */
export function routeFilterProblems(route: HttpRoute): RouteFilterProblem[] {
  const out: RouteFilterProblem[] = [];
  route.spec.rules.forEach((rule, ri) => {
    const ruleName = ruleNameOf(rule, ri);
    const add = (path: ReadonlyArray<string | number>, message: string) =>
      out.push({ ruleIndex: ri, path: ['spec', 'rules', ri, ...path], message: `${ruleName}: ${message}` });
    const filters = rule.filters;
    if (filters.length > MAX_FILTERS) add(['filters'], `filters: must have at most ${MAX_FILTERS} items`);
    filters.forEach((f, fi) => {
      const where = `filter ${fi} (${f.type})`;
      const loose = f as Record<string, unknown>;
      for (const [type, field] of Object.entries(FIELD_OF))
        if (loose[field] !== undefined && loose[field] !== null && f.type !== type)
          add(['filters', fi, field], `${where}: filter.${field} must be nil if the filter.type is not ${type}`);
      if (!isSupported(f.type)) {
        add(['filters', fi, 'type'], `${where} is not supported (served: ${SUPPORTED.join(', ')})`);
        return;
      }
      const field = FIELD_OF[f.type] as string;
      if (loose[field] === undefined || loose[field] === null) {
        add(['filters', fi], `${where}: filter.${field} must be specified for ${f.type} filter.type`);
        return;
      }
      for (const m of filterValueProblems(f, f.type, rule)) add(['filters', fi, field], `${where}: ${m}`);
    });
    for (const type of SUPPORTED)
      if (filters.filter((f) => f.type === type).length > 1) add(['filters'], `${type} filter cannot be repeated`);
    if (filters.some((f) => f.type === 'RequestRedirect') && filters.some((f) => f.type === 'URLRewrite'))
      add(['filters'], 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both');
    if (rule.backendRefs.length > 0 && filters.some((f) => f.type === 'RequestRedirect'))
      add(['filters'], 'RequestRedirect filter must not be used together with backendRefs');
    rule.backendRefs.forEach((ref, bi) => {
      (ref.filters ?? []).forEach((f, fi) =>
        add(
          ['backendRefs', bi, 'filters', fi],
          `backendRef ${ref.name} filter ${fi} (${f.type}) is not supported: filters on a backendRef are not served`,
        ),
      );
    });
  });
  return out;
}

function compileHeaders(h: HttpHeaderFilter | undefined): CompiledHeaderModifier {
  const entries = (list: HttpHeaderFilter['set']) => (list ?? []).map((e) => ({ name: e.name.toLowerCase(), value: e.value }));
  return { add: entries(h?.add), set: entries(h?.set), remove: (h?.remove ?? []).map((n) => n.toLowerCase()) };
}

function compilePath(p: HttpPathModifier | undefined): CompiledPathModifier | undefined {
  if (p === undefined) return undefined;
  return p.type === 'ReplaceFullPath'
    ? { type: 'ReplaceFullPath', value: p.replaceFullPath ?? '' }
    : { type: 'ReplacePrefixMatch', value: p.replacePrefixMatch ?? '' };
}

/**
 * A rule's filters in the proxy's form, in the order listed. Only for a rule routeFilterProblems
 * has no problem with (values are taken as checked there). RequestRedirect `statusCode` defaults
 * to 302 (Gateway API).
 */
export function compileRuleFilters(rule: HttpRouteRule): CompiledRouteFilter[] {
  return rule.filters.flatMap((f): CompiledRouteFilter[] => {
    switch (f.type) {
      case 'RequestHeaderModifier':
        return [{ type: 'RequestHeaderModifier', headers: compileHeaders(f.requestHeaderModifier) }];
      case 'ResponseHeaderModifier':
        return [{ type: 'ResponseHeaderModifier', headers: compileHeaders(f.responseHeaderModifier) }];
      case 'RequestRedirect': {
        const r = f.requestRedirect ?? {};
        const path = compilePath(r.path);
        return [
          {
            type: 'RequestRedirect',
            ...(r.scheme === 'http' || r.scheme === 'https' ? { scheme: r.scheme } : {}),
            ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
            ...(r.port !== undefined ? { port: r.port } : {}),
            ...(path !== undefined ? { path } : {}),
            statusCode: (r.statusCode ?? 302) as 301 | 302 | 303 | 307 | 308,
          },
        ];
      }
      case 'URLRewrite': {
        const r = f.urlRewrite ?? {};
        const path = compilePath(r.path);
        return [
          {
            type: 'URLRewrite',
            ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
            ...(path !== undefined ? { path } : {}),
          },
        ];
      }
      default:
        return [];
    }
  });
}
