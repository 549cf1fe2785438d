import type {
  BackendProtocol,
  CelValue,
  CompiledBackendAuthPolicy,
  CompiledHeaderModifier,
  CompiledListener,
  CompiledRoute,
  Endpoint,
  Redacted,
} from '@agw/api';
import type { AuthResult } from '../auth/jwt-authenticate.js';
import type { JwtSuccess } from '../auth/jwt-verifier.js';
import type { RuntimeConfig } from '../config/compile.js';
import type { ProxyErrorCode } from '../proxy-errors.js';
import type { TargetErrorCode } from '../routing/request-target.js';
import type { RequestActivation } from './cel-activation.js';
import type { TransformationRuntime } from '../stages/transformation-stage.js';
import type { UpstreamTls } from './upstream-tls.js';

/**
 * Changes to the request the stages decided on, applied once, by forwarding (plugins/upstream.ts):
 * a stage never edits the request in place. Every later reader sees the request with these edits:
 * CEL expressions (`request.*`), the route matcher after PreRouting stages, a later JWT stage's
 * token lookup and forwarding all read through them (plugins/cel-activation.ts `headerValues`).
 *
 * - `headers`: an overlay over the client's headers, lower-case name → the values that replace the
 *   client's (`null`: removed). A transformation's `set` stores `[v]`, `add` the current values
 *   plus `v`, `remove` and a failed expression `null`; the JWT stage removes a verified credential
 *   the same way (a cookie credential by storing the `Cookie` header without it).
 * - `authority`: the upstream Host (`host` / `:authority` set by a transformation).
 * - `path`: the forwarded path and query (`:path`, or a verified `access_token`-style query
 *   credential removed).
 * - `method`: the forwarded method (`:method`).
 * - `body`: the forwarded body (a transformation's `body`; empty when its expression failed).
 */
export interface RequestEdits {
  headers?: Map<string, readonly string[] | null>;
  authority?: string;
  path?: string;
  method?: string;
  body?: Uint8Array;
}

/** What the pipeline learned about a request, for the stages, forwarding and the access log. */
export interface RequestState {
  /** The config this request is decided with (taken when it started; a JWT refetch may move it to a newer one). */
  runtime?: RuntimeConfig;
  listener?: CompiledListener;
  route?: CompiledRoute;
  endpoint?: Endpoint;
  /** The chosen backend's protocol (config `backend.protocol`); set only for `h2c`, unset is HTTP/1.1. */
  upstreamProtocol?: BackendProtocol;
  /** TLS to the chosen backend (its backend TLS policy and SNI name); unset: plaintext. */
  upstreamTls?: UpstreamTls;
  /** The backend-auth policy that applies to the chosen backend (set only when one is named). */
  backendAuth?: CompiledBackendAuthPolicy;
  /** Host as the client sent it (Host header, or an absolute-form target's authority); the upstream gets it unless a transformation sets another. */
  host?: string;
  /** The code of an answer the proxy made itself (not a JWT rejection: see `jwt.code`), for the access log. */
  code?: ProxyErrorCode | TargetErrorCode;
  jwt?: { policy: string; result: AuthResult; provider?: string | undefined; code?: string | undefined };
  /** The last authorization decision, for the access log: the deciding rule's policy and index (in its policy's rules). */
  authorization?: { result: 'allow' | 'deny'; policy?: string | undefined; rule?: number | undefined };
  /** The last request transformation applied, for the access log: its entry and how many of its expressions failed. */
  transformation?: { policy: string; entry: number; failed: number };
  /** Why the upstream exchange failed (undici or system error code), for the access log. */
  upstreamError?: string;
  /** The verified token's claims (and their CEL form, converted once per cached token), for later stages. */
  verified?: JwtSuccess;
  /** The validated raw token (backend-auth passthrough), never printed; absent unless a JWT stage validated one. */
  token?: Redacted<string>;
  /** The request's CEL variables, built on first use (plugins/cel-activation.ts). */
  cel?: RequestActivation;
  /** The buffered request body, read only when an expression that runs references `request.body`. */
  body?: Uint8Array;
  /** `transformation.metadata` values by name (CEL `metadata`). */
  metadata?: Record<string, CelValue>;
  /** The route's ResponseHeaderModifier filter, applied by forwarding to the upstream's answer before response transformations. */
  responseHeaders?: CompiledHeaderModifier;
  /** Transformations (at most PreRouting's and the route's) whose response side runs on the upstream's answer. */
  responseTransforms?: TransformationRuntime[];
  edits?: RequestEdits;
}

/** The request's edits (created on first use: most requests have none). */
export function editsOf(state: RequestState): RequestEdits {
  return state.edits ?? (state.edits = {});
}

/** Replaces a header's values in the overlay (`null`: removes it), and lets CEL see the change. */
export function setHeaderEdit(state: RequestState, name: string, values: readonly string[] | null): void {
  const edits = editsOf(state);
  (edits.headers ?? (edits.headers = new Map())).set(name, values);
  state.cel?.invalidate();
}

declare module 'fastify' {
  interface FastifyRequest {
    agw: RequestState;
  }
}
