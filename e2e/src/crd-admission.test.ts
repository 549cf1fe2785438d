import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it, beforeAll } from 'vitest';
import { parse, stringify } from 'yaml';
import { kubectl } from '@agw/test-kit';

/**
 * The generated CRD in a real kube-apiserver, through the real kubectl: what users see at
 * `kubectl apply` (CEL messages of upstream, unknown-field errors, defaults, explain, columns).
 */
const kc = () => inject('kubeconfig');
const fixtures = (f: string) => parse(readFileSync(resolve(process.cwd(), 'api/testdata', f), 'utf8')) as Array<Record<string, unknown>>;
const NS = 'admission';

const apply = (obj: unknown) => kubectl(kc(), ['apply', '-f', '-'], stringify(obj));
const withNs = (policy: Record<string, unknown>, name?: string) => ({
  ...policy,
  metadata: { ...(policy['metadata'] as object), namespace: NS, ...(name ? { name } : {}) },
});
const wrap = (name: string, spec: unknown) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS },
  spec,
});

describe('AgentgatewayPolicy CRD in a real API server', () => {
  beforeAll(async () => {
    const r = await kubectl(kc(), ['create', 'namespace', NS]);
    expect(r.code, r.stderr).toBe(0);
  });

  it.each(fixtures('policies-valid.yaml').map((v) => [v['name'] as string, v['policy']]))('accepts %s', async (name, policy) => {
    const r = await apply(withNs(policy as Record<string, unknown>, name));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(fixtures('policies-invalid.yaml').map((v) => [v['name'] as string, v['err'] as string, v['spec']]))(
    'rejects %s with the upstream message',
    async (name, err, spec) => {
      const r = await apply(wrap(name, spec));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(err);
    },
  );

  it('defaults mode to Strict and cacheDuration to 5m', async () => {
    const p = wrap('defaults', {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
      traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { remote: { url: 'http://idp/keys' } } }] } },
    });
    expect((await apply(p)).code).toBe(0);
    const got = JSON.parse((await kubectl(kc(), ['get', 'agpol', 'defaults', '-n', NS, '-o', 'json'])).stdout) as {
      spec: { traffic: { jwtAuthentication: { mode: string; providers: Array<{ jwks: { remote: { cacheDuration: string } } }> } } };
    };
    expect(got.spec.traffic.jwtAuthentication.mode).toBe('Strict');
    expect(got.spec.traffic.jwtAuthentication.providers[0]?.jwks.remote.cacheDuration).toBe('5m');
  });

  it('rejects a field of upstream this project does not implement (strict field validation)', async () => {
    const r = await apply(
      wrap('ratelimit', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
        traffic: { rateLimit: {}, jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{"keys":[]}' } }] } },
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown field "spec.traffic.rateLimit"');
  });

  it('rejects a targetRef without group', async () => {
    const r = await apply(
      wrap('nogroup', {
        targetRefs: [{ kind: 'Gateway', name: 'gw' }],
        traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{"keys":[]}' } }] } },
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.targetRefs[0].group: Required value');
  });

  it('kubectl explain shows the field descriptions', async () => {
    const r = await kubectl(kc(), ['explain', 'agentgatewaypolicy.spec.traffic.jwtAuthentication']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Validate JSON Web Tokens on requests');
    expect(r.stdout).toMatch(/providers\s+<\[\]Object> -required-/);
    const mode = await kubectl(kc(), ['explain', 'agpol.spec.traffic.jwtAuthentication.mode']);
    expect(mode.stdout).toContain('Strict (default): a valid token is required');
  });

  it('kubectl get agpol shows the Accepted and Attached columns; the short name and category work', async () => {
    const r = await kubectl(kc(), ['get', 'agentgateway', '-n', NS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+ACCEPTED\s+ATTACHED\s+AGE/);
  });
});
