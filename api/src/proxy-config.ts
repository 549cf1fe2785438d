import { z } from 'zod';
import { JwtMode } from './agentgateway-policy.js';

/**
 * The compiled configuration of one Gateway's proxy: everything it needs to route and
 * authenticate, with no reference left to resolve (keys inline, endpoints as addresses).
 * Produced by the controller's translate(), validated again by the proxy before use.
 */

/**
 * 5: HTTPRoute filters (`route.filters`: RequestHeaderModifier, ResponseHeaderModifier,
 * RequestRedirect, URLRewrite). A proxy of version 4 would drop them as an unknown field and serve
 * the rule without its filters (a header it should remove, a redirect it should answer), so the
 * version changes.
 * 4: TLS to backends (`policies.backendTls`, `PolicyRefs.backendTls`, `backend.policies.backendTls`,
 * `backend.hostname`) and h2c backends (`backend.protocol`). A proxy of version 3 would drop those
 * fields as unknown and connect in plaintext (or over HTTP/1.1), so the version changes: a proxy
 * refuses (NACKs) a config it cannot enforce whole, and keeps serving its last one.
 * 3: authorization, transformation and backend auth (`policies.authorization|transformation|
 * backendAuth`, `PolicyRefs` of the same names, `backend.policies`, token location `expression`),
 * and HTTPS listeners (`listener.protocol`, `listener.tls`).
 * 2: policies per feature (`policies.<feature>` tables; routes and listeners refer to them by
 * feature). 1 had `jwtPolicies`, `route.jwtPolicy` and `listener.preRoutingJwtPolicy`.
 */
export const PROXY_CONFIG_SCHEMA_VERSION = 5;

/** A JSON Web Key as received; jose checks the key material when the proxy imports it. */
export const Jwk = z.looseObject({
  kty: z.string(),
  kid: z.string().optional(),
  alg: z.string().optional(),
  use: z.string().optional(),
  crv: z.string().optional(),
});
export type Jwk = z.output<typeof Jwk>;

export const CompiledJwtProvider = z.object({
  /** Stable id for metrics and logs: `<policy key>#<index>`, or the issuer. */
  id: z.string(),
  issuer: z.string(),
  /** Unset: any or no `aud` is accepted (upstream). Set: one must match. */
  audiences: z.array(z.string()).optional(),
  keys: z.array(Jwk),
  /** Remote source URL (for refetch-on-unknown-kid requests); absent for inline keys. */
  remoteUrl: z.string().optional(),
});
export type CompiledJwtProvider = z.output<typeof CompiledJwtProvider>;

export const CompiledTokenLocation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('header'), name: z.string(), prefix: z.string().optional() }),
  z.object({ kind: z.literal('query'), name: z.string() }),
  z.object({ kind: z.literal('cookie'), name: z.string() }),
  /** A CEL expression over the request; a string result is the token. Nothing is stripped. */
  z.object({ kind: z.literal('expression'), expression: z.string() }),
]);
export type CompiledTokenLocation = z.output<typeof CompiledTokenLocation>;
/** Upstream's default: `Authorization` with an ASCII case-insensitive `Bearer ` prefix. */
export const DEFAULT_TOKEN_LOCATION: CompiledTokenLocation = { kind: 'header', name: 'authorization', prefix: 'Bearer ' };

export const CompiledJwtPolicy = z.object({
  /** `<namespace>/<policy name>`: names the policy in metrics and logs. */
  policy: z.string(),
  mode: JwtMode,
  location: CompiledTokenLocation,
  /** May be empty (no key available yet): Strict and Optional then fail closed. */
  providers: z.array(CompiledJwtProvider),
});
export type CompiledJwtPolicy = z.output<typeof CompiledJwtPolicy>;

/**
 * One authorization rule. `expression` is CEL source as written; a rule whose expression does not
 * compile is kept (the controller reports it) and evaluates to false, so an Allow or Require that
 * cannot compile denies and a Deny that cannot compile never denies (upstream).
 */
export const CompiledAuthorizationRule = z.object({
  action: z.enum(['Allow', 'Deny', 'Require']),
  expression: z.string(),
});
export type CompiledAuthorizationRule = z.output<typeof CompiledAuthorizationRule>;

export const CompiledAuthorizationPolicy = z.object({
  /** `<namespace>/<policy name>`: names the policy in metrics and logs. */
  policy: z.string(),
  rules: z.array(CompiledAuthorizationRule),
});
export type CompiledAuthorizationPolicy = z.output<typeof CompiledAuthorizationPolicy>;

/** A header and the CEL source of its value. */
export const CompiledHeaderValue = z.object({ name: z.string(), value: z.string() });
export type CompiledHeaderValue = z.output<typeof CompiledHeaderValue>;

