import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AgentgatewayPolicy } from './agentgateway-policy.js';

const load = <T>(file: string): T[] => parse(readFileSync(new URL(`../testdata/${file}`, import.meta.url), 'utf8')) as T[];
const valid = load<{ name: string; policy: unknown }>('policies-valid.yaml');
const invalid = load<{ name: string; err: string; spec: unknown }>('policies-invalid.yaml');
const wrap = (spec: unknown) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name: 'p', namespace: 'default' },
  spec,
});

describe('AgentgatewayPolicy schema', () => {
  it.each(valid.map((v) => [v.name, v.policy]))('accepts %s', (_name, policy) => {
    const r = AgentgatewayPolicy.safeParse(policy);
    expect(r.error?.issues ?? []).toEqual([]);
  });

  it.each(invalid.map((v) => [v.name, v.err, v.spec]))('rejects %s with upstream message', (_name, err, spec) => {
    const r = AgentgatewayPolicy.safeParse(wrap(spec));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toContain(err);
  });

  it('backend.tls: at most one CA reference, an RFC 1123 SNI, and no mTLS / ALPN fields (not implemented: unknown)', () => {
    const tls = (t: unknown) =>
      AgentgatewayPolicy.safeParse(wrap({ targetRefs: [{ group: '', kind: 'Service', name: 'idp' }], backend: { tls: t } }));
    expect(tls({ caCertificateRefs: [{ name: 'a' }] }).success).toBe(true);
    expect(tls({ caCertificateRefs: [{ name: 'a' }, { name: 'b' }] }).success).toBe(false);
    expect(tls({ sni: 'Keycloak_Example' }).success).toBe(false);
    expect(tls({ mtlsCertificateRef: [{ name: 'client' }] }).error?.issues[0]?.code).toBe('unrecognized_keys');
    expect(tls({ alpnProtocols: ['h2'] }).error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('defaults mode to Strict and cacheDuration to 5m', () => {
    const p = AgentgatewayPolicy.parse(
      wrap({
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
        traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { remote: { url: 'http://idp/keys' } } }] } },
      }),
    );
    expect(p.spec.traffic?.jwtAuthentication?.mode).toBe('Strict');
    expect(p.spec.traffic?.jwtAuthentication?.providers[0]?.jwks.remote?.cacheDuration).toBe('5m');
  });

  it('rejects a targetRef without group', () => {
    const r = AgentgatewayPolicy.safeParse(
      wrap({
        targetRefs: [{ kind: 'Gateway', name: 'gw' }],
        traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{"keys":[]}' } }] } },
      }),
    );
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['spec', 'targetRefs', 0, 'group']);
  });

  it('rejects fields of upstream that are not implemented, instead of ignoring them', () => {
    const r = AgentgatewayPolicy.safeParse(
      wrap({
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
        traffic: { rateLimit: {}, jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{"keys":[]}' } }] } },
      }),
    );
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['rateLimit'], path: ['spec', 'traffic'] });
  });
});
