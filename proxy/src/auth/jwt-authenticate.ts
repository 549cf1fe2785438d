import type { JWTPayload } from 'jose';
import { JwtFailures, type JwtErrorCode } from './jwt-errors.js';
import type { JwtResult, JwtSuccess, JwtVerifier } from './jwt-verifier.js';
import { extractToken, extractTokenByExpression, type CredentialSource } from './token-location.js';

/** Outcome label for metrics and access logs. */
export type AuthResult = 'valid' | 'missing' | 'rejected' | 'passed_unverified';

export type AuthDecision =
  | {
      readonly action: 'pass';
      readonly result: AuthResult;
      /** Set only after a successful validation. */
      readonly claims?: JWTPayload;
      /** The verification result (claims and their CEL form), set only after a successful validation. */
      readonly verified?: JwtSuccess;
      /** The raw validated token (for backend-auth passthrough), set only after a successful validation. */
      readonly token?: string;
      readonly providerId?: string;
      /** Remove the credential before forwarding (only after a successful validation). */
      readonly stripCredential: boolean;
      /** Why an unverified request passed (Permissive), for logs and metrics. */
      readonly code?: JwtErrorCode;
    }
  | { readonly action: 'reject'; readonly result: 'missing' | 'rejected'; readonly failure: Exclude<JwtResult, { ok: true }> };

/**
 * Applies one JWT policy to one request, as upstream's mode table (reference §4.4):
 *
 * | mode       | no token      | invalid token               | valid token           |
 * |------------|---------------|-----------------------------|-----------------------|
 * | Strict     | 401           | 401 (400 if ambiguous)      | pass, credential gone |
 * | Optional   | pass          | 401 (400 if ambiguous)      | pass, credential gone |
 * | Permissive | pass          | pass, token left in place   | pass, credential gone |
 *
 * Two credentials (duplicate header, header plus access_token…) are ambiguous: 400 in every mode
 * but Permissive, where they pass unverified like any invalid token. `connection`: the client
 * connection the request came on (JwtVerifier.verify).
 */
export function authenticate(verifier: JwtVerifier, src: CredentialSource, nowSec: number, connection?: object): AuthDecision {
  const mode = verifier.policy.mode;
  const expression = verifier.locationExpression;
  const found = expression === undefined ? extractToken(src, verifier.policy.location) : extractTokenByExpression(src, expression);
  if (found.kind === 'none') {
    return mode === 'Strict'
      ? { action: 'reject', result: 'missing', failure: JwtFailures.missing() }
      : { action: 'pass', result: 'missing', stripCredential: false };
  }
  const token = found.kind === 'found' ? found.token : '';
  const result = found.kind === 'duplicate' ? JwtFailures.duplicate() : verifier.verify(token, nowSec, connection);
  if (!result.ok) {
    if (mode === 'Permissive') return { action: 'pass', result: 'passed_unverified', stripCredential: false, code: result.code };
    return { action: 'reject', result: 'rejected', failure: result };
  }
  return {
    action: 'pass',
    result: 'valid',
    claims: result.claims,
    verified: result,
    // Only a token that verified is ever kept (for backend-auth passthrough).
    token,
    providerId: result.providerId,
    // An expression location strips nothing (upstream).
    stripCredential: expression === undefined,
  };
}
