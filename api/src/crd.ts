import { z } from 'zod';
import { AgentgatewayPolicySpec, POLICY_GROUP, POLICY_KIND, POLICY_PLURAL, POLICY_VERSION, PolicyStatus } from './agentgateway-policy.js';
import { AgentgatewayParametersSpec, AgentgatewayParametersStatus, PARAMETERS_KIND, PARAMETERS_PLURAL } from './agentgateway-parameters.js';
import { AgentgatewayBackendSpec, AgentgatewayBackendStatus, BACKEND_KIND, BACKEND_PLURAL } from './agentgateway-backend.js';

type JsonSchema = { [k: string]: unknown };

/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema: drops what the API server
 * refuses or would misread (`additionalProperties: false`, `propertyNames`, `$schema`, unknown
 * `format`s) and keeps descriptions, defaults, limits, patterns and `x-kubernetes-*` extensions.
 */
export function toStructuralSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStructuralSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    if (key === '$schema' || key === 'propertyNames' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'format' && !['date-time', 'int32', 'int64'].includes(String(value))) continue;
    if (
      key === 'x-kubernetes-validations' ||
      key === 'x-kubernetes-list-map-keys' ||
      key === 'enum' ||
      key === 'required' ||
      key === 'default'
    ) {
      out[key] = value;
      continue;
    }
    out[key] =
      key === 'properties'
        ? Object.fromEntries(Object.entries(value as JsonSchema).map(([p, s]) => [p, toStructuralSchema(s)]))
        : toStructuralSchema(value);
  }
  return out;
}

function schemaOf(s: z.ZodType): JsonSchema {
  return toStructuralSchema(z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' })) as JsonSchema;
}

interface CrdParts {
  readonly kind: string;
  readonly plural: string;
  readonly shortNames: string[];
  readonly description: string;
  readonly spec: z.ZodType;
  readonly status: z.ZodType;
  readonly columns: Array<{ name: string; type: string; jsonPath: string }>;
  readonly labels?: Record<string, string>;
}

/** A namespaced agentgateway.dev/v1alpha1 CRD with a status subresource, from zod schemas. */
function crd(p: CrdParts): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${p.plural}.${POLICY_GROUP}`,
      labels: { app: 'agentgateway', 'app.kubernetes.io/name': 'agentgateway', ...p.labels },
    },
    spec: {
      group: POLICY_GROUP,
      names: {
        kind: p.kind,
        listKind: `${p.kind}List`,
        plural: p.plural,
        singular: p.kind.toLowerCase(),
        shortNames: p.shortNames,
        categories: ['agentgateway'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: POLICY_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [...p.columns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: p.description,
              properties: {
                apiVersion: { type: 'string', description: `APIVersion of this object: ${POLICY_GROUP}/${POLICY_VERSION}.` },
                kind: { type: 'string', description: `Kind of this object: ${p.kind}.` },
                metadata: { type: 'object' },
                spec: schemaOf(p.spec),
                status: schemaOf(p.status),
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

/** The AgentgatewayPolicy CustomResourceDefinition, generated from the zod contract. */
export function agentgatewayPolicyCrd(): JsonSchema {
  return crd({
    kind: POLICY_KIND,
    plural: POLICY_PLURAL,
    shortNames: ['agpol'],
    description: 'AgentgatewayPolicy attaches traffic policies, such as JWT authentication, to Gateways, listeners and HTTPRoutes.',
    spec: AgentgatewayPolicySpec,
    status: PolicyStatus,
    labels: { 'gateway.networking.k8s.io/policy': 'Direct' },
    columns: [
      { name: 'Accepted', type: 'string', jsonPath: ".status.ancestors[*].conditions[?(@.type=='Accepted')].status" },
      { name: 'Attached', type: 'string', jsonPath: ".status.ancestors[*].conditions[?(@.type=='Attached')].status" },
    ],
  });
}

/** The AgentgatewayParameters CustomResourceDefinition (GatewayClass parametersRef). */
export function agentgatewayParametersCrd(): JsonSchema {
  return crd({
    kind: PARAMETERS_KIND,
    plural: PARAMETERS_PLURAL,
    shortNames: ['agparams'],
    description: 'AgentgatewayParameters tells the controller how to deploy the proxies of the GatewayClasses referencing it.',
    spec: AgentgatewayParametersSpec,
    status: AgentgatewayParametersStatus,
    columns: [{ name: 'Accepted', type: 'string', jsonPath: ".status.conditions[?(@.type=='Accepted')].status" }],
  });
}

/** The AgentgatewayBackend CustomResourceDefinition (static backends: JWKS backendRefs and HTTPRoute backendRefs). */
export function agentgatewayBackendCrd(): JsonSchema {
  return crd({
    kind: BACKEND_KIND,
    plural: BACKEND_PLURAL,
    shortNames: ['agbe'],
    description:
      'AgentgatewayBackend is a backend outside Kubernetes Services: a static host and port, for HTTPRoute backendRefs and JWKS backendRefs.',
    spec: AgentgatewayBackendSpec,
    status: AgentgatewayBackendStatus,
    columns: [{ name: 'Accepted', type: 'string', jsonPath: ".status.conditions[?(@.type=='Accepted')].status" }],
  });
}
