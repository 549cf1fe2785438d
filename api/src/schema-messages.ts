import { z } from 'zod';

/**
 * zod issues in kube-apiserver's words, so that `agw validate` (files) says what `kubectl apply`
 * (the API server validating the generated CRD's OpenAPI schema) says, field by field. Measured
 * on kube-apiserver v1.34 (e2e/src/validate-vs-apiserver.test.ts compares the two):
 *
 * | OpenAPI check         | the API server's message (after `<field>: `)                          |
 * |-----------------------|-----------------------------------------------------------------------|
 * | required, null        | `Required value`                                                      |
 * | type                  | `Invalid value: "string": spec.x in body must be of type integer: "string"` |
 * | enum                  | `Unsupported value: "Maybe": supported values: "Allow", "Deny"`       |
 * | minItems              | `Invalid value: 0: spec.x in body should have at least 1 items`       |
 * | maxItems              | `Too many: 17: must have at most 16 items`                            |
 * | minLength             | `Invalid value: "": spec.x in body should be at least 1 chars long`   |
 * | maxLength             | `Too long: may not be more than 256 bytes`                            |
 * | pattern               | `Invalid value: "A_B": spec.x in body should match '^[a-z]+$'`        |
 * | minimum / maximum     | `Invalid value: 0: spec.x in body should be greater than or equal to 1` |
 * | minProperties         | `Invalid value: 0: spec.x in body should have at least 1 properties`  |
 * | maxProperties         | `Too many: 17: must have at most 16 items`                            |
 * | list-type map keys    | `Duplicate value: {"name":"a"}` at the first repeated entry (`spec.x[1]`) |
 * | unknown field         | `unknown field "spec.x[0].foo"` (kubectl's strict field validation)   |
 *
 * Field paths inside messages are the API server's: `spec.targetRefs[0].name`. A string breaking
 * several of maxLength, minLength and pattern gets only the first (the API server stops there).
 * Custom issues (CEL rules written with upstream's messages, see cel-rule.ts) keep their message.
 * Not mapped (zod's message stays): unions, record keys (`propertyNames` is not in the CRD, the
 * API server does not check them), `apiVersion` and `kind` (kubectl answers `no matches for kind`
 * for the document, not for a field), and `null` in an optional field (the API server drops it).
 * After a type, enum, required, maxLength or maxItems error the API server skips CEL rules and adds
 * `<nil>: … some validation rules were not checked`: that is about which rules run, not wording.
 */

/** One refusal: where (the zod path) and the API server's message for it. */
export interface ApiServerIssue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** A node of the OpenAPI schema the CRD is generated from (z.toJSONSchema, openapi-3.0, input). */
export type OpenApiSchemaNode = { readonly [k: string]: unknown };

/** `['spec', 'targetRefs', 0, 'name']` → `spec.targetRefs[0].name`, as the API server writes field paths. */
export function apiServerPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out;
}

