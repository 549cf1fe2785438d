import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { kubectl } from '@agw/test-kit';

/**
 * `agw validate` (files, offline) against the real kube-apiserver (`kubectl create --dry-run=server`,
 * strict field validation) on the same invalid manifests: for the field each row breaks, the
 * messages must be the same text. One row per OpenAPI check class of the CRDs (ours and Gateway
 * API's); CEL rules are compared by crd-admission.test.ts.
 */
const kc = () => inject('kubeconfig');
const dir = mkdtempSync(join(tmpdir(), 'agw-validate-vs-apiserver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Obj = Record<string, unknown>;
const meta = { name: 'p', namespace: 'default' };
const policy = (spec: unknown, metadata: Obj = meta): Obj => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata,
  spec,
});
const gateway = (spec: unknown): Obj => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: meta, spec });
const route = (spec: unknown): Obj => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: meta, spec });
const backend = (spec: unknown): Obj => ({ apiVersion: 'agentgateway.dev/v1alpha1', kind: 'AgentgatewayBackend', metadata: meta, spec });

const targetRefs = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }];
const authz = { authorization: { policy: { matchExpressions: ['true'] } } };
const withProvider = (p: Obj) => ({
  targetRefs,
  traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{}' }, ...p }] } },
});
const withPort = (port: unknown) => withProvider({ jwks: { remote: { backendRef: { name: 'kc', port }, jwksPath: '/k' } } });
const withRef = (r: Obj) => ({ targetRefs: [{ ...targetRefs[0], ...r }], traffic: authz });
const withListener = (l: Obj) => ({ gatewayClassName: 'agw', listeners: [{ name: 'http', port: 80, protocol: 'HTTP', ...l }] });
const withRule = (rule: Obj) => ({ parentRefs: [{ name: 'gw' }], rules: [rule] });
const n = <T>(count: number, f: (i: number) => T): T[] => Array.from({ length: count }, (_, i) => f(i));
const P = 'spec.traffic.jwtAuthentication.providers[0]';
const UNKNOWN = '(unknown fields)';

