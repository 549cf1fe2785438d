import type { IncomingMessage } from 'node:http';
import { TargetErrorCode, canonicalTarget, isValidAuthority, type PathRules, type RequestTarget } from '../routing/request-target.js';

/** The canonical target and host of a request, decided once before routing. */
export type CanonicalRequest =
  | { readonly kind: 'origin'; readonly path: string; readonly query: string; readonly host: string }
  | { readonly kind: 'asterisk' }
  | { readonly kind: 'refused'; readonly code: TargetErrorCode };

const CANONICAL = Symbol('agw.canonical');
type Stashed = IncomingMessage & { [CANONICAL]?: CanonicalRequest };

/**
 * The Host a request is for (RFC 9112 §3.2): an absolute-form target's authority replaces the
 * Host header; otherwise the one Host header, which must be well formed. Two Host lines are
 * refused, not resolved: Node keeps the first, an upstream behind us may keep the last.
 */
function hostOf(raw: IncomingMessage, target: RequestTarget & { kind: 'origin' }): string | undefined {
  if (target.authority !== undefined) return target.authority;
  const rawHeaders = raw.rawHeaders;
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (host !== undefined) return undefined;
    host = rawHeaders[i + 1] as string;
  }
  // HTTP/1.0 may omit Host (Node answers 400 itself for HTTP/1.1 without one).
  if (host === undefined) return '';
  return isValidAuthority(host) ? host : undefined;
}

/**
 * The host of an HTTP/2 request (RFC 9113 §8.3.1): `:authority`, else a `Host` field; both present
 * must agree (a server may treat a difference as malformed: we do, or Host-reading upstreams and
 * our routing could disagree). Exactly one of each at most; neither: refused (HTTP/2 has no
 * HTTP/1.0 excuse).
 */
function h2HostOf(raw: IncomingMessage): string | undefined {
  const rawHeaders = raw.rawHeaders;
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name === ':authority') {
      if (authority !== undefined) return undefined;
      authority = rawHeaders[i + 1] as string;
    } else if (name === 'host') {
      if (host !== undefined) return undefined;
      host = rawHeaders[i + 1] as string;
    }
  }
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase()) return undefined;
  const h = authority ?? host;
  return h !== undefined && isValidAuthority(h) ? h : undefined;
}

/**
 * Fastify's `rewriteUrl`: canonicalizes the target before Fastify's router sees it, keeps the
 * decision on the raw request for the pipeline, and hands the router the canonical URL (`/` for a
 * refused or asterisk target, which the pipeline answers). From here on `req.raw.url` is the
 * canonical path plus the query as sent: routing, policies and forwarding read the same value.
 */
export function canonicalUrlRewriter(rules: PathRules): (raw: IncomingMessage) => string {
  return (raw) => {
    const h2 = raw.httpVersionMajor === 2;
    // HTTP/2 (an Http2ServerRequest): `url` is `:path`, absent for CONNECT, never absolute-form.
    const target =
      h2 && (raw.url === undefined || raw.method === 'CONNECT')
        ? ({ kind: 'refused', code: TargetErrorCode.Form } as const)
        : canonicalTarget(raw.url ?? '/', raw.method ?? 'GET', rules);
    let decided: CanonicalRequest;
    if (target.kind !== 'origin') {
      decided = target;
    } else if (h2 && target.authority !== undefined) {
      decided = { kind: 'refused', code: TargetErrorCode.Form };
    } else {
      const host = h2 ? h2HostOf(raw) : hostOf(raw, target);
      decided =
        host === undefined
          ? { kind: 'refused', code: TargetErrorCode.Host }
          : { kind: 'origin', path: target.path, query: target.query, host };
    }
    (raw as Stashed)[CANONICAL] = decided;
    return decided.kind === 'origin' ? decided.path + decided.query : '/';
  };
}

/** The decision `canonicalUrlRewriter` made for this request (a server built without it: refused). */
export function canonicalRequestOf(raw: IncomingMessage): CanonicalRequest {
  return (raw as Stashed)[CANONICAL] ?? { kind: 'refused', code: TargetErrorCode.Form };
}
