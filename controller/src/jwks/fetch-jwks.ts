import { loopbackAddressOf } from '@agw/api';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { parseJwksDocument, type JwksParse } from './jwks-document.js';
import { addressRefusal } from './ssrf-guard.js';

export interface FetchLimits {
  /** Time to open the TCP connection, ms (default 5 000, upstream's dial timeout). */
  readonly connectTimeoutMs: number;
  /** Time for the whole exchange, ms (default 10 000, upstream's client timeout). */
  readonly totalTimeoutMs: number;
  /** Largest accepted body, bytes (default 1 MiB, upstream's cap). */
  readonly maxBytes: number;
}
export const DEFAULT_FETCH_LIMITS: FetchLimits = { connectTimeoutMs: 5_000, totalTimeoutMs: 10_000, maxBytes: 1024 * 1024 };

export interface FetchTarget {
  /** Canonical URL: its path is requested and its host is sent as Host (upstream #1235). */
  readonly url: string;
  /** Connect here instead of resolving the URL's host (a Service's ready endpoint). */
  readonly connect?: { readonly host: string; readonly port: number };
  /** TLS of an https URL (an AgentgatewayPolicy backend.tls or a BackendTLSPolicy); absent: Node's defaults (system store, SNI and name = the URL's host). */
  readonly tls?: FetchTls;
}

/** How an https fetch trusts its server (AgentgatewayPolicy backend.tls, Gateway API BackendTLSPolicy validation). */
export interface FetchTls {
  /** SNI, and the name the certificate must match unless `subjectAltNames` is set. */
  readonly servername: string;
  /** PEM trust anchors, replacing the system store; absent: the system store (Node's bundled roots). */
  readonly caPem?: string;
  /** The certificate must carry one of these (DNS names, wildcards as RFC 6125; exact URIs) instead of `servername`. */
  readonly subjectAltNames?: { readonly hostnames: readonly string[]; readonly uris: readonly string[] };
  /** backend.tls `insecureSkipVerify`: `All` verifies nothing, `Hostname` the chain but not the name. Absent: both. */
  readonly insecureSkipVerify?: 'All' | 'Hostname';
}

/**
 * One GET of a JWKS: only 200 with a valid JWKS is a success; redirects are not followed; the
 * resolved address is checked against the SSRF guard at connect time (no DNS-rebinding window).
 */
