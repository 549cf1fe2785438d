import { loopbackAddressOf } from '@agw/api';
import httpProxy from '@fastify/http-proxy';
import type { FastifyInstance } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { cookieHeaderWithout, rawHeaderSource } from '../auth/token-location.js';
import type { Pool } from 'undici';
import './request-state.js';
import { ROUTE_TIMEOUT_HEADER, RouteTimeoutPool } from './route-timeout-pool.js';

export interface UpstreamOptions {
  /** Time to wait for upstream response headers and between body chunks, ms (default 30 000). */
  upstreamTimeoutMs: number;
  /** Keep-alive connections per upstream origin (default 128). */
  connectionsPerOrigin: number;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) that never cross the proxy; `connection`-listed ones are removed by reply-from. */
const HOP_BY_HOP = new Set(['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']);

/**
 * Forwards what the pipeline let through, to the endpoint it chose: @fastify/http-proxy registered
 * once for every path and method, with the upstream chosen per request. Bodies stream both ways.
 */
export async function upstreamPlugin(app: FastifyInstance, opts: UpstreamOptions): Promise<void> {
  await app.register(httpProxy, {
    upstream: '',
    prefix: '/',
    // The pipeline already matched routes on the raw URL; forward it as received (minus a stripped query token).
    rewritePrefix: '',
    undici: {
      connections: opts.connectionsPerOrigin, pipelining: 1, headersTimeout: opts.upstreamTimeoutMs, bodyTimeout: opts.upstreamTimeoutMs,
      factory: (origin: string | URL, o: Pool.Options) => new RouteTimeoutPool(origin, o),
    } as never,
    replyOptions: {
      getUpstream: (req) => {
        const ep = req.agw.endpoint;
        if (ep === undefined) return 'http://127.0.0.1:1';
        const host = loopbackAddressOf(ep.host) ?? ep.host;
        return `http://${host.includes(':') ? `[${host}]` : host}:${ep.port}`;
      },
      rewriteRequestHeaders: (req, headers: IncomingHttpHeaders) => {
        const state = req.agw;
        const jwt = state.jwt;
        // A fresh object rather than `delete`: deleting keys sends V8 objects into slow dictionary mode.
        const out: IncomingHttpHeaders = {};
        for (const name in headers) {
          if (HOP_BY_HOP.has(name) || name === jwt?.stripHeader || name === ROUTE_TIMEOUT_HEADER) continue;
          out[name] = headers[name];
        }
        if (state.host) out.host = state.host;
        if (jwt?.stripCookie !== undefined) {
          const rest = cookieHeaderWithout(rawHeaderSource(req.raw.rawHeaders, '').header('cookie'), jwt.stripCookie);
          if (rest === undefined) delete out.cookie; else out.cookie = rest;
        }
        const prior = out['x-forwarded-for'];
        const client = req.raw.socket.remoteAddress ?? '';
        out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
        out['x-forwarded-proto'] = 'http';
        out['x-forwarded-host'] = state.host ?? '';
        out['x-request-id'] = String(req.id);
        const timeoutMs = state.route?.timeoutMs;
        if (timeoutMs !== undefined) out[ROUTE_TIMEOUT_HEADER] = String(timeoutMs);
        return out;
      },
    },
  });
}
