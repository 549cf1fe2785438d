import { request } from '@agw/test-kit';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoIdp, type DemoIdp } from './demo/demo-idp.js';
import { startHttpbin } from './demo/httpbin.js';
import { LocalGateway } from './local/local-gateway.js';
import { MANIFEST_LIMITS, loadManifests } from './manifests.js';
import { validateManifests } from './validate.js';

/**
 * A fixed-seed manifest fuzzer: mutations of the quickstart and testdata manifests (byte flips,
 * truncation, duplicated keys, deep nesting, huge strings, alias bombs, type swaps, encodings)
 * go through loadManifests + validateManifests in-process (never a throw; every error names the
 * file), and a subset through a live LocalGateway, whose protected route must keep answering 401
 * without a token (fail closed: the policy file's previous objects stay).
 */

/** mulberry32: a tiny deterministic PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
].join('\n');

interface Mutation {
  readonly name: string;
  readonly bytes: Buffer;
  /** The mutation can never yield a loadable, valid set of objects. */
  readonly mustFail: boolean;
}

function mutate(text: string, rnd: () => number): Mutation {
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const lines = text.split('\n');
  const keyLines = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[\w.-]+:/.test(l));
  const keyLine = () => pick(keyLines.length > 0 ? keyLines : [['x:', 0] as const]);
  const withValue = (value: string) => {
    const [l, i] = keyLine();
    const out = [...lines];
    out[i] = `${l.slice(0, l.indexOf(':') + 1)} ${value}`;
    return out.join('\n');
  };
  const s = (name: string, t: string, mustFail = false): Mutation => ({ name, bytes: Buffer.from(t), mustFail });
  switch (int(10)) {
    case 0: {
      const b = Buffer.from(text);
      for (let k = 1 + int(4); k > 0 && b.length > 0; k--) {
        const at = int(b.length);
        b[at] = (b[at] as number) ^ (1 << int(8));
      }
      return { name: 'byte flip', bytes: b, mustFail: false };
    }
    case 1:
      return s('truncation', text.slice(0, int(text.length)));
    case 2: {
      const [l, i] = keyLine();
      // A duplicated `key:` line in a mapping (not a `- key:` sequence item) is a duplicate key.
      return s(
        'duplicated key',
        [...lines.slice(0, i + 1), l, ...lines.slice(i + 1)].join('\n'),
        !/^\s*-/.test(l) && !l.trimEnd().endsWith(':'),
      );
    }
    case 3: {
      const d = 101 + int(300); // past maxDepth; deeper only costs time (yaml then overflows its stack, reported as an error)
      return pick([
        s('deep flow nesting', withValue(`${'['.repeat(d)}${']'.repeat(d)}`), true),
        s('deep unbalanced nesting', withValue('{a: '.repeat(d)), true),
        s('deep compact sequences', withValue(`\n${'- '.repeat(d)}x`)),
      ]);
    }
    case 4:
      return rnd() < 0.15
        ? s('over the size cap', `${text}\n# ${'x'.repeat(MANIFEST_LIMITS.maxFileBytes)}\n`, true)
        : s('huge string', withValue(JSON.stringify('y'.repeat(1_000 + int(30_000)))));
    case 5:
      return pick([
        s('alias bomb', ALIAS_BOMB, true),
        s('alias bomb appended', `${text}\n---\n${ALIAS_BOMB}\n`, true),
        s('alias bomb in a value', withValue(`\n  ${ALIAS_BOMB.replaceAll('\n', '\n  ')}`)),
        s('alias to nothing', withValue('*nope')),
      ]);
    case 6:
      return pick([
        s(
          'value type swap',
          withValue(pick(['[]', '{}', '42', 'null', '~', 'true', '"str"', '[1, 2]', '{a: 1}', '!!binary aGVsbG8=', '&x 1', '|\n  block'])),
        ),
        s('document is a scalar', pick(['hello', '42', 'true', '"quoted"', '>\n  folded']), true),
        s(
          'document is a sequence',
          `- ${text
            .split('\n')
            .filter((l) => !l.startsWith('---'))
            .join('\n  ')}`,
          true,
        ),
        s('document is a JSON array', '[{"apiVersion": "v1", "kind": "Service"}]', true),
      ]);
    case 7:
      return pick<Mutation>([
        { name: 'UTF-16 without BOM', bytes: Buffer.from(text, 'utf16le'), mustFail: text.length > 0 },
        { name: 'UTF-16 LE with BOM', bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), mustFail: false },
        {
          name: 'NUL inserted',
          bytes: Buffer.from(((at) => `${text.slice(0, at)}\0${text.slice(at)}`)(int(text.length + 1))),
          mustFail: true,
        },
        { name: 'binary', bytes: Buffer.from(Array.from({ length: 1 + int(512) }, () => int(256))), mustFail: false },
      ]);
    case 8: {
      const i = int(lines.length);
      return s('line dropped', [...lines.slice(0, i), ...lines.slice(i + 1)].join('\n'));
    }
    default: {
      const at = int(text.length + 1);
      const junk = Array.from({ length: 1 + int(6) }, () =>
        pick([':', '{', '}', '[', ']', '&', '*', '!', '|', '>', '-', '?', '#', '%', '@', '`', '"', "'", '\t', '\n', ' ']),
      ).join('');
      return s('punctuation spliced', `${text.slice(0, at)}${junk}${text.slice(at)}`);
    }
  }
}