/** One message's changes, applied in upstream's order: metadata → add → set → remove → body. Names lower-case. */
export const CompiledTransform = z.object({
  metadata: z.array(CompiledHeaderValue).default([]),
  add: z.array(CompiledHeaderValue).default([]),
  set: z.array(CompiledHeaderValue).default([]),
  remove: z.array(z.string()).default([]),
  body: z.string().optional(),
});
export type CompiledTransform = z.output<typeof CompiledTransform>;

export const CompiledTransformationPolicy = z.object({
  policy: z.string(),
  /**
   * The first entry whose condition is true (or that has none) applies. A transformation without
   * `conditional` is one entry without condition.
   */
  entries: z.array(
    z.object({
      condition: z.string().optional(),
      request: CompiledTransform.optional(),
      response: CompiledTransform.optional(),
    }),
  ),
});
export type CompiledTransformationPolicy = z.output<typeof CompiledTransformationPolicy>;

/** Where a backend credential is written: a header (with optional prefix), a query parameter or a cookie. */
export const CompiledCredentialTarget = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('header'), name: z.string(), prefix: z.string().optional() }),
  z.object({ kind: z.literal('query'), name: z.string() }),
  z.object({ kind: z.literal('cookie'), name: z.string() }),
]);
export type CompiledCredentialTarget = z.output<typeof CompiledCredentialTarget>;

/** `backend.auth`: today `passthrough` only (the request's validated JWT, written at `target`). */
export const CompiledBackendAuthPolicy = z.object({
  policy: z.string(),
  passthrough: z.literal(true),
  target: CompiledCredentialTarget,
});
export type CompiledBackendAuthPolicy = z.output<typeof CompiledBackendAuthPolicy>;
/** Upstream's default for passthrough: `Authorization: Bearer <token>`. */
export const DEFAULT_CREDENTIAL_TARGET: CompiledCredentialTarget = { kind: 'header', name: 'authorization', prefix: 'Bearer ' };

/**
 * TLS from the proxy to a backend (`backend.tls` of an AgentgatewayPolicy, or a Gateway API
 * BackendTLSPolicy on the Service). The proxy opens TLS (ALPN `http/1.1`: TLS backends speak
 * HTTP/1.1) to every endpoint of a backend it applies to, never plaintext.
 */
export const CompiledBackendTlsPolicy = z.object({
  /**
   * `<namespace>/<policy name>` of an AgentgatewayPolicy, `BackendTLSPolicy/<namespace>/<name>`, or
   * `AgentgatewayBackend/<namespace>/<name>` (a backend's own `policies.tls`): names it in logs.
   */
  policy: z.string(),
  /**
   * Server Name Indication, and the name the certificate must carry (unless `subjectAltNames` or
   * `insecureSkipVerify` say otherwise). Unset: the backend's `hostname` (for a Service,
   * `<name>.<namespace>.svc.cluster.local`).
   */
  sni: z.string().optional(),
  /** PEM trust anchors (a CA ConfigMap's `ca.crt`), replacing the system's. Unset: the system's trusted CAs. */
  caPem: z.string().optional(),
  /** INSECURE. `All`: nothing verified. `Hostname`: the chain is verified, the name is not. Unset: both verified. */
  insecureSkipVerify: z.enum(['All', 'Hostname']).optional(),
  /**
   * The certificate must carry one of these instead of the SNI name: DNS names (or IP addresses),
   * matched as a host name is (wildcards as RFC 6125), and URIs, matched exactly.
   */
  subjectAltNames: z.object({ hostnames: z.array(z.string()), uris: z.array(z.string()) }).optional(),
  /**
   * Set when the settings cannot be used (a CA ConfigMap missing or invalid): every call to a
   * backend under this policy fails (500 `PROXY_ERR_BACKEND_TLS_INVALID`), never plaintext and
   * never unverified. The text is the controller's, for the proxy's log.
   */
  invalid: z.string().optional(),
});
export type CompiledBackendTlsPolicy = z.output<typeof CompiledBackendTlsPolicy>;

/**
 * Which compiled policy of each feature applies, by key into `ProxyConfig.policies.<feature>`.
 * A most-specific feature (JWT, transformation, backend auth) names one policy; a merge-all
 * feature (authorization) names every applicable policy, oldest first. Absent: does not apply.
 */
export const PolicyRefs = z.object({
  jwt: z.string().optional(),
  authorization: z.array(z.string()).min(1).optional(),
  transformation: z.string().optional(),
  backendAuth: z.string().optional(),
  backendTls: z.string().optional(),
});
export type PolicyRefs = z.output<typeof PolicyRefs>;

