import type { CompiledRoute, Endpoint } from '@agw/api';
import type { JWTPayload } from 'jose';
import type { AuthResult } from '../auth/jwt-authenticate.js';
import type { TargetErrorCode } from '../routing/request-target.js';

/** What the pipeline learned about a request, for the upstream stage and the access log. */
export interface RequestState {
  route?: CompiledRoute;
  endpoint?: Endpoint;
  /** Host as the client sent it (Host header, or an absolute-form target's authority); the upstream gets it unchanged. */
  host?: string;
  /** Why the request target was refused (400), for the access log. */
  targetError?: TargetErrorCode;
  jwt?: { policy: string; result: AuthResult; provider?: string; code?: string; stripHeader?: string; stripCookie?: string };
  /** Why the upstream exchange failed (undici or system error code), for the access log. */
  upstreamError?: string;
  /** Verified claims, for later stages (authorization, transformation). Never the raw token. */
  claims?: JWTPayload;
}

declare module 'fastify' {
  interface FastifyRequest { agw: RequestState }
}
