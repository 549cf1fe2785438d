import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_LIMITS, formatLoadError, loadManifests } from './manifests.js';
import { validateManifests } from './validate.js';

/**
 * Manifests are untrusted input: each class of bad file is an error naming the file (and line
 * when known), never an exception; an empty file is no objects and no error.
 */
const root = mkdtempSync(join(tmpdir(), 'agw-manifests-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** Writes `content` to a fresh file (own directory, so names can repeat) and returns its path. */
function file(content: string | Buffer, name = 'm.yaml'): string {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}
const policy = readFileSync(resolve(import.meta.dirname, '../../examples/quickstart/30-jwt-auth-policy.yaml'), 'utf8');

/** A "billion laughs" document: 9^9 strings once expanded. */
const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
].join('\n');

describe('loadManifests: bad input is an error naming the file', () => {
  it.each([
    ['a scalar document', 'just some text\n', 1, /a string .* is not a Kubernetes object/],
    ['a number', '42\n', 1, /a number \(42\) is not a Kubernetes object/],
    ['a top-level sequence', '- apiVersion: v1\n  kind: Service\n', 1, /a YAML sequence \(list\) is not a Kubernetes object/],
    ['a mapping without apiVersion and kind', 'metadata:\n  name: x\n', 1, /apiVersion and kind must be non-empty strings/],
    ['a mapping whose kind is not a string', 'apiVersion: v1\nkind: [Service]\n', 1, /kind must be a non-empty string/],
    ['duplicate keys', 'apiVersion: v1\nkind: Service\nkind: Pod\n', 3, /Map keys must be unique/],
    ['a syntax error', 'apiVersion: v1\nkind: Service\nmetadata: {name: x\n', 4, /./],
    ['a second, scalar document after a good one', `${policy}---\ngarbage\n`, policy.split('\n').length + 1, /is not a Kubernetes object/],
    ['a kind List whose item is not an object', 'apiVersion: v1\nkind: List\nitems:\n- 3\n', 4, /^items\[0\]: a number/],
  ])('%s', (_name, content, line, message) => {
    const f = file(content);
    const r = loadManifests([f]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: f, line });
    expect(r.errors[0]?.message).toMatch(message);
  });

  it('an alias bomb stops at the alias limit with an error naming the file', { timeout: 2000 }, () => {
    const f = file(ALIAS_BOMB);
    const r = loadManifests([f]);
    expect(r.manifests).toEqual([]);
    expect(r.errors).toEqual([
      {
        file: f,
        line: 1,
        message: `Excessive alias count indicates a resource exhaustion attack (YAML aliases may expand to at most ${MANIFEST_LIMITS.maxAliasCount} nodes each)`,
      },
    ]);
  });

  it('a few legitimate aliases still work', () => {
    const r = loadManifests([file('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: &l {a: b}}\ndata: *l\n')]);
    expect([r.errors, r.manifests.map((m) => m.object)]).toEqual([
      [],
      [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: { a: 'b' } }, data: { a: 'b' } }],
    ]);
  });

  it('binary content (invalid UTF-8) is an error', () => {
    const f = file(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xc3, 0x28]));
    expect(loadManifests([f]).errors).toEqual([
      { file: f, message: 'not valid UTF-8 text: a binary file? Manifests must be UTF-8 (or UTF-16 with a byte-order mark)' },
    ]);
  });

  it('NUL bytes (UTF-16 without a byte-order mark) are an error with the line', () => {
    const f = file(Buffer.from(policy, 'utf16le'));
    expect(loadManifests([f]).errors).toEqual([
      { file: f, line: 1, message: 'contains NUL bytes: a binary file, or UTF-16/UTF-32 text without a byte-order mark' },
    ]);
    const g = file('apiVersion: v1\nkind: Service\0\n');
    expect(loadManifests([g]).errors).toMatchObject([{ file: g, line: 2 }]);
  });

  it.each([
    ['UTF-16 LE', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(policy, 'utf16le')])],
    ['UTF-16 BE', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(policy, 'utf16le').swap16()])],
    ['UTF-8 with a byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(policy)])],
  ])('%s with a byte-order mark decodes', (_name, bytes) => {
    const r = loadManifests([file(bytes)]);
    expect(r.errors).toEqual([]);
    expect(r.manifests.map((m) => [m.line, (m.object as { kind: string }).kind])).toEqual([[4, 'AgentgatewayPolicy']]);
    expect(validateManifests(r.manifests).problems).toEqual([]);
  });

  it('UTF-32 is refused', () => {
    const f = file(Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0]));
    expect(loadManifests([f]).errors).toEqual([{ file: f, message: 'UTF-32 text is not supported: save the file as UTF-8' }]);
  });

  it('a file over the size cap is refused unread', () => {
    const f = file(`# ${'x'.repeat(MANIFEST_LIMITS.maxFileBytes)}\n`);
    expect(loadManifests([f]).errors).toEqual([
      { file: f, message: 'file is larger than 4194304 bytes (4 MiB), the limit for one manifest file' },
    ]);
  });

  it('too many documents in one file', () => {
    const f = file('---\n'.repeat(MANIFEST_LIMITS.maxDocumentsPerFile + 1));
    expect(loadManifests([f]).errors).toEqual([
      { file: f, line: MANIFEST_LIMITS.maxDocumentsPerFile + 1, message: 'more than 1000 YAML documents in one file: split it' },
    ]);
  });

  it('nesting deeper than the limit (flow and block)', () => {
    const flow = file(`apiVersion: v1\nkind: X\nspec: ${'['.repeat(150)}${']'.repeat(150)}\n`);
    expect(loadManifests([flow]).errors).toMatchObject([{ file: flow, line: 1 }]);
    const block = file(`apiVersion: v1\nkind: X\nspec:\n${Array.from({ length: 120 }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')} 1\n`);
    expect(loadManifests([block]).errors).toEqual([{ file: block, line: 1, message: 'nested deeper than 100 levels' }]);
  });

  it('reports at most maxErrorsPerFile errors per file, then a count', () => {
    const f = file(Array.from({ length: 30 }, (_, i) => `s${i}`).join('\n---\n'));
    const errors = loadManifests([f]).errors;
    expect(errors).toHaveLength(MANIFEST_LIMITS.maxErrorsPerFile + 1);
    expect(errors.at(-1)).toEqual({ file: f, message: '20 more error(s) not shown' });
  });

  it('a path containing ":" is named exactly (errors are data, not `file:line` strings)', () => {
    const f = file('oops\n', 'C:weird:name.yaml');
    expect(loadManifests([join(f, '..')]).errors.map((e) => e.file)).toEqual([f]);
    expect(formatLoadError({ file: f, line: 1, message: 'm' })).toBe(`${f}:1: m`);
  });
});

