import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { extname, join } from 'node:path';
import { Composer, LineCounter, Parser, type Document } from 'yaml';

/**
 * Manifests are untrusted input: a file may be garbage, hostile (an alias bomb), huge, binary or
 * not a file at all. Every such case is a LoadError naming the file (and the line when known),
 * never an exception, and the bounds below keep time and memory of one load bounded.
 */
export const MANIFEST_LIMITS = {
  /**
   * Largest file read, bytes (4 MiB). Larger files are refused unread (fstat size, and the read
   * stops one byte past it). Parse time grows with size, so this also bounds how long one reload
   * of one file blocks the event loop (local mode serves traffic on the same loop).
   */
  maxFileBytes: 4 * 1024 * 1024,
  /**
   * yaml's `maxAliasCount` for toJS (its default is also 100, set explicitly so the bound is ours):
   * how far aliases may expand a document, in nodes per anchor. Hand-written manifests rarely use
   * aliases at all; a "billion laughs" document stops with an error after ~100 nodes, not 10^9.
   */
  maxAliasCount: 100,
  /** Documents per file (`---`-separated, empty ones included). A file over it is an error. */
  maxDocumentsPerFile: 1000,
  /**
   * Deepest nesting of mappings/sequences in one object, levels (the object itself is level 1).
   * Real objects stay under ~40 (CRD schemas); deeper ones would only risk stack overflows in the
   * recursive code that reads them (schema checks, translate, JSON dumps).
   */
  maxDepth: 100,
  /** YAML errors reported per file; the rest are counted in one last message. */
  maxErrorsPerFile: 10,
} as const;

/** One manifest document and where it came from. */
export interface Manifest {
  readonly object: unknown;
  readonly file: string;
  /** 1-based line of the document's first content. */
  readonly line: number;
  /** 1-based line of a field path inside the document, or the document line. */
  lineOf(path: ReadonlyArray<PropertyKey>): number;
}

/**
 * Why a file (or directory) could not be loaded. `file` is exactly the path as listed by
 * expandPaths, so callers can key by it (never parse it back out of a message: paths may contain
 * ':' or be Windows paths). When `file` is a directory, the error covers every file under it.
 */
export interface LoadError {
  readonly file: string;
  /** 1-based line, when the error has a position. */
  readonly line?: number;
  readonly message: string;
}

/**
 * `manifests` holds every object that loaded, including the good documents of a file that also
 * has errors (validate reports them all); callers that must fail closed per file (local mode)
 * drop every manifest of a file named in `errors`.
 */
export interface LoadResult {
  readonly manifests: Manifest[];
  readonly errors: LoadError[];
}

/** `file:line: message`, or `file: message` without a line. */
export function formatLoadError(e: LoadError): string {
  return `${e.file}${e.line === undefined ? '' : `:${e.line}`}: ${e.message}`;
}

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const codeOf = (err: unknown): string | undefined => (err as { code?: unknown } | null)?.code as string | undefined;

/**
 * Files named on the command line (whatever their extension), and the .yaml/.yml/.json files
 * under a directory, recursively, sorted by name. Symbolic links are followed; a link back to a
 * directory being read (a loop) is an error, not an endless walk. A path that cannot be read is
 * an error for that path; an entry that vanished between listing and stat (ENOENT) and has no
 * manifest extension is skipped (it was deleted, or is a dangling link to something we would not
 * read). What is not a regular file is reported when read (loadManifests), never opened blocking.
 */
export function expandPaths(paths: readonly string[]): { files: string[]; errors: LoadError[] } {
  const files: string[] = [];
  const errors: LoadError[] = [];
  const walk = (p: string, named: boolean, ancestors: ReadonlySet<string>): void => {
    const manifestName = named || MANIFEST_EXTENSIONS.includes(extname(p));
    let st: Stats;
    try {
      st = statSync(p);
    } catch (err) {
      if (manifestName || codeOf(err) !== 'ENOENT') errors.push({ file: p, message: messageOf(err) });
      return;
    }
    if (!st.isDirectory()) {
      if (manifestName) files.push(p);
      return;
    }
    let real: string;
    let entries: string[];
    try {
      real = realpathSync(p);
      entries = readdirSync(p).sort();
    } catch (err) {
      errors.push({ file: p, message: messageOf(err) });
      return;
    }
    if (ancestors.has(real)) {
      errors.push({ file: p, message: `symbolic link loop: this is ${real}, a directory already being read (skipped)` });
      return;
    }
    const inner = new Set(ancestors).add(real);
    for (const e of entries) walk(join(p, e), false, inner);
  };
  for (const p of paths) walk(p, true, new Set());
  return { files, errors };
}

