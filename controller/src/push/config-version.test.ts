import { PROXY_CONFIG_SCHEMA_VERSION, type ProxyConfig } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { configJson, forgetConfigJson, withVersion } from './config-version.js';

const config: Omit<ProxyConfig, 'version'> = {
  schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
  gateway: { namespace: 'd', name: 'gw' },
  listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }],
  routes: [
    {
      id: 'd/r/0/0',
      listeners: ['http'],
      hostnames: ['é.example.com'],
      order: 0,
      match: { path: { type: 'PathPrefix', value: '/\u2028"\\' }, headers: [], queryParams: [] },
      backends: [],
    },
  ],
  policies: { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} },
};

/** The snapshot is encoded from the JSON the version was hashed from: it must be JSON.stringify's, byte for byte. */
describe('configJson', () => {
  it('is JSON.stringify of the versioned config, from the hashed JSON and anew', () => {
    const v = withVersion(config);
    const want = JSON.stringify(v);
    expect(configJson(v)).toBe(want);
    expect(configJson(v)).toBe(want); // taken once: stringified anew
    const w = withVersion({ ...config, routes: [] });
    forgetConfigJson(w);
    expect(configJson(w)).toBe(JSON.stringify(w));
  });

  it('does not reuse the JSON of a config that carried a version', () => {
    const v = withVersion({ ...config, version: 'old' } as ProxyConfig);
    expect(configJson(v)).toBe(JSON.stringify(v));
  });
});