describe('loadManifests: what is not an error', () => {
  it.each([
    ['an empty file', ''],
    ['only comments', '# nothing here\n'],
    ['only separators', '---\n---\n# c\n...\n'],
    ['only whitespace', '\n  \n'],
  ])('%s: no objects, no error', (_n, content) => {
    expect(loadManifests([file(content)])).toEqual({ manifests: [], errors: [] });
  });

  it('kind: List is expanded; items keep their lines', () => {
    const f = file(
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: b}\n',
    );
    const r = loadManifests([f]);
    expect(r.errors).toEqual([]);
    expect(
      r.manifests.map((m) => [m.line, (m.object as { metadata: { name: string } }).metadata.name, m.lineOf(['metadata', 'name'])]),
    ).toEqual([
      [4, 'a', 6],
      [7, 'b', 9],
    ]);
  });

  it('good documents of a file with errors are still returned (validate reports them all)', () => {
    const f = file(`${policy}---\n- x\n`);
    const r = loadManifests([f]);
    expect([r.manifests.length, r.errors.map((e) => e.file)]).toEqual([1, [f]]);
  });
});

describe('loadManifests: paths that are not plain files', () => {
  it('a missing path is an error naming it', () => {
    const p = join(root, 'gone');
    expect(loadManifests([p]).errors).toEqual([{ file: p, message: `ENOENT: no such file or directory, stat '${p}'` }]);
  });

  it("a directory that vanished is an error for the directory (its files' objects are kept by local mode)", () => {
    const dir = join(root, 'vanishing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.yaml'), policy);
    expect(loadManifests([dir]).manifests).toHaveLength(1);
    rmSync(dir, { recursive: true });
    expect(loadManifests([dir]).errors.map((e) => e.file)).toEqual([dir]);
  });

  it('a symbolic link loop is an error, not an endless walk', () => {
    const dir = join(root, 'loops');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.yaml'), policy);
    symlinkSync('.', join(dir, 'self'));
    symlinkSync('b.yaml', join(dir, 'c.yaml'));
    symlinkSync('c.yaml', join(dir, 'b.yaml'));
    const r = loadManifests([dir]);
    expect(r.manifests.map((m) => m.file)).toEqual([join(dir, 'a.yaml')]);
    expect(r.errors.map((e) => [e.file, e.message.split(':')[0]])).toEqual([
      [join(dir, 'b.yaml'), 'ELOOP'],
      [join(dir, 'c.yaml'), 'ELOOP'],
      [join(dir, 'self'), 'symbolic link loop'],
    ]);
  });

  it('a device is refused without reading it', () => {
    expect(loadManifests(['/dev/zero']).errors).toEqual([
      { file: '/dev/zero', message: 'a character device, not a regular file: only regular files are read' },
    ]);
  });

  it('a FIFO is refused without blocking on it (named, and in a directory)', () => {
    const dir = join(root, 'fifo');
    mkdirSync(dir);
    const fifo = join(dir, 'p.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(loadManifests([fifo]).errors).toEqual([{ file: fifo, message: 'a FIFO, not a regular file: only regular files are read' }]);
    expect(loadManifests([dir]).errors.map((e) => e.file)).toEqual([fifo]);
  });

  // (Unreadable files are not tested: CI runs as root, who reads any file.) A file that cannot be
  // opened at all: a dangling link in a directory, listed as a manifest but not there.
  it('a file that cannot be opened is an error naming it', () => {
    const dir = join(root, 'dangling');
    mkdirSync(dir);
    symlinkSync(join(root, 'nowhere.yaml'), join(dir, 'gone.yaml'));
    expect(loadManifests([dir]).errors).toMatchObject([
      { file: join(dir, 'gone.yaml'), message: expect.stringMatching(/ENOENT/) as unknown },
    ]);
  });
});

