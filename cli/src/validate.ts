import { parseObjects } from '@agw/controller';
import type { Manifest } from './manifests.js';

export interface ValidationProblem {
  readonly file: string;
  readonly line: number;
  readonly object: string;
  readonly field: string;
  readonly message: string;
}

/**
 * Validates manifests offline with the same zod schemas and CEL rules as the API server (same
 * messages). AgentgatewayPolicy is checked in full; Gateway API objects for the fields we read.
 */
export function validateManifests(manifests: readonly Manifest[]): { problems: ValidationProblem[]; checked: number; ignored: string[] } {
  const problems: ValidationProblem[] = [];
  const ignored: string[] = [];
  let checked = 0;
  for (const m of manifests) {
    const parsed = parseObjects([m.object]);
    ignored.push(...parsed.ignored);
    if (parsed.ignored.length === 0) checked++;
    for (const p of parsed.problems) {
      // Each issue keeps its field path: it maps back to a line of the file.
      for (const issue of p.issues) {
        problems.push({ file: m.file, line: m.lineOf(issue.path), object: p.ref, field: issue.path.join('.') || '(root)', message: issue.message });
      }
    }
  }
  return { problems, checked, ignored };
}

export function formatProblem(p: ValidationProblem): string {
  return `${p.file}:${p.line}: ${p.object}: ${p.field === '(root)' ? '' : `${p.field}: `}${p.message}`;
}
