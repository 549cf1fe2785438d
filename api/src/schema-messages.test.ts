import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentgatewayPolicy } from './agentgateway-policy.js';
import { Gateway, HttpRoute } from './gateway-api.js';
import { apiServerIssue, apiServerPath, apiServerProblems, goQuote, toApiServerIssues } from './schema-messages.js';

// Expected lines are kube-apiserver v1.34.4's answers to `kubectl create --dry-run=server` of the
// same objects (e2e/src/validate-vs-apiserver.test.ts keeps them honest against the real server).

const targetRefs = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }];
const authz = { authorization: { policy: { matchExpressions: ['true'] } } };
const policy = (spec: unknown) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name: 'p', namespace: 'default' },
  spec,
});
const provider = (p: Record<string, unknown>) => ({
  targetRefs,
  traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{}' }, ...p }] } },
});
const backendRef = (port: unknown) => provider({ jwks: { remote: { backendRef: { name: 'kc', port }, jwksPath: '/k' } } });
const n = <T>(count: number, f: (i: number) => T): T[] => Array.from({ length: count }, (_, i) => f(i));

/** `<field>: <message>` lines for one field, as kubectl prints them. */
function linesAt(schema: z.ZodType, obj: unknown, field: string): string[] {
  return (apiServerProblems(schema, obj) ?? [])
    .map((i) => `${apiServerPath(i.path)}: ${i.message}`)
    .filter((l) => l.startsWith(`${field}: `));
}

