import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServerResponse, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { TlsConnectOptions } from './upstream-tls.js';
import type { Socket } from 'node:net';
import { downstreamResponseHeaders, type HeaderMap } from '../routing/forward-headers.js';
import { applyResponseHeaderModifier } from '../routing/route-filters.js';
import { applyResponseTransforms, type TransformationRuntime } from '../stages/transformation-stage.js';
import './request-state.js';

/**
 * HTTP/1.1 protocol upgrades (RFC 9110 §7.8), WebSocket (RFC 6455) in particular.
 *
 * Design: Node hands a request carrying `Connection: upgrade` to the server's `'upgrade'` event
 * (raw socket, no response object) instead of `'request'`. `dispatchUpgrades` gives it a
 * `ServerResponse` bound to that socket and runs it through Fastify's own entry point
 * (`app.routing`, what the `'request'` event calls, as @fastify/websocket does): the canonical
 * target, the request id, the whole pipeline hook (listener, PreRouting, route, JWT 401,
 * authorization 403, transformation edits, endpoint choice, backend auth), the access log and the
 * metrics are the ones every request has, with nothing duplicated. A refusal is written on the
 * socket by that response (`Connection: close`) and the socket is then closed. What the pipeline
 * lets through reaches the forwarding handler (plugins/upstream.ts), which builds the upstream
 * headers and path as for any request and, for a WebSocket upgrade, calls `tunnelUpgrade`: a fresh
 * connection to the chosen endpoint (never a pooled one), the upgrade request, and on `101` the
 * response relayed and the two sockets spliced. Until the upstream has answered 101 no client
 * byte reaches it, and a non-101 answer is relayed and the connection closed: the tunnel never
 * carries an HTTP request the pipeline has not seen.
 *
 * An upgrade to another protocol (`h2c`, …) is declined (RFC 9110 §7.8 lets a server ignore it):
 * the request is forwarded as an ordinary one, without `Upgrade`, and the connection closed after
 * the response (Node's parser has left the socket). WebSocket is HTTP/1.1 only: on an HTTPS
 * listener a client that wants it negotiates `http/1.1` by ALPN (and the TLS server emits the same
 * `'upgrade'` event). HTTP/2's extended CONNECT (RFC 8441) is not offered (the server does not send
 * SETTINGS_ENABLE_CONNECT_PROTOCOL), and an h2 request with `Connection`/`Upgrade` is malformed
 * (RFC 9113 §8.2.2) and reset by Node before it reaches us. To a backend under a TLS policy the
 * upstream connection is TLS with the same settings as its other calls (plugins/upstream-tls.ts);
 * a handshake failure answers 503 PROXY_ERR_UPSTREAM_TLS before anything is relayed.
 */

const UPGRADE = Symbol('agw.upgrade');

/** The socket of an upgrade request, and the bytes the client sent after its headers. */
export interface UpgradeSocket {
  readonly socket: Socket;
  readonly head: Buffer;
  /** Set once the upstream's 101 is being relayed: the socket then belongs to the tunnel. */
  tunnelled: boolean;
}
type Stashed = IncomingMessage & { [UPGRADE]?: UpgradeSocket };

/** The upgrade state of a request that arrived through Node's `'upgrade'` event (else undefined). */
export function upgradeOf(raw: IncomingMessage): UpgradeSocket | undefined {
  return (raw as Stashed)[UPGRADE];
}

/** Whether `Upgrade` names WebSocket (RFC 6455 §4.2.1: the token `websocket`, any case, possibly in a list). */
export function isWebSocketUpgrade(raw: IncomingMessage): boolean {
  const u = raw.headers.upgrade;
  return u !== undefined && u.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/**
 * Routes Node's `'upgrade'` events through Fastify (see the module comment). Upgrade sockets are
 * not among the connections `server.close()` ends, so closing the app destroys the open ones
 * (a tunnel cannot be drained: it lasts as long as its peers want).
 */
export function dispatchUpgrades(app: FastifyInstance): void {
  const open = new Set<Socket>();
  app.server.on('upgrade', (raw: IncomingMessage, socket: Socket, head: Buffer) => {
    const state: UpgradeSocket = { socket, head, tunnelled: false };
    (raw as Stashed)[UPGRADE] = state;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // Node removed its own handlers from the socket: an error now only closes it.
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(raw);
    // Node's parser has left the socket: no second request can follow on it.
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => {
      res.detachSocket(socket);
      if (!state.tunnelled) endSocket(socket);
    });
    try {
      app.routing(raw, res);
    } catch (err) {
      app.log.warn({ err }, 'upgrade request failed');
      socket.destroy();
    }
  });
  app.addHook('preClose', (done) => {
    for (const socket of open) socket.destroy();
    done();
  });
}