export function fetchJwks(target: FetchTarget, limits: FetchLimits = DEFAULT_FETCH_LIMITS): Promise<JwksParse> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      resolve({ ok: false, error: `invalid url ${target.url}` });
      return;
    }
    const https = url.protocol === 'https:';
    const named = target.connect?.host ?? url.hostname.replace(/^\[|\]$/g, '');
    const host = loopbackAddressOf(named) ?? named;
    const port = target.connect?.port ?? (url.port === '' ? (https ? 443 : 80) : Number(url.port));
    let settled = false;
    const done = (r: JwksParse) => {
      if (!settled) {
        settled = true;
        clearTimeout(total);
        resolve(r);
      }
    };
    const opts: RequestOptions = {
      host,
      port,
      method: 'GET',
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, accept: 'application/json, application/jwk-set+json', 'user-agent': 'agentgateway-ts-controller' },
      agent: false,
      timeout: limits.connectTimeoutMs,
      lookup: guardedLookup(),
      ...(https ? { servername: target.tls?.servername ?? url.hostname } : {}),
      ...(https && target.tls !== undefined ? tlsOptions(target.tls) : {}),
    };
    // Node dials an IP literal without calling lookup: the literal is checked here, as Node reads it.
    const refused = addressRefusal(host, 'literal');
    if (refused !== undefined) {
      resolve({ ok: false, error: refused });
      return;
    }
    const total = setTimeout(() => {
      req.destroy(new Error(`timed out after ${limits.totalTimeoutMs} ms`));
    }, limits.totalTimeoutMs);
    const req = (https ? httpsRequest : httpRequest)(opts, (res) => {
      req.setTimeout(0);
      if (res.statusCode !== 200) {
        res.resume();
        done({ ok: false, error: `unexpected status code from jwks endpoint at ${target.url}: ${res.statusCode ?? 0}` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limits.maxBytes) {
          res.destroy();
          done({ ok: false, error: `jwks response from ${target.url} exceeds ${limits.maxBytes} bytes` });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const parsed = parseJwksDocument(Buffer.concat(chunks).toString('utf8'));
        done(parsed.ok ? parsed : { ok: false, error: `invalid jwks from ${target.url}: ${parsed.error}` });
      });
      res.on('error', (err) => done({ ok: false, error: `reading jwks from ${target.url}: ${err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`connect timed out after ${limits.connectTimeoutMs} ms`)));
    req.on('error', (err) => done({ ok: false, error: `fetching jwks from ${target.url}: ${describeError(err)}` }));
    req.end();
  });
}

/**
 * Node's message, with its code when the message does not already say it: TLS failures read as
 * `unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`, and the code is what
 * a user searches for.
 */
function describeError(err: NodeJS.ErrnoException): string {
  const code = typeof err.code === 'string' ? err.code : undefined;
  return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

/**
 * The https options of a TLS setting: trust anchors, and the names the certificate must match.
 * Verified unless `insecureSkipVerify` says otherwise (`Hostname`: the chain only; `All`: nothing).
 */
function tlsOptions(tls: FetchTls): Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized' | 'checkServerIdentity'> {
  const sans = tls.subjectAltNames;
  if (tls.insecureSkipVerify === 'All') return { rejectUnauthorized: false, checkServerIdentity: () => undefined };
  if (tls.insecureSkipVerify === 'Hostname')
    return { rejectUnauthorized: true, ...(tls.caPem !== undefined ? { ca: tls.caPem } : {}), checkServerIdentity: () => undefined };
  return {
    rejectUnauthorized: true,
    ...(tls.caPem !== undefined ? { ca: tls.caPem } : {}),
    ...(sans !== undefined && sans.hostnames.length + sans.uris.length > 0
      ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkSubjectAltNames(sans, cert) }
      : {}),
  };
}

/**
 * Gateway API subjectAltNames: the certificate must carry one of the DNS names (checked as Node
 * checks a host name, wildcards included) or one of the URIs (exact); the hostname is not used.
 */
export function checkSubjectAltNames(sans: NonNullable<FetchTls['subjectAltNames']>, cert: PeerCertificate): Error | undefined {
  for (const h of sans.hostnames) if (checkServerIdentity(h, cert) === undefined) return undefined;
  const uris = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  if (sans.uris.some((u) => uris.includes(u))) return undefined;
  return Object.assign(
    new Error(
      `certificate's altnames (${cert.subjectaltname ?? 'none'}) match none of the subjectAltNames: ${[...sans.hostnames, ...sans.uris].join(', ')}`,
    ),
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
  );
}

/** Resolves every address of a name (`dns.lookup` with `all: true`). */
export type ResolveAll = (
  hostname: string,
  options: LookupAllOptions,
  cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * The `lookup` hook of a JWKS connection: the guard decides on the addresses actually dialed.
 * It resolves every address, refuses the name if ANY is blocked (a name that also points at a
 * metadata service is not trusted for its other answers), and answers in the shape Node asked
 * for: an array when `options.all` (http with autoSelectFamily, Node 20's default), else the
 * first address, as `dns.lookup` would.
 */
export function guardedLookup(
  resolveAll: ResolveAll = (h, o, cb) => {
    dnsLookup(h, o, cb);
  },
): LookupFunction {
  return (hostname, options, cb) => {
    resolveAll(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        cb(err, options.all ? [] : '', 0);
        return;
      }
      const first = addresses[0];
      if (first === undefined) {
        cb(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), options.all ? [] : '', 0);
        return;
      }
      for (const { address } of addresses) {
        const refused = addressRefusal(address, 'resolved');
        if (refused !== undefined) {
          cb(new Error(refused), options.all ? [] : '', 0);
          return;
        }
      }
      if (options.all) cb(null, addresses);
      else cb(null, first.address, first.family);
    });
  };
}
