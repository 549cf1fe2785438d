import {
  CACHE_DURATION_DEFAULT,
  DEFAULT_TOKEN_LOCATION,
  parseDurationMs,
  type AgentgatewayPolicy,
  type CompiledJwtPolicy,
  type CompiledJwtProvider,
  type CompiledTokenLocation,
  type JwtAuthentication,
  type TokenLocation,
} from '@agw/api';
import { isAgentgatewayBackendRef, resolveAgentgatewayBackend, resolveServicePort, urlHost, type BackendIndex } from '../backends.js';
import { parseJwks } from '../jwks-keys.js';
import type { JwksKeys, JwksRequest } from '../model.js';
import { celProblem } from './cel-check.js';
import type { ExpressionProblem, FeatureContext, PolicyFeature } from './feature.js';

export interface TranslatedJwt {
  readonly policy: CompiledJwtPolicy;
  /** Problems that left a provider out; non-empty makes the policy PartiallyValid (upstream). */
  readonly errors: string[];
  /** Facts that do not change acceptance (stale keys still serving), appended to the message. */
  readonly notes: string[];
  readonly requests: JwksRequest[];
}

function translateLocation(loc: TokenLocation | undefined): CompiledTokenLocation {
  if (loc?.header !== undefined)
    return {
      kind: 'header',
      name: loc.header.name.toLowerCase(),
      ...(loc.header.prefix !== undefined ? { prefix: loc.header.prefix } : {}),
    };
  if (loc?.queryParameter !== undefined) return { kind: 'query', name: loc.queryParameter.name };
  if (loc?.cookie !== undefined) return { kind: 'cookie', name: loc.cookie.name };
  // Pushed as written even when it does not parse: the proxy then finds no token (status: PartiallyValid).
  if (loc?.expression !== undefined) return { kind: 'expression', expression: loc.expression };
  return DEFAULT_TOKEN_LOCATION;
}

/** `location.expression` when it does not parse, with upstream's message. */
export function jwtExpressionProblems(policy: AgentgatewayPolicy): ExpressionProblem[] {
  const expression = policy.spec.traffic?.jwtAuthentication?.location?.expression;
  if (expression === undefined) return [];
  return celProblem(
    ['spec', 'traffic', 'jwtAuthentication', 'location', 'expression'],
    expression,
    'jwtAuthentication location expression is not a valid CEL expression',
  );
}

/** Upstream's URL checks for `jwks.remote.url` (remotehttp/resolver.go), with its messages. */
export function validateJwksUrl(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'url must include a host';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'unsupported URL scheme';
  if (u.hostname === '') return 'url must include a host';
  if (u.username !== '' || u.password !== '') return 'url must not include userinfo';
  if (raw.includes('?')) return 'url must not include a query';
  if (raw.includes('#')) return 'url must not include a fragment';
  if (u.port !== '' && (Number(u.port) < 1 || Number(u.port) > 65535)) return 'invalid URL port';
  return undefined;
}

/**
 * Translates `spec.traffic.jwtAuthentication` as upstream's processJWTAuthenticationPolicy does:
 * the policy is always emitted; a provider whose keys are unavailable or invalid is left out and
 * its error recorded (so Strict fails closed and the status says PartiallyValid).
 */
