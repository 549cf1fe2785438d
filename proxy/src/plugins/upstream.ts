import { loopbackAddressOf, type Endpoint } from '@agw/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { cookieHeaderWithout, rawHeaderSource, urlWithoutQueryParam } from '../auth/token-location.js';
import type { ProxyErrorCode } from '../proxy-errors.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../routing/forward-headers.js';
import type { RequestEdits } from './request-state.js';
import { sendProxyError } from './responses.js';

export interface UpstreamOptions {
  /** Longest wait for upstream response headers, and between body chunks, ms (default 30 000). */
  upstreamTimeoutMs: number;
  /** Keep-alive connections per upstream origin (default 128). */
  connectionsPerOrigin: number;
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
  app.addHook('onClose', async () => {
    await agent.close();
  });

  // Bodies are never parsed or buffered: the handler streams `req.raw` to the upstream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => {
    done(null);
  });

  const origins = new WeakMap<Endpoint, string>();
  const originOf = (ep: Endpoint): string => {
    let origin = origins.get(ep);
    if (origin === undefined) {
      const host = loopbackAddressOf(ep.host) ?? ep.host;
      origin = `http://${host.includes(':') ? `[${host}]` : host}:${ep.port}`;
      origins.set(ep, origin);
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
    const headers = upstreamRequestHeaders(raw.headers, {
      host: state.host ?? '',
      clientAddress: raw.socket.remoteAddress ?? '',
      requestId: String(req.id),
      ...(edits?.removeHeaders !== undefined ? { removeHeaders: edits.removeHeaders } : {}),
      ...(edits?.removeCookies !== undefined
        ? { cookie: cookieHeaderWithout(rawHeaderSource(raw.rawHeaders, '').header('cookie'), edits.removeCookies) ?? null }
        : {}),
    });
    const length = raw.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || raw.headers['transfer-encoding'] !== undefined;
    const exchange = new UpstreamExchange(req, reply, state.route?.timeoutMs);
    try {
      agent.dispatch(
        {
          origin: originOf(endpoint),
          path: forwardedPath(raw.url ?? '/', edits),
          method: raw.method ?? 'GET',
          headers,
          body: hasBody ? raw : null,
        },
        exchange,
      );
    } catch (err) {
      // undici refused the request itself (it validates headers again): answered like any failure.
      exchange.fail(err as Error);
    }
  });
}

/** The canonical path and query the pipeline decided on, less the query parameters a stage removed. */
function forwardedPath(url: string, edits: RequestEdits | undefined): string {
  if (edits?.removeQueryParams === undefined) return url;
  let out = url;
  for (const name of edits.removeQueryParams) out = urlWithoutQueryParam(out, name);
  return out;
}

/** An error of our own making, with a code `failureAnswer` maps like undici's. */
function agwError(code: 'AGW_ROUTE_TIMEOUT' | 'AGW_INVALID_RESPONSE', message: string, cause?: unknown): Error & { code: string } {
  return Object.assign(new Error(message, { cause }), { code });
}

/** The proxy error code for a failed upstream exchange (proxy-errors.ts has status and body). */
function failureCode(err: Error & { code?: string }): ProxyErrorCode {
  // The upstream answered, but not in HTTP a client can be given (RFC 9110 §15.6.3: 502).
  if (err.name === 'HTTPParserError' || err.code === 'AGW_INVALID_RESPONSE') return 'PROXY_ERR_UPSTREAM_INVALID_RESPONSE';
  switch (err.code) {
    case 'AGW_ROUTE_TIMEOUT':
      return 'PROXY_ERR_ROUTE_TIMEOUT';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'PROXY_ERR_UPSTREAM_TIMEOUT';
    case 'ECONNREFUSED':
      return 'PROXY_ERR_UPSTREAM_REFUSED';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'PROXY_ERR_UPSTREAM_CONNECT_TIMEOUT';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
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

  constructor(
    private readonly req: FastifyRequest,
    private readonly reply: FastifyReply,
    timeoutMs: number | undefined,
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
    try {
      this.res.writeHead(statusCode, downstreamResponseHeaders(headers));
    } catch (err) {
      controller.abort(agwError('AGW_INVALID_RESPONSE', 'response headers Node refuses to send', err));
      return;
    }
    this.reply.hijack();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => {
        controller.resume();
      });
    }
  }

  onResponseEnd(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    this.fail(err);
  }

  /** Ends the exchange on a failure: an answer if none has started, else a cut connection. */
  fail(err: Error & { code?: string }): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.req.agw.upstreamError = err.code ?? err.name;
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    if (this.res.destroyed) return;
    const code = failureCode(err);
    this.req.log.warn({ err, upstream: this.req.agw.endpoint, code }, 'upstream call failed');
    sendProxyError(
      this.req,
      this.reply,
      code,
      code === 'PROXY_ERR_UPSTREAM_FAILED' ? `upstream call failed: ${err.code ?? 'error'}` : undefined,
    );
  }
}