describe('zod issues in kube-apiserver words (AgentgatewayPolicy)', () => {
  const P = 'spec.traffic.jwtAuthentication.providers[0]';
  it.each([
    [
      'minItems',
      { targetRefs, traffic: { authorization: { policy: { matchExpressions: [] } } } },
      'spec.traffic.authorization.policy.matchExpressions: Invalid value: 0: spec.traffic.authorization.policy.matchExpressions in body should have at least 1 items',
    ],
    [
      'maxItems',
      { targetRefs, traffic: { transformation: { request: { remove: n(17, (i) => `h${i}`) } } } },
      'spec.traffic.transformation.request.remove: Too many: 17: must have at most 16 items',
    ],
    [
      'enum',
      { targetRefs, traffic: { authorization: { action: 'Maybe', policy: { matchExpressions: ['true'] } } } },
      'spec.traffic.authorization.action: Unsupported value: "Maybe": supported values: "Allow", "Deny", "Require"',
    ],
    [
      'minLength',
      { targetRefs: [{ ...targetRefs[0], name: '' }], traffic: authz },
      'spec.targetRefs[0].name: Invalid value: "": spec.targetRefs[0].name in body should be at least 1 chars long',
    ],
    [
      'maxLength',
      { targetRefs: [{ ...targetRefs[0], name: 'a'.repeat(300) }], traffic: authz },
      'spec.targetRefs[0].name: Too long: may not be more than 253 bytes',
    ],
    [
      'pattern',
      provider({ jwks: { remote: { url: 'ftp://x/k' } } }),
      `${P}.jwks.remote.url: Invalid value: "ftp://x/k": ${P}.jwks.remote.url in body should match '^https?:\\/\\/[^/?#@]+(\\/[^?#]*)?$'`,
    ],
    ['required', provider({ issuer: undefined }), `${P}.issuer: Required value`],
    ['null in a required field', provider({ issuer: null }), `${P}.issuer: Required value`],
    [
      'integer for a string',
      provider({ issuer: 5 }),
      `${P}.issuer: Invalid value: "integer": ${P}.issuer in body must be of type string: "integer"`,
    ],
    [
      'boolean for a string',
      provider({ issuer: true }),
      `${P}.issuer: Invalid value: "boolean": ${P}.issuer in body must be of type string: "boolean"`,
    ],
    [
      'array for a string',
      provider({ issuer: ['a'] }),
      `${P}.issuer: Invalid value: "array": ${P}.issuer in body must be of type string: "array"`,
    ],
    [
      'string for an object',
      { targetRefs, traffic: 'x' },
      'spec.traffic: Invalid value: "string": spec.traffic in body must be of type object: "string"',
    ],
    [
      'object for an array',
      { targetRefs: {}, traffic: authz },
      'spec.targetRefs: Invalid value: "object": spec.targetRefs in body must be of type array: "object"',
    ],
    [
      'string for an integer',
      backendRef('80'),
      `${P}.jwks.remote.backendRef.port: Invalid value: "string": ${P}.jwks.remote.backendRef.port in body must be of type integer: "string"`,
    ],
    [
      'fraction for an integer',
      backendRef(1.5),
      `${P}.jwks.remote.backendRef.port: Invalid value: "number": ${P}.jwks.remote.backendRef.port in body must be of type integer: "number"`,
    ],
    [
      'minimum',
      backendRef(0),
      `${P}.jwks.remote.backendRef.port: Invalid value: 0: ${P}.jwks.remote.backendRef.port in body should be greater than or equal to 1`,
    ],
    [
      'maximum',
      backendRef(70000),
      `${P}.jwks.remote.backendRef.port: Invalid value: 70000: ${P}.jwks.remote.backendRef.port in body should be less than or equal to 65535`,
    ],
    [
      'minProperties',
      { targetRefs, traffic: { transformation: { request: { metadata: {} } } } },
      'spec.traffic.transformation.request.metadata: Invalid value: 0: spec.traffic.transformation.request.metadata in body should have at least 1 properties',
    ],
    [
      'maxProperties',
      { targetRefs, traffic: { transformation: { request: { metadata: Object.fromEntries(n(17, (i) => [`k${i}`, '1'])) } } } },
      'spec.traffic.transformation.request.metadata: Too many: 17: must have at most 16 items',
    ],
    [
      'list-type map duplicate (first repeated entry only)',
      {
        targetRefs,
        traffic: {
          transformation: {
            request: {
              set: [
                { name: 'a', value: '1' },
                { name: 'a', value: '2' },
                { name: 'a', value: '3' },
              ],
            },
          },
        },
      },
      'spec.traffic.transformation.request.set[1]: Duplicate value: {"name":"a"}',
    ],
    ['unknown field', provider({ foo: 1 }), `${P}: unknown field "${P}.foo"`],
  ])('%s', (_name, spec, line) => {
    const field = line.slice(0, line.indexOf(': '));
    expect(linesAt(AgentgatewayPolicy, policy(spec), field)).toEqual([line]);
  });

  it('a string breaking several checks gets the first the API server runs: maxLength, then minLength, then pattern', () => {
    const ref = (kind: string) => policy({ targetRefs: [{ ...targetRefs[0], kind }], traffic: authz });
    expect(linesAt(AgentgatewayPolicy, ref(''), 'spec.targetRefs[0].kind')).toEqual([
      'spec.targetRefs[0].kind: Invalid value: "": spec.targetRefs[0].kind in body should be at least 1 chars long',
    ]);
    expect(linesAt(AgentgatewayPolicy, ref('_'.repeat(70)), 'spec.targetRefs[0].kind')).toEqual([
      'spec.targetRefs[0].kind: Too long: may not be more than 63 bytes',
    ]);
    expect(linesAt(AgentgatewayPolicy, ref('G"a\\\tté'), 'spec.targetRefs[0].kind')).toEqual([
      `spec.targetRefs[0].kind: Invalid value: "G\\"a\\\\\\tté": spec.targetRefs[0].kind in body should match '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$'`,
    ]);
  });

  it('an enum value of the wrong type breaks both checks, as the API server reports', () => {
    const obj = policy({ targetRefs, traffic: { authorization: { action: 5, policy: { matchExpressions: ['true'] } } } });
    expect(linesAt(AgentgatewayPolicy, obj, 'spec.traffic.authorization.action')).toEqual([
      'spec.traffic.authorization.action: Invalid value: "integer": spec.traffic.authorization.action in body must be of type string: "integer"',
      'spec.traffic.authorization.action: Unsupported value: 5: supported values: "Allow", "Deny", "Require"',
    ]);
  });

  it('CEL rules keep upstream messages; metadata.name and spec are required as the API server says', () => {
    const cel = apiServerProblems(AgentgatewayPolicy, policy(backendRef(undefined)));
    expect(cel).toEqual([
      {
        path: ['spec', 'traffic', 'jwtAuthentication', 'providers', 0, 'jwks', 'remote', 'backendRef'],
        message: 'Must have port for Service reference',
      },
    ]);
    const { spec: _spec, ...noSpec } = policy({});
    expect(apiServerProblems(AgentgatewayPolicy, { ...noSpec, metadata: { name: '' } })).toEqual([
      { path: ['metadata', 'name'], message: 'Required value: name or generateName is required' },
      { path: ['spec'], message: 'Required value' },
    ]);
  });

  it('unmapped: apiVersion (kubectl answers for the document) and null in an optional field (the API server drops it)', () => {
    const wrongVersion = apiServerProblems(AgentgatewayPolicy, {
      ...policy({ targetRefs, traffic: authz }),
      apiVersion: 'agentgateway.dev/v1',
    });
    expect(wrongVersion).toEqual([{ path: ['apiVersion'], message: 'Invalid input: expected "agentgateway.dev/v1alpha1"' }]);
    const nullPhase = apiServerProblems(AgentgatewayPolicy, policy({ targetRefs, traffic: { ...authz, phase: null } }));
    expect(nullPhase?.map((i) => i.message)).toEqual(['Invalid option: expected one of "PreRouting"|"PostRouting"']);
  });

  it('a valid object has no problems', () => {
    expect(apiServerProblems(AgentgatewayPolicy, policy({ targetRefs, traffic: authz }))).toBeUndefined();
  });
});

