import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type RequestListener } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { ConfigStore } from './config/store.js';
import type { ProxyMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { adminRoutes } from './plugins/admin.js';
import { gatewayPipeline } from './plugins/gateway-pipeline.js';
import './plugins/request-state.js';
import { upstreamPlugin } from './plugins/upstream.js';
import { TUNNEL_IDLE_TIMEOUT_MS } from './plugins/upgrade.js';
import { dispatchUpgrades } from './plugins/upgrade.js';
import { canonicalUrlRewriter } from './plugins/canonical-target.js';
import { DEFAULT_PATH_RULES, type PathRules } from './routing/request-target.js';
import { trackTlsConnections, type PortTlsHolder } from './tls-server.js';
import { lazyChildLoggerFactory } from './lazy-child-logger.js';
import { createPlainServer, type PlainServerOptions } from './plain-server.js';
import { WITHOUT_ROUTE_SCHEMAS } from './without-route-schemas.js';

export interface GatewayServerOptions {
  store: ConfigStore;
  metrics: ProxyMetrics;
  logger: FastifyBaseLogger;
  /** Gateway listener port this server answers for. */
  listenerPort: number;
  now?: () => number;
  random?: () => number;
  requestRefetch?: (remoteUrl: string, kid: string) => void;
  refetchWaitMs?: number;
  refetchIntervalMs?: number;
  upstreamTimeoutMs?: number;
  /** A tunnel (WebSocket) with no byte either way for this long is closed, ms (default TUNNEL_IDLE_TIMEOUT_MS; 0: never). */
  tunnelIdleTimeoutMs?: number;
  /** Request-target rules that may be relaxed (default: the strict ones, DEFAULT_PATH_RULES). */
  pathRules?: PathRules;
  /**
   * HTTPS listener port: TLS with the holder's certificates (SNI), ALPN h2 and http/1.1
   * (tls-server.ts). Unset: plaintext HTTP/1.1 and h2c, by the first bytes of each connection (plain-server.ts).
   */
  tls?: PortTlsHolder;
}

/** Idle HTTP/1.1 keep-alive connections close after this long, ms (Fastify's default, as on plain ports). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Builds the proxy for one listener port. Never listens: tests use `inject()` or `listen({port: 0})`,
 * main.ts decides ports. The access log has no token and no query string.
 *
 * With `tls`, the server is Node's HTTP/2 secure server with HTTP/1.1 allowed: `req.raw` is then an
 * `Http2ServerRequest` for h2 requests (pseudo-headers in `headers`/`rawHeaders`, no
 * `headersDistinct`, `httpVersionMajor` 2). Every reader of `req.raw` handles both (h2 notes in
 * canonical-target.ts, request-body.ts, cel-activation.ts, forward-headers.ts, upstream.ts); the
 * plugins are typed with Node's HTTP/1 types, hence the cast.
 */
export async function buildGatewayServer(o: GatewayServerOptions): Promise<FastifyInstance> {
  const tlsOptions = o.tls === undefined ? {} : { http2: true as const, https: o.tls.serverOptions() };
  // A plain port speaks HTTP/1.1 and h2c (plain-server.ts); an HTTPS port, h2 and HTTP/1.1 by ALPN.
  let plain: ReturnType<typeof createPlainServer> | undefined;
  const app = Fastify({
    ...(tlsOptions as object),
    ...WITHOUT_ROUTE_SCHEMAS,
    ...(o.tls === undefined
      ? { serverFactory: (handler: RequestListener, options: PlainServerOptions) => (plain = createPlainServer(handler, options)).server }
      : {}),
    loggerInstance: o.logger,
    // Our own access log (onResponse) replaces Fastify's request logging.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    childLoggerFactory: lazyChildLoggerFactory,
    return503OnClosing: true,
    // HTTP/2 secure servers have no closeIdleConnections: they drain by trackTlsConnections below
    // (Fastify's `true` would destroy busy HTTP/1.1 sockets).
    forceCloseConnections: o.tls === undefined ? 'idle' : false,
    // The canonical request target, decided before Fastify's router (canonical-target.ts).
    rewriteUrl: canonicalUrlRewriter(o.pathRules ?? DEFAULT_PATH_RULES),
    // Requests Node's parser refuses get a plain-text answer too, not Fastify's JSON.
    clientErrorHandler: answerClientError,
  }) as unknown as FastifyInstance;
  if (plain !== undefined) {
    const h2c = plain;
    app.addHook('preClose', (done) => {
      h2c.drain();
      done();
    });
  }
  if (o.tls !== undefined) {
    const server = app.server as unknown as Http2SecureServer & { keepAliveTimeout: number };
    o.tls.attach(server);
    // Read by Node's HTTP/1.1 side of the server (unset there: an idle connection would stay forever).
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    const tracker = trackTlsConnections(server);
    app.addHook('preClose', (done) => {
      tracker.drain();
      done();
    });
  }
  await app.register(gatewayPipeline, {
    store: o.store,
    metrics: o.metrics,
    listenerPort: o.listenerPort,
    now: o.now ?? Date.now,
    random: o.random ?? Math.random,
    pathRules: o.pathRules ?? DEFAULT_PATH_RULES,
    refetchWaitMs: o.refetchWaitMs ?? 1000,
    refetchIntervalMs: o.refetchIntervalMs ?? 30_000,
    ...(o.requestRefetch ? { requestRefetch: o.requestRefetch } : {}),
  });
  await app.register(upstreamPlugin, {
    upstreamTimeoutMs: o.upstreamTimeoutMs ?? 30_000,
    tunnelIdleTimeoutMs: o.tunnelIdleTimeoutMs ?? TUNNEL_IDLE_TIMEOUT_MS,
    connectionsPerOrigin: 128,
    scheme: o.tls === undefined ? 'http' : 'https',
  });
  // `Connection: upgrade` requests (WebSocket) through the same lifecycle (plugins/upgrade.ts).
  dispatchUpgrades(app);
  const port = String(o.listenerPort);
  // The access log object is only built when info is logged (the level is fixed at start).
  const accessLog = (o.logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true;
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const routeId = req.agw?.route?.id ?? '';
    o.metrics.countRequest(port, routeId, reply.statusCode, reply.elapsedTime / 1000);
    if (!accessLog) {
      done();
      return;
    }
    const jwt = req.agw?.jwt;
    // The parent logger with the request id as a field: the same line as req.log's, no child per request.
    app.log.info(
      {
        reqId: req.id,
        method: req.method,
        host: req.agw?.host,
        path: (req.raw.url ?? '').split('?', 1)[0],
        status: reply.statusCode,
        route: routeId || undefined,
        code: req.agw?.code,
        upstreamError: req.agw?.upstreamError,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        ...(jwt
          ? {
              jwt: {
                policy: jwt.policy,
                result: jwt.result,
                provider: jwt.provider,
                code: jwt.code,
                sub: typeof req.agw.verified?.claims.sub === 'string' ? req.agw.verified.claims.sub : undefined,
              },
            }
          : {}),
        // The deciding rule's policy and index, never a claim or an expression's value.
        ...(req.agw?.authorization ? { authorization: req.agw.authorization } : {}),
        ...(req.agw?.transformation ? { transformation: req.agw.transformation } : {}),
      },
      'access',
    );
    done();
  });
  return app;
}

/**
 * Fastify's clientErrorHandler: a request Node's HTTP parser refuses (bad request line, control
 * characters, header overflow, header timeout) gets a short plain-text answer and the connection
 * is closed, as Node does by default, in the same form as the proxy's own errors.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'request header fields too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request timeout']
        : [400, 'bad request'];
  // As Node's own handler: answer only when no response of ours has started on this socket.
  const inFlight = (socket as Socket & { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage;
  if (socket.writable && (inFlight == null || inFlight._headerSent !== true)) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The admin server; `stores` maps Gateway (`<ns>/<name>`) to its config store. */
export async function buildAdminServer(o: {
  stores: () => ReadonlyMap<string, ConfigStore>;
  metrics: { readonly registry: Registry };
  logger: FastifyBaseLogger;
  draining?: () => boolean;
  notServing?: () => string | undefined;
}): Promise<FastifyInstance> {
  const app = Fastify({
    ...WITHOUT_ROUTE_SCHEMAS,
    loggerInstance: o.logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  await app.register(adminRoutes, {
    stores: o.stores,
    metrics: o.metrics,
    draining: o.draining ?? (() => false),
    ...(o.notServing !== undefined ? { notServing: o.notServing } : {}),
  });
  return app;
}
