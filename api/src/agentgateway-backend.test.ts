import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AgentgatewayBackend } from './agentgateway-backend.js';
import { agentgatewayBackendCrd } from './crd.js';

const load = <T>(file: string): T[] => parse(readFileSync(new URL(`../testdata/${file}`, import.meta.url), 'utf8')) as T[];
const valid = load<{ name: string; backend: unknown }>('backends-valid.yaml');
const invalid = load<{ name: string; err: string; spec: unknown }>('backends-invalid.yaml');
const wrap = (spec: unknown) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayBackend',
  metadata: { name: 'b', namespace: 'default' },
  spec,
});

describe('AgentgatewayBackend schema', () => {
  it.each(valid.map((v) => [v.name, v.backend]))('accepts %s', (_name, backend) => {
    const r = AgentgatewayBackend.safeParse(backend);
    expect(r.error?.issues ?? []).toEqual([]);
  });

  it.each(invalid.map((v) => [v.name, v.err, v.spec]))('rejects %s with upstream message', (_name, err, spec) => {
    const r = AgentgatewayBackend.safeParse(wrap(spec));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toContain(err);
  });

  it.each([
    ['ai', { ai: { provider: { openai: {} } } }, ['spec'], 'ai'],
    ['mcp', { mcp: { targets: [] } }, ['spec'], 'mcp'],
    ['a2a', { a2a: { host: 'a', port: 1 } }, ['spec'], 'a2a'],
    ['aws', { aws: { agentCore: { agentRuntimeArn: 'arn' } } }, ['spec'], 'aws'],
    ['dynamicForwardProxy', { dynamicForwardProxy: {} }, ['spec'], 'dynamicForwardProxy'],
    ['static.unixPath', { static: { unixPath: '/run/s.sock' } }, ['spec', 'static'], 'unixPath'],
    ['policies.auth', { static: { host: 'h', port: 1 }, policies: { auth: { passthrough: {} } } }, ['spec', 'policies'], 'auth'],
    [
      'policies.tls.alpnProtocols',
      { static: { host: 'h', port: 1 }, policies: { tls: { alpnProtocols: ['h2'] } } },
      ['spec', 'policies', 'tls'],
      'alpnProtocols',
    ],
  ])('refuses upstream field %s as unknown (not implemented), not silently ignored', (_name, spec, path, key) => {
    const r = AgentgatewayBackend.safeParse(wrap(spec));
    expect(r.success).toBe(false);
    expect(r.error?.issues).toContainEqual(expect.objectContaining({ code: 'unrecognized_keys', keys: [key], path }));
  });

  it.each([
    ['host too long', { host: 'a'.repeat(257), port: 1 }, ['spec', 'static', 'host']],
    ['host empty', { host: '', port: 1 }, ['spec', 'static', 'host']],
    ['port 0', { host: 'h', port: 0 }, ['spec', 'static', 'port']],
    ['port 65536', { host: 'h', port: 65536 }, ['spec', 'static', 'port']],
  ])('bounds of static: %s', (_name, s, path) => {
    const r = AgentgatewayBackend.safeParse(wrap({ static: s }));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(path);
  });

  it('the CRD: upstream names (agbe, category agentgateway), the Accepted column, CEL rules with their messages', () => {
    const crd = agentgatewayBackendCrd() as {
      metadata: { name: string };
      spec: {
        names: { kind: string; shortNames: string[]; categories: string[] };
        versions: Array<{
          subresources: unknown;
          additionalPrinterColumns: Array<{ name: string; jsonPath: string }>;
          schema: { openAPIV3Schema: { properties: { spec: { 'x-kubernetes-validations': unknown } } } };
        }>;
      };
    };
    expect(crd.metadata.name).toBe('agentgatewaybackends.agentgateway.dev');
    expect(crd.spec.names).toMatchObject({ kind: 'AgentgatewayBackend', shortNames: ['agbe'], categories: ['agentgateway'] });
    const v = crd.spec.versions[0];
    expect(v?.subresources).toEqual({ status: {} });
    expect(v?.additionalPrinterColumns[0]).toEqual({
      name: 'Accepted',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Accepted')].status",
    });
    expect(v?.schema.openAPIV3Schema.properties.spec['x-kubernetes-validations']).toEqual([
      {
        rule: '[has(self.static)].filter(x,x).size() == 1',
        message: 'exactly one of the fields in [ai static dynamicForwardProxy mcp aws a2a] must be set',
      },
    ]);
  });
});