function fileType(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads at most maxFileBytes of a regular file. Opened non-blocking and checked with fstat on the
 * open descriptor (no stat-then-open race), so a FIFO or device is refused instead of blocking
 * the process; the read stops past the cap even if the file grows after fstat.
 */
function readBounded(file: string): { bytes: Buffer } | { error: string } {
  const max = MANIFEST_LIMITS.maxFileBytes;
  let fd: number;
  // O_NONBLOCK does not exist on Windows, where FIFOs are not files anyway.
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    return { error: messageOf(err) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { error: `${fileType(st)}, not a regular file: only regular files are read` };
    const tooBig = { error: `file is larger than ${max} bytes (4 MiB), the limit for one manifest file` };
    if (st.size > max) return tooBig;
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > max) return tooBig;
    return { bytes: buf.subarray(0, n) };
  } catch (err) {
    return { error: messageOf(err) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Bytes to text. UTF-8 (an optional BOM is dropped) and UTF-16 LE/BE with a byte-order mark are
 * decoded; invalid UTF-8, UTF-32 and anything with NUL characters (binary, or UTF-16 without a
 * BOM) is an error, as a YAML stream cannot contain NUL.
 */
function decode(bytes: Buffer): { text: string } | { error: string; line?: number } {
  const [b0, b1, b2, b3] = bytes;
  let text: string;
  try {
    if ((b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) || (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff)) {
      return { error: 'UTF-32 text is not supported: save the file as UTF-8' };
    } else if (b0 === 0xff && b1 === 0xfe) {
      text = new TextDecoder('utf-16le', { fatal: true }).decode(bytes.subarray(2));
    } else if (b0 === 0xfe && b1 === 0xff) {
      const swapped = Buffer.from(bytes.subarray(2, bytes.length - (bytes.length % 2)));
      swapped.swap16();
      if (bytes.length % 2 !== 0) throw new Error('odd length');
      text = new TextDecoder('utf-16le', { fatal: true }).decode(swapped);
    } else {
      // TextDecoder drops a UTF-8 BOM by default.
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    }
  } catch {
    const enc = b0 === 0xff || b0 === 0xfe ? 'UTF-16 (after its byte-order mark)' : 'UTF-8';
    return { error: `not valid ${enc} text: a binary file? Manifests must be UTF-8 (or UTF-16 with a byte-order mark)` };
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    return { error: 'contains NUL bytes: a binary file, or UTF-16/UTF-32 text without a byte-order mark', line };
  }
  return { text };
}

/** Nesting depth of a JSON-like value, levels; walks iteratively and stops past `limit`. */
function depthOver(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > limit) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return false;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Why `o` is not a Kubernetes object (apiVersion and kind strings), or undefined when it is one. */
function notAnObject(o: unknown): string | undefined {
  if (Array.isArray(o))
    return 'a YAML sequence (list) is not a Kubernetes object: write one object per document, or a `kind: List` with `items`';
  if (o === null || typeof o !== 'object')
    return `a ${typeof o} (${JSON.stringify(o)?.slice(0, 40) ?? String(o)}) is not a Kubernetes object: expected a mapping with apiVersion and kind`;
  if (!isPlainObject(o)) return 'not a Kubernetes object: expected a plain mapping with apiVersion and kind';
  const missing = (['apiVersion', 'kind'] as const).filter((k) => typeof o[k] !== 'string' || o[k] === '');
  if (missing.length > 0)
    return `not a Kubernetes object: ${missing.join(' and ')} must be ${missing.length > 1 ? 'non-empty strings' : 'a non-empty string'}`;
  return undefined;
}

/**
 * One file's documents → manifests, or errors. An empty file, or one of only comments and `---`,
 * has no objects and no error (emptying a file deletes its objects, as `kubectl delete` would).
 * A document that does not yield a Kubernetes object (a scalar, a top-level sequence, a mapping
 * without apiVersion/kind strings) is an error, so garbage never silently drops a file's objects.
 *
 * `apiVersion: v1, kind: List` (as `kubectl get -o yaml` writes it and `kubectl apply` reads it) is
 * expanded: each of its `items` is an object, and must itself have apiVersion and kind. Typed
 * lists (`HTTPRouteList`…) are not expanded: they are kinds agw does not read.
 */
function loadText(file: string, text: string, manifests: Manifest[], errors: LoadError[]): void {
  const lim = MANIFEST_LIMITS;
  const lc = new LineCounter();
  const fileErrors: LoadError[] = [];
  const add = (e: LoadError) => fileErrors.push(e);
  const composer = new Composer({ uniqueKeys: true });
  let count = 0;
  for (const doc of composer.compose(new Parser(lc.addNewLine).parse(text))) {
    if (++count > lim.maxDocumentsPerFile) {
      add({
        file,
        line: lc.linePos(doc.range[0]).line,
        message: `more than ${lim.maxDocumentsPerFile} YAML documents in one file: split it`,
      });
      break;
    }
    const d = doc as Document.Parsed;
    const start = d.contents?.range?.[0] ?? d.range[0];
    const line = lc.linePos(start).line;
    if (d.errors.length > 0) {
      for (const e of d.errors) add({ file, line: lc.linePos(e.pos[0]).line, message: e.message.split('\n')[0] ?? e.message });
      continue;
    }
    let object: unknown;
    try {
      object = d.toJS({ maxAliasCount: lim.maxAliasCount });
    } catch (err) {
      // The alias limit (yaml throws a ReferenceError) or a stack overflow on deep nesting.
      const why =
        err instanceof RangeError
          ? `nested too deeply (${messageOf(err)})`
          : `${messageOf(err)} (YAML aliases may expand to at most ${lim.maxAliasCount} nodes each)`;
      add({ file, line, message: why });
      continue;
    }
    if (object === null || object === undefined) continue; // an empty document: no object, no error
    const lineIn =
      (prefix: ReadonlyArray<PropertyKey>) =>
      (path: ReadonlyArray<PropertyKey>): number => {
        const full = [...prefix, ...path];
        for (let n = full.length; n > 0; n--) {
          const node = d.getIn(full.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
          if (node?.range) return lc.linePos(node.range[0]).line;
        }
        return line;
      };
    const why = notAnObject(object);
    if (why !== undefined) {
      add({ file, line, message: why });
      continue;
    }
    if (depthOver(object, lim.maxDepth)) {
      add({ file, line, message: `nested deeper than ${lim.maxDepth} levels` });
      continue;
    }
    const o = object as Record<string, unknown>;
    if (o['kind'] === 'List' && o['apiVersion'] === 'v1') {
      if (!Array.isArray(o['items'])) {
        add({ file, line, message: 'kind List needs an `items` sequence' });
        continue;
      }
      o['items'].forEach((item, i) => {
        const itemLine = lineIn(['items', i])([]);
        const bad = notAnObject(item);
        if (bad !== undefined) {
          add({ file, line: itemLine, message: `items[${i}]: ${bad}` });
          return;
        }
        manifests.push({ object: item, file, line: itemLine, lineOf: lineIn(['items', i]) });
      });
      continue;
    }
    manifests.push({ object, file, line, lineOf: lineIn([]) });
  }
  errors.push(...fileErrors.slice(0, lim.maxErrorsPerFile));
  if (fileErrors.length > lim.maxErrorsPerFile) {
    errors.push({ file, message: `${fileErrors.length - lim.maxErrorsPerFile} more error(s) not shown` });
  }
}

/**
 * Reads multi-document YAML (JSON is YAML too). Never throws: every problem with a path or its
 * content is a LoadError naming the file (see MANIFEST_LIMITS for the bounds).
 */
export function loadManifests(paths: readonly string[]): LoadResult {
  const manifests: Manifest[] = [];
  const { files, errors } = expandPaths(paths);
  for (const file of files) {
    try {
      const read = readBounded(file);
      if ('error' in read) {
        errors.push({ file, message: read.error });
        continue;
      }
      const decoded = decode(read.bytes);
      if ('error' in decoded) {
        errors.push({ file, ...(decoded.line === undefined ? {} : { line: decoded.line }), message: decoded.error });
        continue;
      }
      loadText(file, decoded.text, manifests, errors);
    } catch (err) {
      // Not expected (every known failure is handled above), but a bug here must not crash a
      // reload timer: the file is reported as unreadable, which keeps its previous objects.
      errors.push({ file, message: `could not be loaded: ${messageOf(err)}` });
    }
  }
  return { manifests, errors };
}
