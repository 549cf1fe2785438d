import { PROXY_CONFIG_SCHEMA_VERSION, type Jwk, type ProxyConfigInput } from '@agw/api';
import {
  LOG_DIR,
  freePort,
  generateSigningKey,
  helm,
  jwks,
  kubectl,
  mintToken,
  request,
  startEchoUpstream,
  waitFor,
  type EchoUpstream,
} from '@agw/test-kit';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * The image's runtime tree, without Docker: the Dockerfile's recipe reproduced in a temp dir, then
 * its entry points started from that tree. It catches what only the image would show: a runtime
 * import of a dev dependency (pruned away), a dependency missing from a workspace's package.json
 * (hoisted in the dev tree, absent here), a dependency the lockfile places under a workspace's own
 * node_modules (`proxy/node_modules/…`, which the runtime stage does not copy) or a file it does not copy.
 *
 * The recipe is read from the Dockerfile itself (which files each COPY takes, which workspaces
 * `tsc -b` builds, what the runtime stage keeps, its ENV and CMD); a Dockerfile of another shape
 * fails the suite with what was expected, so this test cannot silently drift from it. Two steps are equivalent, not
 * identical: the build stage's `npm ci` + `npm prune --omit=dev` is one `npm ci --omit=dev` here
 * (the same tree: every package.json under node_modules compared byte for byte, 2026-11-29, 210
 * packages), and the dist/ directories are the ones `npx tsc -b` built in the checkout (the image
 * runs the same `tsc -b` on the same sources; .dockerignore keeps dist/ out of the build context).
 *
 * The controller starts as the chart starts it (the chart's args and env, rendered with helm), under
 * the chart's ServiceAccount identity, with its own controller and class names so that it leaves the
 * other suites' objects alone; the proxy serves one JWT-protected route from a config file.
 */
const repo = process.cwd();
const controllerKubeconfig = () => inject('controllerKubeconfig');
const admin = () => inject('kubeconfig');

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly body: Instruction[];
}

/** The Dockerfile's stages: continuation lines joined, comments and blank lines dropped. */
function dockerStages(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Array<{ from: string; name?: string; body: Instruction[] }> = [];
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray;
    const op = (m[1] as string).toUpperCase();
    const args = m[2] as string;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ from: f[1] as string, ...(f[2] ? { name: f[2] } : {}), body: [] });
    } else {
      stages.at(-1)?.body.push({ op, args });
    }
  }
  return stages;
}

/** `["node", "x.js"]` (exec form) or `node x.js` (shell form, split on spaces). */
const words = (args: string): string[] => (args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/));

/** What this test reproduces, read from the Dockerfile; throws when its shape is not the one understood here. */
interface Recipe {
  /** Build stage, before `npm ci`: [repo path, destination under /src]. */
  readonly installFiles: Array<[string, string]>;
  /** Workspaces of `RUN npx tsc -b …`. */
  readonly built: string[];
  /** Runtime stage: [stage, source path, destination under WORKDIR]. */
  readonly runtimeCopies: Array<[string, string, string]>;
  readonly workdir: string;
  readonly env: Record<string, string>;
  readonly cmd: string[];
}

