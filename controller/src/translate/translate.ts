import type { ProxyConfig } from '@agw/api';
import { translateAgentgatewayBackends } from './agentgateway-backends.js';
import { indexBackendTls } from './backend-tls.js';
import { indexBackends } from './backends.js';
import { resolveClassParameters } from './class-parameters.js';
import { gatewayConfig, newCompiledRoutesMemo } from './gateways.js';
import {
  byCodeUnits,
  cond,
  keyOf,
  type GatewayStatusOut,
  type JwksRequest,
  type ObjectKey,
  type ChangeScope,
  type TranslateInput,
  type TranslateMemo,
  type TranslateOutput,
} from './model.js';
import { attachPolicies } from './policies.js';
import { attachRoutes, updateRoutes } from './routes.js';
import { serviceTlsResolver } from './service-tls.js';

/**
 * resources → per-Gateway proxy config + every status, with no I/O, clock or logger. Same input,
 * same output: the controller and local mode both call it after every change (level-based).
 * By resource: GatewayClasses (class-parameters.ts) → AgentgatewayBackends (agentgateway-backends.ts)
 * → routes to Gateways (routes.ts) → policies to targets, each feature translated once per policy
 * (policies.ts, features/) → one config and status per Gateway (gateways.ts). Linear in the number of objects (indexes, no scans per target).
 */
export function translate(input: TranslateInput, reuse?: GatewayReuse): TranslateOutput {
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
  const gateways = input.gateways.filter((g) => classNames.has(g.spec.gatewayClassName)).sort((a, b) => byCodeUnits(keyOf(a), keyOf(b)));
  const gatewaysByKey = new Map(gateways.map((g) => [keyOf(g), g]));
  const memo: TranslateMemo = reuse?.previous.memo ?? {
    backends: indexBackends(input.services, input.endpointSlices, input.referenceGrants, input.agentgatewayBackends),
    routeOutcomes: new WeakMap(),
    featureTranslations: new WeakMap(),
    compiledRoutes: newCompiledRoutesMemo(),
    policyRecords: new WeakMap(),
  };
  const idx = memo.backends;

  // A change confined to routes and policies: the previous pass's attachments, updated.
  const routes =
    reuse === undefined
      ? attachRoutes(input.httpRoutes, gatewaysByKey, idx, input.controllerName, memo.routeOutcomes)
      : updateRoutes(reuse.previous.routes, reuse.scope.routes, gatewaysByKey, idx, input.controllerName, memo.routeOutcomes);
  const caBundles = input.caBundles ?? new Map();
  const backendTls = indexBackendTls(input.backendTlsPolicies ?? [], caBundles);
  const agentgatewayBackends = translateAgentgatewayBackends(input.agentgatewayBackends ?? [], caBundles);
  const policies = attachPolicies(
    input,
    gatewaysByKey,
    routes,
    {
      backends: idx,
      jwks: input.jwks,
      backendTls: serviceTlsResolver(input, idx, caBundles, backendTls, agentgatewayBackends.ownTls),
      caBundles,
      ...(input.jwksErrors !== undefined ? { jwksErrors: input.jwksErrors } : {}),
    },
    memo.featureTranslations,
    { memo: memo.policyRecords, changedRoutes: reuse === undefined ? undefined : changedRouteKeys(reuse.scope) },
  );

  const configs = new Map<ObjectKey, Omit<ProxyConfig, 'version'>>();
  const gatewayStatus = new Map<ObjectKey, GatewayStatusOut>();
  const touched = reuse === undefined ? undefined : touchedGateways(reuse, policies.gatewaysByPolicy);
  for (const gw of gateways) {
    const kept = reuse === undefined || touched === undefined || touched.has(keyOf(gw)) ? undefined : previousOf(reuse.previous, keyOf(gw));
    if (kept !== undefined) {
      configs.set(keyOf(gw), kept.config);
      gatewayStatus.set(keyOf(gw), kept.status);
      continue;
    }
    const { config, status } = gatewayConfig(
      gw,
      routes.byGateway.get(keyOf(gw)) ?? [],
      policies,
      idx,
      routes.outcomes,
      routes.attachedCount,
      input.tlsSecrets,
      backendTls,
      agentgatewayBackends.ownTls,
      memo.compiledRoutes,
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
    gatewaysByPolicy: policies.gatewaysByPolicy,
    memo,
    routes,
  };
}

/** `<ns>/<name>` of every route a change added, removed or replaced (a policy naming one is attached again). */
function changedRouteKeys(scope: ChangeScope): Set<ObjectKey> {
  const keys = new Set<ObjectKey>();
  for (const [now, before] of scope.routes) {
    if (now !== undefined) keys.add(keyOf(now));
    if (before !== undefined) keys.add(keyOf(before));
  }
  return keys;
}

/**
 * The previous pass's output and what changed since (a change confined to routes and policies):
 * the Gateways it touches are compiled, every other Gateway's config and status are taken from
 * `previous`. Routes are attached by updating a copy of the previous pass's attachments (only the
 * changed routes are looked at); policies by reusing each one's record unless it is stale (it, or
 * a route it names, changed; or its targets come from selectors or backends): a route change at
 * 10,000 routes and 2,000 policies costs ~15 ms in-process, ~50 ms before (bench/README.md).
 */
export interface GatewayReuse {
  readonly previous: TranslateOutput;
  readonly scope: ChangeScope;
}

/** The Gateways a change touches: those its routes name, and those each changed policy applies to now or did before. */
function touchedGateways(reuse: GatewayReuse, gatewaysByPolicy: ReadonlyMap<ObjectKey, ReadonlySet<ObjectKey>>): Set<ObjectKey> {
  const touched = new Set(reuse.scope.routeGateways);
  for (const key of reuse.scope.policies) {
    for (const gw of gatewaysByPolicy.get(key) ?? []) touched.add(gw);
    for (const gw of reuse.previous.gatewaysByPolicy.get(key) ?? []) touched.add(gw);
  }
  return touched;
}

function previousOf(
  previous: TranslateOutput,
  gw: ObjectKey,
): { config: Omit<ProxyConfig, 'version'>; status: GatewayStatusOut } | undefined {
  const config = previous.configs.get(gw);
  const status = previous.status.gateways.get(gw);
  return config === undefined || status === undefined ? undefined : { config, status };
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
  return [...byUrl.values()].sort((a, b) => byCodeUnits(a.url, b.url));
}

const endpointOf = (r: JwksRequest): Pick<JwksRequest, 'connect' | 'tls'> => ({
  ...(r.connect !== undefined ? { connect: r.connect } : {}),
  ...(r.tls !== undefined ? { tls: r.tls } : {}),
});
