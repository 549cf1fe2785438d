import { z } from 'zod';
import { Condition } from './condition.js';
import { ObjectMeta } from './object-meta.js';

/**
 * The subset of Gateway API (v1) and core objects the controller reads, as lenient parsers:
 * unknown fields pass through (loose), defaults are those of the Gateway API CRDs, so an object
 * read from the API server and one read from a file (local mode) parse to the same value.
 */

export const GatewayClass = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('GatewayClass'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    controllerName: z.string(),
    description: z.string().optional(),
    parametersRef: z.looseObject({ group: z.string(), kind: z.string(), name: z.string(), namespace: z.string().optional() }).optional(),
  }),
  status: z.looseObject({ conditions: z.array(Condition).optional() }).optional(),
});
export type GatewayClass = z.output<typeof GatewayClass>;

/** In the Gateway API CRD's order: the API server's `Unsupported value` message lists them so. */
export const RouteNamespacesFrom = z.enum(['All', 'Selector', 'Same']);

/** A listener's reference to its certificate: a `kubernetes.io/tls` Secret (Gateway API SecretObjectReference). */
export const SecretObjectReference = z.looseObject({
  group: z.string().default('').describe('API group of the referent; "" (core) is the only one supported.'),
  kind: z.string().default('Secret').describe('Kind of the referent; Secret is the only one supported.'),
  name: z.string().min(1).describe('Name of the Secret.'),
  namespace: z
    .string()
    .optional()
    .describe("Namespace of the Secret (default: the Gateway's); another namespace needs a ReferenceGrant there."),
});
export type SecretObjectReference = z.output<typeof SecretObjectReference>;

/**
 * Gateway API ListenerTLSConfig (standard channel v1.4). `mode` defaults to Terminate; Passthrough
 * is for protocol TLS (TLSRoute), which this project does not serve. `options` are
 * implementation-specific and not read.
 */
export const ListenerTls = z.looseObject({
  mode: z.enum(['Terminate', 'Passthrough']).default('Terminate').describe('Terminate (default): the proxy ends TLS with certificateRefs.'),
  certificateRefs: z.array(SecretObjectReference).default([]).describe('Certificates (kubernetes.io/tls Secrets); SNI picks one.'),
  options: z.record(z.string(), z.string()).optional().describe('Implementation-specific TLS options (none read).'),
});
export type ListenerTls = z.output<typeof ListenerTls>;

export const Listener = z.looseObject({
  name: z.string().min(1),
  hostname: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  protocol: z.string(),
  tls: ListenerTls.optional(),
  allowedRoutes: z
    .looseObject({
      namespaces: z
        .looseObject({
          from: RouteNamespacesFrom.default('Same'),
          selector: z.looseObject({ matchLabels: z.record(z.string(), z.string()).optional() }).optional(),
        })
        .default({ from: 'Same' }),
      kinds: z.array(z.looseObject({ group: z.string().optional(), kind: z.string() })).optional(),
    })
    .default({ namespaces: { from: 'Same' } }),
});
export type Listener = z.output<typeof Listener>;

export const Gateway = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('Gateway'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    gatewayClassName: z.string(),
    listeners: z.array(Listener).min(1),
  }),
  status: z.looseObject({}).optional(),
});
export type Gateway = z.output<typeof Gateway>;

export const ParentRef = z.looseObject({
  group: z.string().default('gateway.networking.k8s.io'),
  kind: z.string().default('Gateway'),
  namespace: z.string().optional(),
  name: z.string(),
  sectionName: z.string().optional(),
  port: z.number().int().optional(),
});
export type ParentRef = z.output<typeof ParentRef>;

export const PathMatch = z.looseObject({
  type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).default('PathPrefix'),
  value: z.string().default('/'),
});
export const HeaderMatch = z.looseObject({
  type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
  name: z.string(),
  value: z.string(),
});
export const HttpRouteMatch = z.looseObject({
  path: PathMatch.default({ type: 'PathPrefix', value: '/' }),
  headers: z.array(HeaderMatch).optional(),
  queryParams: z.array(HeaderMatch).optional(),
  method: z.string().optional(),
});
export type HttpRouteMatch = z.output<typeof HttpRouteMatch>;

/** An HTTPHeader of a header filter (`set`, `add`). Names and values are checked by translate, not here. */
export const HttpHeader = z.looseObject({ name: z.string(), value: z.string() });