/** Go's `%q` of a string (strconv.Quote): printable runes as they are, the rest escaped. */
export function goQuote(s: string): string {
  const named: Record<string, string> = {
    '"': '\\"',
    '\\': '\\\\',
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
  };
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (named[ch] !== undefined) out += named[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (/\p{C}/u.test(ch)) out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A value as the API server prints a bad value (`Invalid value: <v>`): strings quoted, numbers and booleans bare. */
function goValue(v: unknown): string {
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

/** The OpenAPI type name of a JSON value, as the API server names it in a type error. */
function jsonType(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v === 'bigint' ? 'integer' : typeof v;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** The node itself and the alternatives it is made of (allOf/anyOf/oneOf), where a child may be declared. */
function variants(node: OpenApiSchemaNode): OpenApiSchemaNode[] {
  const out = [node];
  for (const k of ['allOf', 'anyOf', 'oneOf'])
    if (Array.isArray(node[k]))
      for (const n of node[k] as unknown[]) if (n !== null && typeof n === 'object') out.push(n as OpenApiSchemaNode);
  return out;
}

function childOf(node: OpenApiSchemaNode, key: PropertyKey): OpenApiSchemaNode | undefined {
  for (const n of variants(node)) {
    if (typeof key === 'number') {
      if (n['items'] !== null && typeof n['items'] === 'object') return n['items'] as OpenApiSchemaNode;
      continue;
    }
    const props = n['properties'] as Record<string, OpenApiSchemaNode> | undefined;
    if (props !== undefined && Object.hasOwn(props, String(key))) return props[String(key)];
    if (n['additionalProperties'] !== null && typeof n['additionalProperties'] === 'object')
      return n['additionalProperties'] as OpenApiSchemaNode;
  }
  return undefined;
}

function nodeAt(root: OpenApiSchemaNode | undefined, path: ReadonlyArray<PropertyKey>): OpenApiSchemaNode | undefined {
  let n = root;
  for (const p of path) n = n === undefined ? undefined : childOf(n, p);
  return n;
}

/** First value of `key` among the node's variants (a `type`, `enum` or bound may sit in an allOf). */
function attr(node: OpenApiSchemaNode | undefined, key: string): unknown {
  if (node === undefined) return undefined;
  for (const n of variants(node)) if (n[key] !== undefined) return n[key];
  return undefined;
}

function isRequired(root: OpenApiSchemaNode | undefined, path: ReadonlyArray<PropertyKey>): boolean | undefined {
  if (root === undefined || path.length === 0) return undefined;
  const key = path[path.length - 1];
  if (typeof key === 'number') return true;
  const parent = nodeAt(root, path.slice(0, -1));
  if (parent === undefined) return undefined;
  return variants(parent).some((n) => Array.isArray(n['required']) && (n['required'] as unknown[]).includes(key));
}

const schemaCache = new WeakMap<z.ZodType, OpenApiSchemaNode | null>();

/** The OpenAPI schema of a zod schema (what the CRD carries), memoized; undefined when zod cannot represent it. */
export function openApiSchemaOf(schema: z.ZodType): OpenApiSchemaNode | undefined {
  let s = schemaCache.get(schema);
  if (s === undefined) {
    try {
      s = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as OpenApiSchemaNode;
    } catch {
      s = null;
    }
    schemaCache.set(schema, s);
  }
  return s ?? undefined;
}

/** kube-openapi's order of string checks: the first that fails is the only one reported. */
const stringRank = (i: z.core.$ZodIssue): number | undefined => {
  if (i.code === 'too_big' && i.origin === 'string') return 0;
  if (i.code === 'too_small' && i.origin === 'string') return 1;
  if (i.code === 'invalid_format' && i.format === 'regex') return 2;
  return undefined;
};

/** `Invalid value: <v>: <field> in body <detail>`, the API server's wording of an OpenAPI check. */
const invalid = (value: unknown, path: ReadonlyArray<PropertyKey>, detail: string) =>
  `Invalid value: ${goValue(value)}: ${apiServerPath(path)} in body ${detail}`;

const typeError = (expected: string, actual: string, path: ReadonlyArray<PropertyKey>) =>
  `Invalid value: ${goQuote(actual)}: ${apiServerPath(path)} in body must be of type ${expected}: ${goQuote(actual)}`;

/** zod's `expected` of an invalid_type issue as an OpenAPI type (int → integer, record → object). */
const OPENAPI_TYPE: Readonly<Record<string, string>> = { int: 'integer', record: 'object', tuple: 'array' };

/**
 * One zod issue in the API server's words. `root` is the whole parsed input (the bad value is read
 * at the issue's path); `schema` the OpenAPI schema of `root` (openApiSchemaOf), which gives the
 * declared type, enum order, pattern text, requiredness and list keys when zod's issue lacks them.
 * A list-map duplicate is reported at the repeated entry; anything unmapped keeps zod's message.
 */
export function apiServerIssue(issue: z.core.$ZodIssue, root: unknown, schema?: OpenApiSchemaNode): ApiServerIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const keep: ApiServerIssue[] = [{ path, message: issue.message }];
  const node = nodeAt(schema, path);
  const present = path.length === 0 || Object.hasOwn(Object(valueAt(root, path.slice(0, -1))), path[path.length - 1] as PropertyKey);
  const value = valueAt(root, path);
  const at = (message: string): ApiServerIssue[] => [{ path, message }];

  // The document's identity: kubectl answers for the whole document (`no matches for kind`).
  if (path.length === 1 && (path[0] === 'apiVersion' || path[0] === 'kind')) return keep;
  if (path.length === 2 && path[0] === 'metadata' && path[1] === 'name' && (value === undefined || value === null || value === ''))
    return at('Required value: name or generateName is required');

  switch (issue.code) {
    case 'invalid_type':
    case 'invalid_value': {
      if (!present || value === undefined) return at('Required value');
      // The API server drops a null where the schema does not allow one: a missing value then.
      if (value === null) return isRequired(schema, path) === false ? keep : at('Required value');
      const declared = attr(node, 'type') as string | undefined;
      const expected = declared ?? (issue.code === 'invalid_type' ? (OPENAPI_TYPE[issue.expected] ?? issue.expected) : undefined);
      const actual = jsonType(value);
      const wrongType =
        expected !== undefined && expected !== actual && !(expected === 'number' && actual === 'integer')
          ? [{ path, message: typeError(expected, actual, path) }]
          : [];
      // An enum's value of the wrong type breaks both checks: the API server reports both.
      if (issue.code === 'invalid_value') {
        const values = (attr(node, 'enum') as unknown[] | undefined) ?? issue.values;
        return [
          ...wrongType,
          { path, message: `Unsupported value: ${goValue(value)}: supported values: ${values.map(goValue).join(', ')}` },
        ];
      }
      return wrongType.length > 0 ? wrongType : keep;
    }
    case 'too_small':
      if (issue.origin === 'array')
        return at(invalid(Array.isArray(value) ? value.length : value, path, `should have at least ${issue.minimum} items`));
      if (issue.origin === 'string') return at(invalid(value, path, `should be at least ${issue.minimum} chars long`));
      if (issue.origin === 'number' || issue.origin === 'int')
        return at(invalid(value, path, `should be greater than ${issue.inclusive === false ? '' : 'or equal to '}${issue.minimum}`));
      return keep;
    case 'too_big':
      if (issue.origin === 'array')
        return at(`Too many: ${Array.isArray(value) ? value.length : goValue(value)}: must have at most ${issue.maximum} items`);
      if (issue.origin === 'string') return at(`Too long: may not be more than ${issue.maximum} bytes`);
      if (issue.origin === 'number' || issue.origin === 'int')
        return at(invalid(value, path, `should be less than ${issue.inclusive === false ? '' : 'or equal to '}${issue.maximum}`));
      return keep;
    case 'invalid_format': {
      if (issue.format !== 'regex') return keep;
      const declared = attr(node, 'pattern');
      const pattern = typeof declared === 'string' ? declared : (issue.pattern ?? '').replace(/^\/(.*)\/[a-z]*$/s, '$1');
      return at(invalid(value, path, `should match '${pattern}'`));
    }
    case 'not_multiple_of':
      return at(invalid(value, path, `should be a multiple of ${issue.divisor}`));
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ path, message: `unknown field "${apiServerPath([...path, k])}"` }));
    case 'custom':
      return customIssue(issue, path, value, node) ?? keep;
    default:
      return keep;
  }
}

