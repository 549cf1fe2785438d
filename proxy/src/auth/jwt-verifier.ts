import {
  compileExpressionOrFailing,
  toCelValue,
  type CelResult,
  type CelValue,
  type CompiledExpression,
  type CompiledJwtPolicy,
  type CompiledJwtProvider,
  type Jwk,
} from '@agw/api';
import { constants, verify as cryptoVerify, KeyObject, type webcrypto } from 'node:crypto';
import { importJWK, type JWTPayload } from 'jose';
import { JwtFailures, type JwtFailure } from './jwt-errors.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** Clock leeway for exp, nbf and iat, in seconds (upstream's exp leeway; jsonwebtoken default). */
export const LEEWAY_SEC = 60;
/** Tokens larger than this (bytes) are refused before any parsing. */
export const MAX_TOKEN_BYTES = 16 * 1024;
/** Verified-token cache bound (entries per policy). */
export const DEFAULT_CACHE_ENTRIES = 10_000;

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALG_BY_CURVE: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const JWS_ALGS = new Set([...RSA_ALGS, 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

export interface JwtSuccess {
  readonly ok: true;
  readonly claims: JWTPayload;
  readonly providerId: string;
  /**
   * The claims as CEL values (`jwt`), converted on first use and kept with the cached result, so a
   * cache hit costs no conversion; null when the claims cannot be converted (nested too deep).
   */
  celClaims?: CelValue;
  /**
   * Results of expressions that depend on the claims alone (`CompiledExpression.onlyJwt`), by
   * source text, kept with the cached result so a cache hit evaluates none of them again; at most
   * `MAX_KEPT_RESULTS` per token (plugins/cel-activation.ts).
   */
  celResults?: Map<string, CelResult>;
}

/** The claims of a verified token as CEL sees them (`jwt`), converted once per verified token; undefined if they cannot be. */
export function celClaimsOf(s: JwtSuccess): CelValue | undefined {
  let v = s.celClaims;
  if (v === undefined) {
    try {
      v = toCelValue(s.claims);
    } catch {
      v = null;
    }
    s.celClaims = v;
  }
  return v === null ? undefined : v;
}
export type JwtResult =
  | JwtSuccess
  | (JwtFailure & {
      /** For an unknown kid whose issuer has a remote key source: where a refetch could find it. */
      readonly refetch?: { readonly remoteUrl: string; readonly kid: string };
    });

/** Checks a JWS signature over `signingInput` with one key and one algorithm. */
type SignatureCheck = (signingInput: Buffer, signature: Buffer) => boolean;

interface KeyEntry {
  readonly provider: CompiledJwtProvider;
  readonly byAlg: ReadonlyMap<string, SignatureCheck>;
}

const HASH_OF: Record<string, string> = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };
const CURVE_OF: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
/** Smallest RSA modulus accepted, bits (jose's rule, NIST SP 800-131A). */
const MIN_RSA_BITS = 2048;

/**
 * The signature check of one algorithm with one key, on node:crypto's synchronous verify: jose
 * imports and validates the JWK, then its key is used directly (measured: RS256 21 µs per check
 * against 94 µs through jose's WebCrypto path; see docs/adr/0002). Throws when the key does not
 * fit the algorithm (curve, type, RSA size), which drops the provider as upstream does.
 */
function signatureCheck(key: KeyObject, alg: string): SignatureCheck {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const bits = alg.slice(2);
  if (alg.startsWith('RS') || alg.startsWith('PS')) {
    if (type !== 'rsa') throw new Error(`${alg} needs an RSA key, not ${String(type)}`);
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS)
      throw new Error(`RSA key of ${details.modulusLength ?? 0} bits is below ${MIN_RSA_BITS}`);
    const hash = HASH_OF[bits] as string;
    const opts = alg.startsWith('PS')
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
      : key;
    return (data, sig) => cryptoVerify(hash, data, opts, sig);
  }
  if (alg.startsWith('ES')) {
    if (type !== 'ec' || details.namedCurve !== CURVE_OF[alg]) throw new Error(`${alg} needs an EC key on ${CURVE_OF[alg] ?? '?'}`);
    // JWS carries r||s (IEEE P1363), not DER.
    const opts = { key, dsaEncoding: 'ieee-p1363' as const };
    const hash = HASH_OF[bits] as string;
    return (data, sig) => cryptoVerify(hash, data, opts, sig);
  }
  if (type !== 'ed25519') throw new Error(`${alg} needs an Ed25519 key`);
  return (data, sig) => cryptoVerify(null, data, key, sig);
}

