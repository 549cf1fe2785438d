import { request } from '@agw/test-kit';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeError } from '@agw/controller';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRD_MISSING, kubeFailure, loadKubeConfig, SERVICE_ACCOUNT_TOKEN } from './status.js';

/** The built `agw` binary and `npm start`, as a user runs them. */
const root = resolve(import.meta.dirname, '../..');
const agw = (args: string[]) =>
  promisify(execFile)('node', ['cli/dist/main.js', ...args], { cwd: root }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('npm start: the README quick start', () => {
  let child: ChildProcess;
  let out = '';
  beforeAll(async () => {
    child = spawn('npm', ['start'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
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
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'agw-client', username: 'user1', password: 'password' }),
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
    expect((await agw(['token', '--user', 'nobody'])).stderr).toBe(
      'agw: token endpoint answered 401: invalid_grant Invalid user credentials\n',
    );
  });
});

describe('agw validate', () => {
  it('accepts the quickstart', async () => {
    const r = await agw(['validate', '-f', 'examples/quickstart']);
    expect(r).toMatchObject({ code: 0, stdout: '7 object(s) valid\n' });
  });

  it("reports each problem with file, line, object, field and the API server's message; exit 1", async () => {
    const r = await agw(['validate', '-f', 'cli/testdata/invalid-policy.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      'cli/testdata/invalid-policy.yaml:20: AgentgatewayPolicy default/bad: spec.traffic.jwtAuthentication.providers.0.jwks.remote.cacheDuration: cacheDuration must be at least 5m.',
      'cli/testdata/invalid-policy.yaml:13: AgentgatewayPolicy default/bad: spec.traffic: unknown field "spec.traffic.rateLimit"',
      '2 problem(s) in 1 object(s)',
      '',
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
    writeFileSync(
      bomb,
      [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
      ].join('\n'),
    );
    const r = await agw(['validate', '-f', dir]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      `${bomb}:1: Excessive alias count indicates a resource exhaustion attack (YAML aliases may expand to at most 100 nodes each)`,
      '1 problem(s) in 0 object(s)',
      '',
    ]);
  });

  it('a CEL expression that does not parse is a warning (the API server admits it); --strict makes it fail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agw-validate-'));
    const f = join(dir, 'p.yaml');
    writeFileSync(
      f,
      [
        'apiVersion: agentgateway.dev/v1alpha1',
        'kind: AgentgatewayPolicy',
        'metadata: {name: p, namespace: default}',
        'spec:',
        '  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]',
        '  traffic:',
        '    transformation:',
        '      request:',
        '        set: [{name: x-path, value: "{{ request.path }}"}]',
        '',
      ].join('\n'),
    );
    const warning = `warning: ${f}:9: AgentgatewayPolicy default/p: spec.traffic.transformation.request.set.0.value: header value is not a valid CEL expression: {{ request.path }} (PartiallyValid: this expression fails at every request)\n`;
    expect(await agw(['validate', '-f', f])).toMatchObject({ code: 0, stdout: '1 object(s) valid, 1 warning(s)\n', stderr: warning });
    expect(await agw(['validate', '--strict', '-f', f])).toMatchObject({
      code: 1,
      stdout: '1 problem(s) in 1 object(s)\n',
      stderr: warning,
    });
  });

  it('a kind spelled with the wrong case is a warning on stderr; the exit code stays 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agw-validate-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      'apiVersion: agentgateway.dev/v1alpha1\nkind: AgentGatewayPolicy\nmetadata: {name: p, namespace: default}\n',
    );
    const r = await agw(['validate', '-f', dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `warning: ${join(dir, 'p.yaml')}:2: kind AgentGatewayPolicy is not a kind agw reads (skipped); did you mean AgentgatewayPolicy?\n`,
    );
  });
});

