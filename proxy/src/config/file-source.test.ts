import { PROXY_CONFIG_SCHEMA_VERSION } from '@agw/api';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from './file-source.js';
import { ConfigStore } from './store.js';

const config = (version: string) => ({
  schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
  version,
  gateway: { namespace: 'd', name: 'gw' },
  listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }],
  routes: [],
  policies: { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} },
});
const file = (name: string, text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'agw-file-source-')), name);
  writeFileSync(path, text);
  return path;
};

describe('loadConfigFile', () => {
  it('reads JSON', async () => {
    const store = new ConfigStore();
    expect(await loadConfigFile(store, file('c.json', JSON.stringify(config('json'))))).toBeUndefined();
    expect(store.current?.config.version).toBe('json');
  });

  it('reads YAML (not JSON)', async () => {
    const yaml = `schemaVersion: ${PROXY_CONFIG_SCHEMA_VERSION}
version: yaml
gateway: { namespace: d, name: gw }
listeners:
  - { name: http, port: 8080, protocol: HTTP }
routes: []
policies: { jwt: {}, authorization: {}, transformation: {}, backendAuth: {}, backendTls: {} }
`;
    const store = new ConfigStore();
    expect(await loadConfigFile(store, file('c.yaml', yaml))).toBeUndefined();
    expect(store.current?.config.version).toBe('yaml');
  });

  it('refuses a YAML alias bomb and text that is neither; the last good config keeps serving', async () => {
    const store = new ConfigStore();
    await loadConfigFile(store, file('c.json', JSON.stringify(config('good'))));
    // Each of 12 levels refers to the one above 10 times: 10^13 nodes if every alias were expanded.
    const levels = 'abcdefghijklm';
    const bomb = [`a: &a [${Array(10).fill('x').join(', ')}]`]
      .concat([...levels.slice(1)].map((l, i) => `${l}: &${l} [${Array(10).fill(`*${levels[i]}`).join(', ')}]`))
      .join('\n');
    expect(await loadConfigFile(store, file('bomb.yaml', bomb))).toMatch(/^cannot read .*bomb\.yaml: .*alias/i);
    expect(await loadConfigFile(store, file('bad.json', '{"version": '))).toMatch(/^cannot read .*bad\.json: /);
    expect(store.current?.config.version).toBe('good');
  });
});