/** The compiled policies of a Gateway, per feature, by key (`<namespace>/<policy name>`). */
export const FeaturePolicies = z.object({
  jwt: z.record(z.string(), CompiledJwtPolicy).default({}),
  authorization: z.record(z.string(), CompiledAuthorizationPolicy).default({}),
  transformation: z.record(z.string(), CompiledTransformationPolicy).default({}),
  backendAuth: z.record(z.string(), CompiledBackendAuthPolicy).default({}),
  backendTls: z.record(z.string(), CompiledBackendTlsPolicy).default({}),
});
export type FeaturePolicies = z.output<typeof FeaturePolicies>;

export const StringMatch = z.object({
  type: z.enum(['Exact', 'RegularExpression']),
  name: z.string(),
  value: z.string(),
});

export const CompiledRouteMatch = z.object({
  path: z.object({ type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']), value: z.string() }),
  headers: z.array(StringMatch).default([]),
  queryParams: z.array(StringMatch).default([]),
  method: z.string().optional(),
});
export type CompiledRouteMatch = z.output<typeof CompiledRouteMatch>;

export const Endpoint = z.object({ host: z.string(), port: z.number().int().min(1).max(65535) });
export type Endpoint = z.output<typeof Endpoint>;

/**
 * How the proxy speaks to a backend's endpoints, from the Service port's `appProtocol` (Gateway
 * API): `h2c` for `kubernetes.io/h2c` (HTTP/2 with prior knowledge, no TLS: gRPC), `http1` for
 * anything else (`kubernetes.io/ws`, `http`, none).
 */
export const BackendProtocol = z.enum(['http1', 'h2c']);
export type BackendProtocol = z.output<typeof BackendProtocol>;

export const CompiledBackend = z.object({
  /** `<namespace>/<service>:<port>`, or `AgentgatewayBackend/<namespace>/<name>`, for logs and metrics. */
  name: z.string(),
  weight: z.number().int().min(0),
  /** Ready addresses; empty means 503 (no healthy backends). */
  endpoints: z.array(Endpoint),
  /**
   * The protocol to the endpoints; unset means `http1` (the controller writes only `h2c`, so a
   * config without it, or from before it, means what it always did).
   */
  protocol: BackendProtocol.optional(),
  /**
   * The backend's DNS name (`<service>.<namespace>.svc.cluster.local`, an AgentgatewayBackend's
   * `static.host`): the SNI and verified name of TLS to it when its TLS policy sets no `sni`.
   * Written where a TLS policy may apply.
   */
  hostname: z.string().optional(),
  /** Backend policies for calls to this backend (a Service-level policy replaces the route's, per feature). */
  policies: z.object({ backendAuth: z.string().optional(), backendTls: z.string().optional() }).optional(),
});
export type CompiledBackend = z.output<typeof CompiledBackend>;

/**
 * A header filter (Gateway API HTTPHeaderFilter) as the controller checked it: names lower-case,
 * each name in one list only (the controller refuses a name in two), values header-safe. Applied
 * add → set → remove: `add` appends to the values present, `set` replaces them, `remove` drops them.
 */
export const CompiledHeaderModifier = z.object({
  add: z.array(z.object({ name: z.string().min(1), value: z.string() })).default([]),
  set: z.array(z.object({ name: z.string().min(1), value: z.string() })).default([]),
  remove: z.array(z.string().min(1)).default([]),
});
export type CompiledHeaderModifier = z.output<typeof CompiledHeaderModifier>;

/**
 * A path modifier (Gateway API HTTPPathModifier). `ReplacePrefixMatch` replaces the route's
 * PathPrefix match value (`match.path.value`; the proxy leaves out a route whose match is not a
 * PathPrefix), element-wise, trailing `/` ignored; the query is kept either way.
 */
export const CompiledPathModifier = z.object({
  type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch']),
  value: z.string().max(1024),
});
export type CompiledPathModifier = z.output<typeof CompiledPathModifier>;

/** Status codes of a RequestRedirect (Gateway API: 301 and 302 Core, 303, 307, 308 Extended). */
export const RedirectStatusCode = z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]);

/**
 * One HTTPRoute rule filter, applied in the order listed after the route's policy stages (JWT,
 * authorization, transformation) and before a backend is chosen.
 */
