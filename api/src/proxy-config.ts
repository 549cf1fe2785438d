import { z } from 'zod';
import { JwtMode } from './agentgateway-policy.js';

/**
 * The compiled configuration of one Gateway's proxy: everything it needs to route and
 * authenticate, with no reference left to resolve (keys inline, endpoints as addresses).
 * Produced by the controller's translate(), validated again by the proxy before use.
 */

/**
 * 2: policies per feature (`policies.<feature>` tables; routes and listeners refer to them by
 * feature). 1 had `jwtPolicies`, `route.jwtPolicy` and `listener.preRoutingJwtPolicy`.
 */
export const PROXY_CONFIG_SCHEMA_VERSION = 2;

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
 * Which compiled policy of each feature applies, by key into `ProxyConfig.policies.<feature>`.
 * A feature whose merge rule is most-specific-replaces (JWT, transformation) names one policy; a
 * merge-all feature (authorization) will name a list. Absent: the feature does not apply.
 */
export const PolicyRefs = z.object({
  jwt: z.string().optional(),
});
export type PolicyRefs = z.output<typeof PolicyRefs>;

/** The compiled policies of a Gateway, per feature, by key (`<namespace>/<policy name>`). */
export const FeaturePolicies = z.object({
  jwt: z.record(z.string(), CompiledJwtPolicy).default({}),
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

export const CompiledBackend = z.object({
  /** `<namespace>/<service>:<port>` for logs and metrics. */
  name: z.string(),
  weight: z.number().int().min(0),
  /** Ready addresses; empty means 503 (no healthy backends). */
  endpoints: z.array(Endpoint),
});
export type CompiledBackend = z.output<typeof CompiledBackend>;

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
});
export type CompiledRoute = z.output<typeof CompiledRoute>;

export const CompiledListener = z.object({
  name: z.string(),
  port: z.number().int().min(1).max(65535),
  hostname: z.string().optional(),
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
  policies: z.object({ jwt: z.record(z.string(), z.unknown()).default({}) }),
});