const repo = resolve(import.meta.dirname, '../..');
const seedFiles = ['examples/quickstart', 'cli/testdata']
  .flatMap((d) =>
    readdirSync(join(repo, d))
      .sort()
      .map((f) => join(repo, d, f)),
  )
  .filter((f) => statSync(f).isFile());
const scratch = mkdtempSync(join(tmpdir(), 'agw-fuzz-'));

/** Loads and validates one mutation written at `file`; never throws, by contract. */
function check(file: string) {
  const loaded = loadManifests([file]);
  const validated = validateManifests(loaded.manifests);
  return { ...loaded, ...validated, ok: loaded.errors.length === 0 && validated.problems.length === 0 };
}

describe('manifest fuzzer, in-process (seed 12, 200 mutations)', () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('never throws; every error and problem names the file; must-fail mutations fail', () => {
    const rnd = mulberry32(12);
    const seen = new Map<string, { ok: number; failed: number }>();
    for (let i = 0; i < 200; i++) {
      const seed = seedFiles[Math.floor(rnd() * seedFiles.length)] as string;
      const m = mutate(readFileSync(seed, 'utf8'), rnd);
      const file = join(scratch, `${i}-${seed.split('/').at(-1) ?? 'x'}`);
      writeFileSync(file, m.bytes);
      const r = check(file);
      const where = `mutation #${i} (${m.name} of ${seed})`;
      expect(
        [...r.errors, ...r.problems, ...r.warnings].filter((e) => e.file !== file),
        where,
      ).toEqual([]);
      for (const e of r.errors) expect(e.message.length, where).toBeGreaterThan(0);
      for (const x of r.manifests) {
        const o = x.object as { apiVersion?: unknown; kind?: unknown };
        expect([typeof o.apiVersion, typeof o.kind, x.file], where).toEqual(['string', 'string', file]);
      }
      if (m.mustFail) expect(r.ok, where).toBe(false);
      const stats = seen.get(m.name) ?? { ok: 0, failed: 0 };
      seen.set(m.name, r.ok ? { ...stats, ok: stats.ok + 1 } : { ...stats, failed: stats.failed + 1 });
    }
    // The fuzzer exercises both outcomes and most of its mutation kinds.
    const total = [...seen.values()].reduce((a, s) => ({ ok: a.ok + s.ok, failed: a.failed + s.failed }), { ok: 0, failed: 0 });
    expect(total.ok).toBeGreaterThan(10);
    expect(total.failed).toBeGreaterThan(50);
    expect(seen.size).toBeGreaterThan(15);
  });
});

