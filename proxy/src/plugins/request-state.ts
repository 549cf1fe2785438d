import type { CompiledRoute, Endpoint } from '@agw/api';
import type { JWTPayload } from 'jose';
import type { AuthResult } from '../auth/jwt-authenticate.js';
import type { RuntimeConfig } from '../config/compile.js';
import type { ProxyErrorCode } from '../proxy-errors.js';
import type { TargetErrorCode } from '../routing/request-target.js';

/**
 * Changes to the request the stages decided on, applied once, by forwarding (plugins/upstream.ts):
 * a stage never edits the request in place. Names are lower-case header names, cookie names and
 * query parameter names.
 */
export interface RequestEdits {
  removeHeaders?: string[];
  removeCookies?: string[];
  removeQueryParams?: string[];
}

/** What the pipeline learned about a request, for the stages, forwarding and the access log. */
export interface RequestState {
  /** The config this request is decided with (taken when it started; a JWT refetch may move it to a newer one). */
  runtime?: RuntimeConfig;
  route?: CompiledRoute;
  endpoint?: Endpoint;
  /** Host as the client sent it (Host header, or an absolute-form target's authority); the upstream gets it unchanged. */
  host?: string;
  /** The code of an answer the proxy made itself (not a JWT rejection: see `jwt.code`), for the access log. */
  code?: ProxyErrorCode | TargetErrorCode;
  jwt?: { policy: string; result: AuthResult; provider?: string; code?: string };
  /** Why the upstream exchange failed (undici or system error code), for the access log. */
  upstreamError?: string;
  /** Verified claims, for later stages (authorization, transformation). Never the raw token. */
  claims?: JWTPayload;
  edits?: RequestEdits;
}

/** Adds an edit to the request's list (created on first use: most requests have none). */
export function addEdit(state: RequestState, kind: keyof RequestEdits, name: string): void {
  const edits = state.edits ?? (state.edits = {});
  (edits[kind] ?? (edits[kind] = [])).push(name);
}

declare module 'fastify' {
  interface FastifyRequest {
    agw: RequestState;
  }
}