function readRecipe(text: string): Recipe {
  const stages = dockerStages(text);
  const shape = `expected: a build stage (WORKDIR /src, COPY package files, RUN npm ci, COPY sources, RUN npx tsc -b …), a stage FROM it running \`npm prune --omit=dev\`, and a runtime stage of COPY --from lines; update e2e/src/runtime-tree.test.ts with the Dockerfile`;
  const [build, prod, runtime] = stages;
  if (stages.length !== 3 || !build?.name || !prod || !runtime) throw new Error(`Dockerfile has ${stages.length} stages; ${shape}`);
  const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op);
  const buildRuns = ops(build, 'RUN').map((i) => i.args);
  if (ops(build, 'WORKDIR')[0]?.args !== '/src' || !/^npm ci\b/.test(buildRuns[0] ?? '') || !/^npx tsc -b\b/.test(buildRuns[1] ?? '')) {
    throw new Error(`Dockerfile build stage runs ${JSON.stringify(buildRuns)}; ${shape}`);
  }
  const npmCi = build.body.findIndex((i) => i.op === 'RUN');
  const installFiles: Array<[string, string]> = build.body
    .slice(0, npmCi)
    .filter((i) => i.op === 'COPY')
    .flatMap((i) => {
      const parts = i.args.split(/\s+/);
      const dest = parts.pop() as string;
      if (parts.some((p) => p.startsWith('--'))) throw new Error(`Dockerfile: COPY ${i.args} before npm ci; ${shape}`);
      return parts.map((p): [string, string] => [
        p,
        dest.endsWith('/') ? join(dest, p.split('/').pop() as string) : dest === './' ? p : dest,
      ]);
    });
  const built = (buildRuns[1] as string).replace(/^npx tsc -b\s*/, '').split(/\s+/);
  if (prod.from !== build.name || ops(prod, 'RUN').length !== 1 || !/^npm prune --omit=dev\b/.test(ops(prod, 'RUN')[0]?.args ?? '')) {
    throw new Error(
      `Dockerfile second stage is FROM ${prod.from} running ${JSON.stringify(ops(prod, 'RUN').map((i) => i.args))}; ${shape}`,
    );
  }
  if (ops(runtime, 'RUN').length > 0)
    throw new Error(`Dockerfile runtime stage runs ${JSON.stringify(ops(runtime, 'RUN').map((i) => i.args))}; ${shape}`);
  const runtimeCopies = ops(runtime, 'COPY').map((i): [string, string, string] => {
    const m = /^--from=(\S+)\s+\/src\/(\S+)\s+(\S+)$/.exec(i.args);
    if (!m) throw new Error(`Dockerfile: COPY ${i.args} in the runtime stage; ${shape}`);
    return [m[1] as string, m[2] as string, m[3] as string];
  });
  const env = Object.fromEntries(ops(runtime, 'ENV').flatMap((i) => i.args.split(/\s+/).map((kv) => kv.split('=', 2) as [string, string])));
  const cmd = words(ops(runtime, 'CMD').at(-1)?.args ?? '[]');
  return { installFiles, built, runtimeCopies, workdir: ops(runtime, 'WORKDIR').at(-1)?.args ?? '/', env, cmd };
}

/** `'vitest' (imported from /…/controller/dist/x.js)` when Node could not resolve a module. */
function missingModule(output: string): { specifier: string; text: string } | undefined {
  const m = /Cannot find (?:module|package) '([^']+)'(?: imported from (\S+))?/.exec(output);
  return m ? { specifier: m[1] as string, text: `'${m[1] as string}'${m[2] ? ` (imported from ${m[2]})` : ''}` } : undefined;
}

/** Names in `dependencies`, `optionalDependencies` or `peerDependencies` of every package installed under `dir` (symlinked workspaces included). */
function productionDependencyNames(dir: string, names = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name.startsWith('.') || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
    if (entry.name.startsWith('@')) {
      productionDependencyNames(path, names);
      continue;
    }
    const manifest = join(path, 'package.json');
    if (existsSync(manifest)) {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, Record<string, string> | undefined>;
      for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies'])
        for (const n of Object.keys(m[field] ?? {})) names.add(n);
    }
    if (entry.isDirectory() && existsSync(join(path, 'node_modules'))) productionDependencyNames(join(path, 'node_modules'), names);
  }
  return names;
}

/** Where the build stage's tree is (`<tmp>/src`): what the runtime stage does not copy stays there. */
let src = '';

/** Why a bare specifier is missing, when the build tree tells: npm put it under a workspace's own node_modules. */
function whyMissing(specifier: string): string {
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string);
  const places = src === '' ? [] : readdirSync(src).filter((ws) => existsSync(join(src, ws, 'node_modules', name, 'package.json')));
  return places.length > 0
    ? `npm installed it in ${places.map((ws) => `${ws}/node_modules/${name}`).join(', ')} (package-lock.json), which the runtime stage does not copy: hoist it to the root node_modules`
    : "a runtime import of a dev dependency, a dependency missing from its workspace's package.json, or a file the Dockerfile does not copy";
}

const failIfMissingModule = (what: string, output: string) => {
  const missing = missingModule(output);
  if (missing !== undefined)
    throw new Error(`${what}: Cannot find module ${missing.text} in the image's runtime tree: ${whyMissing(missing.specifier)}`);
};

const run = (cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    execFile(cmd, args, { cwd: o.cwd, env: o.env, timeout: o.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      res({ code, stdout, stderr });
    });
  });

