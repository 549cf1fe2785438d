import { z } from 'zod';
import { exactlyOneOf, withRules, type CelRule } from './cel-rule.js';
import { Condition } from './condition.js';
import { DURATION_PATTERN, parseDurationMs } from './duration.js';
import { ObjectMeta } from './object-meta.js';

/**
 * AgentgatewayPolicy (agentgateway.dev/v1alpha1), the subset this project enforces:
 * spec.targetRefs | spec.targetSelectors and spec.traffic.jwtAuthentication (+ traffic.phase).
 * Upstream fields we do not implement are absent on purpose: the API server (strict field
 * validation) then rejects them as `unknown field`, instead of silently ignoring security config.
 * Field shapes, limits and CEL messages follow upstream v1.5 (a superset of v1.0–v1.4).
 */

export const POLICY_GROUP = 'agentgateway.dev';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_KIND = 'AgentgatewayPolicy';
export const POLICY_PLURAL = 'agentgatewaypolicies';
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

const SECTION_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$";
const URL_PATTERN = '^https?://[^/?#@]+(/[^?#]*)?$';

const TRAFFIC_TARGET_KINDS = ['Gateway', 'HTTPRoute', 'GRPCRoute', 'ListenerSet', 'InferencePool'];

const Group = z
  .string()
  .max(253)
  .regex(/^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
  .describe('Group of the target resource, e.g. gateway.networking.k8s.io ("" for core kinds). Required.');
const Kind = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/)
  .describe('Kind of the target resource: Gateway, HTTPRoute or ListenerSet for traffic policies; also Service for backend policies.');
const SectionName = z
  .string()
  .min(1)
  .max(253)
  .regex(new RegExp(SECTION_NAME_PATTERN))
  .describe(
    'Part of the target: a listener name for a Gateway or ListenerSet, a rule name for an HTTPRoute, a port name or number for a Service.',
  );

export const PolicyTargetReference = z
  .strictObject({
    group: Group,
    kind: Kind,
    name: z.string().min(1).max(253).describe("Name of the target resource, in the policy's namespace."),
    sectionName: SectionName.optional(),
  })
  .describe('A local (same-namespace) reference to the resource the policy applies to.');
export type PolicyTargetReference = z.output<typeof PolicyTargetReference>;

export const PolicyTargetSelector = z
  .strictObject({
    group: Group,
    kind: Kind,
    matchLabels: z.record(z.string(), z.string()).describe("Labels that the target resources (in the policy's namespace) must all carry."),
    sectionName: SectionName.optional(),
  })
  .describe("Selects target resources of one kind by label, in the policy's namespace.");
export type PolicyTargetSelector = z.output<typeof PolicyTargetSelector>;

type Targeted = { kind: string; group: string };
const targetKindsRule: CelRule<Targeted[]> = {
  rule: "self.all(r, (r.kind == 'Service' && r.group == '') || (r.kind == 'AgentgatewayBackend' && r.group == 'agentgateway.dev') || (r.kind in ['Gateway','HTTPRoute','GRPCRoute'] && r.group == 'gateway.networking.k8s.io') || (r.kind == 'ListenerSet' && r.group == 'gateway.networking.k8s.io') || (r.kind == 'InferencePool' && r.group == 'inference.networking.k8s.io'))",
  message:
    'targetRefs may only reference Gateway, HTTPRoute, GRPCRoute, ListenerSet, Service, AgentgatewayBackend, or InferencePool resources',
  holds: (refs) =>
    refs.every(
      (r) =>
        (r.kind === 'Service' && r.group === '') ||
        (r.kind === 'AgentgatewayBackend' && r.group === 'agentgateway.dev') ||
        (['Gateway', 'HTTPRoute', 'GRPCRoute', 'ListenerSet'].includes(r.kind) && r.group === GATEWAY_API_GROUP) ||
        (r.kind === 'InferencePool' && r.group === 'inference.networking.k8s.io'),
    ),
};
const oneKindRule: CelRule<Targeted[]> = {
  rule: 'self.all(l1, !self.exists(l2, l1.kind != l2.kind))',
  message: 'Only one Kind of targetRef can be set on one policy',
  holds: (refs) => new Set(refs.map((r) => r.kind)).size <= 1,
};