/** [what, manifest, the field (API server spelling) whose messages are compared]. */
const CASES: Array<[string, Obj, string]> = [
  [
    'minItems',
    policy({ targetRefs, traffic: { authorization: { policy: { matchExpressions: [] } } } }),
    'spec.traffic.authorization.policy.matchExpressions',
  ],
  [
    'maxItems',
    policy({ targetRefs, traffic: { transformation: { request: { remove: n(17, (i) => `h${i}`) } } } }),
    'spec.traffic.transformation.request.remove',
  ],
  [
    'maxItems (targetRefs)',
    policy({ targetRefs: n(17, (i) => `gw${i}`).map((name) => ({ ...targetRefs[0], name })), traffic: authz }),
    'spec.targetRefs',
  ],
  ['minLength', policy(withRef({ name: '' })), 'spec.targetRefs[0].name'],
  ['minLength (2)', policy(withProvider({ jwks: { inline: '{' } })), `${P}.jwks.inline`],
  ['minLength of a list item', policy(withProvider({ audiences: [''] })), `${P}.audiences[0]`],
  ['maxLength', policy(withRef({ name: 'a'.repeat(254) })), 'spec.targetRefs[0].name'],
  [
    'maxLength (CEL expression)',
    policy({ targetRefs, traffic: { authorization: { policy: { matchExpressions: ['a'.repeat(16385)] } } } }),
    'spec.traffic.authorization.policy.matchExpressions[0]',
  ],
  ['maxLength before pattern', policy(withRef({ kind: '_'.repeat(64) })), 'spec.targetRefs[0].kind'],
  ['minLength before pattern', policy(withRef({ kind: '' })), 'spec.targetRefs[0].kind'],
  [
    'enum',
    policy({ targetRefs, traffic: { authorization: { action: 'Maybe', policy: { matchExpressions: ['true'] } } } }),
    'spec.traffic.authorization.action',
  ],
  [
    'enum (mode)',
    policy({ targetRefs, traffic: { jwtAuthentication: { mode: 'strict', providers: [{ issuer: 'x', jwks: { inline: '{}' } }] } } }),
    'spec.traffic.jwtAuthentication.mode',
  ],
  [
    'enum of the wrong type',
    policy({ targetRefs, traffic: { authorization: { action: 5, policy: { matchExpressions: ['true'] } } } }),
    'spec.traffic.authorization.action',
  ],
  ['pattern (url)', policy(withProvider({ jwks: { remote: { url: 'ftp://idp/keys' } } })), `${P}.jwks.remote.url`],
  ['pattern (quotes and escapes in the value)', policy(withRef({ kind: 'G"a\\\tté' })), 'spec.targetRefs[0].kind'],
  [
    'pattern (header name)',
    policy({
      targetRefs,
      traffic: { jwtAuthentication: { providers: [{ issuer: 'x', jwks: { inline: '{}' } }], location: { header: { name: 'x y' } } } },
    }),
    'spec.traffic.jwtAuthentication.location.header.name',
  ],
  [
    'pattern (sni)',
    policy({ targetRefs: [{ group: '', kind: 'Service', name: 's' }], backend: { tls: { sni: 'A_B' } } }),
    'spec.backend.tls.sni',
  ],
  ['required', policy(withProvider({ issuer: undefined })), `${P}.issuer`],
  [
    'required (object)',
    policy({ targetRefs, traffic: { authorization: { policy: {} } } }),
    'spec.traffic.authorization.policy.matchExpressions',
  ],
  ['required (null)', policy(withProvider({ issuer: null })), `${P}.issuer`],
  ['required (spec)', { ...policy({}), spec: undefined }, 'spec'],
  ['required (metadata.name)', policy({ targetRefs, traffic: authz }, { namespace: 'default' }), 'metadata.name'],
  ['integer for a string', policy(withProvider({ issuer: 5 })), `${P}.issuer`],
  ['boolean for a string', policy(withProvider({ issuer: true })), `${P}.issuer`],
  ['array for a string', policy(withProvider({ issuer: ['a'] })), `${P}.issuer`],
  ['string for an object', policy({ targetRefs, traffic: 'x' }), 'spec.traffic'],
  ['object for an array', policy({ targetRefs: {}, traffic: authz }), 'spec.targetRefs'],
  ['string for an integer', policy(withPort('80')), `${P}.jwks.remote.backendRef.port`],
  ['fraction for an integer', policy(withPort(1.5)), `${P}.jwks.remote.backendRef.port`],
  ['minimum', policy(withPort(0)), `${P}.jwks.remote.backendRef.port`],
  ['maximum', policy(withPort(65536)), `${P}.jwks.remote.backendRef.port`],
  [
    'minProperties',
    policy({ targetRefs, traffic: { transformation: { request: { metadata: {} } } } }),
    'spec.traffic.transformation.request.metadata',
  ],
  [
    'maxProperties',
    policy({ targetRefs, traffic: { transformation: { request: { metadata: Object.fromEntries(n(17, (i) => [`k${i}`, '1'])) } } } }),
    'spec.traffic.transformation.request.metadata',
  ],
  [
    'list-type map duplicate',
    policy({
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
    }),
    'spec.traffic.transformation.request.set[1]',
  ],
  ['unknown fields', policy({ ...withProvider({ foo: 1 }), bar: {} }), UNKNOWN],
  ['unknown field of upstream', policy({ targetRefs, traffic: { rateLimit: {}, ...authz } }), UNKNOWN],
  ['AgentgatewayBackend minimum', backend({ static: { host: 'h', port: 0 } }), 'spec.static.port'],
  ['AgentgatewayBackend maxLength', backend({ static: { host: 'a'.repeat(257), port: 1 } }), 'spec.static.host'],
  ['Gateway minItems', gateway({ gatewayClassName: 'agw', listeners: [] }), 'spec.listeners'],
  ['Gateway minimum', gateway(withListener({ port: 0 })), 'spec.listeners[0].port'],
  ['Gateway maximum', gateway(withListener({ port: 70000 })), 'spec.listeners[0].port'],
  ['Gateway string for an integer', gateway(withListener({ port: '80' })), 'spec.listeners[0].port'],
  ['Gateway required', gateway({ listeners: withListener({}).listeners }), 'spec.gatewayClassName'],
  ['Gateway minLength', gateway(withListener({ name: '' })), 'spec.listeners[0].name'],
  ['Gateway enum', gateway(withListener({ tls: { mode: 'Bogus', certificateRefs: [{ name: 'c' }] } })), 'spec.listeners[0].tls.mode'],
  [
    'Gateway enum (allowedRoutes from, in the CRD order)',
    gateway(withListener({ allowedRoutes: { namespaces: { from: 'Nowhere' } } })),
    'spec.listeners[0].allowedRoutes.namespaces.from',
  ],
  ['HTTPRoute minimum', route(withRule({ backendRefs: [{ name: 's', port: 80, weight: -1 }] })), 'spec.rules[0].backendRefs[0].weight'],
  ['HTTPRoute enum', route(withRule({ matches: [{ path: { type: 'Glob', value: '/' } }] })), 'spec.rules[0].matches[0].path.type'],
  [
    'HTTPRoute enum (header)',
    route(withRule({ matches: [{ headers: [{ type: 'Fuzzy', name: 'x', value: 'y' }] }] })),
    'spec.rules[0].matches[0].headers[0].type',
  ],
  ['HTTPRoute required', route(withRule({ matches: [{ headers: [{ name: 'x' }] }] })), 'spec.rules[0].matches[0].headers[0].value'],
  ['HTTPRoute required (parentRef name)', route({ parentRefs: [{ kind: 'Gateway' }] }), 'spec.parentRefs[0].name'],
  ['HTTPRoute string for an integer', route(withRule({ backendRefs: [{ name: 's', port: '80' }] })), 'spec.rules[0].backendRefs[0].port'],
  ['HTTPRoute string for an array', route({ parentRefs: [{ name: 'gw' }], hostnames: 'a.example' }), 'spec.hostnames'],
];