/** Gateway API HTTPHeaderFilter (RequestHeaderModifier, ResponseHeaderModifier). */
export const HttpHeaderFilter = z.looseObject({
  set: z.array(HttpHeader).optional(),
  add: z.array(HttpHeader).optional(),
  remove: z.array(z.string()).optional(),
});
export type HttpHeaderFilter = z.output<typeof HttpHeaderFilter>;

/** Gateway API HTTPPathModifier: `type` ReplaceFullPath or ReplacePrefixMatch (kept as a string: an unknown type is a status, not a parse error). */
export const HttpPathModifier = z.looseObject({
  type: z.string(),
  replaceFullPath: z.string().optional(),
  replacePrefixMatch: z.string().optional(),
});
export type HttpPathModifier = z.output<typeof HttpPathModifier>;

/**
 * Gateway API HTTPRouteFilter, leniently: `type` is any string and every field is optional, so a
 * filter this project does not serve (RequestMirror, CORS, ExtensionRef, an unknown type) or a bad
 * value parses, and translate leaves its rule out with Accepted=False UnsupportedValue instead of
 * serving the rule without it (controller/src/translate/route-filters.ts).
 */
export const HttpRouteFilter = z.looseObject({
  type: z.string(),
  requestHeaderModifier: HttpHeaderFilter.optional(),
  responseHeaderModifier: HttpHeaderFilter.optional(),
  requestRedirect: z
    .looseObject({
      scheme: z.string().optional(),
      hostname: z.string().optional(),
      path: HttpPathModifier.optional(),
      port: z.number().int().optional(),
      statusCode: z.number().int().optional(),
    })
    .optional(),
  urlRewrite: z.looseObject({ hostname: z.string().optional(), path: HttpPathModifier.optional() }).optional(),
});
export type HttpRouteFilter = z.output<typeof HttpRouteFilter>;

export const BackendRef = z.looseObject({
  group: z.string().default(''),
  kind: z.string().default('Service'),
  name: z.string(),
  namespace: z.string().optional(),
  port: z.number().int().optional(),
  weight: z.number().int().min(0).default(1),
  /** backendRef-level filters: not served (the rule is left out, UnsupportedValue). */
  filters: z.array(HttpRouteFilter).optional(),
});
export type BackendRef = z.output<typeof BackendRef>;

export const HttpRouteRule = z.looseObject({
  name: z.string().optional(),
  matches: z.array(HttpRouteMatch).default([{ path: { type: 'PathPrefix', value: '/' } }]),
  /** Applied in the order listed (Gateway API: SHOULD); see route-filters.ts for what is served. */
  filters: z.array(HttpRouteFilter).default([]),
  backendRefs: z.array(BackendRef).default([]),
  timeouts: z.looseObject({ request: z.string().optional(), backendRequest: z.string().optional() }).optional(),
});
export type HttpRouteRule = z.output<typeof HttpRouteRule>;

export const HttpRoute = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('HTTPRoute'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    parentRefs: z.array(ParentRef).default([]),
    hostnames: z.array(z.string()).default([]),
    rules: z.array(HttpRouteRule).default([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], filters: [], backendRefs: [] }]),
  }),
  status: z.looseObject({}).optional(),
});
export type HttpRoute = z.output<typeof HttpRoute>;

export const ReferenceGrant = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('ReferenceGrant'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    from: z.array(z.looseObject({ group: z.string(), kind: z.string(), namespace: z.string() })),
    to: z.array(z.looseObject({ group: z.string(), kind: z.string(), name: z.string().optional() })),
  }),
});
export type ReferenceGrant = z.output<typeof ReferenceGrant>;

export const ServicePort = z.looseObject({
  name: z.string().optional(),
  port: z.number().int(),
  targetPort: z.union([z.number().int(), z.string()]).optional(),
  protocol: z.string().default('TCP'),
  /** The port's application protocol (Gateway API reads `kubernetes.io/h2c`, `kubernetes.io/ws`, `http`). */
  appProtocol: z.string().nullish(),
});
export const Service = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: ObjectMeta,
  spec: z
    .looseObject({
      ports: z.array(ServicePort).default([]),
      type: z.string().optional(),
      externalName: z.string().optional(),
    })
    .default({ ports: [] }),
});
export type Service = z.output<typeof Service>;

