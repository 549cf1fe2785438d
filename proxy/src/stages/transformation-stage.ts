import {
  compileExpressionOrFailing,
  type CelActivation,
  type CelResult,
  type CompiledExpression,
  type CompiledTransform,
  type CompiledTransformationPolicy,
  celIntegerOf,
  setOwn,
  toJsonText,
} from '@agw/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RuntimeConfig } from '../config/compile.js';
import { activationOf, evaluatesTrue, headerValues } from '../plugins/cel-activation.js';
import { bufferRequestBody } from '../plugins/request-body.js';
import { editsOf, setHeaderEdit, type RequestState } from '../plugins/request-state.js';
import { sendProxyError } from '../plugins/responses.js';
import { canonicalTarget, isValidAuthority, type PathRules } from '../routing/request-target.js';
import { ownHeader } from '../routing/forward-headers.js';
import type { PolicyStage } from './stage.js';

/**
 * Where a `set`/`add` entry writes. Request: a header, `host`/`:authority` (the upstream Host),
 * `:path` (path and query), `:method`. Response: a header, `:status`. What a phase cannot write
 * (`:scheme`; `:status` on a request; `:authority`, `:path`, `:method` on a response; hop-by-hop
 * and framing headers) is left out when the config is compiled, with a warning.
 */
type Target = 'header' | 'authority' | 'path' | 'method' | 'status';

interface HeaderOp {
  readonly name: string;
  readonly target: Target;
  readonly expression: CompiledExpression;
}

/** One Transform (request or response side of an entry), every expression compiled once per config. */
export interface TransformRuntime {
  readonly metadata: readonly { readonly name: string; readonly expression: CompiledExpression }[];
  readonly add: readonly HeaderOp[];
  readonly set: readonly HeaderOp[];
  readonly remove: readonly string[];
  readonly body?: CompiledExpression;
}

interface EntryRuntime {
  readonly condition?: CompiledExpression;
  readonly request?: TransformRuntime;
  readonly response?: TransformRuntime;
}

/** A transformation policy compiled once per config (reused while its JSON is unchanged). */
export interface TransformationRuntime {
  readonly policy: string;
  readonly entries: readonly EntryRuntime[];
  /** A request-side expression (or a condition) reads `request.body`: the request body is buffered first. */
  readonly needsRequestBody: boolean;
  /** Some entry has a response side. */
  readonly hasResponse: boolean;
  /** A response side has a `body`, or an expression that may run on the response reads `response.body`: the response is buffered. */
  readonly needsResponseBody: boolean;
  readonly warnings: readonly string[];
}

/**
 * Headers a transformation may not write or remove: hop-by-hop ones (RFC 9110 §7.6.1) and the
 * message framing (`content-length`, `transfer-encoding`), which forwarding owns (a wrong
 * Content-Length would desynchronize the upstream connection).
 */
const RESERVED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

function compileTransform(t: CompiledTransform, phase: 'request' | 'response', warnings: string[], where: string): TransformRuntime {
  const compile = (what: string, source: string): CompiledExpression => {
    const e = compileExpressionOrFailing(source);
    if (e.staticError !== undefined) warnings.push(`${where} ${phase} ${what} always fails: ${e.staticError}`);
    return e;
  };
  const targetOf = (rawName: string): Target | undefined => {
    const name = rawName.toLowerCase();
    if (RESERVED.has(name)) return undefined;
    if (phase === 'request') {
      if (name === 'host' || name === ':authority') return 'authority';
      if (name === ':path') return 'path';
      if (name === ':method') return 'method';
    } else if (name === ':status') return 'status';
    return name.startsWith(':') ? undefined : 'header';
  };
  const ops = (kind: 'add' | 'set', list: readonly { name: string; value: string }[]): HeaderOp[] =>
    list.flatMap((h) => {
      const target = targetOf(h.name);
      if (target === undefined) {
        warnings.push(`${where} ${phase} ${kind} ${JSON.stringify(h.name)} left out: a ${phase} transformation cannot write it`);
        return [];
      }
      return [{ name: h.name.toLowerCase(), target, expression: compile(`${kind} ${JSON.stringify(h.name)}`, h.value) }];
    });
  const remove = t.remove.flatMap((raw) => {
    const name = raw.toLowerCase();
    if (targetOf(name) === 'header') return [name];
    warnings.push(`${where} ${phase} remove ${JSON.stringify(raw)} left out: a ${phase} transformation cannot remove it`);
    return [];
  });
  return {
    metadata: t.metadata.map((m) => ({ name: m.name, expression: compile(`metadata ${JSON.stringify(m.name)}`, m.value) })),
    add: ops('add', t.add),
    set: ops('set', t.set),
    remove,
    ...(t.body !== undefined ? { body: compile('body', t.body) } : {}),
  };
}

