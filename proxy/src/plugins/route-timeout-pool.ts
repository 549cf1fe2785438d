import { Pool, type Dispatcher } from 'undici';

/** Internal header carrying a route's timeout (ms) from the pipeline to the upstream pool; never sent upstream. */
export const ROUTE_TIMEOUT_HEADER = 'x-agw-internal-route-timeout-ms';

/**
 * An undici Pool (one per upstream origin, made by the Agent's `factory`) that applies a per-request
 * timeout: @fastify/http-proxy fixes its reply options at registration, so the route's timeout
 * travels in an internal header, which this pool removes before the request leaves. A timeout
 * makes reply-from answer 504 Gateway Timeout, as Gateway API asks for HTTPRoute timeouts.
 */
export class RouteTimeoutPool extends Pool {
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const headers = opts.headers as Record<string, string | string[] | undefined> | undefined;
    const raw = headers?.[ROUTE_TIMEOUT_HEADER];
    if (headers === undefined || raw === undefined) return super.dispatch(opts, handler);
    const { [ROUTE_TIMEOUT_HEADER]: _internal, ...rest } = headers;
    const ms = Number(raw);
    return super.dispatch({ ...opts, headers: rest, headersTimeout: ms, bodyTimeout: ms }, handler);
  }
}