// ---- CEL expressions and header names -----------------------------------------------------

/** Upstream's bound on one CEL expression (16 KiB), the same as the CEL module's parse limit. */
export const CEL_EXPRESSION_MAX_LENGTH = 16384;

export const CelExpression = z
  .string()
  .min(1)
  .max(CEL_EXPRESSION_MAX_LENGTH)
  .describe("A CEL expression (agentgateway's variables: request, jwt, source, response, metadata, proxy).");

const PSEUDO_HEADERS = [':authority', ':method', ':path', ':scheme', ':status'];

/** An HTTP header name (RFC 9110 token), or one of the five pseudo-headers. */
export const TransformHeaderName = withRules(
  z
    .string()
    .min(1)
    .max(256)
    .regex(new RegExp(`^:?${HEADER_NAME_PATTERN.slice(1)}`)),
  'A header name, e.g. x-user-id; a pseudo-header (:authority, :method, :path, :scheme, :status) addresses that part of the message.',
  [
    {
      rule: "!self.startsWith(':') || self in [':authority', ':method', ':path', ':scheme', ':status']",
      message: 'pseudo-headers must be one of :authority, :method, :path, :scheme, or :status',
      holds: (n) => !n.startsWith(':') || PSEUDO_HEADERS.includes(n),
    },
  ],
);

export const HeaderTransformation = z
  .strictObject({
    name: TransformHeaderName,
    value: CelExpression.describe(
      "CEL expression giving the header's value: a string (or bytes); any other result, or an error, removes the header.",
    ),
  })
  .describe('A header and the CEL expression of its value.');
export type HeaderTransformation = z.output<typeof HeaderTransformation>;

const headerList = (what: string) =>
  z
    .array(HeaderTransformation)
    .min(1)
    .max(16)
    // The API server refuses duplicate keys of a list-type map itself; local mode needs the same check.
    .refine((list) => new Set(list.map((h) => h.name)).size === list.length, { message: 'Duplicate value: header names must be unique' })
    .meta({ description: what, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });

export const Transform = withRules(
  z.strictObject({
    set: headerList('Headers to set, replacing any value already there.').optional(),
    add: headerList('Headers to append, keeping the values already there.').optional(),
    remove: z
      .array(TransformHeaderName)
      .min(1)
      .max(16)
      .meta({ description: 'Headers to remove.', 'x-kubernetes-list-type': 'set' })
      .optional(),
    body: CelExpression.describe('CEL expression giving the new body (string or bytes); an error gives an empty body.').optional(),
    metadata: z
      .record(z.string().min(1), CelExpression)
      .refine((m) => Object.keys(m).length >= 1 && Object.keys(m).length <= 16, { message: 'must have 1 to 16 entries' })
      .meta({
        description: 'Values computed first, by name, for the other expressions (`metadata.<name>`).',
        minProperties: 1,
        maxProperties: 16,
      })
      .optional(),
  }),
  'Changes to one message: metadata, then add, set, remove, body.',
  [
    {
      rule: 'has(self.add) || has(self.body) || has(self.metadata) || has(self.remove) || has(self.set)',
      message: 'at least one of the fields in [add body metadata remove set] must be set',
      holds: (t) =>
        t.add !== undefined || t.body !== undefined || t.metadata !== undefined || t.remove !== undefined || t.set !== undefined,
    },
  ],
);
export type Transform = z.output<typeof Transform>;

export const ConditionalTransformation = z
  .strictObject({
    condition: CelExpression.describe(
      'CEL condition; the first entry whose condition is true applies. Unset: the fallback (last entry only).',
    ).optional(),
    policy: withRules(
      z.strictObject({ request: Transform.optional(), response: Transform.optional() }),
      'The transformation to apply when the condition holds.',
      [
        {
          rule: 'has(self.request) || has(self.response)',
          message: 'at least one of the fields in [request response] must be set',
          holds: (p) => p.request !== undefined || p.response !== undefined,
        },
      ],
    ),
  })
  .describe('A transformation applied when its condition is true.');

