import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JwtFailure } from '../auth/jwt-errors.js';
import { ProxyErrors, type ProxyErrorCode } from '../proxy-errors.js';
import './request-state.js';

/** Realm of the RFC 6750 challenge. */
export const REALM = 'agentgateway';

const isGrpc = (req: FastifyRequest) => (req.headers['content-type'] ?? '').startsWith('application/grpc');

/** ASCII bytes `grpc-message` percent-encodes besides controls: space " # % < > ` ? { } (tonic's set). */
const GRPC_MESSAGE_ESCAPED = new Set([...' "#%<>`?{}'].map((c) => c.charCodeAt(0)));

/**
 * `grpc-message` text (gRPC over HTTP/2: percent-encoded UTF-8): bytes outside printable ASCII and
 * GRPC_MESSAGE_ESCAPED as `%XX`, the rest as they are. Not encodeURIComponent: grpc-js decodes
 * with decodeURI, which leaves its `%3A` (`:`) and the like encoded.
 */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte > 0x20 && byte < 0x7f && !GRPC_MESSAGE_ESCAPED.has(byte)
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A plain-text error, or its gRPC form (HTTP 200, grpc-status, percent-encoded grpc-message). Over
 * HTTP/2 the two are also sent as trailers: a gRPC client takes the status from the trailers, or
 * from the headers only when they end the stream (Trailers-Only), and Node's HTTP/2 compatibility
 * API, which Fastify answers through, always ends a response with a DATA or trailers frame.
 * Headers alone read as "call ended without gRPC status" (grpc-js: INTERNAL).
 */
export function sendError(req: FastifyRequest, reply: FastifyReply, status: number, body: string, grpcStatus: number): FastifyReply {
  if (isGrpc(req)) {
    const grpc = { 'grpc-status': String(grpcStatus), 'grpc-message': encodeGrpcMessage(body) };
    if (req.raw.httpVersionMajor === 2) reply.raw.addTrailers(grpc);
    return reply.code(200).header('content-type', 'application/grpc').headers(grpc).send();
  }
  return reply.code(status).header('content-type', 'text/plain').send(body);
}

/** 401/400 with agentgateway's body plus an RFC 6750 §3 challenge (no `error` when no token was sent). */
export function sendJwtFailure(req: FastifyRequest, reply: FastifyReply, f: JwtFailure): FastifyReply {
  const challenge = f.oauthError === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="${f.oauthError}"`;
  reply.header('www-authenticate', challenge);
  // gRPC: UNAUTHENTICATED (16); 400 invalid_request maps to INVALID_ARGUMENT (3).
  return sendError(req, reply, f.status, f.body, f.status === 400 ? 3 : 16);
}

/** One of the proxy's own answers (proxy-errors.ts), its code kept for the access log; `body` for the two with a variable text. */
export function sendProxyError(req: FastifyRequest, reply: FastifyReply, code: ProxyErrorCode, body?: string): FastifyReply {
  const e = ProxyErrors[code];
  req.agw.code = code;
  return sendError(req, reply, e.status, body ?? e.body, e.grpc);
}
