import { z } from 'zod';

/** The Helm chart's values, in zod; the generator writes charts/agentgateway/values.schema.json from it. */
const Resources = z
  .object({
    requests: z.object({ cpu: z.string().optional(), memory: z.string().optional() }).optional(),
    limits: z.object({ cpu: z.string().optional(), memory: z.string().optional() }).optional(),
  })
  .describe('Kubernetes resource requests and limits.');

const Labels = z.record(z.string(), z.string());
/** A Prometheus duration such as 30s or 1m, or empty. */
const PromDuration = z.string().regex(/^(([0-9]+(ms|s|m|h))+)?$/);
const Scrape = {
  interval: PromDuration.describe('Scrape interval, e.g. 30s; empty: the Prometheus default.'),
  scrapeTimeout: PromDuration.describe('Scrape timeout, at most the interval; empty: the Prometheus default.'),
};

/** The observability kit (docs/operations.md, "Monitoring"): Prometheus Operator objects and a Grafana dashboard. */
const Monitoring = z
  .object({
    enabled: z
      .boolean()
      .describe(
        'Render the objects below (default false). ServiceMonitor, PodMonitor and PrometheusRule need the Prometheus Operator CRDs (monitoring.coreos.com/v1).',
      ),
    labels: Labels.describe(
      'Labels added to every monitoring object, e.g. {release: kube-prometheus-stack} to match the Prometheus serviceMonitorSelector, podMonitorSelector and ruleSelector.',
    ),
    serviceMonitor: z
      .object({
        enabled: z.boolean().describe('Render a ServiceMonitor for the controller (Service port http-metrics, path /metrics).'),
        ...Scrape,
      })
      .describe("Scraping of the controller's metrics."),
    podMonitor: z
      .object({
        enabled: z
          .boolean()
          .describe(
            "Render a PodMonitor for the proxy pods the controller deploys per Gateway (port admin, path /metrics); the target gets a gateway label from the pod's gateway.networking.k8s.io/gateway-name.",
          ),
        namespaces: z.array(z.string().min(1)).describe('Namespaces of the Gateways whose proxies are scraped; empty: every namespace.'),
        ...Scrape,
      })
      .describe("Scraping of the proxies' metrics."),
    prometheusRule: z
      .object({
        enabled: z
          .boolean()
          .describe(
            'Render a PrometheusRule with the alerts of files/prometheus-rules.yaml (JWKS stale or empty, JWT failure ratio, config NACKs, proxies without config or disconnected, controller errors).',
          ),
      })
      .describe('Alerting rules.'),
    dashboard: z
      .object({
        enabled: z
          .boolean()
          .describe('Render a ConfigMap holding the Grafana dashboard files/grafana-dashboard.json, for the Grafana dashboard sidecar.'),
        namespace: z.string().describe('Namespace of the ConfigMap (where the Grafana sidecar looks); empty: the release namespace.'),
        labels: Labels.describe('Labels of the ConfigMap that the Grafana sidecar selects on (its default: grafana_dashboard: "1").'),
        annotations: Labels.describe("Annotations of the ConfigMap, e.g. grafana_folder for the sidecar's folderAnnotation."),
      })
      .describe('The Grafana dashboard of the proxy and controller metrics.'),
  })
  .describe('Observability kit, off by default: ServiceMonitor, PodMonitor, PrometheusRule and a Grafana dashboard ConfigMap.');

export const ChartValues = z.object({
  image: z
    .object({
      repository: z.string().min(1).describe('Image with both entry points (controller and proxy).'),
      tag: z.string().describe('Image tag; empty: the chart appVersion.'),
      pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']),
    })
    .describe('The agentgateway-ts image.'),
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
    xdsTls: z
      .object({
        enabled: z
          .boolean()
          .describe(
            'Serve the config stream over TLS (default true); deployed proxies verify it against the CA. Off: HTTPS listeners are not sent (their private keys never go over a plaintext stream).',
          ),
        secretName: z
          .string()
          .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$/)
          .describe(
            'An existing kubernetes.io/tls Secret in the release namespace with tls.crt, tls.key and ca.crt (e.g. from cert-manager), valid for <release>.<namespace>.svc. Empty: the chart generates a self-signed CA and certificate, kept across upgrades (lookup; not with helm template).',
          ),
      })
      .describe('TLS of the config stream, which carries the private keys of HTTPS listeners to the proxies.'),
  }),
  proxy: z
    .object({
      resources: Resources,
      serviceType: z
        .enum(['LoadBalancer', 'NodePort', 'ClusterIP'])
        .describe("Service type of each Gateway's proxy (default LoadBalancer)."),
    })
    .describe('Defaults for the proxy Deployment created per Gateway.'),
  monitoring: Monitoring,
});
export type ChartValues = z.output<typeof ChartValues>;