export const Transformation = withRules(
  z.strictObject({
    request: Transform.describe('Changes to the request before it is forwarded.').optional(),
    response: Transform.describe('Changes to the response before it is returned.').optional(),
    conditional: withRules(
      z.array(ConditionalTransformation).min(1).max(16),
      'Transformations chosen by condition: the first whose condition is true applies; one entry without condition may come last, as the fallback.',
      [
        {
          rule: 'self.filter(e, !has(e.condition)).size() <= 1 && (!self.exists(e, !has(e.condition)) || !has(self[size(self) - 1].condition))',
          message: 'conditional entries without condition must be last',
          holds: (list) => {
            const unconditional = list.filter((e) => e.condition === undefined).length;
            return unconditional === 0 || (unconditional === 1 && list[list.length - 1]?.condition === undefined);
          },
        },
      ],
    ).optional(),
  }),
  'Changes to requests and responses computed with CEL (e.g. claims to headers). The most specific policy replaces the others.',
  [
    {
      rule: 'has(self.conditional) || has(self.request) || has(self.response)',
      message: 'at least one of the fields in [conditional request response] must be set',
      holds: (t) => t.conditional !== undefined || t.request !== undefined || t.response !== undefined,
    },
    {
      rule: '!has(self.conditional) || (!has(self.request) && !has(self.response))',
      message: 'conditional cannot be set with any other field',
      holds: (t) => t.conditional === undefined || (t.request === undefined && t.response === undefined),
    },
  ],
);
export type Transformation = z.output<typeof Transformation>;

// ---- authorization ------------------------------------------------------------------------

export const AuthorizationAction = z
  .enum(['Allow', 'Deny', 'Require'])
  .describe(
    'Allow (default): a request passes if any Allow rule is true. Deny: a request is refused if any Deny rule is true. ' +
      'Require: a request is refused unless every Require rule is true.',
  );
export type AuthorizationAction = z.output<typeof AuthorizationAction>;

export const Authorization = z
  .strictObject({
    action: AuthorizationAction.default('Allow'),
    policy: z
      .strictObject({
        matchExpressions: z
          .array(CelExpression)
          .min(1)
          .max(256)
          .describe('CEL expressions, each its own rule; an error or a non-boolean result counts as false.'),
      })
      .describe('The rules.'),
  })
  .describe(
    'Access control by CEL rules over the request and the verified claims. Rules of every policy at every level are merged: ' +
      'any Deny true → 403; any Require not true → 403; any Allow true → pass; else 403 if an Allow rule exists.',
  );
export type Authorization = z.output<typeof Authorization>;

// ---- jwtAuthentication --------------------------------------------------------------------

export const JwtMode = z
  .enum(['Strict', 'Optional', 'Permissive'])
  .describe(
    'How requests are treated. Strict (default): a valid token is required. Optional: a token, if present, ' +
      'must be valid; requests without one pass. Permissive: invalid or missing tokens pass unauthenticated.',
  );
export type JwtMode = z.output<typeof JwtMode>;

export const JwksBackendRef = withRules(
  z.strictObject({
    group: z
      .string()
      .max(253)
      .default('')
      .describe('Group of the backend; "" (default) for a core Service, agentgateway.dev for an AgentgatewayBackend.'),
    kind: z.string().min(1).max(63).default('Service').describe('Kind of the backend: Service (default) or AgentgatewayBackend.'),
    name: z.string().min(1).max(253).describe('Name of the backend (e.g. the Keycloak Service).'),
    namespace: z.string().min(1).max(63).optional().describe("Namespace of the backend; default: the policy's namespace."),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("Port of the backend; required for a Service (an AgentgatewayBackend's static.port is used)."),
  }),
  'The backend that serves the JWKS, fetched by the controller: a Service, or an AgentgatewayBackend (static host and port). https when a TLS policy applies to it, else plain HTTP.',
  [
    {
      rule: "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true",
      message: 'Must have port for Service reference',
      holds: (r) => !(r.group === '' && r.kind === 'Service') || r.port !== undefined,
    },
  ],
);
export type JwksBackendRef = z.output<typeof JwksBackendRef>;