export interface JwtVerifier {
  readonly policy: CompiledJwtPolicy;
  /** Keys usable per provider id (for metrics); dropped providers are absent. */
  readonly keyCounts: ReadonlyMap<string, number>;
  /** Why providers or keys were dropped, for logs and the config dump. */
  readonly warnings: readonly string[];
  readonly cache: VerifiedTokenCache<JwtSuccess>;
  /** Location `expression`: compiled once with the policy (one that does not compile finds no token). */
  readonly locationExpression?: CompiledExpression;
  /**
   * Synchronous: keys are imported at compile time and signatures are checked with node:crypto.
   * `connection`: the client connection the token came on (its socket or HTTP/2 session), whose
   * last verified token the cache remembers (VerifiedTokenCache.getRemembered).
   */
  verify(token: string, nowSec: number, connection?: object): JwtResult;
}

/**
 * Algorithms a key may verify. A JWS `alg` on the key pins it; otherwise the family decides
 * (RSA: RS/PS; EC: by curve, so ES256 only with P-256; OKP Ed25519: EdDSA). HMAC and `none` never.
 * Keys marked for encryption (`use: enc`, or a non-JWS `alg` like RSA-OAEP) verify nothing.
 */
export function algorithmsFor(jwk: Jwk): string[] | { error: string } {
  if (jwk.use === 'enc') return [];
  if (jwk.alg !== undefined) {
    if (!JWS_ALGS.has(jwk.alg)) return [];
    const family = jwk.kty === 'RSA' ? RSA_ALGS : jwk.kty === 'EC' ? Object.values(EC_ALG_BY_CURVE) : ['EdDSA', 'Ed25519'];
    return family.includes(jwk.alg) ? [jwk.alg] : { error: `key alg ${jwk.alg} does not fit kty ${jwk.kty}` };
  }
  switch (jwk.kty) {
    case 'RSA':
      return RSA_ALGS;
    case 'EC': {
      const alg = EC_ALG_BY_CURVE[jwk.crv ?? ''];
      return alg === undefined ? { error: `unsupported EC curve ${String(jwk.crv)}` } : [alg];
    }
    case 'OKP':
      return jwk.crv === 'Ed25519' ? ['EdDSA', 'Ed25519'] : { error: `unsupported OKP curve ${String(jwk.crv)}` };
    default:
      return { error: `unsupported key type ${jwk.kty}` };
  }
}

async function importProvider(p: CompiledJwtProvider): Promise<Map<string, KeyEntry> | string> {
  const keys = new Map<string, KeyEntry>();
  for (const jwk of p.keys) {
    // As upstream: a key without kid, or of an unsupported type, disqualifies the whole provider.
    if (jwk.kid === undefined || jwk.kid === '') return 'the key is missing the `kid` attribute';
    const algs = algorithmsFor(jwk);
    if (!Array.isArray(algs)) return algs.error;
    const byAlg = new Map<string, SignatureCheck>();
    for (const alg of algs) {
      try {
        const imported = await importJWK({ ...jwk, alg: undefined, use: undefined, key_ops: undefined, ext: undefined } as never, alg);
        byAlg.set(alg, signatureCheck(KeyObject.from(imported as webcrypto.CryptoKey), alg));
      } catch (err) {
        return `key ${JSON.stringify(jwk.kid)} cannot be used for ${alg}: ${(err as Error).message}`;
      }
    }
    if (byAlg.size > 0 && !keys.has(jwk.kid)) keys.set(jwk.kid, { provider: p, byAlg });
  }
  return keys;
}

