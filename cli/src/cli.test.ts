import { request } from '@agw/test-kit';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The built `agw` binary and `npm start`, as a user runs them. */
const root = resolve(import.meta.dirname, '../..');
const agw = (args: string[]) => promisify(execFile)('node', ['cli/dist/main.js', ...args], { cwd: root }).then(
  (r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

describe('npm start: the README quick start', () => {
  let child: ChildProcess;
  let out = '';
  beforeAll(async () => {
    child = spawn('npm', ['start'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
    const end = Date.now() + 60_000;
    while (!out.includes('try:')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`npm start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);
  afterAll(async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      await exited;
    }
  });

  it('prints the guide commands, and they work: 401, then a token for user1, then 200', async () => {
    expect(out).toContain('curl -i localhost:8080/headers -H "host: www.example.com"');
    const none = await request(8080, { host: 'www.example.com', path: '/headers' });
    expect(none.status).toBe(401);
    expect(none.body).toBe('authentication failure: no bearer token found');
    const grant = await fetch('http://localhost:8081/realms/master/protocol/openid-connect/token', {
      method: 'POST', body: new URLSearchParams({ grant_type: 'password', client_id: 'agw-client', username: 'user1', password: 'password' }),
    });
    const token = ((await grant.json()) as { access_token: string }).access_token;
    const ok = await request(8080, { host: 'www.example.com', path: '/headers', headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ headers: { Host: 'www.example.com' } });
  });

  it('agw token gets the same kind of token from the demo identity provider', async () => {
    const r = await agw(['token', '--user', 'user2']);
    expect(r.code).toBe(0);
    const ok = await request(8080, { host: 'www.example.com', path: '/headers', headers: { authorization: `Bearer ${r.stdout.trim()}` } });
    expect(ok.status).toBe(200);
    expect((await agw(['token', '--user', 'nobody'])).stderr).toBe('agw: token endpoint answered 401: invalid_grant Invalid user credentials\n');
  });
});

describe('agw validate', () => {
  it('accepts the quickstart', async () => {
    const r = await agw(['validate', '-f', 'examples/quickstart']);
    expect(r).toMatchObject({ code: 0, stdout: '7 object(s) valid\n' });
  });

  it('reports each problem with file, line, object, field and the API server\'s message; exit 1', async () => {
    const r = await agw(['validate', '-f', 'cli/testdata/invalid-policy.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      'cli/testdata/invalid-policy.yaml:20: AgentgatewayPolicy default/bad: spec.traffic.jwtAuthentication.providers.0.jwks.remote.cacheDuration: cacheDuration must be at least 5m.',
      'cli/testdata/invalid-policy.yaml:13: AgentgatewayPolicy default/bad: spec.traffic: unknown field "spec.traffic.rateLimit"',
      '2 problem(s) in 1 object(s)', '',
    ]);
  });

  it('-o json is machine-readable', async () => {
    const r = await agw(['validate', '-f', 'cli/testdata/invalid-policy.yaml', '-o', 'json']);
    const doc = JSON.parse(r.stdout) as { valid: boolean; problems: Array<{ line: number; field: string; message: string }> };
    expect(doc.valid).toBe(false);
    expect(doc.problems[1]).toMatchObject({ line: 13, field: 'spec.traffic', message: 'unknown field "spec.traffic.rateLimit"' });
  });

  it('a YAML syntax error names file and line; a missing file is a clear error, no stack trace', async () => {
    const broken = await agw(['validate', '-f', 'cli/testdata/broken-yaml.yaml.txt']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^cli\/testdata\/broken-yaml\.yaml\.txt:\d+: /);
    const missing = await agw(['validate', '-f', 'no/such/file.yaml']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("ENOENT: no such file or directory, stat 'no/such/file.yaml'");
    expect(missing.stderr).toBe('');
    const usage = await agw(['frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^agw: unknown command frobnicate\nusage:/);
  });

  it('an alias bomb in a directory is an error naming the file (exit 1, no stack trace)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agw-validate-'));
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(bomb, ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n'));
    const r = await agw(['validate', '-f', dir]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      `${bomb}:1: Excessive alias count indicates a resource exhaustion attack (YAML aliases may expand to at most 100 nodes each)`,
      '1 problem(s) in 0 object(s)', '',
    ]);
  });

  it('a kind spelled with the wrong case is a warning on stderr; the exit code stays 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agw-validate-'));
    writeFileSync(join(dir, 'p.yaml'), 'apiVersion: agentgateway.dev/v1alpha1\nkind: AgentGatewayPolicy\nmetadata: {name: p, namespace: default}\n');
    const r = await agw(['validate', '-f', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: ${join(dir, 'p.yaml')}:2: kind AgentGatewayPolicy is not a kind agw reads (skipped); did you mean AgentgatewayPolicy?\n`);
  });
});
