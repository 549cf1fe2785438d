import { z } from 'zod';
import {
  AgentgatewayPolicySpec, POLICY_GROUP, POLICY_KIND, POLICY_PLURAL, POLICY_VERSION, PolicyStatus,
} from './agentgateway-policy.js';

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
    if (key === 'x-kubernetes-validations' || key === 'x-kubernetes-list-map-keys' || key === 'enum' || key === 'required' || key === 'default') {
      out[key] = value;
      continue;
    }
    out[key] = key === 'properties'
      ? Object.fromEntries(Object.entries(value as JsonSchema).map(([p, s]) => [p, toStructuralSchema(s)]))
      : toStructuralSchema(value);
  }
  return out;
}

function schemaOf(s: z.ZodType): JsonSchema {
  return toStructuralSchema(z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' })) as JsonSchema;
}

/** The AgentgatewayPolicy CustomResourceDefinition, generated from the zod contract. */
export function agentgatewayPolicyCrd(): JsonSchema {
  const accepted = ".status.ancestors[*].conditions[?(@.type=='Accepted')].status";
  const attached = ".status.ancestors[*].conditions[?(@.type=='Attached')].status";
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${POLICY_PLURAL}.${POLICY_GROUP}`,
      labels: {
        app: 'agentgateway',
        'app.kubernetes.io/name': 'agentgateway',
        'gateway.networking.k8s.io/policy': 'Direct',
      },
    },
    spec: {
      group: POLICY_GROUP,
      names: {
        kind: POLICY_KIND,
        listKind: `${POLICY_KIND}List`,
        plural: POLICY_PLURAL,
        singular: POLICY_KIND.toLowerCase(),
        shortNames: ['agpol'],
        categories: ['agentgateway'],
      },
      scope: 'Namespaced',
      versions: [{
        name: POLICY_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Accepted', type: 'string', jsonPath: accepted },
          { name: 'Attached', type: 'string', jsonPath: attached },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: 'AgentgatewayPolicy attaches traffic policies, such as JWT authentication, to Gateways, listeners and HTTPRoutes.',
            properties: {
              apiVersion: { type: 'string', description: 'APIVersion of this object: agentgateway.dev/v1alpha1.' },
              kind: { type: 'string', description: 'Kind of this object: AgentgatewayPolicy.' },
              metadata: { type: 'object' },
              spec: schemaOf(AgentgatewayPolicySpec),
              status: schemaOf(PolicyStatus),
            },
            required: ['spec'],
          },
        },
      }],
    },
  };
}
