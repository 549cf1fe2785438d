import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';

/** The connection preface an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Longest wait for a new connection's first bytes to say which protocol it speaks, ms. */
export const PREFACE_TIMEOUT_MS = 10_000;

/** Fastify's server options this factory applies itself (Fastify applies none to a factory's server). */
export interface PlainServerOptions {
  readonly keepAliveTimeout?: number;
  readonly requestTimeout?: number;
  readonly connectionTimeout?: number;
  readonly http2SessionTimeout?: number;
  /** Default PREFACE_TIMEOUT_MS (tests shorten it). */
  readonly prefaceTimeoutMs?: number;
}

/**
 * A plaintext listener port that speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c: what gRPC
 * clients use without TLS, e.g. `grpcurl -plaintext`). Node's HTTP/2 server without TLS refuses
 * HTTP/1.1, so each connection's first bytes decide: the HTTP/2 preface goes to an HTTP/2 server,
 * anything else to the HTTP/1.1 server, both with the same request handler (Fastify's). A
 * connection that does not say which within PREFACE_TIMEOUT_MS is closed. `server` is the HTTP/1.1
 * server (upgrades, client errors, keep-alive, idle closing as before); `drain()` sends GOAWAY to
 * the HTTP/2 sessions (graceful close) and closes those that start later.
 */
export function createPlainServer(handler: RequestListener, o: PlainServerOptions = {}): { server: Server; drain(): void } {
  const h1 = createHttpServer(handler);
  h1.keepAliveTimeout = o.keepAliveTimeout ?? 72_000;
  h1.requestTimeout = o.requestTimeout ?? 0;
  h1.setTimeout(o.connectionTimeout ?? 0);
  const h2 = createHttp2Server({}, handler as never);
  const sessions = new Set<Http2Session>();
  let draining = false;
  h2.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    s.setTimeout(o.http2SessionTimeout ?? 72_000, () => s.close());
    if (draining) s.close();
  });
  // The HTTP/1.1 server's own connection handler runs only for connections that are not HTTP/2.
  const http1Connection = h1.listeners('connection')[0] as (socket: Socket) => void;
  h1.removeAllListeners('connection');
  h1.on('connection', (socket: Socket) => {
    const onError = () => socket.destroy();
    socket.on('error', onError);
    const timer = setTimeout(() => socket.destroy(), o.prefaceTimeoutMs ?? PREFACE_TIMEOUT_MS);
    /** The bytes read so far (never more than the preface's length is needed to decide). */
    let head: Buffer = Buffer.alloc(0);
    const decide = () => {
      // Everything buffered: read() empties the buffer, so the next bytes fire 'readable' again.
      const chunk = socket.read() as Buffer | null;
      if (chunk !== null) head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const seen = head.subarray(0, PREFACE.length);
      const isPrefix = PREFACE.subarray(0, seen.length).equals(seen);
      if (head.length === 0 || (isPrefix && head.length < PREFACE.length)) {
        // Nothing yet, or "P", "PR", … (possibly a slow POST): wait for more bytes.
        socket.once('readable', decide);
        return;
      }
      clearTimeout(timer);
      socket.off('error', onError);
      if (isPrefix) {
        // Node's HTTP/2 session takes the bytes already read from the socket's buffer.
        socket.unshift(head);
        h2.emit('connection', socket);
      } else {
        // The HTTP/1.1 parser attaches first, then gets the bytes read so far, then the rest.
        http1Connection.call(h1, socket);
        socket.unshift(head);
        socket.resume();
      }
    };
    socket.once('readable', decide);
  });
  return {
    server: h1,
    drain() {
      draining = true;
      for (const s of sessions) s.close();
    },
  };
}
