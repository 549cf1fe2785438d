import { z } from 'zod';

/** The Helm chart's values, in zod; the generator writes charts/agentgateway/values.schema.json from it. */
const Resources = z.object({
  requests: z.object({ cpu: z.string().optional(), memory: z.string().optional() }).optional(),
  limits: z.object({ cpu: z.string().optional(), memory: z.string().optional() }).optional(),
}).describe('Kubernetes resource requests and limits.');

export const ChartValues = z.object({
  image: z.object({
    repository: z.string().min(1).describe('Image with both entry points (controller and proxy).'),
    tag: z.string().describe('Image tag; empty: the chart appVersion.'),
    pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']),
  }).describe('The agentgateway-ts image.'),
  controller: z.object({
    replicas: z.number().int().min(1).describe('Controller replicas; more than one use leader election (only the leader writes status).'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']),
    xdsPort: z.number().int().min(1).max(65535).describe('gRPC config stream port proxies connect to.'),
    adminPort: z.number().int().min(1).max(65535).describe('Health and metrics port.'),
    controllerName: z.string().min(1).describe('GatewayClass controllerName this controller serves.'),
    className: z.string().min(1).describe('GatewayClass the controller creates and serves.'),
    resources: Resources,
    nodeSelector: z.record(z.string(), z.string()),
    tolerations: z.array(z.record(z.string(), z.unknown())),
    podDisruptionBudget: z.object({ enabled: z.boolean(), maxUnavailable: z.number().int().min(0) }),
  }),
  proxy: z.object({
    resources: Resources,
    serviceType: z.enum(['LoadBalancer', 'NodePort', 'ClusterIP']).describe('Service type of each Gateway\'s proxy (default LoadBalancer).'),
  }).describe('Defaults for the proxy Deployment created per Gateway.'),
});
export type ChartValues = z.output<typeof ChartValues>;
