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
