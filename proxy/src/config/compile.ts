import { CompiledJwtPolicy, CompiledListener, CompiledRoute, ProxyConfigFrame, type ProxyConfig, type ProxyConfigInput } from '@agw/api';
import { compileJwtVerifier, type JwtVerifier } from '../auth/jwt-verifier.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';

/** A config ready to serve: validated, routes compiled, every key imported. Immutable. */
export interface RuntimeConfig {
  readonly config: ProxyConfig;
  readonly table: RouteTable;
  /**
   * Verifier of every JWT policy that compiled. A policy a route or listener names but that is
   * missing here could not be compiled: the pipeline answers its requests 500 (fails closed).
   */
  readonly verifiers: ReadonlyMap<string, JwtVerifier>;
  /** Non-fatal problems (dropped providers, routes or policies left out), logged, ACKed and shown in /config_dump. */
  readonly warnings: readonly string[];
  /** JSON of each compiled JWT policy, to reuse its verifier when the next config has it unchanged. */
  readonly policyJson: ReadonlyMap<string, string>;
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
 * - a listener or route that does not parse, or a route match that does not compile (a regex RE2
 *   refuses), is left out, its traffic falling to the other routes exactly as the controller does
 *   for an invalid rule;
 * - a route attached to an unknown listener keeps its known listeners (none left: left out);
 * - a JWT policy that does not parse or compile is left out, and every route and listener that
 *   names it answers 500 (never served without its policy).
 * Each of these is a warning (log, ACK, /config_dump).
 */
export async function compileConfig(input: unknown, cacheEntries?: number, previous?: RuntimeConfig): Promise<CompileResult> {
  const frame = ProxyConfigFrame.safeParse(input);
  if (!frame.success) return { ok: false, error: `invalid config: ${formatIssues(frame.error.issues)}` };
  const warnings: string[] = [];

  const listeners: CompiledListener[] = [];
  frame.data.listeners.forEach((raw, i) => {
    const l = CompiledListener.safeParse(raw);
    if (l.success) listeners.push(l.data);
    else warnings.push(`listener ${idOf(raw, `#${i}`)} left out: ${formatIssues(l.error.issues)}`);
  });
  const listenerNames = new Set(listeners.map((l) => l.name));

  const routes: CompiledRoute[] = [];
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
    routes.push(known.length === route.listeners.length ? route : { ...route, listeners: known });
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
  for (const route of routes) {
    const jwt = route.policies?.jwt;
    if (jwt !== undefined && !verifiers.has(jwt)) warnings.push(`route ${route.id} answers 500: JWT policy ${jwt} is not available`);
  }
  for (const l of listeners) {
    const jwt = l.preRouting?.jwt;
    if (jwt !== undefined && !verifiers.has(jwt)) warnings.push(`listener ${l.name} answers 500: JWT policy ${jwt} is not available`);
  }

  const table = compileRouteTable(listeners, routes);
  warnings.push(...table.problems.map((p) => `route ${p.route} left out: ${p.message}`));
  const config: ProxyConfig = { ...frame.data, listeners, routes, policies: { jwt: jwtPolicies } };
  return { ok: true, runtime: { config, table, verifiers, warnings, policyJson } };
}

export type { ProxyConfigInput };
