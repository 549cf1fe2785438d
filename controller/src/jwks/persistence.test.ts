import { describe, expect, it } from 'vitest';
import { JWKS_STORE_LABEL, configMapName } from './persistence.js';

/**
 * The pure part of JWKS persistence: the names and label of the ConfigMaps. Reading and writing
 * them (load, sync: corrupt entries skipped, orphans deleted, no write for unchanged keys) needs
 * the API server and is covered by e2e/src/jwks-persistence.test.ts (no API mocks, DESIGN §7).
 */
describe('JWKS persistence: ConfigMap names', () => {
  it.each([
    ['https://idp-a.example/jwks', 'jwks-store-afea8ff511e38ec1ef785dc240559202d3b5c09f'],
    ['http://localhost:8081/realms/master/protocol/openid-connect/certs', 'jwks-store-e87f471fcb31e108831a3015d6334c34fb9e64dc'],
  ])('%s is stored in ConfigMap %s (stable across releases: a restarted controller finds it)', (url, name) => {
    expect(configMapName(url)).toBe(name);
  });

  it('one ConfigMap per URL: URLs that differ only in case, query or trailing slash get different names', () => {
    const urls = ['https://idp.example/jwks', 'https://idp.example/JWKS', 'https://idp.example/jwks?x=1', 'https://idp.example/jwks/'];
    expect(new Set(urls.map(configMapName)).size).toBe(urls.length);
  });

  it('every name is a valid ConfigMap name (DNS-1123 subdomain) of bounded length, whatever the URL', () => {
    for (const url of ['https://a', `https://idp.example/${'x'.repeat(5000)}`, 'https://IDP.example/Ünïcode?q=a b#frag', '']) {
      const name = configMapName(url);
      expect(name).toMatch(/^jwks-store-[0-9a-f]{40}$/);
      expect(name.length).toBeLessThanOrEqual(63);
    }
  });

  it("the label selects what load() reads (app.kubernetes.io/component=jwks-store, upstream's)", () => {
    expect(JWKS_STORE_LABEL).toBe('app.kubernetes.io/component=jwks-store');
  });
});
