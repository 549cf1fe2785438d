/**
 * Every way a JWT check can fail: a stable code (metrics, logs, docs/errors.md), the HTTP status,
 * the RFC 6750 `error` value, and the body text. Bodies are agentgateway's, byte for byte, where
 * agentgateway has the case (reference §4.5); cases it does not check get bodies in its style.
 */
export const JwtErrorCode = {
  Missing: 'PROXY_ERR_JWT_MISSING',
  Duplicate: 'PROXY_ERR_JWT_DUPLICATE',
  TooLarge: 'PROXY_ERR_JWT_TOO_LARGE',
  Malformed: 'PROXY_ERR_JWT_MALFORMED',
  MissingKid: 'PROXY_ERR_JWT_MISSING_KID',
  UnknownKid: 'PROXY_ERR_JWT_UNKNOWN_KID',
  InvalidAlgorithm: 'PROXY_ERR_JWT_INVALID_ALGORITHM',
  InvalidSignature: 'PROXY_ERR_JWT_INVALID_SIGNATURE',
  UnsupportedCrit: 'PROXY_ERR_JWT_UNSUPPORTED_CRIT',
  InvalidClaims: 'PROXY_ERR_JWT_INVALID_CLAIMS',
  MissingClaim: 'PROXY_ERR_JWT_MISSING_CLAIM',
  Expired: 'PROXY_ERR_JWT_EXPIRED',
  NotYetValid: 'PROXY_ERR_JWT_NOT_YET_VALID',
  IssuedInFuture: 'PROXY_ERR_JWT_ISSUED_IN_FUTURE',
  InvalidIssuer: 'PROXY_ERR_JWT_INVALID_ISSUER',
  InvalidAudience: 'PROXY_ERR_JWT_INVALID_AUDIENCE',
} as const;
export type JwtErrorCode = (typeof JwtErrorCode)[keyof typeof JwtErrorCode];

export interface JwtFailure {
  readonly ok: false;
  readonly code: JwtErrorCode;
  /** 401, or 400 for a malformed request (more than one credential). */
  readonly status: 400 | 401;
  /** RFC 6750 §3.1 error code; absent when no token was sent. */
  readonly oauthError?: 'invalid_token' | 'invalid_request';
  /** Response body, text/plain. */
  readonly body: string;
}

const PREFIX = 'authentication failure: ';
const invalid = (kind: string) => `${PREFIX}the token is invalid or malformed: Error(${kind})`;

function failure(code: JwtErrorCode, body: string, status: 400 | 401 = 401): JwtFailure {
  return { ok: false, code, status, oauthError: status === 400 ? 'invalid_request' : 'invalid_token', body };
}

/** Longest kid echoed back in a body, in characters: the kid is attacker-controlled. */
const MAX_ECHOED_KID = 128;

export const JwtFailures = {
  missing: (): JwtFailure => ({ ok: false, code: JwtErrorCode.Missing, status: 401, body: `${PREFIX}no bearer token found` }),
  duplicate: () => failure(JwtErrorCode.Duplicate, `${PREFIX}more than one token found in the request`, 400),
  tooLarge: (maxBytes: number) => failure(JwtErrorCode.TooLarge, `${PREFIX}the token is larger than ${maxBytes} bytes`),
  malformed: () => failure(JwtErrorCode.Malformed, `${PREFIX}the token header is malformed: Error(InvalidToken)`),
  missingKid: () => failure(JwtErrorCode.MissingKid, `${PREFIX}the token header does not specify a \`kid\``),
  // JSON.stringify escapes quotes and control characters, as Rust's Debug formatting does upstream.
  unknownKid: (kid: string) =>
    failure(JwtErrorCode.UnknownKid, `${PREFIX}token uses the unknown key ${JSON.stringify(kid.slice(0, MAX_ECHOED_KID))}`),
  invalidAlgorithm: () => failure(JwtErrorCode.InvalidAlgorithm, invalid('InvalidAlgorithm')),
  invalidSignature: () => failure(JwtErrorCode.InvalidSignature, invalid('InvalidSignature')),
  unsupportedCrit: () => failure(JwtErrorCode.UnsupportedCrit, invalid('InvalidToken')),
  invalidClaims: () => failure(JwtErrorCode.InvalidClaims, invalid('InvalidToken')),
  missingClaim: (claim: string) => failure(JwtErrorCode.MissingClaim, invalid(`MissingRequiredClaim(${JSON.stringify(claim)})`)),
  expired: () => failure(JwtErrorCode.Expired, invalid('ExpiredSignature')),
  notYetValid: () => failure(JwtErrorCode.NotYetValid, invalid('ImmatureSignature')),
  issuedInFuture: () => failure(JwtErrorCode.IssuedInFuture, invalid('ImmatureSignature')),
  invalidIssuer: () => failure(JwtErrorCode.InvalidIssuer, invalid('InvalidIssuer')),
  invalidAudience: () => failure(JwtErrorCode.InvalidAudience, invalid('InvalidAudience')),
};