export const CACHE_DURATION_DEFAULT = '5m';
export const CACHE_DURATION_MIN_MS = 5 * 60_000;

export const RemoteJwks = withRules(
  z.strictObject({
    backendRef: JwksBackendRef.optional(),
    url: z
      .string()
      .min(1)
      .max(1024)
      .regex(new RegExp(URL_PATTERN))
      .describe('Absolute http(s) URL of the JWKS, e.g. https://idp.example.com/keys (no userinfo, query or fragment).')
      .optional(),
    jwksPath: z
      .string()
      .min(1)
      .max(1024)
      .describe('Path of the JWKS on backendRef, e.g. /realms/master/protocol/openid-connect/certs. Required with backendRef.')
      .optional(),
    cacheDuration: withRules(
      z.string().max(32).regex(new RegExp(DURATION_PATTERN)).default(CACHE_DURATION_DEFAULT),
      'How long fetched keys are used before a refresh (default 5m, minimum 5m). An unknown kid triggers an early, rate-limited refetch.',
      [
        {
          rule: "duration(self) >= duration('5m')",
          message: 'cacheDuration must be at least 5m.',
          holds: (d) => (parseDurationMs(d) ?? 0) >= CACHE_DURATION_MIN_MS,
        },
      ],
    ),
  }),
  'Keys fetched from a remote JWKS endpoint: a backendRef plus jwksPath, or a url.',
  [
    {
      rule: 'has(self.backendRef) ? has(self.jwksPath) : true',
      message: 'jwksPath is required when backendRef is set',
      holds: (r) => r.backendRef === undefined || r.jwksPath !== undefined,
    },
    {
      rule: 'has(self.url) ? !has(self.jwksPath) : true',
      message: 'jwksPath may not be set when url is set',
      holds: (r) => r.url === undefined || r.jwksPath === undefined,
    },
    exactlyOneOf(['backendRef', 'url']),
  ],
);
export type RemoteJwks = z.output<typeof RemoteJwks>;

export const JwksSource = withRules(
  z.strictObject({
    remote: RemoteJwks.optional(),
    inline: z.string().min(2).max(65536).describe('A JSON Web Key Set as JSON text: {"keys":[...]}.').optional(),
  }),
  "Where the provider's public keys come from: exactly one of remote or inline.",
  [exactlyOneOf(['remote', 'inline'])],
);
export type JwksSource = z.output<typeof JwksSource>;

export const JwtProvider = z
  .strictObject({
    issuer: z.string().min(1).max(256).describe("Exact value the token's iss claim must have (required in the token)."),
    audiences: z
      .array(z.string().min(1))
      .min(1)
      .max(64)
      .describe('Accepted aud values; the token must carry one of them. Unset: any or no audience is accepted.')
      .optional(),
    jwks: JwksSource,
  })
  .describe("An issuer whose tokens are accepted, with its keys. The provider holding the token's kid validates it.");
export type JwtProvider = z.output<typeof JwtProvider>;

export const TokenLocation = withRules(
  z.strictObject({
    header: z
      .strictObject({
        name: z.string().min(1).max(256).regex(new RegExp(HEADER_NAME_PATTERN)).describe('Header name, e.g. Authorization.'),
        prefix: z
          .string()
          .min(1)
          .max(256)
          .describe('Prefix before the token (matched case-insensitively), e.g. "Bearer ". Unset: the whole value is the token.')
          .optional(),
      })
      .describe('Read the token from a request header.')
      .optional(),
    queryParameter: z
      .strictObject({
        name: z.string().min(1).max(256).describe('Query parameter name, e.g. access_token.'),
      })
      .describe('Read the token from a query parameter (removed before forwarding).')
      .optional(),
    cookie: z
      .strictObject({
        name: z.string().min(1).max(256).describe('Cookie name.'),
      })
      .describe('Read the token from a cookie (removed before forwarding).')
      .optional(),
    expression: CelExpression.describe(
      'A CEL expression over the request whose string result is the token (any other result: no token). Nothing is removed before forwarding.',
    ).optional(),
  }),
  'Where to find the token. Default: the Authorization header with prefix "Bearer ".',
  [exactlyOneOf(['header', 'queryParameter', 'cookie', 'expression'])],
);
export type TokenLocation = z.output<typeof TokenLocation>;