export const EndpointSlice = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('EndpointSlice'),
  metadata: ObjectMeta,
  addressType: z.string().default('IPv4'),
  endpoints: z
    .array(
      z.looseObject({
        addresses: z.array(z.string()),
        conditions: z.looseObject({ ready: z.boolean().optional() }).optional(),
      }),
    )
    .nullish()
    .transform((v) => v ?? []),
  ports: z
    .array(
      z.looseObject({
        name: z.string().nullish(),
        port: z.number().int().nullish(),
        protocol: z.string().nullish(),
      }),
    )
    .nullish()
    .transform((v) => v ?? []),
});
export type EndpointSlice = z.output<typeof EndpointSlice>;

/** Label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The Secret type whose `tls.crt` and `tls.key` hold a certificate chain and its private key. */
export const SECRET_TYPE_TLS = 'kubernetes.io/tls';

/**
 * A core Secret. The controller watches only `type: kubernetes.io/tls` ones (field selector) and
 * keeps those a Gateway listener refers to. `data` values are base64 (as the API server serves
 * them); `stringData` (plain text, files in local mode) wins over `data` per key, as on write.
 * Key material: never logged, never in a status message.
 */
export const Secret = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: ObjectMeta,
  type: z.string().default('Opaque'),
  data: z
    .record(z.string(), z.string())
    .nullish()
    .transform((v) => v ?? {}),
  stringData: z.record(z.string(), z.string()).optional(),
});
export type Secret = z.output<typeof Secret>;

/**
 * Gateway API listener and Gateway condition types and reasons used for HTTPS listeners, beyond
 * those of condition.ts (Gateway API spelling).
 */
export const ListenerConditionType = { Conflicted: 'Conflicted' } as const;
export type ListenerConditionType = (typeof ListenerConditionType)[keyof typeof ListenerConditionType];
export const ListenerReason = {
  InvalidCertificateRef: 'InvalidCertificateRef',
  ProtocolConflict: 'ProtocolConflict',
  /** Gateway Accepted: one or more listeners cannot be served. */
  ListenersNotValid: 'ListenersNotValid',
} as const;
export type ListenerReason = (typeof ListenerReason)[keyof typeof ListenerReason];

/**
 * A core ConfigMap. The controller lists and watches them to read the CA bundles (`ca.crt`) that
 * BackendTLSPolicies name; only those referenced reach translate. Key sets it persists live in
 * ConfigMaps of its own namespace too (read and written by jwks/persistence.ts, not from here).
 */
export const ConfigMap = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: ObjectMeta,
  data: z
    .record(z.string(), z.string())
    .nullish()
    .transform((v) => v ?? {}),
});
export type ConfigMap = z.output<typeof ConfigMap>;

/** The ConfigMap key holding a PEM CA bundle (Gateway API BackendTLSPolicy, Core support). */
export const CA_CERTIFICATE_KEY = 'ca.crt';

/**
 * Gateway API BackendTLSPolicy (gateway.networking.k8s.io/v1, standard channel v1.4): how a
 * gateway connects to a Service over TLS. This controller applies it to the JWKS fetches of
 * `jwks.remote.backendRef` Services: SNI and the verified name are `validation.hostname`, the
 * trust anchors the `ca.crt` of the referenced ConfigMaps or the system store.
 */
export const BackendTlsPolicy = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal('BackendTLSPolicy'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    targetRefs: z.array(
      z.looseObject({ group: z.string().default(''), kind: z.string(), name: z.string(), sectionName: z.string().optional() }),
    ),
    validation: z.looseObject({
      caCertificateRefs: z.array(z.looseObject({ group: z.string().default(''), kind: z.string(), name: z.string() })).optional(),
      wellKnownCACertificates: z.string().optional(),
      hostname: z.string(),
      subjectAltNames: z.array(z.looseObject({ type: z.string(), hostname: z.string().optional(), uri: z.string().optional() })).optional(),
    }),
  }),
  status: z.looseObject({ ancestors: z.array(z.unknown()).optional() }).optional(),
});
export type BackendTlsPolicy = z.output<typeof BackendTlsPolicy>;

/** BackendTLSPolicy condition reasons beyond condition.ts (Gateway API v1.4 spelling). */
export const BackendTlsPolicyReason = {
  InvalidCACertificateRef: 'InvalidCACertificateRef',
  NoValidCACertificate: 'NoValidCACertificate',
  Conflicted: 'Conflicted',
} as const;
export type BackendTlsPolicyReason = (typeof BackendTlsPolicyReason)[keyof typeof BackendTlsPolicyReason];
