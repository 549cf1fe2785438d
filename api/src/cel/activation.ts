import { setOwn } from '../own-property.js';
import type { CelValue } from './cel-value.js';

/**
 * The variables an expression sees, shaped as upstream exposes them (agentgateway's
 * `crates/agentgateway/src/cel/types.rs`). Every root is optional: an absent root makes an
 * expression that reads it fail with `unknown_variable` (so `jwt.sub == 'x'` is an error, i.e.
 * false for authorization, when there is no validated token), and `default(jwt.role, 'user')`
 * falls back.
 *
 * Cheap by construction: the proxy builds only the roots that `CompiledExpression.references`
 * lists, and any field may be a getter on a plain object (`{ get headers() { … } }`), read only
 * if the expression touches it. Objects must be plain (object literals, `JSON.parse` output,
 * `Object.create(null)`) or `Map`s; ints are `bigint` (see cel-value.ts).
 */
export interface CelActivation {
  readonly request?: CelRequest;
  /** The verified claims (converted once per token with `toCelValue`); absent without a valid JWT. */
  readonly jwt?: CelValue;
  readonly source?: CelSource;
  /** Only in response-phase expressions. */
  readonly response?: CelResponse;
  /** Values set by earlier `transformation.metadata` entries, by name. */
  readonly metadata?: Readonly<Record<string, CelValue>>;
  readonly proxy?: CelProxyInfo;
  /** The selected backend, when known. */
  readonly destination?: CelDestination;
}

/**
 * Request headers: lower-case names; one value is a string, several values (repeated header
 * lines) a list of strings in arrival order. `request.headers['x-a']` on a missing header is
 * `no_such_key` (so `default(request.headers['x-a'], '')` falls back).
 */
export type CelHeaders = Readonly<Record<string, string | readonly string[]>> | ReadonlyMap<string, string | readonly string[]>;

export interface CelRequest {
  /** `GET`, `POST`, … */
  readonly method: string;
  /** The full URI: `http://example.com/api?x=1`. */
  readonly uri: string;
  /** The host (authority without userinfo): `example.com:8080`. */
  readonly host: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /** The path without the query: `/api`. */
  readonly path: string;
  /** The request target: `/api?x=1`. */
  readonly pathAndQuery: string;
  /** `HTTP/1.1`, `HTTP/2.0`. */
  readonly version: string;
  readonly headers: CelHeaders;
  /** The buffered body, only when `references.requestBody` (bytes; `json()` and `string()` accept it). */
  readonly body?: string | Uint8Array;
}

export interface CelResponse {
  /** The status code, e.g. `200n`. */
  readonly code: bigint;
  readonly headers: CelHeaders;
  /** Only when `references.responseBody`. */
  readonly body?: string | Uint8Array;
}

export interface CelSource {
  /** The client IP as text, IPv4-mapped IPv6 unmapped (`celSourceAddress`). */
  readonly address: string;
  readonly port: bigint;
}

/** `proxy`: where the request was accepted and routed (upstream's shape: objects, not strings). */
export interface CelProxyInfo {
  /** The Gateway serving the request. */
  readonly gateway?: { readonly namespace: string; readonly name: string };
  /** The listener that accepted it. */
  readonly listener?: { readonly name: string };
  /** The selected route (set once a route is chosen: absent in PreRouting expressions). */
  readonly route?: { readonly namespace: string; readonly name: string; readonly kind: string };
}

export interface CelDestination {
  readonly address?: string;
  readonly port?: bigint;
}

/**
 * The client address as CEL sees it: a dual-stack socket reports IPv4 clients as
 * `::ffff:10.1.2.3`, which `cidr('10.0.0.0/8').containsIP(…)` would not match (families never
 * mix), so the mapped form is unwrapped, as upstream's canonical addresses are.
 */
export function celSourceAddress(remoteAddress: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(remoteAddress);
  return m ? m[1]! : remoteAddress;
}

/**
 * Request headers in CEL's shape from Node's `IncomingMessage.headersDistinct`-like input
 * (lower-case name → every value): one value → string, several → list. Allocates one object;
 * call it only when `references.request` is set (or from a getter).
 */
export function celHeaders(distinct: Readonly<Record<string, readonly string[] | undefined>>): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {};
  for (const name of Object.keys(distinct)) {
    const values = distinct[name];
    if (!values || values.length === 0) continue;
    setOwn(out, name, values.length === 1 ? values[0]! : values);
  }
  return out;
}
