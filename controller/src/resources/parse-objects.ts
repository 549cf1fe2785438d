import { WATCHED_KINDS, type ConfigMap, type Secret, type WatchedKind, type WatchedName } from '@agw/api';
import type { z } from 'zod';
import type { TranslateInput } from '../translate/model.js';

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
 * Parse results by object identity: the informer cache replaces an object when the API server
 * changes it (and keeps it otherwise), and a file is parsed into new objects when it changes, so
 * an object already parsed is not parsed again (a reconcile reads every object of the cache).
 * Entries go with their objects (a WeakMap): no sweep per pass.
 */
export type ParseMemo = WeakMap<object, ParseResult>;

/** One object's parse: the list it belongs to, and its value or issues. */
type ParseResult = { readonly list: WatchedName } & (
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: ObjectIssue[] }
);

export function parseObjects(objects: readonly unknown[], defaultNamespace = 'default', memo?: ParseMemo): ParsedObjects {
  const lists = Object.fromEntries(Object.keys(WATCHED_KINDS).map((k) => [k, [] as unknown[]])) as Record<WatchedName, unknown[]>;
  const out = { ...lists, problems: [] as ObjectProblem[], ignored: [] as string[] };
  objects.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object') return;
    const o = raw as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    const nameOf = () =>
      `${String(o.kind ?? '')} ${typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : defaultNamespace}/${String(o.metadata?.name ?? `#${i}`)}`;
    // A memo hit costs one lookup: no key string built per object and pass.
    let result = memo?.get(raw);
    if (result === undefined) {
      const parser = PARSERS.get(`${groupOf(o.apiVersion)}/${String(o.kind ?? '')}`);
      if (parser === undefined) {
        out.ignored.push(nameOf());
        return;
      }
      const withNs =
        !WATCHED_KINDS[parser.name].namespaced || o.metadata?.namespace !== undefined
          ? raw
          : { ...o, metadata: { ...o.metadata, namespace: defaultNamespace } };
      const r = parser.schema.safeParse(withNs);
      result = r.success
        ? { list: parser.name, ok: true, value: r.data }
        : { list: parser.name, ok: false, issues: r.error.issues.flatMap(toObjectIssues) };
      memo?.set(raw, result);
    }
    if (!result.ok) {
      out.problems.push({ ref: nameOf(), object: raw, issues: result.issues });
      return;
    }
    out[result.list].push(result.value);
  });
  // Each list holds what its kind's schema parsed: the types of TranslateInput.
  return out as unknown as ParsedObjects;
}