/**
 * A refinement that stands for an OpenAPI check zod has no check for (min/maxProperties of a
 * record, unique keys of a list-type map), recognised by the schema node at its path, never by its
 * message. A CEL rule declared on that node keeps upstream's message (undefined here).
 */
function customIssue(issue: z.core.$ZodIssueCustom, path: Array<string | number>, value: unknown, node: OpenApiSchemaNode | undefined) {
  if (node === undefined) return undefined;
  const rules = attr(node, 'x-kubernetes-validations');
  if (Array.isArray(rules) && rules.some((r) => (r as { message?: unknown }).message === issue.message)) return undefined;
  const keys = attr(node, 'x-kubernetes-list-map-keys');
  if (attr(node, 'x-kubernetes-list-type') === 'map' && Array.isArray(keys) && Array.isArray(value)) {
    // The API server reports the first repeated entry only, with its key fields (JSON, keys sorted).
    const seen = new Set<string>();
    for (const [i, entry] of value.entries()) {
      const e = (entry ?? {}) as Record<string, unknown>;
      const id = JSON.stringify(
        Object.fromEntries(
          (keys as string[])
            .filter((k) => e[k] !== undefined)
            .sort()
            .map((k) => [k, e[k]]),
        ),
      );
      if (seen.has(id)) return [{ path: [...path, i], message: `Duplicate value: ${id}` }];
      seen.add(id);
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const n = Object.keys(value).length;
    const min = attr(node, 'minProperties');
    const max = attr(node, 'maxProperties');
    if (typeof max === 'number' && n > max) return [{ path, message: `Too many: ${n}: must have at most ${max} items` }];
    if (typeof min === 'number' && n < min) return [{ path, message: invalid(n, path, `should have at least ${min} properties`) }];
  }
  return undefined;
}

/**
 * Every issue of a failed parse in the API server's words, in zod's order: the mapping of
 * apiServerIssue, with only the first failing string check of a field kept (as the API server).
 * `schema` is the zod schema that produced the issues (its OpenAPI schema is derived once).
 */
export function toApiServerIssues(issues: readonly z.core.$ZodIssue[], root: unknown, schema?: z.ZodType): ApiServerIssue[] {
  const openApi = schema === undefined ? undefined : openApiSchemaOf(schema);
  const firstString = new Map<string, number>();
  for (const i of issues) {
    const rank = stringRank(i);
    const key = JSON.stringify(i.path.map(String));
    if (rank !== undefined && rank < (firstString.get(key) ?? Infinity)) firstString.set(key, rank);
  }
  return issues
    .filter((i) => {
      const rank = stringRank(i);
      return rank === undefined || rank === firstString.get(JSON.stringify(i.path.map(String)));
    })
    .flatMap((i) => apiServerIssue(i, root, openApi));
}

/** Parses `value` with `schema`: undefined when valid, else every issue in the API server's words. */
export function apiServerProblems(schema: z.ZodType, value: unknown): ApiServerIssue[] | undefined {
  const r = schema.safeParse(value);
  return r.success ? undefined : toApiServerIssues(r.error.issues, value, schema);
}