/** Ends our side and closes the socket once what was written is flushed (Node's `destroySoon`). */
function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end(() => socket.destroy());
}

/** Where and what to send upstream: the forwarding handler's decisions. */
/**
 * How long an established tunnel may carry no byte either way before it is closed, ms: 1 hour
 * (Envoy's default HTTP idle timeout). WebSocket applications ping far more often (browsers'
 * libraries every 25-60 s), so this closes only what was abandoned. `--tunnel-idle-timeout-ms`.
 */
export const TUNNEL_IDLE_TIMEOUT_MS = 3_600_000;

export interface UpgradeCall {
  host: string;
  port: number;
  method: string;
  path: string;
  /** Headers as forwarding builds them (no hop-by-hop ones); `Connection` and `Upgrade` are added here. */
  headers: HeaderMap;
  /** TLS to a TLS backend (upstream-tls.ts `tlsConnectOptions`; ALPN http/1.1); unset: plaintext. */
  tls?: TlsConnectOptions;
}

export interface TunnelOptions {
  /** Longest wait for the TCP connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for the upstream's response headers once connected, ms. */
  headersTimeoutMs: number;
  /** The route's timeout, for the handshake only (a tunnel lasts as long as its peers want, but see idleTimeoutMs). */
  routeTimeoutMs: number | undefined;
  /** An established tunnel with no byte either way for this long is closed, ms (0: never). */
  idleTimeoutMs: number;
  /** Transformations with a response side: their header (and status, not on a 101) edits apply. */
  transforms: readonly TransformationRuntime[] | undefined;
  /** Answers a failure before any response started (the caller maps codes, as for any request). */
  fail: (err: Error & { code?: string }) => void;
}

const coded = (code: string, message: string, cause?: unknown): Error & { code: string } =>
  Object.assign(new Error(message, { cause }), { code });

/**
 * Sends an upgrade request the pipeline let through to its endpoint and, on 101, splices the
 * client's socket to the upstream's (see the module comment). Any failure before a response
 * started is answered through `fail`.
 */
