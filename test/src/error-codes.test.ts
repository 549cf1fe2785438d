import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JwtErrorCode } from '../../proxy/src/auth/jwt-errors.js';
import { ProxyErrors } from '../../proxy/src/proxy-errors.js';
import { TARGET_ERROR_BODY, TargetErrorCode } from '../../proxy/src/routing/request-target.js';

const defined: string[] = [...Object.values(JwtErrorCode), ...Object.values(TargetErrorCode), ...Object.keys(ProxyErrors)];

/** DESIGN rule 4: every code is documented in docs/errors.md (and nothing undocumented is listed). */
describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  it('lists every error code the proxy defines', () => {
    expect(defined.filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });
  it('lists no code the proxy does not define', () => {
    const listed = [...doc.matchAll(/`(PROXY_ERR_[A-Z_]+)`/g)].map((m) => m[1] as string);
    expect(listed.filter((c) => !defined.includes(c))).toEqual([]);
  });
  it('gives each routing and upstream code the status, body and gRPC status the proxy sends', () => {
    for (const [code, e] of Object.entries(ProxyErrors)) expect(doc).toContain(`| \`${code}\` | ${e.status} | \`${e.body}\` | ${e.grpc} |`);
  });
  it('gives each request-target code the body the proxy sends', () => {
    for (const code of Object.values(TargetErrorCode)) expect(doc).toContain(`| \`${code}\` | \`${TARGET_ERROR_BODY[code]}\` |`);
  });
});
