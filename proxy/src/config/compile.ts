import {
  CompiledAuthorizationPolicy,
  CompiledBackendAuthPolicy,
  CompiledBackendTlsPolicy,
  CompiledJwtPolicy,
  CompiledListener,
  CompiledRoute,
  CompiledTransformationPolicy,
  ProxyConfigFrame,
  type FeaturePolicies,
  type PolicyRefs,
  type ProxyConfig,
  type ProxyConfigInput,
} from '@agw/api';
import { createHash } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import { compileJwtVerifier, type JwtVerifier } from '../auth/jwt-verifier.js';
import { compileTls, type PortTls } from './compile-tls.js';
import { compileRouteFilters, type RouteFiltersRuntime } from '../routing/route-filters.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';
import {
  compileAuthorization,
  mergeAuthorization,
  type AuthorizationSet,
  type CompiledAuthorization,
} from '../stages/authorization-stage.js';
import { compileTransformation, type TransformationRuntime } from '../stages/transformation-stage.js';

/**
 * A backend TLS policy as the proxy uses it: its settings, and `id`, a digest of the settings
 * without the policy's name (equal settings share connections: plugins/upstream-tls.ts).
 */
export interface BackendTlsRuntime {
  readonly settings: CompiledBackendTlsPolicy;
  readonly id: string;
}

function compileBackendTls(settings: CompiledBackendTlsPolicy): BackendTlsRuntime {
  const { policy: _name, ...rest } = settings;
  return { settings, id: createHash('sha256').update(JSON.stringify(rest)).digest('hex') };
}

/** A config ready to serve: validated, routes compiled, every key imported. Immutable. */
export interface RuntimeConfig {
  readonly config: ProxyConfig;
  readonly table: RouteTable;
  /**
   * Verifier of every JWT policy that compiled. A policy a route or listener names but that is
   * missing here could not be compiled: the pipeline answers its requests 500 (fails closed).
   */
  readonly verifiers: ReadonlyMap<string, JwtVerifier>;
  /** Authorization policies, every rule's expression compiled (one that does not compile is always false). */
  readonly authorization: ReadonlyMap<string, CompiledAuthorization>;
  /**
   * The merged rule set of each `authorization` list a route or listener names, keyed by that very
   * list (the array in `config`), built once per config: a request never merges.
   */
  readonly authorizationSets: ReadonlyMap<readonly string[], AuthorizationSet>;
  /** Transformation policies, every expression compiled. */
  readonly transformations: ReadonlyMap<string, TransformationRuntime>;
  /** Backend auth policies (passthrough: nothing to compile). */
  readonly backendAuth: ReadonlyMap<string, CompiledBackendAuthPolicy>;
  /**
   * Backend TLS policies. One with `invalid` is kept: calls under it are refused (500
   * PROXY_ERR_BACKEND_TLS_INVALID); one that does not parse is left out (500 policy unavailable).
   */
  readonly backendTls: ReadonlyMap<string, BackendTlsRuntime>;
  /** HTTPRoute filters of each route that has some (by the route object the table matches). */
  readonly routeFilters: ReadonlyMap<CompiledRoute, RouteFiltersRuntime>;
  /** Non-fatal problems (dropped providers, routes or policies left out), logged, ACKed and shown in /config_dump. */
  readonly warnings: readonly string[];
  /** JSON of each compiled JWT policy, to reuse its verifier when the next config has it unchanged. */
  readonly policyJson: ReadonlyMap<string, string>;
  /** JSON of each compiled authorization and transformation policy (`<feature>\0<key>`), to reuse its compiled form likewise. */
  readonly celPolicyJson: ReadonlyMap<string, string>;
  /** Ports whose listeners are HTTPS, with their certificates' SecureContexts (compile-tls.ts). */
  readonly tls: ReadonlyMap<number, PortTls>;
  /** Every SecureContext of this config by content key, reused by the next config when unchanged. */
  readonly tlsContexts: ReadonlyMap<string, SecureContext>;
}

