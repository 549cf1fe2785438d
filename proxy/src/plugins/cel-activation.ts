import {
  celSourceAddress,
  type CelActivation,
  type CelProxyInfo,
  type CelRequest,
  type CelResult,
  type CelResponse,
  type CelSource,
  type CelValue,
  type CompiledExpression,
} from '@agw/api';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { celClaimsOf } from '../auth/jwt-verifier.js';
import { overlaySource, rawHeaderSource, type CredentialSource } from '../auth/token-location.js';
import './request-state.js';

/**
 * The CEL variables of one request (agentgateway-cel-policies.md §5), built lazily: each root is a
 * getter on the prototype (no closure per request), built on first read and kept, so an
 * expression that reads only `jwt` costs no `request` object and no header map. cel-js reads
 * roots as `activation[name]`, so a class instance works here; the values themselves are plain
 * objects, as CEL maps must be.
 *
 * What the variables show: the request **as edited so far** (plugins/request-state.ts
 * `RequestEdits`: a PreRouting transformation's headers, a stripped credential, a new path,
 * authority or method, a replaced body); `invalidate()` drops the cached `request` when the edits
 * change. `jwt` is the verified token's claims (absent without a valid token); `metadata` the
 * values `transformation.metadata` stored; `response` is set only for response transformations.
 */
export class RequestActivation implements CelActivation {
  #request: CelRequest | undefined;
  #source: CelSource | undefined;
  #proxy: CelProxyInfo | undefined;
  #response: CelResponse | undefined;
  /** Set while `evaluate()` runs an expression that does not read `request.headers`: the view leaves them out. */
  #withoutHeaders = false;

  constructor(private readonly req: FastifyRequest) {}

  get request(): CelRequest {
    const view = this.#request;
    if (view === undefined) return (this.#request = requestView(this.req, !this.#withoutHeaders));
    if (view.headers === undefined && !this.#withoutHeaders)
      (view as { headers?: CelRequest['headers'] }).headers = effectiveCelHeaders(this.req);
    return view;
  }

  /**
   * Evaluates an expression against this request. One that depends on the claims alone is
   * answered from the verified token's kept results (computed on the token's first use), so a
   * cache hit evaluates no jwt-only rule or header again; one that reads no header builds no
   * header map.
   */
  evaluate(expression: CompiledExpression): CelResult {
    if (expression.onlyJwt) {
      const verified = this.req.agw.verified;
      if (verified !== undefined) {
        const kept = verified.celResults ?? (verified.celResults = new Map());
        let r = kept.get(expression.source);
        if (r === undefined) {
          r = expression.evaluate(this);
          if (kept.size < MAX_KEPT_RESULTS && isSmall(r)) kept.set(expression.source, r);
        }
        return r;
      }
    }
    if (expression.references.requestHeaders) return expression.evaluate(this);
    this.#withoutHeaders = true;
    try {
      return expression.evaluate(this);
    } finally {
      this.#withoutHeaders = false;
    }
  }

  // An undefined root is absent for CEL (`unknown_variable`): the types say CelValue, as CelActivation's optional roots.
  get jwt(): CelValue {
    const verified = this.req.agw.verified;
    return (verified === undefined ? undefined : celClaimsOf(verified)) as CelValue;
  }

  /** Only while a response transformation runs (forwarding sets it); absent otherwise. */
  get response(): CelResponse {
    return this.#response as CelResponse;
  }

  setResponse(response: CelResponse | undefined): void {
    this.#response = response;
  }

  get source(): CelSource {
    if (this.#source === undefined) {
      const socket = this.req.raw.socket;
      this.#source = { address: celSourceAddress(socket.remoteAddress ?? ''), port: BigInt(socket.remotePort ?? 0) };
    }
    return this.#source;
  }

  get metadata(): Readonly<Record<string, CelValue>> {
    return this.req.agw.metadata ?? EMPTY;
  }

  get proxy(): CelProxyInfo {
    if (this.#proxy === undefined) {
      const state = this.req.agw;
      const gw = state.runtime?.config.gateway;
      const [namespace, name] = state.route?.id.split('/', 2) ?? [];
      this.#proxy = {
        ...(gw !== undefined ? { gateway: { namespace: gw.namespace, name: gw.name } } : {}),
        ...(state.listener !== undefined ? { listener: { name: state.listener.name } } : {}),
        ...(namespace !== undefined && name !== undefined ? { route: { namespace, name, kind: 'HTTPRoute' } } : {}),
      };
    }
    return this.#proxy;
  }

  /** The request's edits changed: the next read of `request` sees them (and the route, once chosen). */
  invalidate(): void {
    this.#request = undefined;
    this.#proxy = undefined;
  }
}

/**
 * Results kept per verified token: enough for every jwt-only rule and header of the policies a
 * token meets in practice; beyond it expressions are evaluated as usual. Bounds the memory a token
 * in the verified-token cache (10,000 by default) can hold: at most 32 small results (isSmall), ~1.1 KiB each at worst.
 */
const MAX_KEPT_RESULTS = 32;

/** Kept results are small: a bool, a number, null, an error, or a string of at most 1 KiB (a claim, a header value); a list, map or long string is evaluated each time. */
function isSmall(r: CelResult): boolean {
  if (!r.ok) return true;
  const v = r.value;
  return (
    v === null || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number' || (typeof v === 'string' && v.length <= 1024)
  );
}

const EMPTY: Readonly<Record<string, CelValue>> = Object.freeze(Object.create(null) as Record<string, CelValue>);

/** The request's activation, created on first use. */
export function activationOf(req: FastifyRequest): RequestActivation {
  return req.agw.cel ?? (req.agw.cel = new RequestActivation(req));
}

/** Only `request` and `source` (a token location expression runs before any token is known). */
export function locationActivation(req: FastifyRequest, expression: CompiledExpression): CelActivation {
  const a = activationOf(req);
  const refs = expression.references;
  return { ...(refs.request ? { request: a.request } : {}), ...(refs.source ? { source: a.source } : {}) };
}

/**
 * `request` as a plain object of data properties (the shape the interpreter and the fast path
 * read directly; an accessor literal per request cost ~5 µs under load), with the headers as a
 * Map built from `rawHeaders` (~1 µs for ten headers; `headersDistinct` plus an object with a
 * property defined per header cost ~7 µs).
 */
function requestView(req: FastifyRequest, withHeaders: boolean): CelRequest {
  const state = req.agw;
  const edits = state.edits;
  const raw = req.raw;
  const pathAndQuery = edits?.path ?? raw.url ?? '/';
  const q = pathAndQuery.indexOf('?');
  const host = edits?.authority ?? state.host ?? '';
  const body = edits?.body ?? state.body;
  // The TLS socket (HTTP/1.1 over TLS, or the HTTP/2 session's, which the compat request proxies).
  const scheme = (raw.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
  const view: CelRequest = {
    method: edits?.method ?? raw.method ?? 'GET',
    uri: `${scheme}://${host}${pathAndQuery}`,
    host,
    scheme,
    path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    pathAndQuery,
    version: raw.httpVersion === '1.1' ? 'HTTP/1.1' : `HTTP/${raw.httpVersion}`,
    // Built on demand (see RequestActivation.request): most rules read the path or a claim, not headers.
    headers: withHeaders ? effectiveCelHeaders(req) : (undefined as never),
  };
  // Absent in CEL (not an empty value) unless buffered: only when an expression reads it.
  return body === undefined ? view : { ...view, body };
}

/**
 * The request's headers in CEL's shape (lower-case name → one value, or the list of several), in
 * arrival order, with the edits applied (and `host` the edited authority). HTTP/2: the same view
 * as HTTP/1.1, pseudo-headers left out and `:authority` shown as `host` (policies behave alike on both).
 */
function effectiveCelHeaders(req: FastifyRequest): Map<string, string | readonly string[]> {
  const out = new Map<string, string | readonly string[]>();
  const rawHeaders = req.raw.rawHeaders;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    let name = (rawHeaders[i] as string).toLowerCase();
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (name !== ':authority' || req.raw.headers.host !== undefined) continue;
      name = 'host';
    }
    const value = rawHeaders[i + 1] as string;
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : typeof prev === 'string' ? [prev, value] : [...prev, value]);
  }
  const edits = req.agw.edits;
  if (edits === undefined) return out;
  if (edits.headers !== undefined) {
    for (const [name, values] of edits.headers) {
      if (values === null || values.length === 0) out.delete(name);
      else out.set(name, values.length === 1 ? (values[0] as string) : values);
    }
  }
  if (edits.authority !== undefined) out.set('host', edits.authority);
  return out;
}