function expressionsOf(t: TransformRuntime | undefined): CompiledExpression[] {
  if (t === undefined) return [];
  return [
    ...t.metadata.map((m) => m.expression),
    ...t.add.map((o) => o.expression),
    ...t.set.map((o) => o.expression),
    ...(t.body ? [t.body] : []),
  ];
}

/** Compiles every expression of a transformation policy once. */
export function compileTransformation(policy: CompiledTransformationPolicy): TransformationRuntime {
  const warnings: string[] = [];
  const entries = policy.entries.map((e, i): EntryRuntime => {
    const where = policy.entries.length > 1 || e.condition !== undefined ? `entry ${i}` : 'transformation';
    let condition: CompiledExpression | undefined;
    if (e.condition !== undefined) {
      condition = compileExpressionOrFailing(e.condition);
      if (condition.staticError !== undefined) warnings.push(`${where} condition is always false: ${condition.staticError}`);
    }
    return {
      ...(condition !== undefined ? { condition } : {}),
      ...(e.request !== undefined ? { request: compileTransform(e.request, 'request', warnings, where) } : {}),
      ...(e.response !== undefined ? { response: compileTransform(e.response, 'response', warnings, where) } : {}),
    };
  });
  const conditions = entries.flatMap((e) => (e.condition ? [e.condition] : []));
  const requestSide = [...conditions, ...entries.flatMap((e) => expressionsOf(e.request))];
  const responseSide = [...conditions, ...entries.flatMap((e) => expressionsOf(e.response))];
  const hasResponse = entries.some((e) => e.response !== undefined);
  return {
    policy: policy.policy,
    entries,
    // A response expression can read the request body too (`json(request.body).name` in a
    // response body): it is buffered on the way in, as it cannot be read after forwarding.
    needsRequestBody: requestSide.some((x) => x.references.requestBody) || responseSide.some((x) => x.references.requestBody),
    hasResponse,
    needsResponseBody:
      hasResponse && (entries.some((e) => e.response?.body !== undefined) || responseSide.some((x) => x.references.responseBody)),
    warnings,
  };
}

/** RFC 9110 field-value characters (as Node and undici check them): no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A header value from an expression's result: a string, or bytes read as Latin-1 (each byte one
 * character, so they are forwarded byte for byte). Anything else, an error, or a value with
 * characters a header cannot carry (CR, LF, NUL, other controls, above U+00FF) is undefined: the
 * header is then removed.
 */
export function headerValueOf(r: CelResult): string | undefined {
  if (!r.ok) return undefined;
  const v = r.value;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v instanceof Uint8Array) s = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
  else return undefined;
  return FIELD_VALUE.test(s) ? s : undefined;
}

/**
 * A body from an expression's result (upstream's `eval_body`): a string is sent as UTF-8, bytes as
 * they are, null leaves the body as it was (`undefined`: `code == 429 ? 'refused' : null`), any
 * other value (a map, a list, a number, a bool) as its JSON text. An error is an empty body.
 */
function bodyOf(r: CelResult): { bytes: Uint8Array; ok: boolean } | undefined {
  if (!r.ok) return { bytes: new Uint8Array(0), ok: false };
  const v = r.value;
  if (v === null) return undefined;
  if (v instanceof Uint8Array) return { bytes: v, ok: true };
  let text: string;
  try {
    text = typeof v === 'string' ? v : toJsonText(v);
  } catch {
    return { bytes: new Uint8Array(0), ok: false };
  }
  const b = Buffer.from(text, 'utf8');
  return { bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), ok: true };
}

/** The first entry whose condition is true (an entry without one always is; an error is false), or -1. */
function firstEntry(entries: readonly EntryRuntime[], activation: CelActivation): number {
  for (let i = 0; i < entries.length; i++) {
    const c = (entries[i] as EntryRuntime).condition;
    if (c === undefined || evaluatesTrue(c, activation)) return i;
  }
  return -1;
}

