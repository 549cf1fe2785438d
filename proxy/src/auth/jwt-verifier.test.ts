import type { CompiledJwtPolicy } from '@agw/api';
import { generateSigningKey, mintToken, rawToken, signRaw, type SigningKey } from '@agw/test-kit';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { JwtErrorCode } from './jwt-errors.js';
import { compileJwtVerifier, MAX_TOKEN_BYTES, type JwtVerifier } from './jwt-verifier.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const NOW = 2_000_000_000; // frozen clock, seconds
const ISS = 'https://agentgateway.dev';
let rs: SigningKey,
  es: SigningKey,
  es384: SigningKey,
  es512: SigningKey,
  ed: SigningKey,
  ps: SigningKey,
  other: SigningKey,
  noAlg: SigningKey;
let verifier: JwtVerifier;

const policy = (providers: CompiledJwtPolicy['providers']): CompiledJwtPolicy => ({
  policy: 'default/p',
  mode: 'Strict',
  location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
  providers,
});

beforeAll(async () => {
  [rs, es, es384, es512, ed, ps, other, noAlg] = await Promise.all([
    generateSigningKey('RS256', 'rs'),
    generateSigningKey('ES256', 'es'),
    generateSigningKey('ES384', 'es384'),
    generateSigningKey('ES512', 'es512'),
    generateSigningKey('EdDSA', 'ed'),
    generateSigningKey('PS256', 'ps'),
    generateSigningKey('RS256', 'other'),
    generateSigningKey('RS256', 'noalg', { withAlg: false }),
  ]);
  verifier = await compileJwtVerifier(
    policy([
      { id: 'p#0', issuer: ISS, keys: [rs.jwk, es.jwk, es384.jwk, es512.jwk, ed.jwk, ps.jwk, noAlg.jwk] as never },
      { id: 'p#1', issuer: 'https://second.example', audiences: ['account', 'api'], keys: [other.jwk] as never },
    ]),
  );
});

