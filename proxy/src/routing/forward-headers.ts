/** Header values as Node parses them (`req.headers`) and as undici hands them back. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) that never cross the proxy in either direction, plus the
 * ones the upstream connection manages itself: `transfer-encoding` and `expect` (Node answers
 * `100 Continue` to the client; undici refuses both as request headers), `http2-settings` (HTTP/1.1's
 * upgrade to h2c, connection-specific: Node's HTTP/2 throws on it, to an h2c upstream outside any
 * try) and `host` (set below).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
]);

/** Names listed in `Connection` (RFC 9110 §7.6.1: hop-by-hop as well), lower-case; none for the common case. */
function connectionListed(connection: string | string[] | undefined): ReadonlySet<string> | undefined {
  // The common values list nothing: answer them without splitting (this runs twice per request).
  if (connection === undefined || connection === 'keep-alive' || connection === 'close' || connection === 'Keep-Alive') return undefined;
  const names = (Array.isArray(connection) ? connection.join(',') : connection).split(',').map((n) => n.trim().toLowerCase());
  const listed = names.filter((n) => n !== '' && n !== 'close' && n !== 'keep-alive');
  return listed.length === 0 ? undefined : new Set(listed);
}

/** What the pipeline decided about a request that shapes the headers sent upstream. */
export interface ForwardContext {
  /** Host header as the client sent it (Gateway API: the backend sees the original Host). */
  host: string;
  /** Client address, appended to X-Forwarded-For. */
  clientAddress: string;
  requestId: string;
  /** Scheme the client used: `https` on an HTTPS listener (X-Forwarded-Proto, `Forwarded` proto); default `http`. */
  proto?: 'http' | 'https' | undefined;
  /** The upstream Host when a transformation set one (`host`/`:authority`); X-Forwarded-Host and `Forwarded` keep the client's. */
  authority?: string | undefined;
  /**
   * The stages' header edits (plugins/request-state.ts `RequestEdits.headers`): lower-case name →
   * the values sent instead of the client's (null: none), e.g. a verified credential removed, a
   * transformation's headers. The proxy's own headers (`host`, `x-forwarded-*`, `forwarded`,
   * `x-request-id`) are written after them, as after the client's.
   */
  overlay?: ReadonlyMap<string, readonly string[] | null> | undefined;
}

/**
 * Our RFC 7239 `Forwarded` element. A client's own `Forwarded` is dropped, not appended to: unlike
 * X-Forwarded-For (appended, as Envoy does), nothing in it can be told apart from a forgery, and
 * upstreams read its `host` and `proto` as the request's own. IPv6 and host values are quoted.
 */
function forwardedElement(ctx: ForwardContext): string {
  const forClient = ctx.clientAddress.includes(':') ? `"[${ctx.clientAddress}]"` : ctx.clientAddress || 'unknown';
  return `for=${forClient};host=${quotedString(ctx.host)};proto=${ctx.proto ?? 'http'}`;
}

/**
 * An RFC 9110 §5.6.4 quoted-string: `"` and `\` escaped with `\`. The host reaching here passed
 * the request-target checks, so neither occurs and it is quoted as it is (JSON.stringify did the
 * same, at ~1 µs a request).
 */
function quotedString(value: string): string {
  return value.includes('"') || value.includes('\\') ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/** An HTTP/2 pseudo-header (`:method`, `:path`, `:authority`, `:scheme`, `:protocol`): never a field upstream. */
const isPseudo = (name: string): boolean => name.charCodeAt(0) === 58; /* ':' */

/**
 * Request headers for the upstream (HTTP/1.1, or HTTP/2 for an h2c backend, where forwarding
 * adds back `TE: trailers`): the client's minus hop-by-hop and
 * connection-listed ones, HTTP/2 pseudo-headers (the method, path and host travel in the request
 * line and `host`) and a client's `Forwarded`, with the stages' edits (`overlay`), X-Forwarded-For (appended), -Proto, -Host,
 * X-Request-Id and our own `Forwarded` set.
 * Builds a fresh object: deleting keys would send V8 objects into slow dictionary mode.
 */
export function upstreamRequestHeaders(incoming: Readonly<HeaderMap>, ctx: ForwardContext): HeaderMap {
  const listed = connectionListed(incoming.connection);
  const overlay = ctx.overlay;
  const out: HeaderMap = {};
  for (const name in incoming) {
    if (
      HOP_BY_HOP.has(name) ||
      name === 'host' ||
      name === 'forwarded' ||
      isPseudo(name) ||
      listed?.has(name) === true ||
      overlay?.has(name) === true
    )
      continue;
    out[name] = incoming[name];
  }
  if (overlay !== undefined) {
    for (const [name, values] of overlay) {
      if (values === null || values.length === 0 || HOP_BY_HOP.has(name) || name === 'host' || name === 'forwarded' || isPseudo(name))
        continue;
      out[name] = values.length === 1 ? values[0] : [...values];
    }
  }
  out.host = ctx.authority ?? ctx.host;
  const prior = out['x-forwarded-for'];
  out['x-forwarded-for'] =
    prior === undefined || prior === '' ? ctx.clientAddress : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${ctx.clientAddress}`;
  out['x-forwarded-proto'] = ctx.proto ?? 'http';
  out['x-forwarded-host'] = ctx.host;
  out['x-request-id'] = ctx.requestId;
  out.forwarded = forwardedElement(ctx);
  return out;
}

/**
 * Response headers for the client: the upstream's minus hop-by-hop and connection-listed ones.
 * What is left is valid on HTTP/2 too: `connection`, `keep-alive`, `proxy-connection`,
 * `transfer-encoding`, `upgrade`, `te` and `http2-settings`, which HTTP/2 forbids (RFC 9113 §8.2.2), are all hop-by-hop.
 */
export function downstreamResponseHeaders(upstream: Readonly<HeaderMap>): HeaderMap {
  const listed = connectionListed(upstream.connection);
  const out: HeaderMap = {};
  for (const name in upstream) {
    if (HOP_BY_HOP.has(name) || listed?.has(name) === true) continue;
    out[name] = upstream[name];
  }
  return out;
}

/**
 * A header of a name-keyed header map, own properties only: a header named `constructor` or
 * `__proto__` (valid tokens) must not read Object.prototype's members.
 */
export function ownHeader<V>(headers: Readonly<Record<string, V | undefined>>, name: string): V | undefined {
  return Object.hasOwn(headers, name) ? headers[name] : undefined;
}
