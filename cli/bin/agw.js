#!/usr/bin/env node
/**
 * The `agw` bin, committed so that npm links it at `npm ci` (node_modules/.bin/agw), before
 * anything is built: npm links nothing for a bin whose file does not exist yet, and
 * cli/dist/main.js only exists after a build.
 *
 * When the compiled CLI is missing (a fresh clone after `npm ci`), it builds it once with the
 * repository's own TypeScript (`tsc -b cli`, which also builds api, controller and proxy: 30 to
 * 50 s on a 2-core machine), saying so on stderr (stdout stays the command's own, so
 * `TOKEN=$(npx agw token …)` keeps working), then runs it. Without TypeScript (a production
 * install) it prints one line and exits 2. It never rebuilds a dist that exists: after changing
 * the sources, `npm run build`.
 *
 * Plain JavaScript on purpose: it must run before any TypeScript is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Exit code of a usage problem (see `agw --help`): here, an unbuilt CLI that cannot be built. */
const USAGE_EXIT = 2;

// Node resolves the symlink node_modules/.bin/agw to this file, so this is cli/bin/.
const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = join(cliDir, '..');
const entry = join(cliDir, 'dist', 'main.js');
// What the compiled CLI imports at run time: its own entry and the workspaces it depends on.
const needed = [entry, ...['api', 'controller', 'proxy'].map((w) => join(repoDir, w, 'dist', 'index.js'))];

if (needed.some((f) => !existsSync(f))) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write('agw is not built yet: run `npm run build`\n');
    process.exit(USAGE_EXIT);
  }
  process.stderr.write('agw is not built yet: building it once with `tsc -b cli` (about a minute; `npm run build` builds everything)…\n');
  const started = Date.now();
  // stdout of tsc goes to our stderr: compiler messages must never mix with agw's output.
  const build = (...flags) =>
    spawnSync(process.execPath, [tsc, '-b', cliDir, ...flags], { cwd: repoDir, stdio: ['ignore', 2, 2] }).status === 0;
  let ok = build();
  // A dist/ deleted by hand leaves its *.tsbuildinfo behind, and tsc -b then reports the project
  // up to date without writing anything: rebuild from scratch once.
  if (ok && needed.some((f) => !existsSync(f))) ok = build('--force');
  if (!ok || needed.some((f) => !existsSync(f))) {
    process.stderr.write('agw is not built yet, and `tsc -b cli` failed (above): fix the error, then `npm run build`\n');
    process.exit(USAGE_EXIT);
  }
  process.stderr.write(`agw: built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

await import(pathToFileURL(entry).href);