export function translateJwtPolicy(
  p: AgentgatewayPolicy,
  jwt: JwtAuthentication,
  idx: BackendIndex,
  jwks: ReadonlyMap<string, JwksKeys>,
  extra: Pick<FeatureContext, 'backendTls' | 'jwksErrors'> = {},
): TranslatedJwt {
  const ns = p.metadata.namespace ?? '';
  const name = `${ns}/${p.metadata.name}`;
  const providers: CompiledJwtProvider[] = [];
  const errors: string[] = [];
  const notes: string[] = [];
  const requests: JwksRequest[] = [];
  errors.push(...jwtExpressionProblems(p).map((e) => e.message));
  jwt.providers.forEach((prov, i) => {
    const id = `${name}#${i}`;
    const base = { id, issuer: prov.issuer, ...(prov.audiences !== undefined ? { audiences: prov.audiences } : {}) };
    if (prov.jwks.inline !== undefined) {
      // The same parser as fetched key sets: only public asymmetric keys ever reach a proxy.
      const parsed = parseJwks(prov.jwks.inline);
      if (!parsed.ok) {
        errors.push(`provider ${i} (issuer "${prov.issuer}"): invalid inline JWKS`);
        return;
      }
      notes.push(...parsed.notes.map((n) => `provider ${i} (issuer "${prov.issuer}"): ${n}`));
      providers.push({ ...base, keys: parsed.keys });
      return;
    }
    const remote = prov.jwks.remote;
    if (remote === undefined) return;
    const refreshMs = parseDurationMs(remote.cacheDuration ?? CACHE_DURATION_DEFAULT) ?? 300_000;
    const owner = `AgentgatewayPolicy/${name}#spec.traffic.jwtAuthentication.providers[${i}].jwks.remote`;
    let url: string;
    let connect: JwksRequest['connect'];
    let tls: JwksRequest['tls'];
    if (remote.url !== undefined) {
      const bad = validateJwksUrl(remote.url);
      if (bad !== undefined) {
        errors.push(`provider ${i} (issuer "${prov.issuer}"): ${bad}`);
        return;
      }
      url = remote.url;
    } else if (remote.backendRef !== undefined) {
      const ref = remote.backendRef;
      const refNs = ref.namespace ?? ns;
      if (isAgentgatewayBackendRef(ref)) {
        // Upstream: `<static.host>:<static.port>` (the ref's port is not used), https when TLS
        // applies (the backend's policies.tls, else an AgentgatewayPolicy backend.tls targeting
        // it). No `connect`: the fetcher resolves the host itself, and the SSRF guard checks
        // every address it dials, as for `url`.
        const resolved = resolveAgentgatewayBackend(idx, refNs, ref.name);
        if (!resolved.ok) {
          errors.push(resolved.found ? `${resolved.message}, policy ${name}` : `backend ${refNs}/${ref.name} not found, policy ${name}`);
          return;
        }
        const backendTls = extra.backendTls?.resolveAgentgatewayBackend(refNs, ref.name, name);
        if (backendTls !== undefined && !backendTls.ok) {
          errors.push(`${backendTls.problem}, policy ${name}`);
          return;
        }
        tls = backendTls?.tls;
        const { host, port } = resolved.endpoint;
        url = `${tls === undefined ? 'http' : 'https'}://${urlHost(host)}:${port}/${(remote.jwksPath ?? '').replace(/^\/+/, '')}`;
        const bad = validateJwksUrl(url);
        if (bad !== undefined) {
          errors.push(`provider ${i} (issuer "${prov.issuer}"): ${bad}`);
          return;
        }
      } else if (!(ref.group === '' && ref.kind === 'Service')) {
        errors.push(`unsupported backend kind ${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} for jwks, policy ${name}`);
        return;
      } else {
        const resolved = resolveServicePort(idx, refNs, ref.name, ref.port);
        if (!resolved.ok) {
          errors.push(
            resolved.reason === 'BackendNotFound' && !idx.services.has(`${refNs}/${ref.name}`)
              ? `backend ${refNs}/${ref.name} not found, policy ${name}`
              : `${resolved.message}, policy ${name}`,
          );
          return;
        }
        const path = (remote.jwksPath ?? '').replace(/^\/+/, '');
        // TLS for the Service (upstream's order: an AgentgatewayPolicy backend.tls on it, else a
        // BackendTLSPolicy; its port over the whole Service): https to the SNI name (`sni`, the
        // Service's DNS name, or validation.hostname), still connecting to the endpoint. Settings
        // that do not resolve (a CA ConfigMap missing) fail closed: no fetch, the provider left out.
        const backendTls = ref.port === undefined ? undefined : extra.backendTls?.resolve(refNs, ref.name, ref.port, name);
        if (backendTls !== undefined && !backendTls.ok) {
          errors.push(`${backendTls.problem}, policy ${name}`);
          return;
        }
        tls = backendTls?.tls;
        url =
          tls === undefined
            ? `http://${ref.name}.${refNs}.svc.cluster.local:${ref.port}/${path}`
            : `https://${tls.servername}:${ref.port}/${path}`;
        const first = resolved.endpoints[0];
        if (first !== undefined) connect = first;
      }
    } else {
      return;
    }
    requests.push({ url, refreshMs, owners: [owner], ...(connect ? { connect } : {}), ...(tls ? { tls } : {}) });
    const keys = jwks.get(url);
    if (keys === undefined) {
      // Upstream's words, then (ours) the last fetch error when one is known: an unknown CA or a
      // name mismatch is said where the user looks.
      const lastError = extra.jwksErrors?.get(url);
      errors.push(
        `jwks keyset for "${url}" isn't available (not yet fetched or fetch failed)${lastError !== undefined ? `: last error: ${lastError}` : ''}`,
      );
      return;
    }
    if (keys.stale !== undefined)
      notes.push(`jwks keyset for "${url}" is served stale: last fetched ${keys.stale.fetchedAt}, last error: ${keys.stale.lastError}`);
    notes.push(...(keys.notes ?? []).map((n) => `jwks keyset for "${url}": ${n}`));
    providers.push({ ...base, keys: [...keys.keys], remoteUrl: url });
  });
  return {
    policy: { policy: name, mode: jwt.mode ?? 'Strict', location: translateLocation(jwt.location), providers },
    errors,
    notes,
    requests,
  };
}

/**
 * `spec.traffic.jwtAuthentication`: in both phases; the most specific attachment replaces the
 * others (upstream: a route's JWT policy replaces the Gateway's).
 */
export const jwtFeature: PolicyFeature<'jwt'> = {
  name: 'jwt',
  scope: 'traffic',
  phases: new Set(['PreRouting', 'Route']),
  merge: 'most-specific',
  translate(policy, ctx) {
    const jwt = policy.spec.traffic?.jwtAuthentication;
    if (jwt === undefined) return undefined;
    const t = translateJwtPolicy(policy, jwt, ctx.backends, ctx.jwks, ctx);
    return { compiled: t.policy, errors: t.errors, notes: t.notes, jwksRequests: t.requests };
  },
  expressionProblems: jwtExpressionProblems,
};