export const JwtAuthentication = z
  .strictObject({
    mode: JwtMode.default('Strict'),
    providers: z.array(JwtProvider).min(1).max(64).describe('Accepted token issuers (1 to 64).'),
    location: TokenLocation.optional(),
  })
  .describe('Validate JSON Web Tokens on requests; on success the credential is removed and the claims are kept for later stages.');
export type JwtAuthentication = z.output<typeof JwtAuthentication>;

export const TrafficPhase = z
  .enum(['PreRouting', 'PostRouting'])
  .describe(
    'When the policy runs: PostRouting (default) after route selection, PreRouting before it (Gateway or ListenerSet targets only).',
  );

export const Traffic = z
  .strictObject({
    phase: TrafficPhase.optional(),
    jwtAuthentication: JwtAuthentication.optional(),
    authorization: Authorization.optional(),
    transformation: Transformation.optional(),
  })
  .describe('Policies applied to traffic through the targeted Gateway, listener or route.');
export type Traffic = z.output<typeof Traffic>;

// ---- backend.auth -------------------------------------------------------------------------

export const BackendAuthLocation = withRules(
  z.strictObject({
    header: z
      .strictObject({
        name: z.string().min(1).max(256).regex(new RegExp(HEADER_NAME_PATTERN)).describe('Header name, e.g. Authorization.'),
        prefix: z.string().min(1).max(256).describe('Written before the token, e.g. "Bearer ". Unset: the token alone.').optional(),
      })
      .describe('Write the credential into a request header.')
      .optional(),
    queryParameter: z
      .strictObject({ name: z.string().min(1).max(256).describe('Query parameter name.') })
      .describe('Write the credential into a query parameter.')
      .optional(),
    cookie: z
      .strictObject({ name: z.string().min(1).max(256).describe('Cookie name.') })
      .describe('Write the credential into a cookie.')
      .optional(),
  }),
  'Where the credential goes on the backend request. Default: the Authorization header with prefix "Bearer ".',
  [exactlyOneOf(['header', 'queryParameter', 'cookie'])],
);
export type BackendAuthLocation = z.output<typeof BackendAuthLocation>;

export const BackendAuth = withRules(
  z.strictObject({
    passthrough: z
      .strictObject({})
      .describe('Send the validated JWT of the request to the backend (no validated JWT: nothing is sent).')
      .optional(),
    location: BackendAuthLocation.optional(),
  }),
  'Credentials sent to the backend. This project implements passthrough; other kinds are refused as unknown fields.',
  [
    // Upstream's other kinds (key, secretRef, aws, azure, gcp, …) are unknown fields here, so its
    // "at most one of the fields in [key secretRef passthrough …] may be set" cannot fail; like
    // upstream, `auth: {}` is accepted and sends nothing.
    {
      rule: '!has(self.location) || has(self.passthrough)',
      message: 'location may only be set for key, secretRef, or passthrough auth',
      holds: (a) => a.location === undefined || a.passthrough !== undefined,
    },
  ],
);
export type BackendAuth = z.output<typeof BackendAuth>;

// ---- backend.tls --------------------------------------------------------------------------

/** Upstream's SNI type: a lower-case DNS name (RFC 1123 subdomain), 1..253 characters. */
const SNI_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

