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

describe('AgentgatewayBackend CRD in a real API server', () => {
  const BNS = 'admission-backends';
  const wrapBackend = (name: string, spec: unknown) => ({
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayBackend',
    metadata: { name, namespace: BNS },
    spec,
  });

  beforeAll(async () => {
    const r = await kubectl(kc(), ['create', 'namespace', BNS]);
    expect(r.code, r.stderr).toBe(0);
  });

  it.each(fixtures('backends-valid.yaml').map((v) => [v['name'] as string, v['backend']]))('accepts %s', async (_name, backend) => {
    const b = backend as Record<string, unknown>;
    const r = await apply({ ...b, metadata: { ...(b['metadata'] as object), namespace: BNS } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(fixtures('backends-invalid.yaml').map((v) => [v['name'] as string, v['err'] as string, v['spec']]))(
    'rejects %s with the upstream message',
    async (name, err, spec) => {
      const r = await apply(wrapBackend(name, spec));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(err);
    },
  );

  it.each([
    ['ai', { ai: { provider: { openai: {} } } }, 'unknown field "spec.ai"'],
    ['mcp', { static: { host: 'h', port: 1 }, mcp: { targets: [] } }, 'unknown field "spec.mcp"'],
    ['dynamic', { dynamicForwardProxy: {} }, 'unknown field "spec.dynamicForwardProxy"'],
    ['unixpath', { static: { unixPath: '/run/s.sock' } }, 'unknown field "spec.static.unixPath"'],
    ['auth', { static: { host: 'h', port: 1 }, policies: { auth: { passthrough: {} } } }, 'unknown field "spec.policies.auth"'],
  ])('rejects upstream field %s this project does not implement (strict field validation)', async (name, spec, err) => {
    const r = await apply(wrapBackend(`unknown-${name}`, spec));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(err);
  });

  it('enforces the bounds of static.host and static.port', async () => {
    const port = await apply(wrapBackend('port-zero', { static: { host: 'h', port: 0 } }));
    expect(port.code).not.toBe(0);
    expect(port.stderr).toContain('spec.static.port: Invalid value: 0: spec.static.port in body should be greater than or equal to 1');
    const host = await apply(wrapBackend('host-long', { static: { host: 'a'.repeat(257), port: 1 } }));
    expect(host.code).not.toBe(0);
    expect(host.stderr).toContain('spec.static.host: Too long: may not be');
  });

  it('kubectl explain and kubectl get agbe (short name, Accepted column) work', async () => {
    const e = await kubectl(kc(), ['explain', 'agentgatewaybackend.spec.static']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toContain('A backend at a fixed host and port (TCP)');
    const g = await kubectl(kc(), ['get', 'agbe', '-n', BNS]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout.split('\n')[0]).toMatch(/^NAME\s+ACCEPTED\s+AGE/);
    expect(g.stdout).toContain('okta-jwks');
  });
});