describe('Gateway API objects', () => {
  const gw = (spec: unknown) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'g', namespace: 'default' },
    spec,
  });
  const route = (spec: unknown) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'default' },
    spec,
  });
  const listener = (l: Record<string, unknown>) => ({
    gatewayClassName: 'agw',
    listeners: [{ name: 'http', port: 80, protocol: 'HTTP', ...l }],
  });
  const cases: Array<[string, unknown, string]> = [
    [
      'Gateway',
      gw({ gatewayClassName: 'agw', listeners: [] }),
      'spec.listeners: Invalid value: 0: spec.listeners in body should have at least 1 items',
    ],
    [
      'Gateway',
      gw(listener({ port: 0 })),
      'spec.listeners[0].port: Invalid value: 0: spec.listeners[0].port in body should be greater than or equal to 1',
    ],
    [
      'Gateway',
      gw(listener({ port: 70000 })),
      'spec.listeners[0].port: Invalid value: 70000: spec.listeners[0].port in body should be less than or equal to 65535',
    ],
    [
      'Gateway',
      gw(listener({ port: '80' })),
      'spec.listeners[0].port: Invalid value: "string": spec.listeners[0].port in body must be of type integer: "string"',
    ],
    ['Gateway', gw({ listeners: listener({}).listeners }), 'spec.gatewayClassName: Required value'],
    [
      'Gateway',
      gw(listener({ name: '' })),
      'spec.listeners[0].name: Invalid value: "": spec.listeners[0].name in body should be at least 1 chars long',
    ],
    [
      'Gateway',
      gw(listener({ tls: { mode: 'Bogus', certificateRefs: [{ name: 'c' }] } })),
      'spec.listeners[0].tls.mode: Unsupported value: "Bogus": supported values: "Terminate", "Passthrough"',
    ],
    [
      'HTTPRoute',
      route({ parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 's', port: 80, weight: -1 }] }] }),
      'spec.rules[0].backendRefs[0].weight: Invalid value: -1: spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0',
    ],
    [
      'HTTPRoute',
      route({ parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ path: { type: 'Glob', value: '/' } }] }] }),
      'spec.rules[0].matches[0].path.type: Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression"',
    ],
    ['HTTPRoute', route({ parentRefs: [{ kind: 'Gateway' }] }), 'spec.parentRefs[0].name: Required value'],
    [
      'HTTPRoute',
      route({ hostnames: 'a.example' }),
      'spec.hostnames: Invalid value: "string": spec.hostnames in body must be of type array: "string"',
    ],
  ];
  it.each(cases.map(([kind, obj, line]) => [kind, line, obj] as [string, string, unknown]))('%s: %s', (kind, line, obj) => {
    const field = line.slice(0, line.indexOf(': '));
    expect(linesAt(kind === 'Gateway' ? Gateway : HttpRoute, obj, field)).toEqual([line]);
  });
});

describe('without the OpenAPI schema (the zod issue alone)', () => {
  it('maps bounds, enums, patterns and unknown keys from the issue; the type comes from zod', () => {
    const S = z.strictObject({
      a: z.array(z.string()).min(2),
      b: z.enum(['X', 'Y']),
      c: z.string().regex(/^[a-z]+$/),
      d: z.number().int().gt(0),
    });
    const r = S.safeParse({ a: ['x'], b: 'Z', c: 'A', d: 0, e: 1 });
    expect(r.success).toBe(false);
    expect(toApiServerIssues(r.error?.issues ?? [], { a: ['x'], b: 'Z', c: 'A', d: 0, e: 1 }).map((i) => i.message)).toEqual([
      'Invalid value: 1: a in body should have at least 2 items',
      'Unsupported value: "Z": supported values: "X", "Y"',
      'Invalid value: "A": c in body should match \'^[a-z]+$\'',
      'Invalid value: 0: d in body should be greater than 0',
      'unknown field "e"',
    ]);
    expect(apiServerIssue({ code: 'invalid_type', expected: 'int', path: ['p'], message: 'm' }, { p: 'x' })).toEqual([
      { path: ['p'], message: 'Invalid value: "string": p in body must be of type integer: "string"' },
    ]);
    expect(apiServerIssue({ code: 'custom', path: ['p'], message: 'a CEL message' }, { p: 1 })).toEqual([
      { path: ['p'], message: 'a CEL message' },
    ]);
  });

  it('paths and quoting are Go-like', () => {
    expect(apiServerPath(['spec', 'targetRefs', 0, 'name'])).toBe('spec.targetRefs[0].name');
    expect(apiServerPath(['a', 0, 1])).toBe('a[0][1]');
    expect(goQuote('a"b\\c\n\x01é')).toBe('"a\\"b\\\\c\\n\\x01é"');
  });
});