export const BackendTls = withRules(
  z.strictObject({
    caCertificateRefs: z
      .array(z.strictObject({ name: z.string().min(1).max(253).describe('Name of a ConfigMap in the policy namespace with key ca.crt.') }))
      .max(1)
      .describe("The CA ConfigMap (key ca.crt) that verifies the backend's certificate. Unset: the system's trusted CAs.")
      .optional(),
    insecureSkipVerify: z
      .enum(['All', 'Hostname'])
      .describe('INSECURE. All: no verification at all. Hostname: the chain is verified, the name is not. Prefer verifySubjectAltNames.')
      .optional(),
    sni: z
      .string()
      .min(1)
      .max(253)
      .regex(new RegExp(SNI_PATTERN))
      .describe(
        "Server Name Indication sent in the handshake. Unset: the destination's host name (for a Service, <name>.<namespace>.svc.cluster.local).",
      )
      .optional(),
    verifySubjectAltNames: z
      .array(z.string().max(256))
      .min(1)
      .max(16)
      .describe("Names the backend's certificate must carry (one of them) instead of the destination's host name.")
      .optional(),
  }),
  'TLS from the proxy (and the controller, for key sets) to the targeted backends. mtlsCertificateRef, alpnProtocols and keyExchangeGroups are not implemented (unknown fields).',
  [
    {
      rule: '[has(self.verifySubjectAltNames),has(self.insecureSkipVerify)].filter(x,x==true).size() <= 1',
      message: 'at most one of the fields in [verifySubjectAltNames insecureSkipVerify] may be set',
      holds: (t) => t.verifySubjectAltNames === undefined || t.insecureSkipVerify === undefined,
    },
    {
      rule: "has(self.insecureSkipVerify) && self.insecureSkipVerify == 'All' ? !has(self.caCertificateRefs) : true",
      message: 'insecureSkipVerify All and caCertificateRefs may not be set together',
      holds: (t) => t.insecureSkipVerify !== 'All' || t.caCertificateRefs === undefined,
    },
    {
      rule: 'has(self.insecureSkipVerify) ? !has(self.verifySubjectAltNames) : true',
      message: 'insecureSkipVerify and verifySubjectAltNames may not be set together',
      holds: (t) => t.insecureSkipVerify === undefined || t.verifySubjectAltNames === undefined,
    },
  ],
);
export type BackendTls = z.output<typeof BackendTls>;

export const Backend = withRules(
  z.strictObject({
    auth: BackendAuth.optional(),
    tls: BackendTls.optional(),
  }),
  'Settings for calls to the backends of the targeted Gateway, listener, route or Service.',
  [
    {
      // Upstream's rule lists its every backend field; the others are unknown fields here.
      rule: '[has(self.auth),has(self.tls)].filter(x,x==true).size() >= 1',
      message: 'at least one of the fields in [ai auth extAuth health http mcp tcp tls transformation tunnel] must be set',
      holds: (b) => b.auth !== undefined || b.tls !== undefined,
    },
  ],
);
export type Backend = z.output<typeof Backend>;