interface FieldMessage {
  readonly field: string;
  readonly message: string;
}

/**
 * kubectl's refusal as field messages: `The X "p" is invalid: <field>: <message>` (one error) or
 * one `* <field>: <message>` line each; strict decoding errors as UNKNOWN `unknown field "…"`. The
 * `<nil>` line (CEL rules skipped after a schema error) names no field and is left out.
 */
function serverMessages(stderr: string): FieldMessage[] {
  const strict = /strict decoding error: (.*)$/m.exec(stderr);
  if (strict) return [...(strict[1] ?? '').matchAll(/unknown field "[^"]*"/g)].map((m) => ({ field: UNKNOWN, message: m[0] }));
  const body = stderr.replace(/^The \S+ "[^"]*" is invalid: ?/, '');
  const lines = body.includes('\n* ')
    ? body
        .split('\n')
        .filter((l) => l.startsWith('* '))
        .map((l) => l.slice(2))
    : [body.trim()];
  return lines
    .filter((l) => !l.startsWith('<nil>: '))
    .map((l) => ({ field: l.slice(0, l.indexOf(': ')), message: l.slice(l.indexOf(': ') + 2).trimEnd() }));
}

/** The manifest file of a row. */
const fileOf = (name: string) => join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);

/**
 * `agw validate -o json` of every row's file at once (one process): problems by file, fields in
 * the API server's spelling (`a.0.b` → `a[0].b`), unknown fields under UNKNOWN as kubectl has them.
 */
function validateAll(): Promise<Map<string, FieldMessage[]>> {
  return new Promise((resolve, reject) => {
    execFile('node', ['cli/dist/main.js', 'validate', '-f', dir, '-o', 'json'], { maxBuffer: 64 * 1024 * 1024 }, (_err, stdout) => {
      try {
        const doc = JSON.parse(stdout) as { problems: Array<FieldMessage & { file: string }> };
        const byFile = new Map<string, FieldMessage[]>();
        for (const p of doc.problems)
          byFile.set(p.file, [
            ...(byFile.get(p.file) ?? []),
            {
              field: p.message.startsWith('unknown field "') ? UNKNOWN : p.field.replace(/\.(\d+)(?=\.|$)/g, '[$1]'),
              message: p.message,
            },
          ]);
        resolve(byFile);
      } catch (err) {
        reject(new Error(`agw validate printed no JSON (${(err as Error).message}): ${stdout}`));
      }
    });
  });
}

const at = (all: FieldMessage[], field: string) =>
  all
    .filter((m) => m.field === field)
    .map((m) => m.message)
    .sort();

describe('agw validate says what the API server says', () => {
  let ours: Map<string, FieldMessage[]>;
  beforeAll(async () => {
    for (const [name, manifest] of CASES) writeFileSync(fileOf(name), stringify(manifest));
    ours = await validateAll();
  });

  // Concurrent (vitest's maxConcurrency): each row is one kubectl process against the same server.
  it.concurrent.for(CASES)('%s', async ([name, , field], { expect }) => {
    const server = await kubectl(kc(), ['create', '--dry-run=server', '-f', fileOf(name)]);
    expect(server.code, server.stdout).not.toBe(0);
    const theirs = serverMessages(server.stderr);
    // The row breaks what it says it breaks.
    expect(at(theirs, field), server.stderr).not.toEqual([]);
    const mine = ours.get(fileOf(name)) ?? [];
    expect(at(mine, field), `kube-apiserver:\n${server.stderr}\nagw validate:\n${JSON.stringify(mine, null, 2)}`).toEqual(
      at(theirs, field),
    );
  });
});
