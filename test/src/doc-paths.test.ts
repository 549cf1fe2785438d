import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every repository path the docs name exists: docs drift from the tree when a directory moves
 * (docs/infra.md once pointed at `e2e/src/harness/` after the harness moved to test/src/harness/).
 *
 * Checked in README.md, CONTRIBUTING.md and docs/**\/*.md:
 * - inline code (`…`): each whitespace-separated word that starts with a top-level directory of
 *   the repository (TOP below) and contains a `/`, relative to the repository root;
 * - Markdown links [text](target) with a relative target, relative to the file that holds them.
 * Fenced code blocks are not read (shell sessions, example output). A compiled path
 * `<workspace>/dist/….js` is checked as its source `<workspace>/src/….ts` (dist/ is built, not
 * committed); a word with a placeholder or glob (`<name>`, `*`, `{a,b}`) is checked up to its last
 * directory before that character.
 */
const root = resolve(fileURLToPath(import.meta.url), '../../..');
const TOP = ['api', 'proxy', 'controller', 'cli', 'crds', 'charts', 'test', 'e2e', 'bench', 'docs', 'examples', 'scripts', '.ci'];
const topPattern = new RegExp(`^(?:${TOP.map((t) => t.replace('.', '\\.')).join('|')})/`);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? markdownFiles(path) : path.endsWith('.md') ? [path] : [];
  });
}

/** The doc's text without fenced code blocks (their lines become empty: line numbers stay right). */
function withoutFences(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** The part of a path word that can be checked: no trailing punctuation, line suffix, anchor, or placeholder. */
export function checkablePath(word: string): string {
  let p = word.replace(/^[("'[]+/, '').replace(/[)"',.;:\]]+$/, '');
  p = p.replace(/#.*$/, '').replace(/:\d+(-\d+)?$/, '');
  const wild = p.search(/[*?<{[]/);
  if (wild >= 0) p = p.slice(0, p.lastIndexOf('/', wild) + 1);
  // Built output is not committed: check the source it is compiled from.
  const dist = /^([^/]+)\/dist\/(.+)\.(d\.ts|js)(\.map)?$/.exec(p);
  if (dist) p = `${dist[1]}/src/${dist[2]}.ts`;
  return p;
}

export interface NamedPath {
  readonly doc: string;
  readonly line: number;
  readonly path: string;
  readonly resolved: string;
}

/** Every repository path named in one Markdown file (see above), with where it is named. */
export function namedPaths(docFile: string, text: string): NamedPath[] {
  const doc = relative(root, docFile);
  const out: NamedPath[] = [];
  withoutFences(text).forEach((line, i) => {
    for (const m of line.matchAll(/`([^`]+)`/g)) {
      for (const word of (m[1] as string).split(/\s+/)) {
        const bare = word.replace(/^[("'[]+/, '');
        if (!topPattern.test(bare)) continue;
        const path = checkablePath(bare);
        if (path !== '') out.push({ doc, line: i + 1, path, resolved: join(root, path) });
      }
    }
    // Links outside inline code: [text](target "title"); absolute URLs, mailto and anchors skipped.
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1] as string;
      if (/^([a-z][a-z0-9+.-]*:|#|\/)/i.test(target)) continue;
      const path = target.replace(/#.*$/, '');
      if (path === '') continue;
      out.push({ doc, line: i + 1, path, resolved: resolve(dirname(docFile), path) });
    }
  });
  return out;
}

const docs = [join(root, 'README.md'), join(root, 'CONTRIBUTING.md'), ...markdownFiles(join(root, 'docs'))].filter((f) => existsSync(f));

describe('repository paths named in README.md, CONTRIBUTING.md and docs/', () => {
  it('finds the paths it should (the extraction itself)', () => {
    const sample = [
      'The harness (`test/src/harness/`) and `node cli/dist/main.js`; see [infra](docs/infra.md#top).',
      '```sh',
      'ls `nothing/in/fences` [x](nowhere.md)',
      '```',
      '`e2e/src/*.test.ts`, `charts/agentgateway/templates/<name>.yaml`, `proxy/src/server.ts:42`, `~/.cache/x`, `http://a/b`, [web](https://x.dev/a).',
    ].join('\n');
    expect(namedPaths(join(root, 'README.md'), sample).map((p) => `${p.line}:${p.path}`)).toEqual([
      '1:test/src/harness/',
      '1:cli/src/main.ts',
      '1:docs/infra.md',
      '5:e2e/src/',
      '5:charts/agentgateway/templates/',
      '5:proxy/src/server.ts',
    ]);
  });

  it('reads every doc and finds paths in them', () => {
    expect(docs.map((d) => relative(root, d))).toEqual(expect.arrayContaining(['README.md', 'docs/infra.md']));
    expect(docs.flatMap((d) => namedPaths(d, readFileSync(d, 'utf8'))).length).toBeGreaterThan(20);
  });

  it.each(docs.map((d) => [relative(root, d), d]))('%s: every path it names exists', (_name, doc) => {
    const missing = namedPaths(doc, readFileSync(doc, 'utf8'))
      .filter((p) => !existsSync(p.resolved))
      .map((p) => `${p.doc}:${p.line}: ${p.path}`);
    expect(missing).toEqual([]);
  });
});
