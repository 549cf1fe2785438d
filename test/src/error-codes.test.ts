import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JwtErrorCode } from '../../proxy/src/auth/jwt-errors.js';

/** DESIGN rule 4: every code is documented in docs/errors.md (and nothing undocumented is listed). */
describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  it('lists every JWT error code the proxy defines', () => {
    const missing = Object.values(JwtErrorCode).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
  it('lists no code the proxy does not define', () => {
    const listed = [...doc.matchAll(/`(PROXY_ERR_[A-Z_]+)`/g)].map((m) => m[1]);
    expect(listed.filter((c) => !(Object.values(JwtErrorCode) as string[]).includes(c as string))).toEqual([]);
  });
});