export const CompiledRouteFilter = z.discriminatedUnion('type', [
  z.object({ type: z.literal('RequestHeaderModifier'), headers: CompiledHeaderModifier }),
  z.object({ type: z.literal('ResponseHeaderModifier'), headers: CompiledHeaderModifier }),
  /**
   * Answered by the proxy (no upstream call, empty body): `Location` is `<scheme>://<hostname>[:port]<path>[?query]`.
   * Unset `scheme`: the listener's; unset `hostname`: the request's host without its port; unset
   * `port`: 80/443 when `scheme` is set, else the listener's port; the port is left out for http:80
   * and https:443.
   */
  z.object({
    type: z.literal('RequestRedirect'),
    scheme: z.enum(['http', 'https']).optional(),
    hostname: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    path: CompiledPathModifier.optional(),
    statusCode: RedirectStatusCode,
  }),
  /** `hostname`: the upstream Host (`:authority`); `path`: the forwarded path (query kept). */
  z.object({ type: z.literal('URLRewrite'), hostname: z.string().min(1).optional(), path: CompiledPathModifier.optional() }),
]);
export type CompiledRouteFilter = z.output<typeof CompiledRouteFilter>;

export const CompiledRoute = z.object({
  /** `<namespace>/<route>/<rule index>/<match index>`. */
  id: z.string(),
  /** Listener names the route is attached to. */
  listeners: z.array(z.string()).min(1),
  /** Effective hostnames (route ∩ listener); empty means any host. `*.` prefix is a wildcard. */
  hostnames: z.array(z.string()),
  match: CompiledRouteMatch,
  /** Tie-break between equally specific matches: lower first (route age, then name, then rule index). */
  order: z.number().int().min(0),
  backends: z.array(CompiledBackend),
  /** The route's policies, per feature (keys into `policies`). */
  policies: PolicyRefs.optional(),
  /** Request timeout in milliseconds; unset: the proxy default. */
  timeoutMs: z.number().int().positive().optional(),
  /** Set when the rule cannot be served (e.g. an invalid backend ref): answer 500 with this text. */
  invalid: z.string().optional(),
  /** The rule's HTTPRoute filters, in order; unset: none. */
  filters: z.array(CompiledRouteFilter).min(1).optional(),
});
export type CompiledRoute = z.output<typeof CompiledRoute>;

/** A certificate and its key, from a `kubernetes.io/tls` Secret, for an HTTPS listener. */
export const CompiledCertificate = z.object({
  /** `<namespace>/<secret name>`, for logs, metrics and status. */
  name: z.string(),
  /** PEM of the certificate chain (the Secret's `tls.crt`), leaf first. */
  certChainPem: z.string().min(1),
  /**
   * PEM of the private key (the Secret's `tls.key`). Key material: sent only over a TLS-protected
   * config stream (or in-process in local mode), never logged, `[redacted]` in /config_dump.
   */
  privateKeyPem: z.string().min(1),
});
export type CompiledCertificate = z.output<typeof CompiledCertificate>;

export const CompiledListener = z.object({
  name: z.string(),
  port: z.number().int().min(1).max(65535),
  hostname: z.string().optional(),
  /** HTTPS: TLS terminated by the proxy with `tls.certificates` (SNI picks among listeners of one port by hostname). */
  protocol: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
  /** Set for HTTPS listeners: the certificates of the listener's `certificateRefs` that resolved (at least one). */
  tls: z.object({ certificates: z.array(CompiledCertificate).min(1) }).optional(),
  /** PreRouting policies, per feature (keys into `policies`): run before route selection. */
  preRouting: PolicyRefs.optional(),
});
export type CompiledListener = z.output<typeof CompiledListener>;

export const ProxyConfig = z.object({
  schemaVersion: z.literal(PROXY_CONFIG_SCHEMA_VERSION),
  /** Opaque, changes with every content change; ACK/NACK refer to it. */
  version: z.string().min(1),
  gateway: z.object({ namespace: z.string(), name: z.string() }),
  listeners: z.array(CompiledListener),
  routes: z.array(CompiledRoute),
  policies: FeaturePolicies,
});
export type ProxyConfig = z.output<typeof ProxyConfig>;
export type ProxyConfigInput = z.input<typeof ProxyConfig>;

/**
 * The frame of a ProxyConfig with its parts unparsed: the proxy parses listeners, routes and
 * policies one by one, so that one it cannot use is left out instead of failing the whole config.
 */
export const ProxyConfigFrame = z.object({
  schemaVersion: z.literal(PROXY_CONFIG_SCHEMA_VERSION),
  version: z.string().min(1),
  gateway: z.object({ namespace: z.string(), name: z.string() }),
  listeners: z.array(z.unknown()),
  routes: z.array(z.unknown()),
  /** Per feature, its compiled policies by key (each parsed on its own by the proxy). */
  policies: z.object({
    jwt: z.record(z.string(), z.unknown()).default({}),
    authorization: z.record(z.string(), z.unknown()).default({}),
    transformation: z.record(z.string(), z.unknown()).default({}),
    backendAuth: z.record(z.string(), z.unknown()).default({}),
    backendTls: z.record(z.string(), z.unknown()).default({}),
  }),
});