const TOKEN_CHARS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Claim checks after the signature, in jsonwebtoken's order, plus nbf and iat (upstream skips both). */
export function checkClaims(claims: Record<string, unknown>, provider: CompiledJwtProvider, nowSec: number): JwtFailure | undefined {
  const audiences = provider.audiences ?? [];
  for (const required of ['exp', 'iss', ...(audiences.length > 0 ? ['aud'] : [])]) {
    if (claims[required] === undefined) return JwtFailures.missingClaim(required);
  }
  const { exp, nbf, iat, iss, aud } = claims;
  if (!isNumericDate(exp) || (nbf !== undefined && !isNumericDate(nbf)) || (iat !== undefined && !isNumericDate(iat))) {
    return JwtFailures.invalidClaims();
  }
  if (exp + LEEWAY_SEC < nowSec) return JwtFailures.expired();
  if (nbf !== undefined && nbf - LEEWAY_SEC > nowSec) return JwtFailures.notYetValid();
  if (iat !== undefined && iat - LEEWAY_SEC > nowSec) return JwtFailures.issuedInFuture();
  const issuers = Array.isArray(iss) ? iss : [iss];
  if (!issuers.some((i) => i === provider.issuer)) return JwtFailures.invalidIssuer();
  if (audiences.length > 0) {
    const tokenAud = Array.isArray(aud) ? aud : [aud];
    if (!tokenAud.some((a) => typeof a === 'string' && audiences.includes(a))) return JwtFailures.invalidAudience();
  }
  return undefined;
}

/**
 * Builds the verifier of one JWT policy: imports every key once, for every algorithm it may
 * verify, so a request never imports a key. A kid held by one provider: that provider decides. A
 * kid held by several (two IdPs publishing the same kid): the first of them whose issuer is the
 * token's `iss` decides (read unverified, only to choose the key; the signature, then the issuer,
 * are checked with it), else the first holder, as upstream, which takes only the first holder and
 * so refuses the second IdP's valid tokens (its issue #3609).
 */
