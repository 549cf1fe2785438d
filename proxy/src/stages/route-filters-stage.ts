import type { CompiledHeaderModifier } from '@agw/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { headerValues } from '../plugins/cel-activation.js';
import { editsOf, setHeaderEdit } from '../plugins/request-state.js';
import { sendProxyError } from '../plugins/responses.js';
import { normalizeHost } from '../routing/hostname.js';
import {
  applyResponseHeaderModifier,
  modifyPath,
  redirectLocation,
  type ResponseHeaderMap,
  type RouteFiltersRuntime,
} from '../routing/route-filters.js';

/**
 * A RequestHeaderModifier as request edits (applied once by forwarding), add → set → remove: `add`
 * appends a value to those the request has so far, `set` replaces them, `remove` drops the header.
 */
function applyRequestHeaderModifier(req: FastifyRequest, m: CompiledHeaderModifier): void {
  const state = req.agw;
  for (const { name, value } of m.add) setHeaderEdit(state, name, [...headerValues(req, name), value]);
  for (const { name, value } of m.set) setHeaderEdit(state, name, [value]);
  for (const name of m.remove) setHeaderEdit(state, name, null);
}

/**
 * The route's HTTPRoute filters, in the order listed, after its policy stages (JWT, authorization,
 * transformation) and before a backend is chosen: header edits and URLRewrite's authority and path
 * go on the request's edits (forwarding applies them once); a ResponseHeaderModifier is kept for
 * forwarding; a RequestRedirect answers here, without calling an upstream (its `Location` built
 * from the request as the earlier filters and stages left it). True when it answered.
 */
export function applyRouteFilters(
  req: FastifyRequest,
  reply: FastifyReply,
  runtime: RouteFiltersRuntime,
  listener: { readonly scheme: 'http' | 'https'; readonly port: number },
): boolean {
  const state = req.agw;
  for (const f of runtime.filters) {
    switch (f.type) {
      case 'RequestHeaderModifier':
        applyRequestHeaderModifier(req, f.headers);
        break;
      case 'ResponseHeaderModifier':
        break;
      case 'URLRewrite': {
        const edits = editsOf(state);
        if (f.hostname !== undefined) edits.authority = f.hostname;
        if (f.path !== undefined) edits.path = modifyPath(edits.path ?? req.raw.url ?? '/', f.path, runtime.prefix);
        state.cel?.invalidate();
        break;
      }
      case 'RequestRedirect': {
        const edits = state.edits;
        const host = normalizeHost(edits?.authority ?? state.host);
        if (f.hostname === undefined && host === '') {
          sendProxyError(req, reply, 'PROXY_ERR_REDIRECT_NO_HOST');
          return true;
        }
        const location = redirectLocation(
          f,
          {
            scheme: listener.scheme,
            listenerPort: listener.port,
            host,
            target: edits?.path ?? req.raw.url ?? '/',
          },
          runtime.prefix,
        );
        const headers: ResponseHeaderMap = { location };
        if (runtime.response !== undefined) applyResponseHeaderModifier(headers, runtime.response);
        // The redirect's own Location wins over a response filter's.
        headers.location = location;
        reply.code(f.statusCode).headers(headers).send();
        return true;
      }
    }
  }
  if (runtime.response !== undefined) state.responseHeaders = runtime.response;
  return false;
}