/** Stores a metadata value (CEL `metadata.<name>`); a failed expression leaves the name unset. */
function setMetadata(state: RequestState, name: string, r: CelResult): boolean {
  if (!r.ok) return false;
  const md = state.metadata ?? (state.metadata = Object.create(null) as Record<string, never>);
  setOwn(md, name, r.value);
  return true;
}

/** Scratch space for evaluated header values: evaluation is synchronous, so one array serves every request. */
const addValues: (string | undefined)[] = [];
const setValues: (string | undefined)[] = [];

/**
 * Applies a request Transform in upstream's order: metadata → add → set → remove → body.
 * Every `add`, `set` and `body` expression sees the request as it was before this Transform
 * (plus the metadata it just stored); the edits then apply in that order, and the next stage (and
 * the route matcher, after a PreRouting transformation) sees the result. A failed or non-string
 * header expression removes that header (the client's values included); a failed `body` sends an
 * empty body. Returns how many expressions failed.
 */
export function applyRequestTransform(req: FastifyRequest, t: TransformRuntime, pathRules: PathRules): number {
  const state = req.agw;
  const act = activationOf(req);
  let failed = 0;
  for (const m of t.metadata) if (!setMetadata(state, m.name, act.evaluate(m.expression))) failed++;
  const nAdd = t.add.length;
  const nSet = t.set.length;
  for (let i = 0; i < nAdd; i++) addValues[i] = headerValueOf(act.evaluate((t.add[i] as HeaderOp).expression));
  for (let i = 0; i < nSet; i++) setValues[i] = headerValueOf(act.evaluate((t.set[i] as HeaderOp).expression));
  const body = t.body === undefined ? undefined : bodyOf(act.evaluate(t.body));

  for (let i = 0; i < nAdd; i++) {
    const op = t.add[i] as HeaderOp;
    const v = addValues[i];
    if (v === undefined) failed++;
    if (op.target !== 'header') {
      // One authority, path or method: `add` of a pseudo-header sets it.
      if (v !== undefined && !setPseudo(req, op.target, v, pathRules)) failed++;
    } else {
      setHeaderEdit(state, op.name, v === undefined ? null : [...headerValues(req, op.name), v]);
    }
  }
  for (let i = 0; i < nSet; i++) {
    const op = t.set[i] as HeaderOp;
    const v = setValues[i];
    if (v === undefined) failed++;
    if (op.target !== 'header') {
      if (v !== undefined && !setPseudo(req, op.target, v, pathRules)) failed++;
    } else {
      setHeaderEdit(state, op.name, v === undefined ? null : [v]);
    }
  }
  addValues.length = 0;
  setValues.length = 0;
  for (const name of t.remove) setHeaderEdit(state, name, null);
  if (body !== undefined) {
    if (!body.ok) failed++;
    editsOf(state).body = body.bytes;
    state.cel?.invalidate();
  }
  return failed;
}

/**
 * Sets the upstream authority, path or method. A value that is not a valid authority, an origin-form
 * target the proxy would accept from a client (made canonical the same way), or an HTTP method
 * token is not applied (the request keeps the previous one) and counts as a failed expression.
 */
function setPseudo(req: FastifyRequest, target: Target, v: string, pathRules: PathRules): boolean {
  const edits = editsOf(req.agw);
  switch (target) {
    case 'authority':
      if (v === '' || !isValidAuthority(v)) return false;
      edits.authority = v;
      break;
    case 'path': {
      const t = canonicalTarget(v, edits.method ?? req.raw.method ?? 'GET', pathRules);
      if (t.kind !== 'origin' || t.authority !== undefined || !v.startsWith('/')) return false;
      edits.path = t.path + t.query;
      break;
    }
    case 'method':
      if (!METHOD.test(v)) return false;
      edits.method = v;
      break;
    default:
      return false;
  }
  req.agw.cel?.invalidate();
  return true;
}

/** Response headers as forwarding sends them (lower-case names). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * Applies the response side of transformations to an upstream response (forwarding calls it
 * once, before the status line is sent): for each policy, the first entry whose condition is true
 * against the response activation (`response.code`, `response.headers`, `response.body` if
 * buffered, plus the request) has its response Transform applied, in the order metadata → add →
 * set → remove → body. Returns the new status, headers and body (undefined: unchanged).
 */
