import type { z } from 'zod';
import { AgentgatewayBackend, BACKEND_KIND, BACKEND_PLURAL } from './agentgateway-backend.js';
import { AgentgatewayParameters, PARAMETERS_KIND } from './agentgateway-parameters.js';
import { AgentgatewayPolicy, POLICY_GROUP } from './agentgateway-policy.js';
import {
  BackendTlsPolicy,
  ConfigMap,
  EndpointSlice,
  Gateway,
  GatewayClass,
  HttpRoute,
  ReferenceGrant,
  SECRET_TYPE_TLS,
  Secret,
  Service,
} from './gateway-api.js';

/** One kind the controller reads: where it lives in the API and how it is parsed at the boundary. */
export interface WatchedKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Resource name in API paths. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** The boundary parser (lenient: unknown fields pass, CRD defaults applied). */
  readonly schema: z.ZodType;
  /** This controller writes the status of objects of this kind. */
  readonly statusWritten: boolean;
  /**
   * List and watch only objects matching this field selector: the API server filters, so the
   * others never reach the controller's memory. Files (local mode) are read whole.
   */
  readonly fieldSelector?: string;
  /**
   * A kind a cluster may not serve yet: a CRD newer than the one installed (`helm upgrade` does not
   * update CRDs) or one installed separately (Gateway API's BackendTLSPolicy is v1 from v1.4). A
   * 404 when listing it counts as no objects: the controller becomes ready and says the kind is
   * missing, and keeps trying (with backoff) until the API server serves it.
   */
  readonly optional?: true;
}

/**
 * The one registry of watched kinds, keyed by the name each has in TranslateInput: the informers,
 * the boundary parser, the status writer and `agw validate` all derive from it.
 */
export const WATCHED_KINDS = {
  gatewayClasses: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'GatewayClass',
    plural: 'gatewayclasses',
    namespaced: false,
    schema: GatewayClass,
    statusWritten: true,
  },
  gateways: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'Gateway',
    plural: 'gateways',
    namespaced: true,
    schema: Gateway,
    statusWritten: true,
  },
  httpRoutes: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'HTTPRoute',
    plural: 'httproutes',
    namespaced: true,
    schema: HttpRoute,
    statusWritten: true,
  },
  referenceGrants: {
    group: 'gateway.networking.k8s.io',
    version: 'v1beta1',
    kind: 'ReferenceGrant',
    plural: 'referencegrants',
    namespaced: true,
    schema: ReferenceGrant,
    statusWritten: false,
  },
  policies: {
    group: POLICY_GROUP,
    version: 'v1alpha1',
    kind: 'AgentgatewayPolicy',
    plural: 'agentgatewaypolicies',
    namespaced: true,
    schema: AgentgatewayPolicy,
    statusWritten: true,
  },
  parameters: {
    group: POLICY_GROUP,
    version: 'v1alpha1',
    kind: PARAMETERS_KIND,
    plural: 'agentgatewayparameters',
    namespaced: true,
    schema: AgentgatewayParameters,
    statusWritten: true,
  },
  /** Static backends: HTTPRoute backendRefs and `jwks.remote.backendRef`s of kind AgentgatewayBackend. */
  agentgatewayBackends: {
    group: POLICY_GROUP,
    version: 'v1alpha1',
    kind: BACKEND_KIND,
    plural: BACKEND_PLURAL,
    namespaced: true,
    schema: AgentgatewayBackend,
    statusWritten: true,
    optional: true,
  },
  services: { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, schema: Service, statusWritten: false },
  endpointSlices: {
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    namespaced: true,
    schema: EndpointSlice,
    statusWritten: false,
  },
  /** HTTPS listeners' certificateRefs: only kubernetes.io/tls Secrets are listed and watched. */
  secrets: {
    group: '',
    version: 'v1',
    kind: 'Secret',
    plural: 'secrets',
    namespaced: true,
    schema: Secret,
    statusWritten: false,
    fieldSelector: `type=${SECRET_TYPE_TLS}`,
  },
  /** TLS to backends: HTTPRoute backends and JWKS fetches from `jwks.remote.backendRef` Services. */
  backendTlsPolicies: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    kind: 'BackendTLSPolicy',
    plural: 'backendtlspolicies',
    namespaced: true,
    schema: BackendTlsPolicy,
    statusWritten: true,
    optional: true,
  },
  /**
   * BackendTLSPolicies' caCertificateRefs (`ca.crt`). Neither a field nor a label selects them, so
   * all are listed and watched; only the referenced ones reach translate (resources/ca-bundles.ts).
   */
  configMaps: {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    namespaced: true,
    schema: ConfigMap,
    statusWritten: false,
  },
} as const satisfies Record<string, WatchedKind>;
export type WatchedName = keyof typeof WATCHED_KINDS;

/** `apiVersion` of a watched kind (`v1` for the core group). */
export const apiVersionOf = (k: WatchedKind): string => (k.group === '' ? k.version : `${k.group}/${k.version}`);
