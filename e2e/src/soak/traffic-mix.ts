/**
 * What the soak sends and what it must get back: pure, no I/O.
 *
 * Three routes, one per jwtAuthentication mode, and six kinds of credential. The expected answer
 * is agentgateway's (reference agentgateway-jwt.md, modes): Strict needs a valid token; Optional
 * lets a request without a token through but rejects a bad one; Permissive never rejects.
 */
export const ROUTE_MODES = ['Strict', 'Optional', 'Permissive'] as const;
export type RouteMode = (typeof ROUTE_MODES)[number];

export const CREDENTIALS = ['valid', 'none', 'expired', 'wrong-audience', 'garbage', 'forged'] as const;
/**
 * - valid: a Keycloak token of a soak user, signed by the realm's current or previous key.
 * - none: no Authorization header.
 * - expired: a Keycloak token past exp + the 60 s leeway.
 * - wrong-audience: a Keycloak token of a client whose `aud` lacks the policy's audience.
 * - garbage: not a JWT, a JWT with alg none, a valid token with its signature altered.
 * - forged: a well-formed RS256 token with Keycloak's kid, issuer and audience, signed by another key.
 */
export type Credential = (typeof CREDENTIALS)[number];

/** The status agentgateway answers for this credential on a route of this mode. */
export function expectedStatus(mode: RouteMode, credential: Credential): 200 | 401 {
  if (credential === 'valid' || mode === 'Permissive') return 200;
  if (credential === 'none') return mode === 'Strict' ? 401 : 200;
  return 401;
}

/** Share of each credential in the load (sums to 1): half the traffic is valid, as in production. */
export const CREDENTIAL_WEIGHTS: Readonly<Record<Credential, number>> = {
  valid: 0.5,
  none: 0.15,
  expired: 0.1,
  'wrong-audience': 0.1,
  garbage: 0.1,
  forged: 0.05,
};

/**
 * The credential for request number `n`: a fixed, deterministic interleaving of the weights
 * (a 20-slot wheel), so every second of load carries every kind and a rerun sends the same mix.
 */
export function credentialFor(n: number): Credential {
  return WHEEL[n % WHEEL.length] as Credential;
}
const WHEEL: Credential[] = (() => {
  const slots = 20;
  const wheel: Credential[] = [];
  for (const c of CREDENTIALS) for (let i = 0; i < Math.round(CREDENTIAL_WEIGHTS[c] * slots); i++) wheel.push(c);
  // Interleave: take the wheel in a stride co-prime with its length, so like kinds are spread out.
  const spread: Credential[] = [];
  for (let i = 0, j = 0; i < wheel.length; i++, j = (j + 7) % wheel.length) spread.push(wheel[j] as Credential);
  return spread;
})();

/** The route mode for request number `n` (round robin; co-prime with the wheel so every pair occurs). */
export function routeFor(n: number): RouteMode {
  return ROUTE_MODES[n % ROUTE_MODES.length] as RouteMode;
}
