import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Http2ServerRequest } from 'node:http2';
import './request-state.js';
import { sendProxyError } from './responses.js';

/** Largest body buffered for an expression that reads it (upstream's `maxBufferSize` default: 2 MiB), request or response. */
export const MAX_BUFFERED_BODY = 2 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * Whether the request has a body to read: HTTP/1.1, Content-Length other than 0 or
 * Transfer-Encoding; HTTP/2 (RFC 9113 §8.1), DATA frames may follow without Content-Length (gRPC
 * sends none): a body unless the HEADERS frame ended the stream or Content-Length is 0.
 */
export function requestHasBody(req: FastifyRequest): boolean {
  const raw = req.raw;
  const h = raw.headers;
  const length = h['content-length'];
  if (raw.httpVersionMajor === 2) return length !== '0' && (raw as unknown as Http2ServerRequest).stream.endAfterHeaders !== true;
  return (length !== undefined && length !== '0') || h['transfer-encoding'] !== undefined;
}

/** After a refused body: close an HTTP/1.1 connection (its unread body would be read as the next request); an HTTP/2 stream just ends. */
function closeAfterAnswer(req: FastifyRequest, reply: FastifyReply): void {
  if (req.raw.httpVersionMajor !== 2) reply.header('connection', 'close');
}

/**
 * Reads the whole request body into `req.agw.body` (forwarding then sends it instead of
 * streaming), for expressions that read `request.body`. Bounded: over MAX_BUFFERED_BODY bytes
 * (declared or received) answers 413 `PROXY_ERR_BODY_TOO_LARGE`; a client that aborts or errors
 * mid-body gets `PROXY_ERR_BODY_READ_FAILED`. `false` when there was nothing to wait for (already
 * read, or no body), else a promise of whether the request was answered.
 */
export function bufferRequestBody(req: FastifyRequest, reply: FastifyReply): false | Promise<boolean> {
  const state = req.agw;
  if (state.body !== undefined) return false;
  if (!requestHasBody(req)) {
    state.body = EMPTY;
    return false;
  }
  const raw = req.raw;
  const declared = Number(raw.headers['content-length'] ?? 0);
  if (declared > MAX_BUFFERED_BODY) {
    closeAfterAnswer(req, reply);
    sendProxyError(req, reply, 'PROXY_ERR_BODY_TOO_LARGE');
    return Promise.resolve(true);
  }
  return new Promise<boolean>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (answer: 'PROXY_ERR_BODY_TOO_LARGE' | 'PROXY_ERR_BODY_READ_FAILED' | undefined) => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('aborted', onError);
      if (answer === undefined) {
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
        // A plain Uint8Array view (no copy): CEL's bytes are Uint8Array, not Buffer.
        state.body = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
        resolve(false);
        return;
      }
      closeAfterAnswer(req, reply);
      sendProxyError(req, reply, answer);
      resolve(true);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_BUFFERED_BODY) done('PROXY_ERR_BODY_TOO_LARGE');
      else chunks.push(c);
    };
    const onEnd = () => done(undefined);
    const onError = () => done('PROXY_ERR_BODY_READ_FAILED');
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('aborted', onError);
  });
}