export async function compileJwtVerifier(policy: CompiledJwtPolicy, cacheEntries = DEFAULT_CACHE_ENTRIES): Promise<JwtVerifier> {
  const byKid = new Map<string, KeyEntry[]>();
  const keyCounts = new Map<string, number>();
  const warnings: string[] = [];
  for (const provider of policy.providers) {
    const keys = await importProvider(provider);
    if (typeof keys === 'string') {
      warnings.push(`provider ${provider.id} (issuer ${JSON.stringify(provider.issuer)}) dropped: ${keys}`);
      continue;
    }
    keyCounts.set(provider.id, keys.size);
    for (const [kid, entry] of keys) {
      const holders = byKid.get(kid);
      if (holders === undefined) byKid.set(kid, [entry]);
      else holders.push(entry);
    }
  }
  const cache = new VerifiedTokenCache<JwtSuccess>(cacheEntries);
  /**
   * The last header segment decoded, and what it decoded to: an issuer's tokens share one header
   * (`{"alg":…,"kid":…,"typ":"JWT"}`), so a new token's header is a string comparison instead of a
   * base64url decode and a JSON parse (~4 µs of a cache miss in the proxy under load). Read only.
   */
  let lastHeader: { readonly part: string; readonly value: Record<string, unknown> | undefined } | undefined;
  function headerOf(headerPart: string): Record<string, unknown> | undefined {
    if (lastHeader !== undefined && lastHeader.part === headerPart) return lastHeader.value;
    const value = decodeJsonSegment(headerPart);
    lastHeader = { part: headerPart, value };
    return value;
  }

  function verifyUncached(token: string, nowSec: number): JwtResult {
    if (!TOKEN_CHARS.test(token)) return JwtFailures.malformed();
    const [headerPart, payloadPart] = token.split('.') as [string, string, string];
    const header = headerOf(headerPart);
    if (header === undefined || typeof header['alg'] !== 'string' || header['alg'] === 'none') return JwtFailures.malformed();
    // No JWS extension is understood here, so any `crit` must be refused (RFC 7515 §4.1.11).
    if (header['crit'] !== undefined) return JwtFailures.unsupportedCrit();
    const kid = header['kid'];
    if (kid === undefined) return JwtFailures.missingKid();
    if (typeof kid !== 'string') return JwtFailures.malformed();
    const holders = byKid.get(kid);
    if (holders === undefined) return unknownKid(kid, payloadPart);
    const entry = holders.length === 1 ? (holders[0] as KeyEntry) : holderForIssuer(holders, payloadPart);
    const check = entry.byAlg.get(header['alg']);
    if (check === undefined) return JwtFailures.invalidAlgorithm();
    const lastDot = token.lastIndexOf('.');
    let valid: boolean;
    try {
      valid = check(Buffer.from(token.slice(0, lastDot), 'latin1'), Buffer.from(token.slice(lastDot + 1), 'base64url'));
    } catch {
      valid = false; // e.g. an ECDSA signature of the wrong length
    }
    if (!valid) return JwtFailures.invalidSignature();
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
    } catch {
      return JwtFailures.invalidClaims();
    }
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return JwtFailures.invalidClaims();
    const bad = checkClaims(claims as Record<string, unknown>, entry.provider, nowSec);
    return bad ?? { ok: true, claims: claims as JWTPayload, providerId: entry.provider.id };
  }

  /** Among providers sharing a kid, the first whose issuer is the token's (unverified) `iss`; else the first. */
  function holderForIssuer(holders: readonly KeyEntry[], payloadPart: string): KeyEntry {
    const iss = decodeJsonSegment(payloadPart)?.['iss'];
    const issuers = Array.isArray(iss) ? iss : [iss];
    return holders.find((h) => issuers.includes(h.provider.issuer)) ?? (holders[0] as KeyEntry);
  }

  function unknownKid(kid: string, payloadPart: string): JwtResult {
    // Unverified look at iss, only to decide whether a refetch could help; never trusted otherwise.
    const iss = decodeJsonSegment(payloadPart)?.['iss'];
    const remote = policy.providers.find((p) => p.remoteUrl !== undefined && p.issuer === iss);
    const failure = JwtFailures.unknownKid(kid);
    return remote?.remoteUrl === undefined ? failure : { ...failure, refetch: { remoteUrl: remote.remoteUrl, kid } };
  }

  const loc = policy.location;
  const locationExpression = loc.kind === 'expression' ? compileExpressionOrFailing(loc.expression) : undefined;
  if (locationExpression?.staticError !== undefined)
    warnings.push(`location expression never finds a token: ${locationExpression.staticError}`);
  return {
    policy,
    keyCounts,
    warnings,
    cache,
    ...(locationExpression !== undefined ? { locationExpression } : {}),
    verify(token, nowSec, connection) {
      // A remembered token is one that passed every check, the size bound included.
      const remembered = cache.getRemembered(connection, token, nowSec);
      if (remembered !== undefined) return remembered;
      if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return JwtFailures.tooLarge(MAX_TOKEN_BYTES);
      const cacheKey = VerifiedTokenCache.keyOf(token);
      const hit = cache.get(cacheKey, nowSec, connection, token);
      if (hit !== undefined) return hit;
      const result = verifyUncached(token, nowSec);
      if (result.ok) cache.set(cacheKey, result, (result.claims.exp as number) + LEEWAY_SEC, connection, token);
      return result;
    },
  };
}
