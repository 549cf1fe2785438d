import { z } from 'zod';
import { BackendTls, POLICY_GROUP, POLICY_VERSION } from './agentgateway-policy.js';
import { exactlyOneOf, withRules } from './cel-rule.js';
import { Condition } from './condition.js';
import { ObjectMeta } from './object-meta.js';

/**
 * AgentgatewayBackend (agentgateway.dev/v1alpha1), the subset this project implements: a `static`
 * backend (`host` and `port`) and its `policies.tls`. Upstream's other kinds (`ai`, `mcp`, `a2a`,
 * `aws`, `dynamicForwardProxy`), `static.unixPath` and the other backend policies (`auth`, `http`,
 * `tcp`, `tunnel`, …) are absent on purpose: the API server refuses them as unknown fields instead
 * of accepting a backend that would not work as written. Messages are upstream's.
 */
export const BACKEND_KIND = 'AgentgatewayBackend';
export const BACKEND_PLURAL = 'agentgatewaybackends';

export const StaticBackend = withRules(
  z.strictObject({
    host: z
      .string()
      .min(1)
      .max(256)
      .describe('Host name or IP address to connect to, e.g. idp.example.com (resolved when connecting; localhost names mean loopback).')
      .optional(),
    port: z.number().int().min(1).max(65535).describe('Port to connect to.').optional(),
  }),
  'A backend at a fixed host and port (TCP). unixPath is not implemented (unknown field).',
  [
    // Upstream's rule also allows `unixPath` alone; it is an unknown field here, so host and port
    // are both needed (and "unixPath and host/port are mutually exclusive" cannot fail).
    {
      rule: 'has(self.host) && has(self.port)',
      message: 'must specify either unixPath or both host and port',
      holds: (s) => s.host !== undefined && s.port !== undefined,
    },
  ],
);
export type StaticBackend = z.output<typeof StaticBackend>;

export const AgentgatewayBackendPolicies = withRules(
  z.strictObject({
    tls: BackendTls.optional(),
  }),
  "Policies for calls to this backend, over those of AgentgatewayPolicies targeting it. This project implements tls; upstream's other fields are unknown.",
  [
    {
      // Upstream's rule lists its every backend policy field; the others are unknown fields here.
      rule: '[has(self.tls)].filter(x,x==true).size() >= 1',
      message: 'at least one of the fields in [ai auth extAuth health http mcp tcp tls transformation tunnel] must be set',
      holds: (p) => p.tls !== undefined,
    },
  ],
);
export type AgentgatewayBackendPolicies = z.output<typeof AgentgatewayBackendPolicies>;

export const AgentgatewayBackendSpec = withRules(
  z.strictObject({
    static: StaticBackend.optional(),
    policies: AgentgatewayBackendPolicies.optional(),
  }),
  'Desired backend: static (host and port). ai, mcp, a2a, aws and dynamicForwardProxy are not implemented (unknown fields).',
  // Upstream's exactly-one rule over its six kinds; only `static` exists here.
  [exactlyOneOf(['static'], 'ai static dynamicForwardProxy mcp aws a2a')],
);
export type AgentgatewayBackendSpec = z.output<typeof AgentgatewayBackendSpec>;

export const AgentgatewayBackendStatus = z
  .object({
    conditions: z
      .array(Condition)
      .max(8)
      .meta({
        description: 'Accepted: whether the controller can use the backend (and why not).',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      })
      .optional(),
  })
  .describe('Status of the backend.');

export const AgentgatewayBackend = z.object({
  apiVersion: z.literal(`${POLICY_GROUP}/${POLICY_VERSION}`),
  kind: z.literal(BACKEND_KIND),
  metadata: ObjectMeta,
  spec: AgentgatewayBackendSpec,
  status: AgentgatewayBackendStatus.optional(),
});
export type AgentgatewayBackend = z.output<typeof AgentgatewayBackend>;
export type AgentgatewayBackendInput = z.input<typeof AgentgatewayBackend>;
