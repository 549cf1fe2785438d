import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The dependency rules of DESIGN.md, checked by reading every import of every source file.
 * (ESLint checks the same rules; this test cannot be switched off by an eslint-disable comment.)
 */
const root = resolve(fileURLToPath(import.meta.url), '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' || entry === 'dist' ? [] : sources(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

export function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) specs.push(m[1] as string);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specs.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1] as string);
  return specs;
}

interface Rule {
  files: RegExp;
  forbidden: RegExp;
  why: string;
}
const rules: Rule[] = [
  {
    files: /^proxy\/src\//,
    forbidden: /^@agw\/controller|controller\/src|^@kubernetes\/client-node/,
    why: 'proxy never imports controller or the kube client',
  },
  { files: /^controller\/src\//, forbidden: /^@agw\/proxy|proxy\/src/, why: 'controller never imports proxy' },
  { files: /^(proxy|controller|cli)\/src\//, forbidden: /^@agw\/api\//, why: 'only the root export of @agw/api' },
  {
    files: /^controller\/src\/translate\//,
    forbidden: /^node:|^(fs|net|http|https|child_process)$|^pino|^@kubernetes\/client-node/,
    why: 'translate is pure',
  },
  {
    files: /^proxy\/src\/(routing|auth)\//,
    forbidden: /^fastify|^@fastify\/|^pino|^node:(fs|net|http|https|child_process)/,
    why: 'routing and auth are pure, fastify-free',
  },
  { files: /^api\/src\/(?!gen\/)/, forbidden: /^node:|^pino|^fastify|^@kubernetes\/client-node/, why: 'api is the contract: no I/O' },
];

describe('dependency rules', () => {
  const files = ['api', 'proxy', 'controller', 'cli'].flatMap((w) => {
    try {
      return sources(join(root, w, 'src'));
    } catch {
      return [];
    }
  });

  it('finds the sources it checks', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('no source file imports what its layer forbids', () => {
    const violations: string[] = [];
    for (const file of files) {
      const rel = relative(root, file);
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        for (const rule of rules) {
          if (rule.files.test(rel) && rule.forbidden.test(spec)) violations.push(`${rel}: ${spec} (${rule.why})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('recognises every import form (the checker itself can fail)', () => {
    expect(
      importsOf(`import a from 'x';\nimport type { B } from "y";\nexport * from './z.js';\nimport 'side';\nconst m = await import('dyn');`),
    ).toEqual(['x', 'y', './z.js', 'side', 'dyn']);
  });
});
