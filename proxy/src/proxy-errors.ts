/**
 * Every answer the proxy makes itself besides JWT and request-target refusals (auth/jwt-errors.ts,
 * routing/request-target.ts): a closed set of codes, each with its status, its plain-text body in
 * agentgateway's words (ProxyError texts) and its gRPC status. docs/errors.md lists each one, and
 * test/src/error-codes.test.ts checks the list. The code is in the access log field `code`.
 */
export const ProxyErrors = {
  PROXY_ERR_NO_CONFIG: { status: 503, body: 'no configuration loaded yet', grpc: 14 },
  PROXY_ERR_LISTENER_NOT_FOUND: { status: 404, body: 'listener not found', grpc: 5 },
  PROXY_ERR_ROUTE_NOT_FOUND: { status: 404, body: 'route not found', grpc: 5 },
  /** The body is the controller's `invalid backend: …` text of the rule. */
  PROXY_ERR_INVALID_BACKEND: { status: 500, body: 'invalid backend: <why>', grpc: 13 },
  PROXY_ERR_NO_VALID_BACKENDS: { status: 500, body: 'no valid backends', grpc: 13 },
  PROXY_ERR_NO_HEALTHY_BACKENDS: { status: 503, body: 'no healthy backends', grpc: 14 },
  PROXY_ERR_POLICY_UNAVAILABLE: { status: 500, body: 'policy unavailable', grpc: 13 },
  /** The backend's TLS settings could not be resolved by the controller (a CA ConfigMap missing or invalid): fail closed. */
  PROXY_ERR_BACKEND_TLS_INVALID: { status: 500, body: 'invalid backend TLS settings', grpc: 13 },
  /** agentgateway's authorization denial (gRPC PERMISSION_DENIED). */
  PROXY_ERR_AUTHZ_DENIED: { status: 403, body: 'authorization failed', grpc: 7 },
  /** A request body an expression reads is larger than the buffer bound (2 MiB). */
  PROXY_ERR_BODY_TOO_LARGE: { status: 413, body: 'request body too large', grpc: 8 },
  /** An HTTP/1.1 upgrade request (`Connection: upgrade`) that declares a body: never forwarded. */
  PROXY_ERR_UPGRADE_WITH_BODY: { status: 400, body: 'upgrade request with a body not supported', grpc: 3 },
  PROXY_ERR_REDIRECT_NO_HOST: { status: 400, body: 'redirect needs a host: the request has none', grpc: 3 },
  PROXY_ERR_BODY_READ_FAILED: { status: 400, body: 'request body could not be read', grpc: 3 },
  PROXY_ERR_ROUTE_TIMEOUT: { status: 504, body: 'request timeout', grpc: 4 },
  PROXY_ERR_UPSTREAM_TIMEOUT: { status: 504, body: 'upstream call timeout', grpc: 4 },
  PROXY_ERR_UPSTREAM_REFUSED: { status: 503, body: 'upstream call failed: connection refused', grpc: 14 },
  PROXY_ERR_UPSTREAM_CONNECT_TIMEOUT: { status: 503, body: 'upstream call failed: connect timeout', grpc: 14 },
  PROXY_ERR_UPSTREAM_RESET: { status: 503, body: 'upstream call failed: connection reset', grpc: 14 },
  /** The TLS handshake with a TLS backend failed: certificate not trusted, wrong name, or no TLS spoken. */
  PROXY_ERR_UPSTREAM_TLS: { status: 503, body: 'upstream call failed: TLS handshake failed', grpc: 14 },
  PROXY_ERR_UPSTREAM_INVALID_RESPONSE: { status: 502, body: 'upstream call failed: invalid response', grpc: 14 },
  /** A response body a response transformation reads is larger than the buffer bound (2 MiB). */
  PROXY_ERR_RESPONSE_BODY_TOO_LARGE: { status: 502, body: 'upstream call failed: response body too large', grpc: 14 },
  /** The body names the system or undici error code. */
  PROXY_ERR_UPSTREAM_FAILED: { status: 503, body: 'upstream call failed: <error code>', grpc: 14 },
} as const satisfies Record<string, { status: number; body: string; grpc: number }>;

export type ProxyErrorCode = keyof typeof ProxyErrors;
