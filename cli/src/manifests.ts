import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';

/** One manifest document and where it came from. */
export interface Manifest {
  readonly object: unknown;
  readonly file: string;
  /** 1-based line of the document's first content. */
  readonly line: number;
  /** 1-based line of a field path inside the document, or the document line. */
  lineOf(path: ReadonlyArray<PropertyKey>): number;
}

export interface LoadResult { readonly manifests: Manifest[]; readonly errors: string[] }

/** Files named on the command line, or the .yaml/.yml/.json files under a directory (sorted). */
export function expandPaths(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    if (!statSync(p).isDirectory()) return [p];
    return readdirSync(p).sort().flatMap((e) => {
      const full = join(p, e);
      if (statSync(full).isDirectory()) return expandPaths([full]);
      return ['.yaml', '.yml', '.json'].includes(extname(e)) ? [full] : [];
    });
  });
}

/** Reads multi-document YAML (JSON is YAML too); a syntax error is reported as `file:line: message`. */
export function loadManifests(paths: readonly string[]): LoadResult {
  const manifests: Manifest[] = [];
  const errors: string[] = [];
  let files: string[];
  try { files = expandPaths(paths); } catch (err) { return { manifests, errors: [(err as Error).message] }; }
  for (const file of files) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (err) { errors.push(`${file}: ${(err as Error).message}`); continue; }
    const lc = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lc });
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      const d = doc as Document;
      if (d.errors.length > 0) {
        for (const e of d.errors) errors.push(`${file}:${lc.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
        continue;
      }
      const object: unknown = d.toJS();
      if (object === null || object === undefined) continue;
      const start = d.contents?.range?.[0] ?? 0;
      const line = lc.linePos(start).line;
      manifests.push({
        object, file, line,
        lineOf: (path) => {
          for (let n = path.length; n > 0; n--) {
            const node = d.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
            if (node?.range) return lc.linePos(node.range[0]).line;
          }
          return line;
        },
      });
    }
  }
  return { manifests, errors };
}