/** Every value of a request header (lower-case name) as edited so far. */
export function headerValues(req: FastifyRequest, name: string): readonly string[] {
  const o = req.agw.edits?.headers?.get(name);
  if (o !== undefined) return o ?? [];
  const distinct = req.raw.headersDistinct as IncomingMessage['headersDistinct'] | undefined;
  if (distinct !== undefined) return distinct[name] ?? [];
  // An Http2ServerRequest has no headersDistinct: its raw headers, every value of the name.
  const rawHeaders = req.raw.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2)
    if ((rawHeaders[i] as string).toLowerCase() === name) values.push(rawHeaders[i + 1] as string);
  return values;
}

/** The first value of a header as edited so far (the route matcher's view). */
export function firstHeaderValue(req: FastifyRequest, name: string): string | undefined {
  const o = req.agw.edits?.headers?.get(name);
  if (o !== undefined) return o?.[0];
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The JWT stage's view of the request: raw headers (every duplicate), with the edits so far; with
 * `withExpression`, able to evaluate a location expression.
 */
export function credentialSourceOf(req: FastifyRequest, withExpression: boolean): CredentialSource {
  const raw = req.raw;
  const edits = req.agw.edits;
  let src = rawHeaderSource(raw.rawHeaders, raw.url ?? '/');
  if (withExpression) {
    const base = src;
    src = {
      url: base.url,
      header: base.header,
      evaluate: (expression) => {
        const r = expression.evaluate(locationActivation(req, expression));
        return r.ok ? r.value : undefined;
      },
    };
  }
  return edits === undefined ? src : overlaySource(src, edits.headers, edits.path ?? src.url);
}

/** True only when the expression evaluates to `true`; an error or any other value is false (upstream). */
export function evaluatesTrue(expression: CompiledExpression, activation: CelActivation): boolean {
  const r = activation instanceof RequestActivation ? activation.evaluate(expression) : expression.evaluate(activation);
  return r.ok && r.value === true;
}
