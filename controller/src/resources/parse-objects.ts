import { WATCHED_KINDS, type ConfigMap, type Secret, type WatchedKind, type WatchedName } from '@agw/api';
import type { z } from 'zod';
import type { TranslateInput } from '../translate/model.js';
import { withoutStatusFingerprint } from './spec-fingerprint.js';

/** Kinds read, by `<group>/<kind>` (core group ''): their boundary parser and their list in ParsedObjects (api's registry). */
const PARSERS: ReadonlyMap<string, { readonly name: WatchedName; readonly schema: z.ZodType }> = new Map(
  (Object.entries(WATCHED_KINDS) as Array<[WatchedName, WatchedKind]>).map(([name, k]) => [
    `${k.group}/${k.kind}`,
    { name, schema: k.schema },
  ]),
);

/** One reason an object was refused: where (field path) and why (the API server's wording). */
export interface ObjectIssue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

export interface ObjectProblem {
  /** `<Kind> <namespace>/<name>` (or a document index when unnamed). */
  readonly ref: string;
  readonly issues: readonly ObjectIssue[];
  readonly object: unknown;
}

/** `spec.traffic.jwtAuthentication.providers: Too small` (`(root)` for the object itself). */
export function formatIssue(i: ObjectIssue): string {
  return `${i.path.join('.') || '(root)'}: ${i.message}`;
}

/** Every issue of a problem, `; `-separated (logs, status messages). */
export const formatIssues = (p: ObjectProblem): string => p.issues.map(formatIssue).join('; ');

export type ParsedObjects = Omit<TranslateInput, 'controllerName' | 'jwks' | 'tlsSecrets' | 'caBundles' | 'jwksErrors'> & {
  /** Every Secret read (the cluster lists kubernetes.io/tls ones only); translate gets the referenced ones, checked (tls-secrets.ts). */
  readonly secrets: readonly Secret[];
  /** Every ConfigMap read; translate gets the CA bundles BackendTLSPolicies refer to, checked (ca-bundles.ts). */
  readonly configMaps: readonly ConfigMap[];
  readonly problems: ObjectProblem[];
  readonly ignored: string[];
};

/** A zod issue as ObjectIssues, unknown keys worded as the API server's strict field validation does. */
function toObjectIssues(iss: z.core.$ZodIssue): ObjectIssue[] {
  const path = iss.path.map((p) => (typeof p === 'number' ? p : String(p)));
  const dotted = path.join('.');
  if (iss.code === 'unrecognized_keys')
    return iss.keys.map((k) => ({ path, message: `unknown field "${dotted ? `${dotted}.` : ''}${k}"` }));
  return [{ path, message: iss.message }];
}

function groupOf(apiVersion: unknown): string {
  const v = String(apiVersion ?? '');
  return v.includes('/') ? v.slice(0, v.indexOf('/')) : '';
}

/**
 * Parses raw objects (from the API server or from files) with the contract's zod schemas. An
 * object that does not parse becomes an ObjectProblem (later a status condition or a CLI error),
 * never an exception. Unknown kinds are listed in `ignored`.
 */
/**
 * Parses kept across passes. `byObject`: by object identity: the informer cache replaces an object
 * when the API server changes it (and keeps it otherwise), and a file is parsed into new objects
 * when it changes, so an object already parsed is not parsed again (a reconcile reads every object
 * of the cache); entries go with their objects (a WeakMap). `byName`: by `<kind> <ns>/<name>`, with
 * a fingerprint of everything but `status`, `metadata.resourceVersion` and `managedFields`: an
 * object replaced by a status-only update (our own status writes, mostly) gets the same parsed
 * object back, so the pass sees it unchanged (change-scope.ts compares parsed objects by identity;
 * translate reads neither status nor resourceVersion).
 */
export interface ParseMemo {
  readonly byObject: WeakMap<object, ParseResult>;
  readonly byName: Map<string, { readonly fingerprint: string; readonly result: ParseResult }>;
}

