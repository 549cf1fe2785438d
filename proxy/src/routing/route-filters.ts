import { setOwn, type CompiledHeaderModifier, type CompiledPathModifier, type CompiledRoute, type CompiledRouteFilter } from '@agw/api';
import { canonicalPath, isValidAuthority } from './request-target.js';
import { ownHeader } from './forward-headers.js';

/**
 * A route's HTTPRoute filters as the proxy applies them (stages/route-filters-stage.ts), compiled
 * once per config: path values canonical (as route match values are), the matched prefix of a
 * `ReplacePrefixMatch` taken from the route's PathPrefix match.
 */
export interface RouteFiltersRuntime {
  /** The filters, in the order listed, with paths made canonical. */
  readonly filters: readonly CompiledRouteFilter[];
  /** The route's PathPrefix value without a trailing `/` (`''` for `/`); set when a filter replaces the prefix. */
  readonly prefix: string | undefined;
  /** The ResponseHeaderModifier, applied to the upstream's answer (and to a redirect). */
  readonly response: CompiledHeaderModifier | undefined;
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;
/** Written by forwarding (framing, hop-by-hop) or the authority: never by a filter (the controller refuses them too). */
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

function headersProblem(h: CompiledHeaderModifier, request: boolean): string | undefined {
  for (const { name, value } of [...h.add, ...h.set]) {
    if (!HEADER_NAME.test(name) || RESERVED.has(name) || (request && name === 'host'))
      return `header ${JSON.stringify(name)} cannot be written`;
    if (!HEADER_VALUE.test(value)) return `header ${JSON.stringify(name)}: value a header cannot carry`;
  }
  for (const name of h.remove)
    if (!HEADER_NAME.test(name) || RESERVED.has(name) || (request && name === 'host'))
      return `header ${JSON.stringify(name)} cannot be removed`;
  return undefined;
}

/** A path modifier with its value canonical, or why it cannot be used. */
function canonicalModifier(p: CompiledPathModifier): CompiledPathModifier | string {
  // A prefix replacement's trailing `/` is ignored (Gateway API); "" and "/" replace the prefix with nothing.
  const value = p.type === 'ReplacePrefixMatch' ? p.value.replace(/\/+$/, '') : p.value;
  if (value === '' && p.type === 'ReplacePrefixMatch') return { type: p.type, value: '' };
  const c = canonicalPath(value);
  if (typeof c !== 'string') return `${p.type} ${JSON.stringify(p.value)} is not a path the proxy can forward (${c.refused})`;
  return { type: p.type, value: p.type === 'ReplacePrefixMatch' ? c.replace(/\/+$/, '') : c };
}

/**
 * Compiles a route's filters, or says why the route cannot be served with them (the route is then
 * left out, as a match that does not compile: the controller has checked the same, so this is
 * defence against a config from elsewhere). Undefined: the route has no filter.
 */
export function compileRouteFilters(
  route: CompiledRoute,
): { ok: true; runtime: RouteFiltersRuntime | undefined } | { ok: false; error: string } {
  const list = route.filters;
  if (list === undefined || list.length === 0) return { ok: true, runtime: undefined };
  const filters: CompiledRouteFilter[] = [];
  let prefix: string | undefined;
  let response: CompiledHeaderModifier | undefined;
  for (const f of list) {
    switch (f.type) {
      case 'RequestHeaderModifier':
      case 'ResponseHeaderModifier': {
        const problem = headersProblem(f.headers, f.type === 'RequestHeaderModifier');
        if (problem !== undefined) return { ok: false, error: `${f.type}: ${problem}` };
        if (f.type === 'ResponseHeaderModifier') {
          if (response !== undefined) return { ok: false, error: 'ResponseHeaderModifier repeated' };
          response = f.headers;
        }
        filters.push(f);
        break;
      }
      case 'RequestRedirect':
      case 'URLRewrite': {
        if (f.hostname !== undefined && (!isValidAuthority(f.hostname) || f.hostname.includes(':')))
          return { ok: false, error: `${f.type}: hostname ${JSON.stringify(f.hostname)} is not a host name` };
        let path = f.path;
        if (path !== undefined) {
          const c = canonicalModifier(path);
          if (typeof c === 'string') return { ok: false, error: `${f.type}: ${c}` };
          path = c;
          if (path.type === 'ReplacePrefixMatch') {
            if (route.match.path.type !== 'PathPrefix')
              return { ok: false, error: `${f.type}: ReplacePrefixMatch needs a PathPrefix match` };
            const m = canonicalPath(route.match.path.value);
            const base = typeof m === 'string' ? m : route.match.path.value;
            prefix = base.endsWith('/') ? base.replace(/\/+$/, '') : base;
          }
        }
        filters.push(path === undefined ? f : { ...f, path });
        break;
      }
    }
  }
  return { ok: true, runtime: { filters, prefix, response } };
}

/**
 * Replaces the matched prefix of `path` (canonical, no query) element-wise (Gateway API
 * HTTPPathModifier): `prefix` and `replacement` without trailing `/`. `/foo/bar` with prefix `/foo`
 * and `/xyz` is `/xyz/bar`; `/foo/` is `/xyz/`; `/foo` with "" is `/`. A path that no longer starts
 * with the prefix (a route transformation changed it) is returned unchanged.
 */
export function replacePrefix(path: string, prefix: string, replacement: string): string {
  if (prefix !== '' && path !== prefix && !path.startsWith(`${prefix}/`)) return path;
  const rest = path.slice(prefix.length);
  const out = replacement + rest;
  return out === '' ? '/' : out;
}

/** `target` (path and query) with its path modified; the query is kept. */
export function modifyPath(target: string, modifier: CompiledPathModifier | undefined, prefix: string | undefined): string {
  if (modifier === undefined) return target;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const next = modifier.type === 'ReplaceFullPath' ? modifier.value : replacePrefix(path, prefix ?? '', modifier.value);
  return next + query;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/**
 * The `Location` of a RequestRedirect (Gateway API HTTPRequestRedirectFilter): the filter's scheme,
 * else the listener's; its hostname, else the request's host without its port; its port, else 80
 * or 443 when it sets a scheme, else the listener's port; no port for http:80 and https:443; the
 * request's path (modified) and query.
 */
export function redirectLocation(
  f: Extract<CompiledRouteFilter, { type: 'RequestRedirect' }>,
  request: { scheme: 'http' | 'https'; listenerPort: number; host: string; target: string },
  prefix: string | undefined,
): string {
  const scheme = f.scheme ?? request.scheme;
  const port = f.port ?? (f.scheme !== undefined ? DEFAULT_PORT[f.scheme] : request.listenerPort);
  const host = f.hostname ?? request.host;
  const authority = port === DEFAULT_PORT[scheme] ? host : `${host}:${port}`;
  return `${scheme}://${authority}${modifyPath(request.target, f.path, prefix)}`;
}

/** Response headers as forwarding writes them (lower-case names). */
export type ResponseHeaderMap = Record<string, string | string[] | undefined>;

/**
 * Applies a ResponseHeaderModifier to response headers in place, add → set → remove: `add` appends
 * a value to those present, `set` replaces them, `remove` drops the header.
 */
export function applyResponseHeaderModifier(headers: ResponseHeaderMap, m: CompiledHeaderModifier): void {
  for (const { name, value } of m.add) {
    const prior = ownHeader(headers, name);
    setOwn(headers, name, prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value]);
  }
  for (const { name, value } of m.set) setOwn(headers, name, value);
  for (const name of m.remove) delete headers[name];
}