export function applyResponseTransforms(
  req: FastifyRequest,
  transforms: readonly TransformationRuntime[],
  status: number,
  headers: ResponseHeaders,
  body: Uint8Array | undefined,
): { status: number; body: Uint8Array | undefined } {
  const act = activationOf(req);
  const state = req.agw;
  let out = { status, body };
  // The route's transformation first, then the PreRouting one (the reverse of the request's order).
  for (let k = transforms.length - 1; k >= 0; k--) {
    const policy = transforms[k] as TransformationRuntime;
    act.setResponse({
      code: BigInt(out.status),
      headers: celResponseHeaders(headers),
      ...(out.body !== undefined ? { body: out.body } : {}),
    });
    const i = firstEntry(policy.entries, act);
    const t = i < 0 ? undefined : (policy.entries[i] as EntryRuntime).response;
    if (t === undefined) continue;
    for (const m of t.metadata) setMetadata(state, m.name, act.evaluate(m.expression));
    const adds = t.add.map((op) => act.evaluate(op.expression));
    const sets = t.set.map((op) => act.evaluate(op.expression));
    const newBody = t.body === undefined ? undefined : bodyOf(act.evaluate(t.body))?.bytes;
    t.add.forEach((op, j) => {
      const r = adds[j] as CelResult;
      if (op.target === 'status') {
        out = { ...out, status: statusOf(r) ?? out.status };
        return;
      }
      const v = headerValueOf(r);
      if (v === undefined) delete headers[op.name];
      else {
        const prior = ownHeader(headers, op.name);
        setOwn(headers, op.name, prior === undefined ? v : [...(Array.isArray(prior) ? prior : [prior]), v]);
      }
    });
    t.set.forEach((op, j) => {
      const r = sets[j] as CelResult;
      if (op.target === 'status') {
        out = { ...out, status: statusOf(r) ?? out.status };
        return;
      }
      const v = headerValueOf(r);
      if (v === undefined) delete headers[op.name];
      else setOwn(headers, op.name, v);
    });
    for (const name of t.remove) delete headers[name];
    if (newBody !== undefined) out = { ...out, body: newBody };
  }
  act.setResponse(undefined);
  return out;
}

/**
 * `:status` from an int (upstream takes only int/uint: `request.uri.contains('foo=bar') ? 401 :
 * 403`; a string or an error leaves the status as it was), 200-599: a 1xx cannot end a response.
 */
function statusOf(r: CelResult): number | undefined {
  const n = r.ok ? celIntegerOf(r.value) : undefined;
  return n !== undefined && n >= 200n && n <= 599n ? Number(n) : undefined;
}

function celResponseHeaders(headers: ResponseHeaders): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {};
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (v === undefined) continue;
    setOwn(out, name, Array.isArray(v) && v.length === 1 ? v[0] : v);
  }
  return out;
}

/**
 * `transformation`: the request Transform of the first entry whose condition is true, applied as
 * edits (see applyRequestTransform); a policy with a response side is remembered for forwarding.
 * Synchronous unless an expression reads `request.body` (buffered first, bounded).
 */
export function transformationStage(o: { readonly pathRules: PathRules }): PolicyStage<'transformation'> {
  function apply(req: FastifyRequest, policy: TransformationRuntime): boolean {
    const state = req.agw;
    const i = firstEntry(policy.entries, activationOf(req));
    const t = i < 0 ? undefined : (policy.entries[i] as EntryRuntime).request;
    if (t !== undefined) state.transformation = { policy: policy.policy, entry: i, failed: applyRequestTransform(req, t, o.pathRules) };
    if (policy.hasResponse) (state.responseTransforms ?? (state.responseTransforms = [])).push(policy);
    return false;
  }
  return {
    feature: 'transformation',
    run(req: FastifyRequest, reply: FastifyReply, key: string) {
      const runtime = req.agw.runtime as RuntimeConfig;
      const policy = runtime.transformations.get(key);
      if (policy === undefined) {
        sendProxyError(req, reply, 'PROXY_ERR_POLICY_UNAVAILABLE');
        return true;
      }
      if (policy.needsRequestBody && req.agw.body === undefined) {
        const read = bufferRequestBody(req, reply);
        if (read !== false) return read.then((answered) => answered || apply(req, policy));
      }
      return apply(req, policy);
    },
  };
}
