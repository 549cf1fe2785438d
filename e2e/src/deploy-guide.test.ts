import { helm, kubectl, type KubectlResult } from '@agw/test-kit';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * docs/deploy.md, run as written: every command of its ```sh deploy-guide``` blocks, in order, with
 * the real helm and kubectl against the e2e kube-apiserver (from the repository root, as the doc
 * says), and each ```text deploy-guide-output``` block that follows one compared with what its last
 * command printed (each of its lines must be a line of the output). The other blocks need Docker,
 * kind or running pods; of them, this checks that every `--set` names a value of the chart and every
 * repository path exists.
 *
 * The guide installs the release `agentgateway` in `agentgateway-system`, the one global setup
 * installs for the other suites: this suite uninstalls that one first and installs it again, as
 * global setup did, when it ends (pass or fail). The e2e files run one at a time.
 */
const repo = process.cwd();
const doc = join(repo, 'docs/deploy.md');
const chart = join(repo, 'charts/agentgateway');
const admin = () => inject('kubeconfig');

interface Command {
  readonly text: string;
  readonly line: number;
  readonly words: string[];
}
interface Block {
  readonly lang: string;
  readonly tag: string;
  readonly line: number;
  readonly body: string[];
}

/** Fenced code blocks: the info string's first word (language) and second (our tag), and their lines. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: { lang: string; tag: string; line: number; body: string[] } | undefined;
  markdown.split('\n').forEach((line, i) => {
    const fence = /^```\s*(\S*)\s*(\S*)\s*$/.exec(line);
    if (open === undefined) {
      if (fence) open = { lang: fence[1] ?? '', tag: fence[2] ?? '', line: i + 1, body: [] };
    } else if (/^```\s*$/.test(line)) {
      blocks.push(open);
      open = undefined;
    } else {
      open.body.push(line);
    }
  });
  return blocks;
}

/**
 * The words of one command line as sh splits them (single and double quotes, backslashes), with no
 * expansion: what would make sh do more than run one program with those words (a pipe, a redirect,
 * `$`, a glob, `;`, `&&`) is refused, so a guide block that passes here runs the same in a shell.
 */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  const refuse = (what: string) => new Error(`\`${line}\`: ${what}; a checked deploy-guide block holds plain commands only`);
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw refuse('unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= line.length) throw refuse('unterminated double quote');
        const d = line[i] as string;
        if (d === '"') break;
        if (d === '$' || d === '`') throw refuse(`${d} in double quotes (expansion)`);
        if (d === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) {
          word += line[i + 1];
          i++;
        } else word += d;
      }
    } else if (c === '\\') {
      word += line[i + 1] ?? '';
      inWord = true;
      i++;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else if ('|&;<>$`()*?[]'.includes(c) || (c === '~' && !inWord)) {
      throw refuse(`unquoted ${c}`);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The commands of a block: backslash-newline continuations joined, blank and comment lines skipped. */
function commands(block: Block): Command[] {
  const out: Command[] = [];
  let pending = '';
  let start = 0;
  block.body.forEach((raw, i) => {
    if (pending === '') start = block.line + 1 + i;
    if (raw.endsWith('\\')) {
      pending += `${raw.slice(0, -1)} `;
      return;
    }
    const text = (pending + raw).trim();
    pending = '';
    if (text === '' || text.startsWith('#')) return;
    out.push({ text: text.replace(/\s+/g, ' '), line: start, words: shellWords(text) });
  });
  return out;
}

const markdown = readFileSync(doc, 'utf8');
const blocks = fencedBlocks(markdown);
/** The checked steps, in order: each block's commands, and the expected output after its last command. */
const steps = blocks.flatMap((b, i) => {
  if (b.lang !== 'sh' || b.tag !== 'deploy-guide') return [];
  const next = blocks[i + 1];
  const expected = next?.tag === 'deploy-guide-output' ? next.body.filter((l) => l.trim() !== '') : [];
  const cmds = commands(b);
  return cmds.map((c, j) => ({ ...c, expected: j === cmds.length - 1 ? expected : [] }));
});

const run = (words: string[]): Promise<KubectlResult> => {
  const [program, ...args] = words;
  if (program === 'helm') return helm(admin(), args);
  if (program === 'kubectl') return kubectl(admin(), args);
  throw new Error(`\`${words.join(' ')}\`: a checked deploy-guide block runs helm and kubectl only`);
};

/** The release of global setup, as it installed it. */
const globalRelease = ['install', 'agentgateway', chart, '-n', 'agentgateway-system', '--create-namespace'];

beforeAll(async () => {
  const status = await helm(admin(), ['status', 'agentgateway', '-n', 'agentgateway-system']);
  if (status.code === 0) {
    const down = await helm(admin(), ['uninstall', 'agentgateway', '-n', 'agentgateway-system']);
    if (down.code !== 0) throw new Error(`uninstalling the release of global setup: ${down.stderr}`);
  }
});

afterAll(async () => {
  // The last test reinstalls it; after a failure, whatever the guide left is replaced.
  const status = await helm(admin(), ['get', 'values', 'agentgateway', '-n', 'agentgateway-system', '-o', 'json']);
  if (status.code === 0 && status.stdout.trim() === '{}') return;
  await helm(admin(), ['uninstall', 'agentgateway', '-n', 'agentgateway-system']);
  const again = await helm(admin(), globalRelease);
  if (again.code !== 0) throw new Error(`reinstalling the release of global setup: ${again.stderr}`);
});

describe('docs/deploy.md', () => {
  it('has checked blocks for helm install, helm upgrade and helm uninstall, in that order', () => {
    const verbs = steps.filter((s) => s.words[0] === 'helm').map((s) => s.words[1]);
    expect(verbs).toEqual(['install', 'upgrade', 'uninstall']);
    for (const s of steps.filter((x) => x.words[0] === 'helm' && x.words[1] !== 'uninstall'))
      expect(s.words.slice(1, 4), s.text).toEqual([s.words[1], 'agentgateway', 'charts/agentgateway']);
  });

  it('names only values the chart has (--set), and repository paths that exist, in every sh block', () => {
    const values = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const has = (path: string) =>
      path
        .split('.')
        .reduce<unknown>(
          (o, k) => (o !== null && typeof o === 'object' && k in o ? (o as Record<string, unknown>)[k] : undefined),
          values,
        ) !== undefined;
    const sets: string[] = [];
    const paths: string[] = [];
    for (const b of blocks.filter((x) => x.lang === 'sh')) {
      for (const line of b.body) {
        for (const m of line.matchAll(/--set(?:-string)?[ =]([\w.-]+)=/g)) sets.push(m[1] as string);
        for (const m of line.matchAll(/(?:^|\s)((?:charts|examples|e2e|docs|scripts)\/[\w./-]+)/g)) paths.push(m[1] as string);
      }
    }
    expect(sets.length).toBeGreaterThan(0);
    expect(sets.filter((s) => !has(s))).toEqual([]);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((p) => !existsSync(join(repo, p)))).toEqual([]);
  });

  it.each(steps.map((s) => [`$ ${s.text} (docs/deploy.md:${s.line})`, s] as const))('%s', async (_name, step) => {
    const r = await run(step.words);
    expect(r.code, `${step.text}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.trimEnd());
    expect(
      step.expected.filter((l) => !lines.includes(l.trimEnd())),
      `output of ${step.text}:\n${r.stdout}`,
    ).toEqual([]);
  });

  it('helm install without an image override says in its notes which image it runs: the one a release publishes', async () => {
    const values = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8')) as { image: { repository: string; tag: string } };
    const appVersion = (parseYaml(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;
    expect(values.image.tag).toBe('');
    const r = await helm(admin(), globalRelease);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `Image: ${values.image.repository}:${appVersion} (the controller, and the proxy of every Gateway of class "agentgateway")`,
    );
    expect(r.stdout).toContain(`image.tag is unset, so the tag is the chart's appVersion (${appVersion}). With the default`);
    expect(r.stdout).toContain(`image.repository this is the image that release v${appVersion} of agentgateway-ts publishes.`);
  });
});
