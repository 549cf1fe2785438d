import { loopbackAddressOf, type Endpoint } from '@agw/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { METHODS, validateHeaderName, validateHeaderValue, type ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { Agent, type ConnectorOptions } from './undici-dispatcher.js';
import type { CompiledCredentialTarget } from '@agw/api';
import { cookieHeaderWithout, urlWithoutQueryParam } from '../auth/token-location.js';
import type { ProxyErrorCode } from '../proxy-errors.js';
import { downstreamResponseHeaders, upstreamRequestHeaders, type HeaderMap } from '../routing/forward-headers.js';
import { applyResponseHeaderModifier } from '../routing/route-filters.js';
import { applyResponseTransforms, type TransformationRuntime } from '../stages/transformation-stage.js';
import { MAX_BUFFERED_BODY, requestHasBody } from './request-body.js';
import { sendProxyError } from './responses.js';
import { isWebSocketUpgrade, tunnelUpgrade, upgradeOf } from './upgrade.js';
import { isTlsFailure, tlsConnectOptions, TlsAgents } from './upstream-tls.js';

/** Longest wait for a TCP connection to an upstream, ms (undici's default, which the dispatcher keeps). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Streams in flight on one HTTP/2 connection to an h2c upstream (undici's default
 * `maxConcurrentStreams`; the upstream's SETTINGS may lower it). undici multiplexes only requests
 * without a streamed body that are idempotent: a POST or a streamed body (every gRPC call) has its
 * connection to itself, so concurrent calls use up to `connectionsPerOrigin` connections (ADR 0005).
 */
const H2C_STREAMS_PER_CONNECTION = 100;

/**
 * undici's switch to HTTP/2 with prior knowledge on `http:` origins (undici 7 `useH2c`, missing
 * from its connector's types). It must be in `connect`: a Pool builds the connector from `connect`
 * and does not pass `useH2c` from its own options.
 */
const H2C_CONNECT: ConnectorOptions & { useH2c: true } = { useH2c: true };

/** undici's dispatch options with `servername`, which its Request reads but its types leave out (undici 7). */
type DispatchWithServername = Dispatcher.DispatchOptions & { servername: string | null };

export interface UpstreamOptions {
  /** Longest wait for upstream response headers, and between body chunks, ms (default 30 000). */
  upstreamTimeoutMs: number;
  /** A tunnel (WebSocket) with no byte either way for this long is closed, ms (0: never). */
  tunnelIdleTimeoutMs: number;
  /** Keep-alive connections per upstream origin (default 128). */
  connectionsPerOrigin: number;
  /** Scheme clients use on this port (`https` on an HTTPS listener): X-Forwarded-Proto and `Forwarded`. */
  scheme?: 'http' | 'https';
}

/**
 * Forwards what the pipeline let through to the endpoint it chose, on undici's dispatcher: the
 * response streams to the client chunk by chunk with backpressure, the request body streams
 * upstream unparsed. (ADR 0004: this replaced @fastify/reply-from, which cost 45 µs of CPU per
 * request in Node streams on top of the same undici pools.)
 */