export const newParseMemo = (): ParseMemo => ({ byObject: new WeakMap(), byName: new Map() });

/** One object's parse: the list it belongs to, and its value or issues. */
type ParseResult = { readonly list: WatchedName } & (
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: ObjectIssue[] }
);

export function parseObjects(objects: readonly unknown[], defaultNamespace = 'default', memo?: ParseMemo): ParsedObjects {
  const lists = Object.fromEntries(Object.keys(WATCHED_KINDS).map((k) => [k, [] as unknown[]])) as Record<WatchedName, unknown[]>;
  const out = { ...lists, problems: [] as ObjectProblem[], ignored: [] as string[] };
  objects.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object') return;
    const o = raw as RawObject;
    const nameOf = () => refOf(o, i, defaultNamespace);
    // A memo hit costs one lookup: no key string built per object and pass.
    let result = memo?.byObject.get(raw);
    if (result === undefined) {
      const parser = PARSERS.get(`${groupOf(o.apiVersion)}/${String(o.kind ?? '')}`);
      if (parser === undefined) {
        out.ignored.push(nameOf());
        return;
      }
      const name = memoKeyOf(o, i, defaultNamespace);
      const fingerprint = memo === undefined ? '' : withoutStatusFingerprint(o);
      const same = memo?.byName.get(name);
      if (same !== undefined && same.fingerprint === fingerprint) result = same.result;
      else {
        // Parsed without status, resourceVersion and managedFields: nothing downstream reads them
        // (the status writer reads the cache's objects), the API server ignores a status sent with
        // the object, and so a parse is a function of the fingerprinted content (byName).
        const { status: _status, metadata, ...rest } = o as { status?: unknown; metadata?: Record<string, unknown> };
        const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata ?? {};
        const namespaced = WATCHED_KINDS[parser.name].namespaced && meta['namespace'] === undefined;
        const r = parser.schema.safeParse({ ...rest, metadata: namespaced ? { ...meta, namespace: defaultNamespace } : meta });
        result = r.success
          ? { list: parser.name, ok: true, value: r.data }
          : { list: parser.name, ok: false, issues: r.error.issues.flatMap(toObjectIssues) };
        memo?.byName.set(name, { fingerprint, result });
      }
      memo?.byObject.set(raw, result);
    }
    if (!result.ok) {
      out.problems.push({ ref: nameOf(), object: raw, issues: result.issues });
      return;
    }
    out[result.list].push(result.value);
  });
  // Deleted objects' fingerprints: dropped when they outnumber the objects (rare, amortized).
  if (memo !== undefined && memo.byName.size > 2 * objects.length + 1000) pruneByName(memo, objects, defaultNamespace);
  // Each list holds what its kind's schema parsed: the types of TranslateInput.
  return out as unknown as ParsedObjects;
}

/** Keeps the `byName` entries of `objects` only. */
function pruneByName(memo: ParseMemo, objects: readonly unknown[], defaultNamespace: string): void {
  const live = new Set<string>();
  objects.forEach((raw, i) => {
    if (raw !== null && typeof raw === 'object') live.add(memoKeyOf(raw as RawObject, i, defaultNamespace));
  });
  for (const k of memo.byName.keys()) if (!live.has(k)) memo.byName.delete(k);
}

type RawObject = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };

/** `<Kind> <namespace>/<name>` (a document index when unnamed): an ObjectProblem's ref. */
function refOf(o: RawObject, index: number, defaultNamespace: string): string {
  const ns = typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : defaultNamespace;
  return `${String(o.kind ?? '')} ${ns}/${String(o.metadata?.name ?? `#${index}`)}`;
}

/** The `byName` key: the API group, then the ref (kinds of one name in two groups stay apart). */
const memoKeyOf = (o: RawObject, index: number, defaultNamespace: string) =>
  `${groupOf(o.apiVersion)} ${refOf(o, index, defaultNamespace)}`;