describe('validateManifests', () => {
  it("a route regular expression RE2 refuses is a problem at its line, with the controller's message", () => {
    const f = file(
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: t}\nspec:\n  rules:\n  - matches:\n    - path: {type: PathPrefix, value: /a}\n    - path:\n        type: RegularExpression\n        value: "/(a+)+(?=b)"\n',
    );
    expect(validateManifests(loadManifests([f]).manifests).problems).toEqual([
      {
        file: f,
        line: 10,
        object: 'HTTPRoute t/r',
        field: 'rules.0.matches.1.path.value',
        message:
          'rule 0: path regular expression "/(a+)+(?=b)" is invalid: error parsing regexp: invalid or unsupported Perl syntax: `(?=`',
      },
    ]);
  });

  it("a route filter the proxy does not serve is a problem at its line, with the controller's message", () => {
    const f = file(
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: t}\nspec:\n  rules:\n  - filters:\n    - type: RequestMirror\n      requestMirror: {backendRef: {name: o, port: 80}}\n',
    );
    expect(validateManifests(loadManifests([f]).manifests).problems).toEqual([
      {
        file: f,
        line: 7,
        object: 'HTTPRoute t/r',
        field: 'rules.0.filters.0.type',
        message:
          'rule 0: filter 0 (RequestMirror) is not supported (served: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite)',
      },
    ]);
  });

  it("a CEL expression that does not parse is a warning at its line (the API server admits it), with the policy status's message", () => {
    const f = file(
      [
        'apiVersion: agentgateway.dev/v1alpha1',
        'kind: AgentgatewayPolicy',
        'metadata: {name: p, namespace: t}',
        'spec:',
        '  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]',
        '  traffic:',
        '    authorization:',
        '      policy:',
        '        matchExpressions:',
        "        - jwt.sub == 'alice'",
        '        - request.path.startsWith(',
        '    transformation:',
        '      request:',
        '        set:',
        '        - name: x-user',
        '          value: "{{ jwt.sub }}"',
        '        metadata:',
        '          tier: "\'open"',
        '    jwtAuthentication:',
        '      location: {expression: "request.headers[\'x\'"}',
        '      providers: [{issuer: x, jwks: {inline: \'{"keys":[]}\'}}]',
        '',
      ].join('\n'),
    );
    const object = 'AgentgatewayPolicy t/p';
    const checked = validateManifests(loadManifests([f]).manifests);
    expect(checked.problems).toEqual([]);
    const suffix = ' (PartiallyValid: this expression fails at every request)';
    expect(checked.warnings).toEqual([
      {
        file: f,
        line: 20,
        message: `${object}: spec.traffic.jwtAuthentication.location.expression: ${"jwtAuthentication location expression is not a valid CEL expression: request.headers['x'"}${suffix}`,
      },
      {
        file: f,
        line: 11,
        message: `${object}: spec.traffic.authorization.policy.matchExpressions.1: ${'authorization matchExpression is not a valid CEL expression: request.path.startsWith('}${suffix}`,
      },
      {
        file: f,
        line: 16,
        message: `${object}: spec.traffic.transformation.request.set.0.value: ${'header value is not a valid CEL expression: {{ jwt.sub }}'}${suffix}`,
      },
      {
        file: f,
        line: 18,
        message: `${object}: spec.traffic.transformation.request.metadata.tier: ${"metadata value is not a valid CEL expression: 'open"}${suffix}`,
      },
    ]);
  });

  it.each([
    ['AgentGatewayPolicy', 'agentgateway.dev/v1alpha1', 'AgentgatewayPolicy'],
    ['httproute', 'gateway.networking.k8s.io/v1', 'HTTPRoute'],
    ['GATEWAY', 'gateway.networking.k8s.io/v1', 'Gateway'],
  ])('warns on kind %s: did you mean %s (exit code unchanged)', (kind, apiVersion, hint) => {
    const f = file(`# a comment\napiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x}\n`);
    const r = validateManifests(loadManifests([f]).manifests);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([{ file: f, line: 3, message: `kind ${kind} is not a kind agw reads (skipped); did you mean ${hint}?` }]);
  });

  it('does not warn for exact kinds, other groups, or unknown kinds', () => {
    const f = file(
      'apiVersion: v1\nkind: service\n---\napiVersion: agentgateway.dev/v1alpha1\nkind: Frobnicator\n---\napiVersion: example.com/v1\nkind: httproute\n',
    );
    expect(validateManifests(loadManifests([f]).manifests).warnings).toEqual([]);
  });
});