export function tunnelUpgrade(req: FastifyRequest, reply: FastifyReply, call: UpgradeCall, o: TunnelOptions): void {
  const up = upgradeOf(req.raw) as UpgradeSocket;
  const client = up.socket;
  const headers: HeaderMap = { ...call.headers, connection: 'Upgrade', upgrade: req.raw.headers.upgrade };
  let upReq: ReturnType<typeof httpRequest>;
  try {
    const target = { host: call.host, port: call.port, method: call.method, path: call.path, headers, agent: false as const };
    // `agent: false`: Node passes the request's options to tls.connect, ALPN included.
    const alpn: HttpsRequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = { ...call.tls, ...target, ALPNProtocols: ['http/1.1'] };
    upReq = call.tls === undefined ? httpRequest(target) : httpsRequest(alpn);
  } catch (err) {
    // Node refused the request itself (a header value it will not send).
    o.fail(err as Error);
    return;
  }
  /** Set once the upstream answered or the exchange failed: later errors are the relay's own. */
  let settled = false;
  const giveUp = (err: Error) => {
    if (!settled) upReq.destroy(err);
  };
  // Connect, then response headers: one timer at a time. The route's deadline runs beside them.
  let timer: NodeJS.Timeout | undefined = setTimeout(
    () => giveUp(coded('UND_ERR_CONNECT_TIMEOUT', 'upstream connect timeout')),
    o.connectTimeoutMs,
  );
  const deadline =
    o.routeTimeoutMs === undefined
      ? undefined
      : setTimeout(() => giveUp(coded('AGW_ROUTE_TIMEOUT', "the route's timeout passed")), o.routeTimeoutMs);
  const clearTimers = () => {
    clearTimeout(timer);
    clearTimeout(deadline);
    timer = undefined;
  };
  upReq.once('socket', (s: Socket) => {
    s.once('connect', () => {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(() => giveUp(coded('UND_ERR_HEADERS_TIMEOUT', 'upstream headers timeout')), o.headersTimeoutMs);
    });
  });
  const onClientGone = () => giveUp(new Error('client closed the connection'));
  client.once('close', onClientGone);

  upReq.on('error', (err: Error & { code?: string }) => {
    if (settled) return;
    settled = true;
    clearTimers();
    client.off('close', onClientGone);
    // Node's parser errors (HPE_*): the upstream did not answer in HTTP.
    o.fail(err.code?.startsWith('HPE_') === true ? coded('AGW_INVALID_RESPONSE', 'invalid upstream response', err) : err);
  });

  upReq.once('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    settled = true;
    clearTimers();
    client.off('close', onClientGone);
    const out = downstreamResponseHeaders(upRes.headers);
    try {
      if (req.agw.responseHeaders !== undefined) applyResponseHeaderModifier(out, req.agw.responseHeaders);
      // Header edits only: the status stays 101 and a 101 has no body.
      if (o.transforms !== undefined) applyResponseTransforms(req, o.transforms, 101, out, undefined);
    } catch (err) {
      // Never thrown out of an event listener (it would end the process): the tunnel is refused.
      upSocket.destroy();
      o.fail(coded('AGW_INVALID_RESPONSE', 'response edits failed', err));
      return;
    }
    out.connection = 'Upgrade';
    out.upgrade = upRes.headers.upgrade;
    const res = reply.raw;
    if (client.destroyed) {
      upSocket.destroy();
      return;
    }
    up.tunnelled = true;
    try {
      res.writeHead(101, upRes.statusMessage, out);
    } catch (err) {
      up.tunnelled = false;
      upSocket.destroy();
      o.fail(coded('AGW_INVALID_RESPONSE', 'response headers Node refuses to send', err));
      return;
    }
    reply.hijack();
    // The 101 is counted and logged as the request's response (onResponse runs on 'finish').
    res.end();
    // Written after the 101 (the socket is corked by end(): order is kept).
    if (upHead.length > 0) client.write(upHead);
    if (up.head.length > 0) upSocket.write(up.head);
    splice(client, upSocket, o.idleTimeoutMs);
  });

  upReq.once('response', (upRes: IncomingMessage) => {
    // Not a 101: the upstream declined the upgrade. Relayed as any response, then the connection closes.
    settled = true;
    clearTimers();
    client.off('close', onClientGone);
    const out = downstreamResponseHeaders(upRes.headers);
    let status = upRes.statusCode ?? 502;
    try {
      if (req.agw.responseHeaders !== undefined) applyResponseHeaderModifier(out, req.agw.responseHeaders);
      if (o.transforms !== undefined) status = applyResponseTransforms(req, o.transforms, status, out, undefined).status;
    } catch (err) {
      upRes.destroy();
      o.fail(coded('AGW_INVALID_RESPONSE', 'response edits failed', err));
      return;
    }
    const res = reply.raw;
    const closeUpstream = () => upReq.destroy();
    res.once('close', closeUpstream);
    res.once('finish', closeUpstream);
    try {
      res.writeHead(status, out);
    } catch (err) {
      upRes.destroy();
      o.fail(coded('AGW_INVALID_RESPONSE', 'response headers Node refuses to send', err));
      return;
    }
    reply.hijack();
    upRes.once('error', () => res.destroy());
    upRes.once('close', () => {
      // Cut short: the status is already sent, so the client connection is cut.
      if (!upRes.complete) res.destroy();
    });
    upRes.pipe(res);
  });

  upReq.end();
}

/**
 * Pipes two sockets both ways; an end is passed on (half-close), an error or close closes the
 * other. Bytes in either direction are a read on one socket and a write on the other, so a
 * socket's own idle timer fires only when the tunnel has been idle both ways for `idleTimeoutMs`:
 * then both are closed (an abandoned WebSocket does not hold two sockets forever).
 */
function splice(a: Socket, b: Socket, idleTimeoutMs: number): void {
  const idle = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.setTimeout(idleTimeoutMs);
    if (idleTimeoutMs > 0) s.once('timeout', idle);
    s.setNoDelay(true);
  }
  a.pipe(b);
  b.pipe(a);
  const closeOther = (other: Socket) => (hadError: boolean) => {
    if (hadError) other.destroy();
    else endSocket(other);
  };
  a.once('close', closeOther(b));
  b.once('close', closeOther(a));
  b.on('error', () => b.destroy());
}
