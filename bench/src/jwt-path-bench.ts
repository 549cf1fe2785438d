#!/usr/bin/env node
/**
 * The JWT check in isolation (no HTTP): per algorithm, the cost of a verified-token cache hit
 * (authenticate() on the same token), of a miss (a new token each call: what the whole path adds
 * to the signature check), of a signature check through node:crypto.verify (the proxy's path, ADR
 * 0002) and through jose (compactVerify, WebCrypto).
 *   node bench/dist/jwt-path-bench.js
 */
import { generateSigningKey, jwks, mintToken } from '@agw/test-kit';
import { compactVerify } from 'jose';
import { createPublicKey, verify } from 'node:crypto';
import { authenticate, compileJwtVerifier, rawHeaderSource } from '@agw/proxy';

function timeUs(n: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / n / 1000;
}
async function timeAsyncUs(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 300; i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - start) / n / 1000;
}

/** Distinct tokens cycled through a cache of MISS_CACHE entries: every authenticate() misses. */
const MISS_TOKENS = 4000;
const MISS_CACHE = 1000;

const rows: string[] = [
  '| alg | cache hit (authenticate) µs | cache miss (authenticate, a new token) µs | node:crypto.verify µs | miss − verify µs | jose compactVerify µs |',
  '|---|---|---|---|---|---|',
];
for (const alg of ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']) {
  const key = await generateSigningKey(alg, 'k');
  const token = await mintToken(key, { claims: { iss: 'bench' } });
  const v = await compileJwtVerifier({
    policy: 'b',
    mode: 'Strict',
    location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
    providers: [{ id: 'b', issuer: 'bench', keys: jwks(key).keys as never }],
  });
  const raw = ['Host', 'x', 'Authorization', `Bearer ${token}`, 'Accept', '*/*'];
  const now = Math.floor(Date.now() / 1000);
  const hit = timeUs(100_000, () => authenticate(v, rawHeaderSource(raw, '/'), now));
  const publicKey = createPublicKey({ key: key.jwk as never, format: 'jwk' });
  const [h, p, s] = token.split('.') as [string, string, string];
  const data = Buffer.from(`${h}.${p}`),
    sig = Buffer.from(s, 'base64url');
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const opts = alg.startsWith('ES')
    ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
    : alg.startsWith('PS')
      ? { key: publicKey, padding: 6, saltLength: -1 }
      : publicKey;
  const viaNode = timeUs(3000, () => verify(hash, data, opts, sig));
  const viaJose = await timeAsyncUs(3000, () => compactVerify(token, publicKey));
  // The miss path whole: extraction, hash, lookup, decode, claims, the signature, insert and eviction.
  const small = await compileJwtVerifier(
    {
      policy: 'm',
      mode: 'Strict',
      location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
      providers: [{ id: 'b', issuer: 'bench', keys: jwks(key).keys as never }],
    },
    MISS_CACHE,
  );
  const sources = await Promise.all(
    Array.from({ length: MISS_TOKENS }, async (_, i) =>
      rawHeaderSource(
        ['Host', 'x', 'Authorization', `Bearer ${await mintToken(key, { claims: { iss: 'bench', sub: `user-${i}` } })}`, 'Accept', '*/*'],
        '/',
      ),
    ),
  );
  let i = 0;
  const miss = timeUs(3000, () => authenticate(small, sources[i++ % MISS_TOKENS] as never, now));
  rows.push(
    `| ${alg} | ${hit.toFixed(2)} | ${miss.toFixed(1)} | ${viaNode.toFixed(1)} | ${(miss - viaNode).toFixed(1)} | ${viaJose.toFixed(1)} |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);
