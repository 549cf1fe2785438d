import { describe, expect, it } from 'vitest';
import { USAGE, readSettings } from './settings.js';

describe('settings: --allow-plaintext-key-push', () => {
  it.each([
    [[], {}, false],
    [['--allow-plaintext-key-push'], {}, true],
    [[], { AGW_ALLOW_PLAINTEXT_KEY_PUSH: 'true' }, true],
    [[], { AGW_ALLOW_PLAINTEXT_KEY_PUSH: '1' }, false],
  ])('%j %j → %s', (argv, env, expected) => {
    expect(readSettings(argv, env).allowPlaintextKeyPush).toBe(expected);
  });
  it('is in --help, marked development only', () => {
    expect(USAGE).toMatch(/--allow-plaintext-key-push +development only/);
  });
});

describe('settings: --proxy-controller-ca-file', () => {
  it.each([
    [[], {}, undefined],
    [['--proxy-controller-ca-file=/etc/x/ca.crt'], {}, '/etc/x/ca.crt'],
    [[], { AGW_PROXY_CONTROLLER_CA_FILE: '/etc/agentgateway/xds-tls/ca.crt' }, '/etc/agentgateway/xds-tls/ca.crt'],
    [['--proxy-controller-ca-file=/flag.crt'], { AGW_PROXY_CONTROLLER_CA_FILE: '/env.crt' }, '/flag.crt'],
  ])('%j %j → %s', (argv, env, expected) => {
    expect(readSettings(argv, env).proxyControllerCaFile).toBe(expected);
  });
  it('is in --help', () => {
    expect(USAGE).toContain('--proxy-controller-ca-file <pem>');
  });
});

describe('settings: numeric flags are whole numbers in range, or refused at start', () => {
  it('defaults, and values from flags and env', () => {
    expect(readSettings([], {})).toMatchObject({ xdsPort: 9978, adminPort: 9092, jwksRefetchMinIntervalMs: 30_000 });
    expect(readSettings([], { AGW_PROXY_RESOURCES: 'null' }).proxyResources).toEqual({});
    expect(readSettings([], { AGW_PROXY_RESOURCES: '{"limits":{"memory":"256Mi"}}' }).proxyResources).toEqual({
      limits: { memory: '256Mi' },
    });
    expect(readSettings(['--xds-port=19978', '--admin-port', '0'], { AGW_JWKS_REFETCH_MIN_INTERVAL_MS: '5000' })).toMatchObject({
      xdsPort: 19978,
      adminPort: 0,
      jwksRefetchMinIntervalMs: 5000,
    });
  });
  it.each([
    [['--xds-port=99999'], {}, /^--xds-port takes a whole number \(a port number\) from 0 to 65535, not "99999"$/],
    [['--admin-port=abc'], {}, /^--admin-port takes a whole number/],
    [[], { AGW_JWKS_REFETCH_MIN_INTERVAL_MS: '-5' }, /^--jwks-refetch-min-interval-ms takes a whole number \(ms\)/],
    [[], { AGW_PROXY_RESOURCES: '{limits:' }, /^AGW_PROXY_RESOURCES is not JSON: /],
    [[], { AGW_PROXY_RESOURCES: '[1]' }, /^AGW_PROXY_RESOURCES must be a JSON object/],
  ])('%j %j is refused', (argv, env, message) => {
    expect(() => readSettings(argv, env)).toThrow(message);
  });
});
