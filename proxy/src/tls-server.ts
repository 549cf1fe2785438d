import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2Session } from 'node:http2';
import type { TLSSocket, SecureContext, SecureContextOptions } from 'node:tls';
import { listenerForServername, TLS_CIPHERS, TLS_MIN_VERSION, type PortTls } from './config/compile-tls.js';

/**
 * TLS on HTTPS listener ports.
 *
 * - Protocols: TLS 1.2 and 1.3 only (`minVersion: 'TLSv1.2'`; TLS 1.0/1.1 ClientHellos fail the
 *   handshake with `protocol_version`).
 * - Ciphers: `TLS_CIPHERS` (config/compile-tls.ts): the TLS 1.3 suites, then ECDHE with AES-GCM or
 *   ChaCha20-Poly1305 for TLS 1.2 (Mozilla "intermediate"; no CBC, no finite-field DHE, no RSA key
 *   exchange). Not configurable.
 * - ALPN: `h2` then `http/1.1` (Fastify `http2: true` with `allowHTTP1`), so HTTP/2 clients get h2
 *   and others HTTP/1.1 on the same port.
 * - Certificates: `SNICallback` picks the SecureContext of the listener whose hostname matches the
 *   SNI (compile-tls.ts `listenerForServername`) from the port's current `PortTls`; a ClientHello
 *   without SNI gets the server's default context, set with `setSecureContext` to the port's
 *   fallback listener whenever it changes. Contexts are built once per config, never per handshake.
 */

/** The current TLS material of one port, swapped by ListenerPorts when a config applies. */
export class PortTlsHolder {
  private defaultKey: string;

  constructor(
    private current: PortTls,
    /** Set once the server exists: replaces the no-SNI context. */
    private server?: { setSecureContext(o: SecureContextOptions): void },
  ) {
    this.defaultKey = current.fallback.contentKey;
  }

  /** Options for `http2.createSecureServer` (Fastify's `https`). */
  serverOptions(): SecureContextOptions & {
    allowHTTP1: true;
    SNICallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  } {
    const f = this.current.fallback;
    return {
      allowHTTP1: true,
      minVersion: TLS_MIN_VERSION,
      ciphers: TLS_CIPHERS,
      cert: [...f.pem.cert],
      key: [...f.pem.key],
      SNICallback: (servername, cb) => {
        cb(null, listenerForServername(this.current, servername).context);
      },
    };
  }

  attach(server: { setSecureContext(o: SecureContextOptions): void }): void {
    this.server = server;
  }

  /** New connections get `next`'s certificates; open connections keep theirs. */
  swap(next: PortTls): void {
    this.current = next;
    const f = next.fallback;
    if (f.contentKey !== this.defaultKey && this.server !== undefined) {
      this.server.setSecureContext({ cert: [...f.pem.cert], key: [...f.pem.key], minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS });
      this.defaultKey = f.contentKey;
    }
  }
}

/**
 * Graceful close for a TLS (HTTP/2 + HTTP/1.1) server, which has no `closeIdleConnections`: on
 * `drain()`, every HTTP/2 session gets GOAWAY (`session.close()`: open streams finish, no new
 * ones), idle HTTP/1.1 connections are closed, busy ones answer their request with
 * `Connection: close` (or, if the headers are already sent, are closed once it is done). With
 * `server.close()` (no new connections), the server closes when the last request is done.
 */
export function trackTlsConnections(server: Http2SecureServer): { drain(): void } {
  const sessions = new Set<Http2Session>();
  /** HTTP/1.1 sockets and their requests in progress. */
  const h1 = new Map<TLSSocket, number>();
  let draining = false;
  server.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    if (draining) s.close();
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') return;
    h1.set(socket, 0);
    socket.once('close', () => h1.delete(socket));
  });
  server.on('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse) => {
    if (req.httpVersionMajor === 2) return;
    const socket = req.socket as TLSSocket;
    h1.set(socket, (h1.get(socket) ?? 0) + 1);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      const left = (h1.get(socket) ?? 1) - 1;
      h1.set(socket, left);
      if (draining && left === 0 && !socket.destroyed) socket.end();
    });
  });
  return {
    drain() {
      draining = true;
      for (const s of sessions) s.close();
      for (const [socket, busy] of h1) if (busy === 0) socket.destroy();
    },
  };
}