export async function upstreamPlugin(app: FastifyInstance, opts: UpstreamOptions): Promise<void> {
  const agent = new Agent({
    connections: opts.connectionsPerOrigin,
    pipelining: 1,
    headersTimeout: opts.upstreamTimeoutMs,
    bodyTimeout: opts.upstreamTimeoutMs,
  });
  // Backends whose Service port says `appProtocol: kubernetes.io/h2c` (config `protocol: h2c`).
  const h2cAgent = new Agent({
    connections: opts.connectionsPerOrigin,
    pipelining: H2C_STREAMS_PER_CONNECTION,
    maxConcurrentStreams: H2C_STREAMS_PER_CONNECTION,
    allowH2: true,
    connect: H2C_CONNECT,
    headersTimeout: opts.upstreamTimeoutMs,
    bodyTimeout: opts.upstreamTimeoutMs,
  });
  // Backends under a TLS policy: one Agent per distinct setting (upstream-tls.ts), HTTP/1.1.
  const tlsAgents = new TlsAgents({
    connections: opts.connectionsPerOrigin,
    headersTimeout: opts.upstreamTimeoutMs,
    bodyTimeout: opts.upstreamTimeoutMs,
  });
  app.addHook('onClose', async () => {
    await Promise.all([agent.close(), h2cAgent.close(), tlsAgents.close()]);
  });

  // Every method Node's HTTP parser accepts is forwarded, as a gateway does (WebDAV's PROPFIND,
  // MKCOL, COPY, LOCK…, caches' PURGE: Fastify routes nine methods and answered the others its own
  // JSON 404), and Fastify never looks at a body: declared bodyless, every request goes straight
  // to the handler, which streams `req.raw` to the upstream (bodies are never parsed or buffered
  // here; Fastify refused an unparseable Content-Type with its own JSON 415, and QUERY without one
  // with a 400, before any policy ran). CONNECT never reaches a route (Node's 'connect' event).
  for (const method of METHODS) if (method !== 'CONNECT') app.addHttpMethod(method, { hasBody: false, overrideExisting: true });

  const origins = new WeakMap<Endpoint, string>();
  const tlsOrigins = new WeakMap<Endpoint, string>();
  const hostOf = (ep: Endpoint): string => loopbackAddressOf(ep.host) ?? ep.host;
  const originOf = (ep: Endpoint, tls: boolean): string => {
    const cache = tls ? tlsOrigins : origins;
    let origin = cache.get(ep);
    if (origin === undefined) {
      const host = hostOf(ep);
      origin = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${ep.port}`;
      cache.set(ep, origin);
    }
    return origin;
  };

  app.all('/*', (req: FastifyRequest, reply: FastifyReply): void => {
    const state = req.agw;
    const endpoint = state.endpoint;
    // The pipeline answers every request it does not give an endpoint; reaching here without one is a bug.
    if (endpoint === undefined) throw new Error('the pipeline passed a request without choosing an endpoint');
    const raw = req.raw;
    const edits = state.edits;
    const tls = state.upstreamTls;
    tlsAgents.observe(state.runtime);
    // One literal, no conditional spreads: a spread after other properties takes V8's slow path (~1 µs each).
    const headers = upstreamRequestHeaders(raw.headers, {
      host: state.host ?? '',
      clientAddress: raw.socket.remoteAddress ?? '',
      requestId: String(req.id),
      proto: opts.scheme,
      authority: edits?.authority,
      overlay: edits?.headers,
    });
    let path = edits?.path ?? raw.url ?? '/';
    // Backend auth passthrough: only a token a JWT stage validated, never the client's own.
    const token = state.token;
    if (state.backendAuth !== undefined && token !== undefined)
      path = writeCredential(headers, path, state.backendAuth.target, token.reveal());
    // The body: a transformation's, else the buffered one (an expression read it), else streamed as received.
    const hasBody = requestHasBody(req);
    // An upgrade request (it never has a body: the pipeline refused those). WebSocket is
    // tunnelled, over HTTP/1.1 whatever the backend's protocol (an upgrade is an HTTP/1.1
    // request), over TLS to a TLS backend; another protocol is declined and the request forwarded
    // below without `Upgrade`.
    if (upgradeOf(raw) !== undefined && isWebSocketUpgrade(raw)) {
      tunnelUpgrade(
        req,
        reply,
        {
          host: hostOf(endpoint),
          port: endpoint.port,
          method: edits?.method ?? raw.method ?? 'GET',
          path,
          headers,
          ...(tls !== undefined ? { tls: tlsConnectOptions(tls.tls.settings, tls.servername) } : {}),
        },
        {
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          headersTimeoutMs: opts.upstreamTimeoutMs,
          routeTimeoutMs: state.route?.timeoutMs,
          idleTimeoutMs: opts.tunnelIdleTimeoutMs,
          transforms: state.responseTransforms,
          fail: (err) => answerFailure(req, reply, err),
        },
      );
      return;
    }
    const buffered = edits?.body ?? (state.body !== undefined && hasBody ? state.body : undefined);
    if (buffered !== undefined) headers['content-length'] = String(buffered.byteLength);
    // TLS backends speak HTTP/1.1 (ALPN http/1.1), an h2c port's included.
    const h2c = tls === undefined && state.upstreamProtocol === 'h2c';
    // HTTP/2 allows `TE: trailers` (RFC 9113 §8.2.2), and gRPC servers expect it: kept when the client sent it.
    if (h2c && acceptsTrailers(raw.headers.te)) headers.te = 'trailers';
    const exchange = new UpstreamExchange(req, reply, state.route?.timeoutMs, state.responseTransforms);
    try {
      const options: DispatchWithServername = {
        origin: originOf(endpoint, tls !== undefined),
        // undici takes a TLS connection's name from the request (else its Host header) and
        // reconnects when it changes: one fixed name per TLS Agent (whose connector sends the
        // real SNI, upstream-tls.ts). Unused for plaintext origins.
        servername: tls === undefined ? null : tls.servername,
        path,
        method: edits?.method ?? raw.method ?? 'GET',
        headers,
        body: buffered ?? (hasBody ? raw : null),
      };
      (tls !== undefined ? tlsAgents.agentFor(tls) : h2c ? h2cAgent : agent).dispatch(options, exchange);
    } catch (err) {
      // undici refused the request itself (it validates headers again): answered like any failure.
      exchange.fail(err as Error);
    }
  });
}

/**
 * Writes a validated token where a backend-auth passthrough policy says (upstream: default
 * `Authorization: Bearer <token>`), replacing whatever the request carried there: a header
 * (`<prefix><token>`), a query parameter (every existing value removed, the token appended) or a
 * cookie (likewise). Returns the path, changed for a query parameter.
 */
function writeCredential(headers: HeaderMap, path: string, target: CompiledCredentialTarget, token: string): string {
  switch (target.kind) {
    case 'header':
      headers[target.name.toLowerCase()] = `${target.prefix ?? ''}${token}`;
      return path;
    case 'query': {
      const rest = urlWithoutQueryParam(path, target.name);
      return `${rest}${rest.includes('?') ? '&' : '?'}${encodeURIComponent(target.name)}=${encodeURIComponent(token)}`;
    }
    case 'cookie': {
      const prior = headers.cookie;
      const lines = prior === undefined ? [] : Array.isArray(prior) ? prior : [prior];
      const rest = cookieHeaderWithout(lines, [target.name]);
      headers.cookie = rest === undefined ? `${target.name}=${token}` : `${rest}; ${target.name}=${token}`;
      return path;
    }
  }
}

/** Whether a TE header lists `trailers` (RFC 9110 §10.1.4). */
function acceptsTrailers(te: string | string[] | undefined): boolean {
  if (te === undefined) return false;
  return (Array.isArray(te) ? te.join(',') : te).split(',').some((t) => t.split(';')[0]?.trim().toLowerCase() === 'trailers');
}

/**
 * The upstream's response trailers, none when empty. undici 7.30 hands `onResponseEnd` HTTP/2
 * trailers as an empty object (it parses them as HTTP/1.1's flat name/value list, but HTTP/2's are
 * an object) and keeps them whole in `controller.rawTrailers`: read there when the parsed ones are
 * empty. HTTP/1.1 trailers (chunked) arrive parsed.
 */
function upstreamTrailers(controller: Dispatcher.DispatchController, parsed: HeaderMap | undefined): HeaderMap | undefined {
  if (parsed !== undefined && Object.keys(parsed).length > 0) return parsed;
  const raw = controller.rawTrailers;
  if (raw === null || raw === undefined || Array.isArray(raw) || Object.keys(raw).length === 0) return undefined;
  return raw as HeaderMap;
}

/** Whether a response to `method` with `status` can carry a body (RFC 9110 §6.4.1). */
function mayHaveBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304;
}

/** An error of our own making, with a code `failureAnswer` maps like undici's. */
function agwError(
  code: 'AGW_ROUTE_TIMEOUT' | 'AGW_INVALID_RESPONSE' | 'AGW_RESPONSE_TOO_LARGE',
  message: string,
  cause?: unknown,
): Error & { code: string } {
  return Object.assign(new Error(message, { cause }), { code });
}

/** The proxy error code for a failed upstream exchange (proxy-errors.ts has status and body); `tls`: the call was over TLS. */
function failureCode(err: Error & { code?: string }, tls: boolean): ProxyErrorCode {
  if (tls && isTlsFailure(err)) return 'PROXY_ERR_UPSTREAM_TLS';
  // The upstream answered, but not in HTTP a client can be given (RFC 9110 §15.6.3: 502); for an
  // h2c backend, not in HTTP/2 (nghttp2's protocol error, e.g. an HTTP/1.1-only server).
  if (err.name === 'HTTPParserError' || err.code === 'AGW_INVALID_RESPONSE' || err.code === 'ERR_HTTP2_ERROR')
    return 'PROXY_ERR_UPSTREAM_INVALID_RESPONSE';
  switch (err.code) {
    case 'AGW_RESPONSE_TOO_LARGE':
      return 'PROXY_ERR_RESPONSE_BODY_TOO_LARGE';
    case 'AGW_ROUTE_TIMEOUT':
      return 'PROXY_ERR_ROUTE_TIMEOUT';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'PROXY_ERR_UPSTREAM_TIMEOUT';
    case 'ECONNREFUSED':
      return 'PROXY_ERR_UPSTREAM_REFUSED';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'PROXY_ERR_UPSTREAM_CONNECT_TIMEOUT';
    // HTTP/2 too: the upstream reset the stream (RST_STREAM) or the connection (GOAWAY with an error).
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'ERR_HTTP2_STREAM_ERROR':
    case 'ERR_HTTP2_SESSION_ERROR':
      return 'PROXY_ERR_UPSTREAM_RESET';
    default:
      return 'PROXY_ERR_UPSTREAM_FAILED';
  }
}

/**
 * One request's exchange with its upstream (undici's handler interface): response headers and
 * chunks go straight to the client's socket; a failure before the response started answers 502,
 * 503 or 504 in plain text, after it the client connection is cut (the status is already sent). A
 * client that goes away aborts the upstream request.
 */
class UpstreamExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Set when the exchange must stop (deadline, client gone) before undici handed us a controller. */
  private abortReason: Error | undefined;
  private readonly res: ServerResponse;
  private readonly deadline: NodeJS.Timeout | undefined;
  /** A response held back for a response transformation that reads its body: status, headers, chunks so far. */
  private held: { status: number; headers: HeaderMap; chunks: Buffer[]; size: number } | undefined;

  constructor(
    private readonly req: FastifyRequest,
    private readonly reply: FastifyReply,
    timeoutMs: number | undefined,
    /** Transformations with a response side (plugins/request-state.ts `responseTransforms`). */
    private readonly transforms: readonly TransformationRuntime[] | undefined,
  ) {
    this.res = reply.raw;
    this.deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            this.abort(agwError('AGW_ROUTE_TIMEOUT', "the route's timeout passed"));
          }, timeoutMs);
    this.res.once('close', () => {
      if (!this.res.writableFinished) this.abort(new Error('client closed the connection'));
    });
  }

  private abort(reason: Error): void {
    if (this.controller === undefined) this.abortReason = reason;
    else this.controller.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason !== undefined) controller.abort(this.abortReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx (100 Continue, 103 Early Hints) are informational: the final response follows.
    if (statusCode < 200) return;
    let status = statusCode;
    const out = downstreamResponseHeaders(headers);
    // The route's ResponseHeaderModifier first (closest to the upstream), then response transformations.
    const modifier = this.req.agw.responseHeaders;
    if (modifier !== undefined) applyResponseHeaderModifier(out, modifier);
    const transforms = this.transforms;
    if (transforms !== undefined) {
      if (transforms.some((t) => t.needsResponseBody) && mayHaveBody(this.req.method, statusCode)) {
        // Held until complete (bounded): the transformation reads or replaces the body.
        this.held = { status: statusCode, headers: out, chunks: [], size: 0 };
        return;
      }
      status = applyResponseTransforms(this.req, transforms, statusCode, out, undefined).status;
    }
    this.start(controller, status, out);
  }

  /** Sends the status line and headers; false when Node refused them (the exchange is aborted). */
  private start(controller: Dispatcher.DispatchController, status: number, headers: HeaderMap): boolean {
    try {
      this.res.writeHead(status, headers);
    } catch (err) {
      controller.abort(agwError('AGW_INVALID_RESPONSE', 'response headers Node refuses to send', err));
      return false;
    }
    this.reply.hijack();
    return true;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const held = this.held;
    if (held !== undefined) {
      held.size += chunk.length;
      if (held.size > MAX_BUFFERED_BODY) {
        this.held = undefined;
        controller.abort(agwError('AGW_RESPONSE_TOO_LARGE', `response body over ${MAX_BUFFERED_BODY} bytes`));
      } else held.chunks.push(chunk);
      return;
    }
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => {
        controller.resume();
      });
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController, parsedTrailers: HeaderMap): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    const trailers = upstreamTrailers(controller, parsedTrailers);
    if (trailers !== undefined) this.addTrailers(trailers);
    const held = this.held;
    if (held !== undefined) {
      this.held = undefined;
      const joined = Buffer.concat(held.chunks, held.size);
      const r = applyResponseTransforms(
        this.req,
        this.transforms ?? [],
        held.status,
        held.headers,
        new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength),
      );
      const body = r.body ?? joined;
      // The body is sent whole: its length replaces the upstream's framing.
      held.headers['content-length'] = String(body.byteLength);
      try {
        this.res.writeHead(r.status, held.headers);
      } catch (err) {
        this.fail(agwError('AGW_INVALID_RESPONSE', 'response headers Node refuses to send', err));
        return;
      }
      this.reply.hijack();
      this.res.end(body);
      return;
    }
    this.res.end();
  }

  /**
   * The upstream's trailers (gRPC: `grpc-status`, `grpc-message`), sent after the body: minus
   * hop-by-hop fields, as headers are; a field Node refuses (pseudo-header, invalid name or value)
   * is left out. HTTP/2 clients always get them; over HTTP/1.1 Node sends them only with a chunked
   * body (with a Content-Length there is nowhere to put them).
   */
  private addTrailers(trailers: HeaderMap): void {
    const out = downstreamResponseHeaders(trailers);
    const valid: Record<string, string | string[]> = {};
    for (const name in out) {
      let value = out[name];
      if (value === undefined) continue;
      // One line per field (Set-Cookie aside): Node's HTTP/2 checks repeated single-value fields
      // (`content-type`, …) only when it sends the trailers, where a throw is uncaught.
      if (Array.isArray(value) && name !== 'set-cookie') value = value.join(', ');
      try {
        validateHeaderName(name); // a pseudo-header (`:`) fails here too
        for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, v);
      } catch {
        continue;
      }
      valid[name] = value;
    }
    // One call: HTTP/1.1's addTrailers replaces what an earlier call added.
    this.res.addTrailers(valid);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    this.fail(err);
  }

  /** Ends the exchange on a failure: an answer if none has started, else a cut connection. */
  fail(err: Error & { code?: string }): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    answerFailure(this.req, this.reply, err);
  }
}

/** A failed upstream exchange: the proxy's answer if no response has started, else a cut connection. */
function answerFailure(req: FastifyRequest, reply: FastifyReply, err: Error & { code?: string }): void {
  req.agw.upstreamError = err.code ?? err.name;
  const res = reply.raw;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An Http2ServerResponse has no `destroyed`: its stream does.
  if (res.destroyed || (res as { stream?: { destroyed: boolean } }).stream?.destroyed === true) return;
  const tls = req.agw.upstreamTls;
  const code = failureCode(err, tls !== undefined);
  if (code === 'PROXY_ERR_UPSTREAM_TLS' && tls !== undefined)
    // Names the backend, the settings and the reason; not `err` itself: a name-mismatch error
    // carries the whole peer certificate. No key material is ever in these fields.
    req.log.warn(
      {
        backend: tls.backend,
        tlsPolicy: tls.tls.settings.policy,
        servername: tls.servername,
        upstream: req.agw.endpoint,
        reason: err.code,
        detail: err.message,
        code,
      },
      'upstream TLS handshake failed',
    );
  else req.log.warn({ err, upstream: req.agw.endpoint, code }, 'upstream call failed');
  sendProxyError(req, reply, code, code === 'PROXY_ERR_UPSTREAM_FAILED' ? `upstream call failed: ${err.code ?? 'error'}` : undefined);
}