export const AgentgatewayPolicySpec = withRules(
  z.strictObject({
    targetRefs: withRules(
      z.array(PolicyTargetReference).min(1).max(16),
      'Resources the policy applies to, in its namespace. Precedence: Gateway < Listener < Route < Route rule < Service (backend policies).',
      [targetKindsRule, oneKindRule],
    ).optional(),
    targetSelectors: withRules(
      z.array(PolicyTargetSelector).min(1).max(16),
      'Selects the resources the policy applies to by label, in its namespace.',
      [targetKindsRule, oneKindRule],
    ).optional(),
    traffic: Traffic.optional(),
    backend: Backend.optional(),
  }),
  'Desired behaviour of the policy.',
  [
    {
      rule: 'has(self.traffic) || has(self.backend)',
      message: 'At least one of traffic, frontend, or backend must be provided.',
      holds: (s) => s.traffic !== undefined || s.backend !== undefined,
    },
    exactlyOneOf(['targetRefs', 'targetSelectors']),
    {
      rule: "has(self.traffic) && has(self.targetRefs) ? self.targetRefs.all(t, t.kind in ['Gateway','HTTPRoute','GRPCRoute','ListenerSet','InferencePool']) : true",
      message: "the 'traffic' field can only target a Gateway, ListenerSet, GRPCRoute, HTTPRoute, or InferencePool",
      holds: (s) => s.traffic === undefined || (s.targetRefs ?? []).every((t) => TRAFFIC_TARGET_KINDS.includes(t.kind)),
    },
    {
      rule: "has(self.traffic) && has(self.targetSelectors) ? self.targetSelectors.all(t, t.kind in ['Gateway','HTTPRoute','GRPCRoute','ListenerSet','InferencePool']) : true",
      message: "the 'traffic' field can only target a Gateway, ListenerSet, GRPCRoute, HTTPRoute, or InferencePool",
      holds: (s) => s.traffic === undefined || (s.targetSelectors ?? []).every((t) => TRAFFIC_TARGET_KINDS.includes(t.kind)),
    },
    {
      rule: "has(self.targetRefs) && has(self.traffic) && has(self.traffic.phase) && self.traffic.phase == 'PreRouting' ? self.targetRefs.all(t, t.kind in ['Gateway','ListenerSet']) : true",
      message: "the 'traffic.phase=PreRouting' field can only target a Gateway or ListenerSet",
      holds: (s) => s.traffic?.phase !== 'PreRouting' || (s.targetRefs ?? []).every((t) => ['Gateway', 'ListenerSet'].includes(t.kind)),
    },
    {
      rule: "has(self.targetSelectors) && has(self.traffic) && has(self.traffic.phase) && self.traffic.phase == 'PreRouting' ? self.targetSelectors.all(t, t.kind in ['Gateway','ListenerSet']) : true",
      message: "the 'traffic.phase=PreRouting' field can only target a Gateway or ListenerSet",
      holds: (s) =>
        s.traffic?.phase !== 'PreRouting' || (s.targetSelectors ?? []).every((t) => ['Gateway', 'ListenerSet'].includes(t.kind)),
    },
  ],
);
export type AgentgatewayPolicySpec = z.output<typeof AgentgatewayPolicySpec>;

export const ParentReference = z
  .object({
    group: z.string().max(253).default(GATEWAY_API_GROUP).describe('Group of the ancestor; default gateway.networking.k8s.io.'),
    kind: z.string().max(63).default('Gateway').describe('Kind of the ancestor; default Gateway.'),
    name: z.string().min(1).max(253).describe('Name of the ancestor.'),
    namespace: z.string().max(63).optional().describe('Namespace of the ancestor.'),
    sectionName: SectionName.optional(),
    port: z.number().int().min(1).max(65535).optional().describe('Port of the ancestor.'),
  })
  .describe('Reference to the ancestor (a Gateway, or the StatusSummary pseudo-ancestor) the status applies to.');

export const PolicyAncestorStatus = z
  .object({
    ancestorRef: ParentReference,
    controllerName: z.string().min(1).max(253).describe('The controller that wrote this entry, e.g. agentgateway.dev/agentgateway.'),
    conditions: z
      .array(Condition)
      .min(1)
      .max(8)
      .meta({
        description: 'Conditions of the policy for this ancestor: Accepted, Attached, Programmed.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
  })
  .describe('Status of the policy with respect to one ancestor.');
export type PolicyAncestorStatus = z.output<typeof PolicyAncestorStatus>;

export const PolicyStatus = z
  .object({
    ancestors: z.array(PolicyAncestorStatus).max(16).meta({
      description: 'One entry per Gateway the policy reaches (and controller writing it).',
      'x-kubernetes-list-type': 'atomic',
    }),
  })
  .describe('Status of the policy, as Gateway API PolicyStatus.');
export type PolicyStatus = z.output<typeof PolicyStatus>;

export const AgentgatewayPolicy = z.object({
  apiVersion: z.literal(`${POLICY_GROUP}/${POLICY_VERSION}`),
  kind: z.literal(POLICY_KIND),
  metadata: ObjectMeta,
  spec: AgentgatewayPolicySpec,
  status: PolicyStatus.optional(),
});
export type AgentgatewayPolicy = z.output<typeof AgentgatewayPolicy>;
export type AgentgatewayPolicyInput = z.input<typeof AgentgatewayPolicy>;
