import { z } from 'zod';
import { Condition } from './condition.js';
import { ObjectMeta } from './object-meta.js';
import { POLICY_GROUP, POLICY_VERSION } from './agentgateway-policy.js';

/**
 * AgentgatewayParameters: how the controller deploys the proxies of a GatewayClass, referenced by
 * `GatewayClass.spec.parametersRef` (group agentgateway.dev, kind AgentgatewayParameters, with a
 * namespace). Unset fields keep the controller's defaults (chart values).
 */
export const PARAMETERS_KIND = 'AgentgatewayParameters';
export const PARAMETERS_PLURAL = 'agentgatewayparameters';

const Quantities = z.record(z.string(), z.string()).describe('Resource name to quantity, e.g. {cpu: 100m, memory: 128Mi}.');

export const AgentgatewayParametersSpec = z
  .strictObject({
    image: z.string().min(1).max(512).describe("Proxy image; default: the controller's (chart value image).").optional(),
    replicas: z.number().int().min(0).max(100).describe('Proxy replicas per Gateway; default 1.').optional(),
    resources: z
      .strictObject({
        requests: Quantities.optional(),
        limits: Quantities.optional(),
      })
      .describe('Resources of the proxy container; default: chart value proxy.resources.')
      .optional(),
    serviceType: z
      .enum(['LoadBalancer', 'NodePort', 'ClusterIP'])
      .describe("Type of each Gateway's Service; default LoadBalancer.")
      .optional(),
  })
  .describe('Deployment settings for the proxies of the GatewayClasses that reference these parameters.');
export type AgentgatewayParametersSpec = z.output<typeof AgentgatewayParametersSpec>;

export const AgentgatewayParametersStatus = z
  .object({
    conditions: z
      .array(Condition)
      .max(8)
      .meta({
        description: 'Accepted: whether a GatewayClass of this controller uses these parameters.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
  })
  .describe('Status of the parameters.');

export const AgentgatewayParameters = z.object({
  apiVersion: z.literal(`${POLICY_GROUP}/${POLICY_VERSION}`),
  kind: z.literal(PARAMETERS_KIND),
  metadata: ObjectMeta,
  spec: AgentgatewayParametersSpec,
  status: AgentgatewayParametersStatus.optional(),
});
export type AgentgatewayParameters = z.output<typeof AgentgatewayParameters>;
