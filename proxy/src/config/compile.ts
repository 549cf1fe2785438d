import { ProxyConfig, type ProxyConfigInput } from '@agw/api';
import { compileJwtVerifier, type JwtVerifier } from '../auth/jwt-verifier.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';

/** A config ready to serve: validated, routes compiled, every key imported. Immutable. */
export interface RuntimeConfig {
  readonly config: ProxyConfig;
  readonly table: RouteTable;
  readonly verifiers: ReadonlyMap<string, JwtVerifier>;
  /** Non-fatal problems (dropped providers), logged and shown in /config_dump. */
  readonly warnings: readonly string[];
  /** JSON of each compiled JWT policy, to reuse its verifier when the next config has it unchanged. */
  readonly policyJson: ReadonlyMap<string, string>;
}

export type CompileResult = { readonly ok: true; readonly runtime: RuntimeConfig } | { readonly ok: false; readonly error: string };

function formatIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Validates (the same zod contract as the controller) and compiles a config. Any error rejects
 * the whole config with a precise reason (the caller NACKs and keeps serving the last good one).
 */
export async function compileConfig(input: unknown, cacheEntries?: number, previous?: RuntimeConfig): Promise<CompileResult> {
  const parsed = ProxyConfig.safeParse(input);
  if (!parsed.success) return { ok: false, error: `invalid config: ${formatIssues(parsed.error.issues)}` };
  const config = parsed.data;
  const listenerNames = new Set(config.listeners.map((l) => l.name));
  for (const route of config.routes) {
    if (route.jwtPolicy !== undefined && !(route.jwtPolicy in config.jwtPolicies)) {
      return { ok: false, error: `invalid config: route ${route.id} refers to unknown JWT policy ${route.jwtPolicy}` };
    }
    const stray = route.listeners.find((l) => !listenerNames.has(l));
    if (stray !== undefined) return { ok: false, error: `invalid config: route ${route.id} refers to unknown listener ${stray}` };
  }
  for (const l of config.listeners) {
    if (l.preRoutingJwtPolicy !== undefined && !(l.preRoutingJwtPolicy in config.jwtPolicies)) {
      return { ok: false, error: `invalid config: listener ${l.name} refers to unknown JWT policy ${l.preRoutingJwtPolicy}` };
    }
  }
  let table: RouteTable;
  try {
    table = compileRouteTable(config.listeners, config.routes);
  } catch (err) {
    return { ok: false, error: `invalid config: ${(err as Error).message}` };
  }
  const verifiers = new Map<string, JwtVerifier>();
  const policyJson = new Map<string, string>();
  const warnings: string[] = [];
  for (const [key, policy] of Object.entries(config.jwtPolicies)) {
    const json = JSON.stringify(policy);
    // Unchanged policy (same keys, issuers, mode): keep its verifier, imported keys and token cache.
    const reused = previous?.policyJson.get(key) === json ? previous.verifiers.get(key) : undefined;
    const v = reused ?? await compileJwtVerifier(policy, cacheEntries);
    verifiers.set(key, v);
    policyJson.set(key, json);
    warnings.push(...v.warnings.map((w) => `jwt policy ${key}: ${w}`));
  }
  return { ok: true, runtime: { config, table, verifiers, warnings, policyJson } };
}

export type { ProxyConfigInput };