/** A process started from the runtime tree; its output kept in memory and in .e2e-logs/<name>.log. */
interface Started {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}
function start(name: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Started {
  mkdirSync(LOG_DIR, { recursive: true });
  const child = spawn(args[0] as string, args.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  for (const s of [child.stdout, child.stderr])
    s?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
  child.on('exit', () => writeFileSync(join(LOG_DIR, `${name}.log`), out));
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          res(child.exitCode);
          return;
        }
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          res(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Waits until `ready()`, or until the process exits (then at once, not at the timeout); fails with
 * the module Node could not find, or with the exit and the output, if it exited.
 */
async function untilReady(what: string, p: Started, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const exited = () => p.child.exitCode !== null || p.child.signalCode !== null;
  try {
    await waitFor(what, async () => exited() || (await ready()), timeoutMs, 100);
  } finally {
    failIfMissingModule(what, p.output());
  }
  if (exited()) throw new Error(`${what}: the process exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output()}`);
}

let recipe: Recipe;
let tmp = '';
let app = '';
/** The container's environment: PATH and HOME, and the Dockerfile's ENV; nothing of this process (no NODE_OPTIONS, NODE_PATH). */
let env: NodeJS.ProcessEnv;
const timings: Record<string, number> = {};
const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  try {
    return await f();
  } finally {
    timings[what] = Math.round(performance.now() - t);
  }
};

/** The environment without the npm_* variables of an enclosing `npm test` (npm would read them as its config). */
const withoutNpmConfig = (e: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(e).filter(([k]) => !/^npm_/i.test(k)));

beforeAll(async () => {
  recipe = readRecipe(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
  tmp = mkdtempSync(join(tmpdir(), 'agw-runtime-tree-'));
  src = join(tmp, 'src');
  app = join(tmp, recipe.workdir.replace(/^\//, ''));
  // Node resolves bare imports from every ancestor's node_modules: there must be none above the tree.
  for (let d = dirname(app); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules')))
      throw new Error(
        `${join(d, 'node_modules')} exists: modules there would be found from the runtime tree and hide a missing one; set TMPDIR elsewhere`,
      );
    if (dirname(d) === d) break;
  }
  for (const [from, to] of recipe.installFiles) cpSync(join(repo, from), join(src, to));
  // = the build stage's `npm ci` then the prod stage's `npm prune --omit=dev` (same tree, see above).
  // --prefer-offline: the tarballs are in npm's cache after the checkout's own `npm ci`.
  const ci = await timed('npm ci --omit=dev', () =>
    run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: src,
      env: withoutNpmConfig(process.env),
      timeoutMs: 280_000,
    }),
  );
  if (ci.code !== 0) throw new Error(`npm ci --omit=dev failed (exit ${ci.code}):\n${ci.stderr}`);
  await timed('runtime stage copies', async () => {
    for (const [stage, from, to] of recipe.runtimeCopies) {
      const dest = join(app, to);
      mkdirSync(dirname(dest), { recursive: true });
      if (from === 'node_modules') {
        renameSync(join(src, 'node_modules'), dest);
        continue;
      }
      const ws = /^([^/]+)\/dist$/.exec(from)?.[1];
      if (ws !== undefined && !recipe.built.includes(ws))
        throw new Error(`Dockerfile copies ${from} from stage ${stage}, but its build runs tsc -b ${recipe.built.join(' ')} only`);
      if (!existsSync(join(repo, from))) throw new Error(`${from} is missing: run \`npx tsc -b\` before the e2e suite`);
      cpSync(join(repo, from), dest, { recursive: true, verbatimSymlinks: true });
    }
  });
  env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmp, ...recipe.env };
}, 300_000);

afterAll(() => {
  console.log(
    `runtime tree (${tmp}): ${Object.entries(timings)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
      .join(', ')}`,
  );
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

describe("the image's runtime tree (Dockerfile recipe, production dependencies only)", () => {
  it('holds what the runtime stage copies, and none of the root package.json devDependencies', () => {
    expect(recipe.cmd).toEqual(['node', 'proxy/dist/main.js']);
    for (const entry of ['controller/dist/main.js', 'proxy/dist/main.js', 'cli/dist/main.js'])
      expect(existsSync(join(app, entry)), entry).toBe(true);
    // A devDependency of the root may be there only as a production dependency of something else
    // (@types/node is one of @kubernetes/client-node's): the dev tools themselves must be gone.
    const dev = Object.keys(
      (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies,
    );
    const needed = productionDependencyNames(join(app, 'node_modules'));
    expect(dev.length).toBeGreaterThan(0);
    expect(dev.filter((d) => existsSync(join(app, 'node_modules', d)) && !needed.has(d))).toEqual([]);
    expect(readdirSync(join(app, 'node_modules')).length).toBeGreaterThan(10);
  });

  it('is a real check: an import of a dev dependency from the tree fails with the module named', async () => {
    const probe = join(app, 'controller/dist/runtime-tree-probe.js');
    writeFileSync(probe, "import 'vitest';\n");
    try {
      const r = await run('node', [probe], { cwd: app, env, timeoutMs: 20_000 });
      expect(r.code).not.toBe(0);
      expect(missingModule(r.stderr)?.text).toMatch(/^'vitest' \(imported from .*runtime-tree-probe\.js\)$/);
    } finally {
      rmSync(probe);
    }
  });

  it.each([
    ['controller', 'controller/dist/main.js', '--kubeconfig'],
    ['proxy', 'proxy/dist/main.js', '--config'],
    ['agw', 'cli/dist/main.js', 'validate'],
  ])('%s --help loads every module it imports and prints its usage', async (name, entry, mention) => {
    const r = await timed(`${name} --help`, () => run('node', [entry, '--help'], { cwd: app, env, timeoutMs: 30_000 }));
    failIfMissingModule(`node ${entry} --help`, r.stdout + r.stderr);
    expect(r.code, `node ${entry} --help exited with ${r.code}, printing ${JSON.stringify(r.stderr || r.stdout)}`).toBe(0);
    expect(r.stdout).toContain(mention);
    expect(r.stderr, `node ${entry} --help`).toBe('');
  });

  it('agw runs its commands from the tree (each is imported when it runs): validate, status against the e2e API server, local until /readyz', async () => {
    const version = await run('node', ['cli/dist/main.js', '--version'], { cwd: app, env, timeoutMs: 30_000 });
    const cliVersion = (JSON.parse(readFileSync(join(repo, 'cli/package.json'), 'utf8')) as { version: string }).version;
    expect([version.code, version.stdout.trim()], version.stderr).toEqual([0, cliVersion]); // docs/deploy.md runs it in the image
    const validate = await run('node', ['cli/dist/main.js', 'validate', '-f', join(repo, 'examples/quickstart')], {
      cwd: app,
      env,
      timeoutMs: 30_000,
    });
    failIfMissingModule('agw validate', validate.stdout + validate.stderr);
    expect([validate.code, validate.stdout], validate.stderr).toEqual([0, expect.stringContaining('valid') as unknown]);
    // A 429 (the API server's cache of a CRD still initializing, seen under load) is transient by
    // HTTP's meaning: asked again, as a client honouring Retry-After would. Anything else fails.
    let status = { code: -1, stdout: '', stderr: '' };
    await waitFor(
      'agw status without a 429',
      async () => {
        status = await run('node', ['cli/dist/main.js', 'status', `--kubeconfig=${admin()}`, '-A', '-o', 'json'], {
          cwd: app,
          env,
          timeoutMs: 30_000,
        });
        return !/ 429 /.test(status.stderr);
      },
      30_000,
      500,
    );
    failIfMissingModule('agw status', status.stdout + status.stderr);
    expect(status.code, status.stderr).toBe(0);
    expect(() => JSON.parse(status.stdout) as unknown).not.toThrow();
    const adminPort = await freePort();
    const args = [
      'node',
      'cli/dist/main.js',
      'local',
      '-f',
      join(repo, 'examples/quickstart'),
      '--port-map',
      '80=0',
      '--admin-port',
      String(adminPort),
    ];
    const local = start('runtime-tree-agw-local', args, app, env);
    try {
      await untilReady('agw local', local, async () => (await request(adminPort, { path: '/readyz' })).status === 200, 30_000);
    } finally {
      await local.stop();
      failIfMissingModule('agw local', local.output());
    }
  });

  it('the controller starts as the chart starts it, against the e2e API server, until /readyz answers 200', async () => {
    const rendered = await helm(admin(), [
      'template',
      'agentgateway',
      join(repo, 'charts/agentgateway'),
      '-n',
      'agentgateway-system',
      '--kube-version',
      '1.34.4',
      '--show-only',
      'templates/deployment.yaml',
      // The stream's certificate is a mounted Secret in a pod; here the process has no such files.
      '--set',
      'controller.xdsTls.enabled=false',
    ]);
    expect(rendered.code, rendered.stderr).toBe(0);
    type Container = { args: string[]; env: Array<{ name: string; value?: string }> };
    const container = (parseYaml(rendered.stdout) as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec
      .containers[0] as Container;
    const [xdsPort, adminPort] = [await freePort(), await freePort()];
    const suffix = `runtime-tree-${Date.now()}`;
    const chartEnv = Object.fromEntries(container.env.flatMap((e) => (e.value !== undefined ? [[e.name, e.value]] : [])));
    const proc = start('runtime-tree-controller', container.args, app, {
      ...env,
      ...chartEnv,
      // The downward API's values, and loopback instead of the pod's interfaces.
      POD_NAME: suffix,
      POD_NAMESPACE: 'agentgateway-system',
      KUBECONFIG: controllerKubeconfig(),
      AGW_XDS_HOST: '127.0.0.1',
      AGW_XDS_PORT: String(xdsPort),
      AGW_ADMIN_HOST: '127.0.0.1',
      AGW_ADMIN_PORT: String(adminPort),
      // Its own class: the other suites' Gateways and policies are not its business.
      AGW_CONTROLLER_NAME: `agentgateway.dev/${suffix}`,
      AGW_AGENTGATEWAY_CLASS_NAME: suffix,
    });
    try {
      await timed('controller start to /readyz 200', () =>
        untilReady(container.args.join(' '), proc, async () => (await request(adminPort, { path: '/readyz' })).status === 200, 60_000),
      );
      expect((await request(adminPort, { path: '/metrics' })).body).toContain('agw_controller_');
      // It reached the API server as the chart's ServiceAccount: it created its GatewayClass.
      await waitFor(`GatewayClass ${suffix}`, async () => (await kubectl(admin(), ['get', 'gatewayclass', suffix])).code === 0, 30_000);
    } finally {
      const code = await proc.stop();
      await kubectl(admin(), ['delete', 'gatewayclass', suffix, '--ignore-not-found']);
      failIfMissingModule(container.args.join(' '), proc.output());
      expect(code, proc.output()).toBe(0);
    }
  });

  it('the proxy serves a JWT-protected route from a config file (schemaVersion 2)', async () => {
    let upstream: EchoUpstream | undefined;
    let proc: Started | undefined;
    try {
      upstream = await startEchoUpstream('runtime-tree');
      const key = await generateSigningKey('RS256', 'runtime-tree-key');
      const config: ProxyConfigInput = {
        schemaVersion: PROXY_CONFIG_SCHEMA_VERSION,
        version: 'runtime-tree-1',
        gateway: { namespace: 'runtime-tree', name: 'gw' },
        listeners: [{ name: 'http', port: 80 }],
        routes: [
          {
            id: 'runtime-tree/r/0/0',
            listeners: ['http'],
            hostnames: ['www.example.com'],
            order: 0,
            match: { path: { type: 'PathPrefix', value: '/' } },
            backends: [{ name: 'runtime-tree/echo:80', weight: 1, endpoints: [{ host: '127.0.0.1', port: upstream.port }] }],
            policies: { jwt: 'runtime-tree/jwt' },
          },
        ],
        policies: {
          jwt: {
            'runtime-tree/jwt': {
              policy: 'runtime-tree/jwt',
              mode: 'Strict',
              location: { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
              providers: [{ id: 'runtime-tree/jwt#0', issuer: 'https://issuer.runtime-tree', keys: jwks(key).keys as Jwk[] }],
            },
          },
        },
      };
      const file = join(tmp, 'proxy-config.json');
      writeFileSync(file, JSON.stringify(config));
      const [port, adminPort] = [await freePort(), await freePort()];
      // Two workers: each is a process of its own (node:cluster fork), loading the tree again.
      const args = [
        'node',
        'proxy/dist/main.js',
        `--config=${file}`,
        '--host=127.0.0.1',
        `--port-map=80=${port}`,
        `--admin-port=${adminPort}`,
        '--workers=2',
        '--drain-ms=0',
      ];
      const p = start('runtime-tree-proxy', args, app, env);
      proc = p;
      await timed('proxy start to /readyz 200', () =>
        untilReady(args.join(' '), p, async () => (await request(adminPort, { path: '/readyz' })).status === 200, 30_000),
      );
      const denied = await request(port, { host: 'www.example.com', path: '/headers' });
      expect([denied.status, denied.body]).toEqual([401, 'authentication failure: no bearer token found']);
      const token = await mintToken(key, { claims: { iss: 'https://issuer.runtime-tree', sub: 'user1' } });
      const ok = await request(port, { host: 'www.example.com', path: '/headers', headers: { authorization: `Bearer ${token}` } });
      expect(ok.status, ok.body).toBe(200);
      expect(ok.headers['x-upstream']).toBe('runtime-tree');
      expect(upstream.requests).toHaveLength(1);
    } finally {
      const code = await proc?.stop();
      await upstream?.close();
      if (proc) {
        failIfMissingModule('node proxy/dist/main.js', proc.output());
        expect(code, proc.output()).toBe(0);
      }
    }
  });
});
