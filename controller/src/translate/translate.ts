import type { ProxyConfig } from '@agw/api';
import { translateAgentgatewayBackends } from './agentgateway-backends.js';
import { indexBackendTls } from './backend-tls.js';
import { indexBackends } from './backends.js';
import { resolveClassParameters } from './class-parameters.js';
import { gatewayConfig } from './gateways.js';
import {
  cond,
  keyOf,
  type GatewayStatusOut,
  type JwksRequest,
  type ObjectKey,
  type TranslateInput,
  type TranslateOutput,
} from './model.js';
import { attachPolicies } from './policies.js';
import { attachRoutes, type RouteAttachment } from './routes.js';
import { serviceTlsResolver } from './service-tls.js';
import { appendTo } from './append-to.js';

/**
 * resources → per-Gateway proxy config + every status, with no I/O, clock or logger. Same input,
 * same output: the controller and local mode both call it after every change (level-based).
 * By resource: GatewayClasses (class-parameters.ts) → AgentgatewayBackends (agentgateway-backends.ts)
 * → routes to Gateways (routes.ts) → policies to targets, each feature translated once per policy
 * (policies.ts, features/) → one config and status per Gateway (gateways.ts). Linear in the number of objects (indexes, no scans per target).
 */
export function translate(input: TranslateInput): TranslateOutput {
  const ourClasses = input.gatewayClasses.filter((c) => c.spec.controllerName === input.controllerName);
  const classNames = new Set(ourClasses.map((c) => c.metadata.name));
  const params = resolveClassParameters(ourClasses, input.parameters ?? []);
  const gatewayClassStatus = new Map(
    ourClasses.map((c) => {
      const problem = params.problems.get(c.metadata.name);
      return [
        c.metadata.name,
        [
          problem === undefined
            ? cond('Accepted', true, 'Accepted', 'Accepted by agentgateway-ts', c.metadata.generation)
            : cond('Accepted', false, 'InvalidParameters', problem, c.metadata.generation),
        ],
      ];
    }),
  );
  const gateways = input.gateways.filter((g) => classNames.has(g.spec.gatewayClassName)).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  const gatewaysByKey = new Map(gateways.map((g) => [keyOf(g), g]));
  const idx = indexBackends(input.services, input.endpointSlices, input.referenceGrants, input.agentgatewayBackends);

  const routes = attachRoutes(input.httpRoutes, gatewaysByKey, idx, input.controllerName);
  const caBundles = input.caBundles ?? new Map();
  const backendTls = indexBackendTls(input.backendTlsPolicies ?? [], caBundles);
  const agentgatewayBackends = translateAgentgatewayBackends(input.agentgatewayBackends ?? [], caBundles);
  const policies = attachPolicies(input, gatewaysByKey, routes.parentsByRoute, {
    backends: idx,
    jwks: input.jwks,
    backendTls: serviceTlsResolver(input, idx, caBundles, backendTls, agentgatewayBackends.ownTls),
    caBundles,
    ...(input.jwksErrors !== undefined ? { jwksErrors: input.jwksErrors } : {}),
  });

  const attachmentsByGateway = new Map<string, RouteAttachment[]>();
  for (const a of routes.attachments) appendTo(attachmentsByGateway, keyOf(a.gateway), a);
  const configs = new Map<ObjectKey, Omit<ProxyConfig, 'version'>>();
  const gatewayStatus = new Map<ObjectKey, GatewayStatusOut>();
  for (const gw of gateways) {
    const { config, status } = gatewayConfig(
      gw,
      attachmentsByGateway.get(keyOf(gw)) ?? [],
      policies,
      idx,
      routes.invalidRules,
      routes.refusedRules,
      routes.attachedCount,
      input.tlsSecrets,
      backendTls,
      agentgatewayBackends.ownTls,
    );
    configs.set(keyOf(gw), config);
    gatewayStatus.set(keyOf(gw), status);
  }

  return {
    configs,
    status: {
      policies: policies.status,
      gateways: gatewayStatus,
      httpRoutes: routes.status,
      gatewayClasses: gatewayClassStatus,
      parameters: params.status,
      backendTlsPolicies: backendTls.status(policies.status, input.controllerName),
      agentgatewayBackends: agentgatewayBackends.status,
    },
    gatewayParameters: new Map(gateways.map((g) => [keyOf(g), params.byClass.get(g.spec.gatewayClassName)])),
    jwksRequests: collapseRequests(policies.jwksRequests),
  };
}

/**
 * One request per URL: owners merged, the lowest refresh period, and the first resolved endpoint
 * kept with its TLS settings (where to connect and how to trust it travel together).
 */
function collapseRequests(requests: readonly JwksRequest[]): JwksRequest[] {
  const byUrl = new Map<string, JwksRequest>();
  for (const r of requests) {
    const prev = byUrl.get(r.url);
    byUrl.set(
      r.url,
      prev === undefined
        ? r
        : {
            url: r.url,
            refreshMs: Math.min(prev.refreshMs, r.refreshMs),
            owners: [...prev.owners, ...r.owners],
            ...endpointOf(prev.connect !== undefined ? prev : r.connect !== undefined ? r : prev),
          },
    );
  }
  return [...byUrl.values()].sort((a, b) => a.url.localeCompare(b.url));
}

const endpointOf = (r: JwksRequest): Pick<JwksRequest, 'connect' | 'tls'> => ({
  ...(r.connect !== undefined ? { connect: r.connect } : {}),
  ...(r.tls !== undefined ? { tls: r.tls } : {}),
});