const mint = (key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  mintToken(key, {
    nowSec: NOW,
    claims: {
      iss: key === other ? 'https://second.example' : ISS,
      sub: 'ignore@agentgateway.dev',
      ...(key === other ? { aud: 'account' } : {}),
      ...claims,
    },
    header,
  });

describe('JWT verifier: accepted tokens', () => {
  it.each(['rs', 'es', 'es384', 'es512', 'ed', 'ps', 'noalg'])('accepts a valid token signed with key %s', async (name) => {
    const key = { rs, es, es384, es512, ed, ps, noalg: noAlg }[name] as SigningKey;
    const r = verifier.verify(await mint(key), NOW);
    expect(r).toMatchObject({ ok: true, providerId: 'p#0', claims: { sub: 'ignore@agentgateway.dev' } });
  });

  it('a key without alg verifies every RSA algorithm (as upstream): PS256 with an RS-generated key', async () => {
    const t = signRaw(noAlg, { alg: 'PS256', kid: 'noalg' }, { iss: ISS, exp: NOW + 60 }, 'PS256');
    expect(verifier.verify(t, NOW).ok).toBe(true);
  });

  it('validates against the provider that holds the kid (second provider, audience any-of)', async () => {
    expect(verifier.verify(await mint(other, { aud: ['x', 'api'] }), NOW)).toMatchObject({ ok: true, providerId: 'p#1' });
  });

  it('expired by less than the 60 s leeway: accepted', async () => {
    expect(verifier.verify(await mint(rs, { exp: NOW - 59 }), NOW).ok).toBe(true);
  });

  it('array iss passes when one element matches (as upstream)', async () => {
    expect(verifier.verify(await mint(rs, { iss: ['x', ISS] }), NOW).ok).toBe(true);
  });

  it('no audiences configured: any or no aud is accepted', async () => {
    expect(verifier.verify(await mint(rs, { aud: 'whatever' }), NOW).ok).toBe(true);
  });
});

const body = (kind: string) => `authentication failure: the token is invalid or malformed: Error(${kind})`;

describe('JWT verifier: rejections (status, code and upstream body)', () => {
  const cases: Array<[string, () => Promise<string>, string, string]> = [
    ['expired beyond 60 s', () => mint(rs, { exp: NOW - 61 }), JwtErrorCode.Expired, body('ExpiredSignature')],
    ['nbf in the future beyond 60 s', () => mint(rs, { nbf: NOW + 61 }), JwtErrorCode.NotYetValid, body('ImmatureSignature')],
    ['iat in the future beyond 60 s', () => mint(rs, { iat: NOW + 61 }), JwtErrorCode.IssuedInFuture, body('ImmatureSignature')],
    ['wrong iss', () => mint(rs, { iss: 'https://evil.example' }), JwtErrorCode.InvalidIssuer, body('InvalidIssuer')],
    ['no iss', () => mint(rs, { iss: undefined }), JwtErrorCode.MissingClaim, body('MissingRequiredClaim("iss")')],
    ['no exp', () => mint(rs, { exp: undefined }), JwtErrorCode.MissingClaim, body('MissingRequiredClaim("exp")')],
    ['exp not a number', () => mint(rs, { exp: 'tomorrow' }), JwtErrorCode.InvalidClaims, body('InvalidToken')],
    ['wrong aud', () => mint(other, { aud: 'nope' }), JwtErrorCode.InvalidAudience, body('InvalidAudience')],
    [
      'no aud while audiences are configured',
      () => mint(other, { aud: undefined }),
      JwtErrorCode.MissingClaim,
      body('MissingRequiredClaim("aud")'),
    ],
    [
      'no kid',
      () => mint(rs, {}, { kid: undefined }),
      JwtErrorCode.MissingKid,
      'authentication failure: the token header does not specify a `kid`',
    ],
    [
      'unknown kid',
      () => mint(rs, {}, { kid: 'nosuchkid' }),
      JwtErrorCode.UnknownKid,
      'authentication failure: token uses the unknown key "nosuchkid"',
    ],
    [
      'kid path traversal, echoed escaped',
      () => mint(rs, {}, { kid: '../../etc/passwd"\n' }),
      JwtErrorCode.UnknownKid,
      'authentication failure: token uses the unknown key "../../etc/passwd\\"\\n"',
    ],
    [
      'crit header (validly signed)',
      async () => signRaw(rs, { alg: 'RS256', kid: 'rs', crit: ['x-ext'], 'x-ext': 1 }, { iss: ISS, exp: NOW + 60 }),
      JwtErrorCode.UnsupportedCrit,
      body('InvalidToken'),
    ],
    [
      'ES256 key used with ES384 (alg bound to the key)',
      () => mint({ ...es, alg: 'ES384', privateKey: es384.privateKey }),
      JwtErrorCode.InvalidAlgorithm,
      body('InvalidAlgorithm'),
    ],
    [
      'RS key used with PS256 when its JWK pins RS256',
      async () => signRaw(rs, { alg: 'PS256', kid: 'rs' }, { iss: ISS, exp: NOW + 60 }, 'PS256'),
      JwtErrorCode.InvalidAlgorithm,
      body('InvalidAlgorithm'),
    ],
    [
      'signed by another key with the same kid',
      () => mint({ ...other, kid: 'rs' }, { iss: ISS, aud: undefined }),
      JwtErrorCode.InvalidSignature,
      body('InvalidSignature'),
    ],
  ];
  it.each(cases)('%s', async (_name, token, code, expected) => {
    expect(verifier.verify(await token(), NOW)).toMatchObject({
      ok: false,
      status: 401,
      code,
      body: expected,
      oauthError: 'invalid_token',
    });
  });
});

describe('JWT verifier: attack table (all 401, never accepted)', () => {
  const malformed = 'authentication failure: the token header is malformed: Error(InvalidToken)';
  const attacks: Array<[string, () => Promise<string>, string, string]> = [
    [
      'alg none, empty signature',
      async () => rawToken({ alg: 'none', kid: 'rs' }, { iss: ISS, exp: NOW + 60 }),
      JwtErrorCode.Malformed,
      malformed,
    ],
    [
      'alg None (case variant)',
      async () => rawToken({ alg: 'None', kid: 'rs' }, { iss: ISS, exp: NOW + 60 }),
      JwtErrorCode.InvalidAlgorithm,
      body('InvalidAlgorithm'),
    ],
    [
      'alg confusion: HS256 keyed with the RSA public key',
      async () => {
        const secret = new TextEncoder().encode(JSON.stringify(rs.jwk));
        return new SignJWT({ iss: ISS, exp: NOW + 60 }).setProtectedHeader({ alg: 'HS256', kid: 'rs' }).sign(secret);
      },
      JwtErrorCode.InvalidAlgorithm,
      body('InvalidAlgorithm'),
    ],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await mint(rs)).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ iss: ISS, exp: NOW + 60, sub: 'admin' })).toString('base64url')}.${s}`;
      },
      JwtErrorCode.InvalidSignature,
      body('InvalidSignature'),
    ],
    ['tampered signature', async () => `${(await mint(rs)).slice(0, -4)}AAAA`, JwtErrorCode.InvalidSignature, body('InvalidSignature')],
    [
      'signature stripped',
      async () => {
        const [h, p] = (await mint(rs)).split('.');
        return `${h}.${p}.`;
      },
      JwtErrorCode.InvalidSignature,
      body('InvalidSignature'),
    ],
    ['not a JWT ("nosuchkey")', async () => 'nosuchkey', JwtErrorCode.Malformed, malformed],
    ['JWE-shaped (five parts)', async () => 'a.b.c.d.e', JwtErrorCode.Malformed, malformed],
    ['header not JSON', async () => `${Buffer.from('not json').toString('base64url')}.e30.sig`, JwtErrorCode.Malformed, malformed],
    ['header is a JSON array', async () => rawToken([1], {}, 'x'), JwtErrorCode.Malformed, malformed],
    [
      'space inside the token',
      async () => `${(await mint(rs)).slice(0, 10)} ${(await mint(rs)).slice(10)}`,
      JwtErrorCode.Malformed,
      malformed,
    ],
    ['non-ASCII character', async () => `${await mint(rs)}é`, JwtErrorCode.Malformed, malformed],
    ['control character', async () => `${await mint(rs)}\u0001`, JwtErrorCode.Malformed, malformed],
    ['base64 padding', async () => `${await mint(rs)}==`, JwtErrorCode.Malformed, malformed],
    ['kid is not a string', async () => rawToken({ alg: 'RS256', kid: 42 }, { iss: ISS }, 'x'), JwtErrorCode.Malformed, malformed],
    [
      'jku/x5u header pointing elsewhere is ignored (kid decides)',
      () => mint(rs, {}, { kid: 'attacker', jku: 'https://evil.example/jwks' }),
      JwtErrorCode.UnknownKid,
      'authentication failure: token uses the unknown key "attacker"',
    ],
  ];
  it.each(attacks)('%s', async (_name, token, code, expected) => {
    expect(verifier.verify(await token(), NOW)).toMatchObject({ ok: false, status: 401, code, body: expected });
  });

  it(`a token over ${MAX_TOKEN_BYTES} bytes is refused before parsing`, async () => {
    const huge = await mint(rs, { pad: 'x'.repeat(MAX_TOKEN_BYTES) });
    expect(verifier.verify(huge, NOW)).toMatchObject({ ok: false, status: 401, code: JwtErrorCode.TooLarge });
  });
});

describe('JWT verifier: key sets', () => {
  it("a kid held by several providers: the one whose issuer is the token's iss decides (upstream takes the first holder, #3609)", async () => {
    const v = await compileJwtVerifier(
      policy([
        { id: 'a', issuer: 'https://a', keys: [rs.jwk] as never },
        { id: 'b', issuer: ISS, keys: [rs.jwk] as never },
      ]),
    );
    expect(v.verify(await mint(rs), NOW)).toMatchObject({ ok: true, providerId: 'b' });
  });

  it("two IdPs publishing the same kid with different keys: each token checks against its own issuer's key, never the other's", async () => {
    const [a, b] = await Promise.all([generateSigningKey('RS256', 'shared'), generateSigningKey('RS256', 'shared')]);
    const v = await compileJwtVerifier(
      policy([
        { id: 'a', issuer: 'https://a', keys: [a.jwk] as never },
        { id: 'b', issuer: 'https://b', keys: [b.jwk] as never },
      ]),
    );
    const token = (key: SigningKey, iss: string) => mintToken(key, { nowSec: NOW, claims: { iss, sub: 's' } });
    expect(v.verify(await token(a, 'https://a'), NOW)).toMatchObject({ ok: true, providerId: 'a' });
    expect(v.verify(await token(b, 'https://b'), NOW)).toMatchObject({ ok: true, providerId: 'b' });
    // Claiming b's issuer with a's key: b's key is chosen, the signature fails.
    expect(v.verify(await token(a, 'https://b'), NOW)).toMatchObject({ ok: false, code: JwtErrorCode.InvalidSignature });
    // An issuer neither has: the first holder decides, and its issuer check refuses it.
    expect(v.verify(await token(a, 'https://c'), NOW)).toMatchObject({ ok: false, code: JwtErrorCode.InvalidIssuer });
  });

  it('a key without kid drops its whole provider (as upstream), the others stay', async () => {
    const { kid: _k, ...nokid } = es.jwk;
    const v = await compileJwtVerifier(
      policy([
        { id: 'bad', issuer: ISS, keys: [nokid, rs.jwk] as never },
        { id: 'good', issuer: ISS, keys: [ed.jwk] as never },
      ]),
    );
    expect(v.warnings).toEqual(['provider bad (issuer "https://agentgateway.dev") dropped: the key is missing the `kid` attribute']);
    expect(v.verify(await mint(rs), NOW)).toMatchObject({ ok: false, code: JwtErrorCode.UnknownKid });
    expect(v.verify(await mint(ed), NOW).ok).toBe(true);
  });

  it('an oct (HMAC) key drops its provider: HS tokens can never validate', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'hs', issuer: ISS, keys: [{ kty: 'oct', kid: 'k', k: 'c2VjcmV0' }] }]));
    expect(v.warnings[0]).toContain('unsupported key type oct');
    expect(v.keyCounts.size).toBe(0);
  });

  it("an RSA key below 2048 bits drops its provider (jose's rule)", async () => {
    const { publicKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('rsa', { modulusLength: 1024 }));
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'small', alg: 'RS256' };
    const v = await compileJwtVerifier(policy([{ id: 'small', issuer: ISS, keys: [jwk] as never }]));
    expect(v.warnings[0]).toContain('RSA key of 1024 bits is below 2048');
  });

  it('an ECDSA signature of the wrong length is an invalid signature, not a crash', async () => {
    const [h, p] = (await mint(es)).split('.');
    expect(verifier.verify(`${h}.${p}.${Buffer.alloc(10).toString('base64url')}`, NOW)).toMatchObject({
      ok: false,
      code: JwtErrorCode.InvalidSignature,
    });
  });

  it('encryption keys (use: enc) verify nothing', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [{ ...rs.jwk, use: 'enc' }] as never }]));
    expect(v.verify(await mint(rs), NOW)).toMatchObject({ ok: false, code: JwtErrorCode.UnknownKid });
  });

  it('zero providers: a token gets "unknown key" (fail closed, as upstream)', async () => {
    const v = await compileJwtVerifier(policy([]));
    expect(v.verify(await mint(rs), NOW)).toMatchObject({
      ok: false,
      code: JwtErrorCode.UnknownKid,
      body: 'authentication failure: token uses the unknown key "rs"',
    });
  });

  it('unknown kid from an issuer with a remote source carries a refetch hint', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'r', issuer: ISS, keys: [rs.jwk] as never, remoteUrl: 'http://idp/keys' }]));
    expect(v.verify(await mint(rs, {}, { kid: 'rotated' }), NOW)).toMatchObject({
      ok: false,
      refetch: { remoteUrl: 'http://idp/keys', kid: 'rotated' },
    });
    expect(v.verify(await mint(rs, { iss: 'https://other' }, { kid: 'rotated' }), NOW)).not.toHaveProperty('refetch');
  });
});

describe('verified-token cache', () => {
  it('a hit skips the signature check; the entry ends at exp + leeway', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [rs.jwk] as never }]));
    const t = await mint(rs, { exp: NOW + 10 });
    expect(v.verify(t, NOW).ok).toBe(true);
    expect(v.verify(t, NOW + 5).ok).toBe(true);
    expect([v.cache.hits, v.cache.misses]).toEqual([1, 1]);
    expect(v.verify(t, NOW + 71)).toMatchObject({ ok: false, code: JwtErrorCode.Expired });
  });

  it('failures are not cached', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [rs.jwk] as never }]));
    v.verify(await mint(rs, { iss: 'bad' }), NOW);
    expect(v.cache.size).toBe(0);
  });

  it('the same token again on the same connection is a hit without hashing; another connection hashes once, then is remembered too', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [rs.jwk] as never }]));
    const t = await mint(rs, { exp: NOW + 100 });
    const [a, b] = [{}, {}];
    const keyOf = vi.spyOn(VerifiedTokenCache, 'keyOf');
    try {
      const first = v.verify(t, NOW, a);
      expect(first.ok).toBe(true);
      expect(keyOf).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 3; i++) expect(v.verify(t, NOW, a)).toBe(first);
      expect(keyOf).toHaveBeenCalledTimes(1);
      expect(v.verify(t, NOW, b)).toBe(first);
      expect(v.verify(t, NOW, b)).toBe(first);
      expect(keyOf).toHaveBeenCalledTimes(2);
      expect([v.cache.hits, v.cache.misses]).toEqual([5, 1]);
    } finally {
      keyOf.mockRestore();
    }
  });

  it('a remembered token is still checked for expiry, and a different token on the connection is verified on its own', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [rs.jwk] as never }]));
    const conn = {};
    const t = await mint(rs, { exp: NOW + 10 });
    expect(v.verify(t, NOW, conn).ok).toBe(true);
    expect(v.verify(t, NOW + 71, conn)).toMatchObject({ ok: false, code: JwtErrorCode.Expired });
    // A forged token after a good one on the same connection: the signature check runs, and fails.
    const good = await mint(rs, { exp: NOW + 100 });
    expect(v.verify(good, NOW, conn).ok).toBe(true);
    const [h, p] = good.split('.');
    const forged = `${h}.${p}.${'A'.repeat(342)}`;
    expect(v.verify(forged, NOW, conn)).toMatchObject({ ok: false, code: JwtErrorCode.InvalidSignature });
    expect(v.verify(good.slice(0, -2) + 'AA', NOW, conn).ok).toBe(false);
    expect(v.verify(good, NOW, conn).ok).toBe(true);
  });

  it('a disabled cache (0 entries) remembers nothing: every request is verified', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [rs.jwk] as never }]), 0);
    const t = await mint(rs, { exp: NOW + 100 });
    const conn = {};
    expect(v.verify(t, NOW, conn).ok).toBe(true);
    expect(v.verify(t, NOW, conn).ok).toBe(true);
    expect(v.cache.hits).toBe(0);
  });

  it('each token is read with its own header: a header decoded for one token is reused only for the same header text', async () => {
    const v = await compileJwtVerifier(policy([{ id: 'p', issuer: ISS, keys: [rs.jwk] as never }]), 0);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const [a, b] = await Promise.all([mint(rs, { jti: 'a' }), mint(rs, { jti: 'b' })]);
    expect(a.split('.')[0]).toBe(b.split('.')[0]);
    expect(v.verify(a, NOW).ok).toBe(true);
    expect(v.verify(b, NOW).ok).toBe(true);
    const rest = b.slice(b.indexOf('.'));
    const cases: Array<[object | string, string]> = [
      [{ alg: 'none', kid: 'rs' }, JwtErrorCode.Malformed],
      [{ alg: 'ES256', kid: 'rs' }, JwtErrorCode.InvalidAlgorithm],
      [{ alg: 'RS256' }, JwtErrorCode.MissingKid],
      [{ alg: 'RS256', kid: 'nope' }, JwtErrorCode.UnknownKid],
      ['not-json', JwtErrorCode.Malformed],
    ];
    for (const [header, code] of cases) {
      const part = typeof header === 'string' ? Buffer.from(header).toString('base64url') : enc(header);
      expect(v.verify(`${part}${rest}`, NOW)).toMatchObject({ ok: false, code });
      expect(v.verify(b, NOW).ok).toBe(true); // and the good header again after it
    }
  });
});