/** What compileTable needs of a zod schema. */
interface Schema<T> {
  safeParse(
    v: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/** The PolicyRefs features with a policy table of their own, and how a route names them. */
type Feature = keyof FeaturePolicies;

/**
 * Parses one feature's table entry by entry (a bad one is left out with a warning: its routes
 * answer 500) and compiles each with `build`, reusing the previous config's compiled form when the
 * policy's JSON is unchanged (as JWT verifiers are).
 */
function compileTable<T, C>(
  feature: Feature,
  table: Readonly<Record<string, unknown>>,
  schema: Schema<T>,
  build: (policy: T) => C,
  warningsOf: (compiled: C) => readonly string[],
  previous: { json: ReadonlyMap<string, string>; compiled: ReadonlyMap<string, C> } | undefined,
  json: Map<string, string>,
  warnings: string[],
): { compiled: Map<string, C>; parsed: Record<string, T> } {
  const compiled = new Map<string, C>();
  const parsed: Record<string, T> = {};
  for (const [key, raw] of Object.entries(table)) {
    const r = schema.safeParse(raw);
    if (!r.success) {
      warnings.push(`${feature} policy ${key} left out (its routes answer 500): ${formatIssues(r.error.issues)}`);
      continue;
    }
    const text = JSON.stringify(r.data);
    const id = `${feature}\0${key}`;
    let c = previous?.json.get(id) === text ? previous.compiled.get(key) : undefined;
    if (c === undefined) {
      try {
        c = build(r.data);
      } catch (err) {
        warnings.push(`${feature} policy ${key} left out (its routes answer 500): ${(err as Error).message}`);
        continue;
      }
    }
    compiled.set(key, c);
    parsed[key] = r.data;
    json.set(id, text);
    warnings.push(...warningsOf(c).map((w) => `${feature} policy ${key}: ${w}`));
  }
  return { compiled, parsed };
}

/** The keys `refs` names that `available` lacks, per feature (they fail closed: 500). */
function missingPolicies(refs: PolicyRefs | undefined, available: { [F in Feature]: ReadonlyMap<string, unknown> }): string[] {
  if (refs === undefined) return [];
  const out: string[] = [];
  for (const f of ['jwt', 'transformation', 'backendAuth', 'backendTls'] as const) {
    const key = refs[f];
    if (key !== undefined && !available[f].has(key)) out.push(`${f === 'jwt' ? 'JWT' : f} policy ${key}`);
  }
  for (const key of refs.authorization ?? []) if (!available.authorization.has(key)) out.push(`authorization policy ${key}`);
  return out;
}

export type CompileResult = { readonly ok: true; readonly runtime: RuntimeConfig } | { readonly ok: false; readonly error: string };

function formatIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

const idOf = (v: unknown, fallback: string): string => {
  const id = (v as { id?: unknown; name?: unknown } | null)?.id ?? (v as { name?: unknown } | null)?.name;
  return typeof id === 'string' ? JSON.stringify(id.slice(0, 200)) : fallback;
};

/**
 * Validates (the same zod contract as the controller) and compiles a config. Only a broken frame
 * (schema version, version, gateway, the lists themselves) rejects the whole config (the caller
 * NACKs and keeps serving the last good one). Anything smaller is isolated, so that one tenant's
 * route or policy never freezes everyone's config:
 * - an HTTPS listener's certificate that does not parse or whose key does not match is left out,
 *   and the listener too when none is left (compile-tls.ts; the served config keeps no key);
 * - a listener or route that does not parse, or a route match that does not compile (a regex RE2
 *   refuses), is left out, its traffic falling to the other routes exactly as the controller does
 *   for an invalid rule;
 * - a route attached to an unknown listener keeps its known listeners (none left: left out);
 * - a policy (JWT, authorization, transformation, backend auth, backend TLS) that does not parse or compile is
 *   left out, and every route and listener that names it answers 500 (never served without its
 *   policy). CEL expressions are compiled here, once per config (an expression that does not
 *   compile is kept as one that always fails, as upstream: a warning); an unchanged policy keeps
 *   its compiled form from the previous config.
 * Each of these is a warning (log, ACK, /config_dump).
 */
export async function compileConfig(input: unknown, cacheEntries?: number, previous?: RuntimeConfig): Promise<CompileResult> {
  const frame = ProxyConfigFrame.safeParse(input);
  if (!frame.success) return { ok: false, error: `invalid config: ${formatIssues(frame.error.issues)}` };
  const warnings: string[] = [];

  const parsedListeners: CompiledListener[] = [];
  frame.data.listeners.forEach((raw, i) => {
    const l = CompiledListener.safeParse(raw);
    if (l.success) parsedListeners.push(l.data);
    else warnings.push(`listener ${idOf(raw, `#${i}`)} left out: ${formatIssues(l.error.issues)}`);
  });
  // HTTPS listeners: certificates checked and built into contexts; the kept listeners carry no key.
  const tls = compileTls(parsedListeners, previous?.tlsContexts, warnings);
  const listeners = tls.listeners;
  const listenerNames = new Set(listeners.map((l) => l.name));

  const routes: CompiledRoute[] = [];
  const routeFilters = new Map<CompiledRoute, RouteFiltersRuntime>();
  frame.data.routes.forEach((raw, i) => {
    const r = CompiledRoute.safeParse(raw);
    if (!r.success) {
      warnings.push(`route ${idOf(raw, `#${i}`)} left out: ${formatIssues(r.error.issues)}`);
      return;
    }
    const route = r.data;
    const known = route.listeners.filter((l) => listenerNames.has(l));
    if (known.length < route.listeners.length)
      warnings.push(`route ${route.id}: unknown listener ${route.listeners.filter((l) => !listenerNames.has(l)).join(', ')} ignored`);
    if (known.length === 0) {
      warnings.push(`route ${route.id} left out: no known listener`);
      return;
    }
    // Filters that cannot be applied: the route is left out (never served without them).
    const filters = compileRouteFilters(route);
    if (!filters.ok) {
      warnings.push(`route ${route.id} left out: filter ${filters.error}`);
      return;
    }
    const kept = known.length === route.listeners.length ? route : { ...route, listeners: known };
    routes.push(kept);
    if (filters.runtime !== undefined) routeFilters.set(kept, filters.runtime);
  });

  const verifiers = new Map<string, JwtVerifier>();
  const policyJson = new Map<string, string>();
  const jwtPolicies: Record<string, CompiledJwtPolicy> = {};
  for (const [key, raw] of Object.entries(frame.data.policies.jwt)) {
    const parsed = CompiledJwtPolicy.safeParse(raw);
    if (!parsed.success) {
      warnings.push(`jwt policy ${key} left out (its routes answer 500): ${formatIssues(parsed.error.issues)}`);
      continue;
    }
    const policy = parsed.data;
    const json = JSON.stringify(policy);
    // Unchanged policy (same keys, issuers, mode): keep its verifier, imported keys and token cache.
    let v = previous?.policyJson.get(key) === json ? previous.verifiers.get(key) : undefined;
    if (v === undefined) {
      try {
        v = await compileJwtVerifier(policy, cacheEntries);
      } catch (err) {
        warnings.push(`jwt policy ${key} left out (its routes answer 500): ${(err as Error).message}`);
        continue;
      }
    }
    jwtPolicies[key] = policy;
    verifiers.set(key, v);
    policyJson.set(key, json);
    warnings.push(...v.warnings.map((w) => `jwt policy ${key}: ${w}`));
  }
  const celJson = new Map<string, string>();
  const authz = compileTable(
    'authorization',
    frame.data.policies.authorization,
    CompiledAuthorizationPolicy,
    compileAuthorization,
    (c) => c.warnings,
    previous && { json: previous.celPolicyJson, compiled: previous.authorization },
    celJson,
    warnings,
  );
  const transformations = compileTable(
    'transformation',
    frame.data.policies.transformation,
    CompiledTransformationPolicy,
    compileTransformation,
    (c) => c.warnings,
    previous && { json: previous.celPolicyJson, compiled: previous.transformations },
    celJson,
    warnings,
  );
  const backendAuth = compileTable(
    'backendAuth',
    frame.data.policies.backendAuth,
    CompiledBackendAuthPolicy,
    (p) => p,
    () => [],
    undefined,
    new Map(),
    warnings,
  );
  const backendTls = compileTable(
    'backendTls',
    frame.data.policies.backendTls,
    CompiledBackendTlsPolicy,
    compileBackendTls,
    (c) => (c.settings.invalid !== undefined ? [`refuses every call (${c.settings.invalid})`] : []),
    undefined,
    new Map(),
    warnings,
  );

  const available = {
    jwt: verifiers,
    authorization: authz.compiled,
    transformation: transformations.compiled,
    backendAuth: backendAuth.compiled,
    backendTls: backendTls.compiled,
  };
  const authorizationSets = new Map<readonly string[], AuthorizationSet>();
  const addSet = (keys: readonly string[] | undefined) => {
    if (keys !== undefined && !authorizationSets.has(keys)) authorizationSets.set(keys, mergeAuthorization(keys, authz.compiled));
  };
  for (const route of routes) {
    addSet(route.policies?.authorization);
    const missing = [
      ...missingPolicies(route.policies, available),
      ...route.backends.flatMap((b) => missingPolicies(b.policies, available).map((m) => `${m} (backend ${b.name})`)),
    ];
    for (const m of missing) warnings.push(`route ${route.id} answers 500: ${m} is not available`);
  }
  for (const l of listeners) {
    addSet(l.preRouting?.authorization);
    for (const m of missingPolicies(l.preRouting, available)) warnings.push(`listener ${l.name} answers 500: ${m} is not available`);
  }

  const table = compileRouteTable(listeners, routes);
  warnings.push(...table.problems.map((p) => `route ${p.route} left out: ${p.message}`));
  const config: ProxyConfig = {
    ...frame.data,
    listeners,
    routes,
    policies: {
      jwt: jwtPolicies,
      authorization: authz.parsed,
      transformation: transformations.parsed,
      backendAuth: backendAuth.parsed,
      backendTls: backendTls.parsed,
    },
  };
  return {
    ok: true,
    runtime: {
      config,
      table,
      verifiers,
      authorization: authz.compiled,
      authorizationSets,
      transformations: transformations.compiled,
      backendAuth: backendAuth.compiled,
      backendTls: backendTls.compiled,
      routeFilters,
      warnings,
      policyJson,
      celPolicyJson: celJson,
      tls: tls.ports,
      tlsContexts: tls.contexts,
    },
  };
}

export type { ProxyConfigInput };