/** Runs a script with node, with its exit code, stdout and stderr (never rejects). */
const run = (script: string, args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
  promisify(execFile)('node', [script, ...args], { cwd: o.cwd ?? root, env: o.env ?? process.env, timeout: 30_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/** A port nothing listens on: bound then closed (a connection to it is refused). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('agw help, version, usage errors and exit codes', () => {
  it('--help lists the commands and the exit codes (0 ok, 1 invalid input, 2 usage); exit 0', async () => {
    const r = await agw(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['local', 'validate', 'token', 'status']) expect(r.stdout).toMatch(new RegExp(`^  ${c} \\[options\\]`, 'm'));
    expect(r.stdout).toContain('Exit codes:\n  0  ok\n  1  invalid input');
    expect(r.stdout).toMatch(/^ {2}2 {2}usage/m);
    expect((await agw(['help'])).code).toBe(0);
  });

  it.each(['local', 'validate', 'token', 'status'])(
    '%s --help (and agw help <command>): usage, every option, examples, exit codes; exit 0',
    async (cmd) => {
      const r = await agw([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: agw ${cmd} `));
      expect(r.stdout).toMatch(new RegExp(`Examples:\\n {2}(TOKEN=\\$\\()?agw ${cmd}`));
      expect(r.stdout).toContain('Exit codes: 0 ok, 1 invalid input or a failure, 2 usage');
      expect((await agw(['help', cmd])).stdout).toBe(r.stdout);
    },
  );

  it('every flag of the former parser is still accepted', async () => {
    const flags: Record<string, string[]> = {
      local: [
        '-f',
        '--file',
        '--port-map',
        '--host',
        '--admin-port',
        '--demo',
        '--demo-idp-port',
        '--demo-upstream-port',
        '--log-level',
        '--no-watch',
      ],
      validate: ['-f', '--file', '-o', '--output', '--strict'],
      token: ['--user', '--password', '--issuer', '--client-id', '--key', '--claims', '--ttl'],
      status: ['--kubeconfig', '-n', '--namespace', '-A', '--all-namespaces', '-o', '--output'],
    };
    for (const [cmd, list] of Object.entries(flags)) {
      const help = (await agw([cmd, '--help'])).stdout;
      for (const f of list) expect(help, `${cmd} ${f}`).toMatch(new RegExp(`(^|[ ,])${f}[ ,]`, 'm'));
    }
  }, 60_000);

  it('--version prints the version of cli/package.json; exit 0', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'cli/package.json'), 'utf8')) as { version: string };
    expect(await agw(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it("an unknown option is named, with the command's usage line; exit 2", async () => {
    const r = await agw(['local', '-f', 'examples/quickstart', '--x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "agw: unknown option '--x'\nusage: agw local -f <file|dir>... [options]   (agw local --help: options and examples)\n",
    );
    expect(r.stdout).toBe('');
    expect(await agw(['validate', '--frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^agw: unknown option '--frobnicate'\n/) as unknown,
    });
  });

  it('missing or malformed option values are usage errors (exit 2), named', async () => {
    expect(await agw(['validate'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^agw: needs -f <file\|dir>\nusage: agw validate/) as unknown,
    });
    expect(await agw(['local', '-f', 'examples/quickstart', '--port-map', '80:8080'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^agw: --port-map 80:8080: expected <listener port>=<local port>/) as unknown,
    });
    expect(await agw(['local', '-f', 'x', '--admin-port', 'abc'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^agw: option '--admin-port <port>' argument 'abc' is invalid/) as unknown,
    });
    expect(await agw(['validate', '-f', 'x', '-o', 'yaml'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /^agw: option '-o, --output <format>' argument 'yaml' is invalid. Allowed choices are text, json/,
      ) as unknown,
    });
    expect(await agw(['token'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^agw: needs --user <user> \(a password grant\) or --key <private.jwk>\n/) as unknown,
    });
    expect(await agw(['token', '--key', 'k.jwk', '--ttl', 'soon'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^agw: --ttl soon: expected a duration such as 30m or 1h\n/) as unknown,
    });
    expect(await agw(['token', '--key', 'k.jwk', '--claims', '[1]'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--claims must be a JSON object/) as unknown,
    });
  }, 60_000);

  it('no command: the help on stderr, exit 2', async () => {
    const r = await agw([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: agw \[options\] \[command\]/);
  });

  it('agw token: a missing key file or an unreachable token endpoint is one readable line; exit 1', async () => {
    expect(await agw(['token', '--key', '/nonexistent.jwk'])).toMatchObject({ code: 1, stderr: 'agw: /nonexistent.jwk: no such file\n' });
    const port = await freePort();
    const r = await agw(['token', '--user', 'user1', '--issuer', `http://127.0.0.1:${port}/realms/master`]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(
      `agw: cannot reach the token endpoint http://127.0.0.1:${port}/realms/master/protocol/openid-connect/token: ECONNREFUSED (is \`agw local --demo\` or \`npm start\` running? else pass --issuer)\n`,
    );
  });
});

describe('agw status: the common failures, readable (exit 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agw-status-'));
  const kubeconfig = (server: string, extra = '') => {
    const file = join(dir, `kc-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "${server}"${extra}}}]`,
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
        '',
      ].join('\n'),
    );
    return file;
  };

  it('--kubeconfig naming no file', async () => {
    expect(await agw(['status', '--kubeconfig', '/nonexistent'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'agw: cannot read kubeconfig /nonexistent: no such file\n',
    });
  });

  // The search itself, with the Pod's token path given (on a machine that is a Pod, the real one
  // exists and client-node would use it): runs everywhere.
  it('no kubeconfig at all (no KUBECONFIG, no ~/.kube/config, no service account token)', () => {
    expect(() => loadKubeConfig(undefined, { env: { HOME: dir }, serviceAccountToken: join(dir, 'no-token') })).toThrow(
      'no kubeconfig: set KUBECONFIG or pass --kubeconfig',
    );
  });

  it('no kubeconfig: agw status says so in one line (exit 1), when this machine is not a Pod', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir };
    delete env.KUBECONFIG;
    const r = await run('cli/dist/main.js', ['status'], { env });
    if (existsSync(SERVICE_ACCOUNT_TOKEN)) expect(r.stderr).not.toContain('no kubeconfig');
    else expect(r).toMatchObject({ code: 1, stderr: 'agw: no kubeconfig: set KUBECONFIG or pass --kubeconfig\n' });
  });

  it('cluster unreachable: names the server URL', async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const r = await agw(['status', '--kubeconfig', kubeconfig(server)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `agw: cannot reach the cluster at ${server}: connection refused (ECONNREFUSED); is it running, and is the kubeconfig's current context the right one?\n`,
    );
  });

  // No fake API server (the project tests against a real one): the answer the real API server
  // gives for a resource it does not serve is a 404 on its path, mapped here to the message.
  it('the CRDs not installed (404 on agentgatewaypolicies): says to install the chart', () => {
    const notServed = new KubeError(
      404,
      'GET /apis/agentgateway.dev/v1alpha1/namespaces/team-a/agentgatewaypolicies: 404 404 page not found',
    );
    expect(kubeFailure(notServed, 'https://127.0.0.1:6443')).toBe(CRD_MISSING);
    expect(CRD_MISSING).toBe(
      'the AgentgatewayPolicy CRD is not installed: install the chart: helm install agentgateway charts/agentgateway -n agentgateway-system --create-namespace',
    );
    expect(kubeFailure(new KubeError(404, 'GET /api/v1/namespaces/x: 404'), 'https://127.0.0.1:6443')).toBe(
      'the cluster at https://127.0.0.1:6443 answered GET /api/v1/namespaces/x: 404',
    );
  });
});

describe('agw local: a port in use is one readable line naming the flag to change (exit 1)', () => {
  let held: Server;
  let port: number;
  beforeAll(async () => {
    held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    port = (held.address() as AddressInfo).port;
  });
  afterAll(() => {
    held.close();
  });

  it('a Gateway listener port (--port-map)', async () => {
    const r = await agw(['local', '-f', 'examples/quickstart', '--port-map', `80=${port}`, '--admin-port', '0', '--no-watch']);
    expect(r).toMatchObject({ code: 1, stderr: `agw: port ${port} is in use: pick another with --port-map 80=<port>\n` });
  });

  it("the admin port and the demo servers' ports", async () => {
    expect(
      await agw(['local', '-f', 'examples/quickstart', '--port-map', '80=0', '--admin-port', String(port), '--no-watch']),
    ).toMatchObject({ code: 1, stderr: `agw: port ${port} is in use: pick another with --admin-port <port>\n` });
    expect(
      await agw([
        'local',
        '-f',
        'examples/quickstart',
        '--port-map',
        '80=0',
        '--admin-port',
        '0',
        '--demo',
        '--demo-idp-port',
        String(port),
        '--no-watch',
      ]),
    ).toMatchObject({
      code: 1,
      stderr: `agw: port ${port} is in use: pick another with --demo-idp-port <port> (examples/quickstart expects the demo identity provider on 8081: there, free the port instead)\n`,
    });
  }, 60_000);
});

describe('cli/bin/agw.js: the committed bin npm links as `agw`', () => {
  it('is what node_modules/.bin/agw links to (npm ci links it before any build), and runs the built CLI', async () => {
    expect(realpathSync(join(root, 'node_modules/.bin/agw'))).toBe(join(root, 'cli/bin/agw.js'));
    expect(await run('cli/bin/agw.js', ['validate', '-f', 'examples/quickstart'])).toMatchObject({
      code: 0,
      stdout: '7 object(s) valid\n',
      stderr: '',
    });
  });

  /** A copy of the shim in a tree shaped like the repository, with no dist/ (and no TypeScript unless given). */
  const fakeRepo = (tsc?: string) => {
    // The shim sees its own path with symlinks resolved: so must the expectations.
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'agw-shim-')));
    mkdirSync(join(dir, 'cli/bin'), { recursive: true });
    copyFileSync(join(root, 'cli/bin/agw.js'), join(dir, 'cli/bin/agw.js'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    if (tsc !== undefined) {
      mkdirSync(join(dir, 'node_modules/typescript/bin'), { recursive: true });
      writeFileSync(join(dir, 'node_modules/typescript/package.json'), '{"name":"typescript"}');
      writeFileSync(join(dir, 'node_modules/typescript/bin/tsc'), tsc);
    }
    return dir;
  };
  /** A stand-in for tsc -b: writes the four dist entries; cli's prints its arguments. */
  const fakeTsc = (onlyWithForce: boolean) => `
    const { mkdirSync, writeFileSync, appendFileSync } = require('node:fs');
    const { join } = require('node:path');
    const repo = join(process.argv[3], '..');
    appendFileSync(join(repo, 'tsc-calls'), process.argv.slice(2).join(' ') + '\\n');
    console.log('tsc says hello');
    if (${onlyWithForce} && !process.argv.includes('--force')) process.exit(0);
    for (const w of ['api', 'controller', 'proxy']) { mkdirSync(join(repo, w, 'dist'), { recursive: true }); writeFileSync(join(repo, w, 'dist/index.js'), ''); }
    mkdirSync(join(repo, 'cli/dist'), { recursive: true });
    writeFileSync(join(repo, 'cli/dist/main.js'), "process.stdout.write('agw ran: ' + process.argv.slice(2).join(' ') + '\\\\n');");
  `;

  it('not built and no TypeScript (a production install): one line, exit 2', async () => {
    const dir = fakeRepo();
    expect(await run(join(dir, 'cli/bin/agw.js'), ['--help'], { cwd: dir })).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'agw is not built yet: run `npm run build`\n',
    });
  });

  it('not built (a fresh clone after npm ci): builds once with tsc -b cli, saying so on stderr only, then runs the command', async () => {
    const dir = fakeRepo(fakeTsc(false));
    const first = await run(join(dir, 'cli/bin/agw.js'), ['--help'], { cwd: dir });
    expect(first).toMatchObject({ code: 0, stdout: 'agw ran: --help\n' });
    expect(first.stderr).toMatch(
      /^agw is not built yet: building it once with `tsc -b cli` .*\ntsc says hello\nagw: built in \d+\.\d s\n$/,
    );
    const second = await run(join(dir, 'cli/bin/agw.js'), ['validate'], { cwd: dir });
    expect(second).toMatchObject({ code: 0, stdout: 'agw ran: validate\n', stderr: '' });
    expect(readFileSync(join(dir, 'tsc-calls'), 'utf8')).toBe(`-b ${join(dir, 'cli')}\n`);
  });

  it('a dist/ deleted by hand (tsc -b trusts its *.tsbuildinfo and writes nothing): rebuilds with --force', async () => {
    const dir = fakeRepo(fakeTsc(true));
    expect(await run(join(dir, 'cli/bin/agw.js'), ['x'], { cwd: dir })).toMatchObject({ code: 0, stdout: 'agw ran: x\n' });
    expect(readFileSync(join(dir, 'tsc-calls'), 'utf8').split('\n')).toEqual([
      `-b ${join(dir, 'cli')}`,
      `-b ${join(dir, 'cli')} --force`,
      '',
    ]);
  });

  it('a build that fails: says so, exit 2', async () => {
    const dir = fakeRepo('console.error("src/x.ts(1,1): error TS1005"); process.exit(1);');
    const r = await run(join(dir, 'cli/bin/agw.js'), ['--help'], { cwd: dir });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(
      /src\/x\.ts\(1,1\): error TS1005\nagw is not built yet, and `tsc -b cli` failed \(above\): fix the error, then `npm run build`\n$/,
    );
  });
});