describe('manifest fuzzer, live agw local (seed 34: 4 fixed and 20 fuzzed rejected mutations of the policy file)', () => {
  const quickstart = join(repo, 'examples/quickstart');
  let dir: string;
  let probeDir: string;
  let idp: DemoIdp;
  let bin: { port: number; close(): Promise<void> };
  let gw: LocalGateway;
  let port: number;
  const printed: string[] = [];
  const policyFile = () => join(dir, '30-jwt-auth-policy.yaml');
  const get = (headers: Record<string, string> = {}) => request(port, { host: 'www.example.com', path: '/headers', headers });

  /** Bounded polling on a condition (no sleeps that assert nothing). */
  async function until(probe: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await probe())) {
      if (Date.now() > end) throw new Error(`not reached in ${ms} ms: ${what}\n${printed.slice(-5).join('\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  /** Writes the policy file and waits until a reload that read it is programmed. */
  async function writePolicy(bytes: string | Buffer): Promise<void> {
    const before = gw.appliedReloads;
    writeFileSync(policyFile(), bytes);
    await until(() => gw.appliedReloads > before, 'the write is reloaded and programmed');
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agw-local-fuzz-'));
    probeDir = mkdtempSync(join(tmpdir(), 'agw-fuzz-probe-'));
    cpSync(quickstart, dir, { recursive: true });
    idp = await startDemoIdp({ port: 0 });
    bin = await startHttpbin({ port: 0 });
    const sub = (f: string, from: string, to: string) => writeFileSync(join(dir, f), readFileSync(join(dir, f), 'utf8').replace(from, to));
    sub('10-httpbin.yaml', 'port: 8082', `port: ${bin.port}`);
    sub('20-keycloak.yaml', 'port: 8081', `port: ${idp.port}`);
    sub('30-jwt-auth-policy.yaml', 'http://localhost:8081/realms/master', idp.issuer);
    gw = new LocalGateway({
      paths: [dir],
      portMap: new Map([[80, 0]]),
      host: '127.0.0.1',
      adminPort: 0,
      logger: pino({ level: 'silent' }),
      print: (l) => printed.push(l),
      watch: true,
      reloadDebounceMs: 20,
    });
    await gw.start();
    port = gw.boundPorts().get('agentgateway-system/agentgateway-proxy:80') as number;
  });

  afterAll(async () => {
    await gw.stop();
    await idp.close();
    await bin.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  });

  it('keeps the policy (401 without a token) through every rejected mutation, then applies a valid file again', async () => {
    const valid = readFileSync(policyFile(), 'utf8');
    expect((await get()).status).toBe(401);
    // Only mutations the validator rejects: a valid mutation may legitimately change the policy
    // (say, target another Gateway), and then 200 would be the right answer.
    const rnd = mulberry32(34);
    // The classes of the issue first, then fuzzed ones.
    const rejected: Mutation[] = [
      { name: 'alias bomb', bytes: Buffer.from(ALIAS_BOMB), mustFail: true },
      { name: 'scalar', bytes: Buffer.from('garbage\n'), mustFail: true },
      { name: 'sequence', bytes: Buffer.from('- a\n- b\n'), mustFail: true },
      { name: 'UTF-16 without BOM', bytes: Buffer.from(valid, 'utf16le'), mustFail: true },
    ];
    const probe = join(probeDir, '30-jwt-auth-policy.yaml');
    for (let i = 0; rejected.length < 24 && i < 1000; i++) {
      const m = mutate(valid, rnd);
      if (m.name === 'over the size cap' && rejected.some((r) => r.name === m.name)) continue; // one is enough (4 MiB writes)
      writeFileSync(probe, m.bytes);
      if (!check(probe).ok) rejected.push(m);
    }
    expect(rejected).toHaveLength(24);
    for (const [i, m] of rejected.entries()) {
      const from = printed.length;
      await writePolicy(m.bytes);
      const where = `mutation #${i} (${m.name})`;
      // The rejection was reported, naming the file.
      expect(
        printed.slice(from).some((l) => l.startsWith('error: ') && l.includes(policyFile())),
        where,
      ).toBe(true);
      const none = await get();
      expect([none.status, none.body], where).toEqual([401, 'authentication failure: no bearer token found']);
      expect((await request(gw.adminPort as number, { path: '/readyz' })).status, where).toBe(200);
    }
    // The watcher and the reload still work: a valid edit applies, and the original comes back.
    await writePolicy(valid.replace('mode: Strict', 'mode: Permissive'));
    expect((await get()).status).toBe(200);
    await writePolicy(valid);
    expect((await get()).status).toBe(401);
    expect((await get({ authorization: `Bearer ${await idp.mint('user1')}` })).status).toBe(200);
  });
});
