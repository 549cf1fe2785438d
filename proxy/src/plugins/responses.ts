import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JwtFailure } from '../auth/jwt-errors.js';
import { ProxyErrors, type ProxyErrorCode } from '../proxy-errors.js';
import './request-state.js';

/** Realm of the RFC 6750 challenge. */
export const REALM = 'agentgateway';

const isGrpc = (req: FastifyRequest) => (req.headers['content-type'] ?? '').startsWith('application/grpc');

/** A plain-text error, or its gRPC form (HTTP 200, grpc-status, percent-encoded grpc-message). */
export function sendError(req: FastifyRequest, reply: FastifyReply, status: number, body: string, grpcStatus: number): FastifyReply {
  if (isGrpc(req)) {
    return reply
      .code(200)
      .header('content-type', 'application/grpc')
      .header('grpc-status', String(grpcStatus))
      .header('grpc-message', encodeURIComponent(body))
      .send();
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
