import type { CompiledCertificate, CompiledListener } from '@agw/api';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';

/** TLS 1.2 and 1.3 only: TLS 1.0/1.1 ClientHellos fail the handshake with `protocol_version`. */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;
/**
 * Mozilla's "intermediate" list: the TLS 1.3 suites, then for TLS 1.2 only ECDHE (forward
 * secrecy) with AES-GCM or ChaCha20-Poly1305 (AEAD). Node's default list would also offer CBC
 * suites with SHA-1/SHA-2 HMACs and finite-field DHE; none of them is needed by a client of the
 * last decade, and RFC 9113 §9.2.2 forbids most of them under HTTP/2.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
import { hostnameMatches, hostnameRank } from '../routing/hostname.js';

/** What /config_dump and logs show instead of a private key. */
export const REDACTED = '[redacted]';

/**
 * The TLS material of one HTTPS listener, compiled: one SecureContext holding every usable
 * certificate of the listener (OpenSSL picks among key types, e.g. an ECDSA and an RSA one, by
 * what the client supports). The PEMs are kept only for `tls.Server.setSecureContext` (the
 * context served to a client that sends no SNI); never dumped nor logged.
 */
export interface ListenerTls {
  readonly listener: string;
  readonly hostname: string | undefined;
  readonly context: SecureContext;
  /** sha256 of the certificates and keys: contexts are reused across configs by this key. */
  readonly contentKey: string;
  readonly pem: { readonly cert: readonly string[]; readonly key: readonly string[] };
}

/**
 * The TLS side of one port whose listeners are HTTPS: `byName` most specific hostname first (exact
 * > longest wildcard > no hostname), and the context served without SNI (or for a name no listener
 * covers): the listener without hostname, else the first listener of the port.
 */
export interface PortTls {
  readonly byName: readonly ListenerTls[];
  readonly fallback: ListenerTls;
}

/**
 * The listener whose certificate answers a TLS ClientHello naming `servername` (SNI), per the
 * Gateway API hostname rules: exact > longest wildcard > a listener without hostname; no match
 * (or no SNI) → `fallback`. Called in the handshake: no allocation beyond the lower-casing.
 */
export function listenerForServername(port: PortTls, servername: string | undefined): ListenerTls {
  if (servername === undefined || servername === '') return port.fallback;
  const name = servername.toLowerCase();
  for (const l of port.byName) if (l.hostname !== undefined && hostnameMatches(l.hostname, name)) return l;
  return port.fallback;
}

/** A certificate that parsed and whose key matches it. */
interface UsableCertificate {
  readonly cert: CompiledCertificate;
  readonly keyType: string;
}

/** Checks one certificate: the chain parses (leaf first), the key parses and matches the leaf. */
function checkCertificate(c: CompiledCertificate): { ok: true; usable: UsableCertificate } | { ok: false; why: string } {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(c.certChainPem);
  } catch (err) {
    return { ok: false, why: `the certificate chain does not parse (${(err as Error).message})` };
  }
  let keyType: string;
  try {
    const key = createPrivateKey(c.privateKeyPem);
    // The error texts of node:crypto never carry the key itself.
    if (!leaf.checkPrivateKey(key)) return { ok: false, why: 'the private key does not match the certificate' };
    keyType = key.asymmetricKeyType ?? 'unknown';
  } catch (err) {
    return { ok: false, why: `the private key does not parse (${(err as Error).message})` };
  }
  return { ok: true, usable: { cert: c, keyType } };
}

const contentKeyOf = (certs: readonly CompiledCertificate[]): string => {
  const h = createHash('sha256');
  for (const c of certs) h.update(c.certChainPem).update('\0').update(c.privateKeyPem).update('\0');
  return h.digest('base64url');
};

export interface CompiledTls {
  /** The listeners to serve: HTTPS ones without a usable certificate, and HTTP ones on a TLS port, left out. */
  readonly listeners: CompiledListener[];
  /** Ports whose listeners are HTTPS. */
  readonly ports: ReadonlyMap<number, PortTls>;
  /** Every context of this config by content key (the next config reuses the unchanged ones). */
  readonly contexts: ReadonlyMap<string, SecureContext>;
}

/**
 * Compiles the TLS side of the listeners, once per config: each HTTPS listener's certificates are
 * checked (a chain or key that does not parse, or a key that does not match its certificate, is
 * left out with a warning; a second certificate of a key type already served, too, since OpenSSL
 * would keep only one) and built into one SecureContext, reused from `previous` when the listener's
 * certificates and keys are unchanged (a context is never built per handshake). An HTTPS listener
 * left with no certificate is left out (warning: the ACK carries it). A port cannot be both: HTTP
 * listeners on a port that has an HTTPS one are left out (served in clear text they would take
 * requests meant for TLS). The listeners returned carry `privateKeyPem: "[redacted]"`: the key
 * lives in the SecureContext (and `pem`) only, never in the config kept for /config_dump.
 */
export function compileTls(
  listeners: readonly CompiledListener[],
  previous: ReadonlyMap<string, SecureContext> | undefined,
  warnings: string[],
): CompiledTls {
  const tlsPorts = new Set(listeners.filter((l) => l.protocol === 'HTTPS').map((l) => l.port));
  const kept: CompiledListener[] = [];
  const byPort = new Map<number, ListenerTls[]>();
  const contexts = new Map<string, SecureContext>();
  for (const l of listeners) {
    if (l.protocol !== 'HTTPS') {
      if (tlsPorts.has(l.port)) warnings.push(`listener ${l.name} left out: port ${l.port} has HTTPS listeners and HTTP cannot share it`);
      else kept.push(l);
      continue;
    }
    const usable: UsableCertificate[] = [];
    for (const c of l.tls?.certificates ?? []) {
      const r = checkCertificate(c);
      if (!r.ok) {
        warnings.push(`listener ${l.name}: certificate ${c.name} left out: ${r.why}`);
        continue;
      }
      if (usable.some((u) => u.keyType === r.usable.keyType)) {
        warnings.push(`listener ${l.name}: certificate ${c.name} left out: an earlier ${r.usable.keyType} certificate is served`);
        continue;
      }
      usable.push(r.usable);
    }
    if (usable.length === 0) {
      warnings.push(`listener ${l.name} left out: HTTPS without a usable certificate`);
      continue;
    }
    const certs = usable.map((u) => u.cert);
    const contentKey = contentKeyOf(certs);
    let context = contexts.get(contentKey) ?? previous?.get(contentKey);
    if (context === undefined) {
      try {
        // TLS 1.2 minimum and only AEAD ciphers with forward secrecy (tls-server.ts says why).
        context = createSecureContext({
          cert: certs.map((c) => c.certChainPem),
          key: certs.map((c) => c.privateKeyPem),
          minVersion: TLS_MIN_VERSION,
          ciphers: TLS_CIPHERS,
        });
      } catch (err) {
        warnings.push(`listener ${l.name} left out: its certificates cannot be served (${(err as Error).message})`);
        continue;
      }
    }
    contexts.set(contentKey, context);
    const entry: ListenerTls = {
      listener: l.name,
      hostname: l.hostname,
      context,
      contentKey,
      pem: { cert: certs.map((c) => c.certChainPem), key: certs.map((c) => c.privateKeyPem) },
    };
    byPort.set(l.port, [...(byPort.get(l.port) ?? []), entry]);
    kept.push({
      ...l,
      tls: {
        certificates: (l.tls?.certificates ?? []).map((c) => ({ name: c.name, certChainPem: c.certChainPem, privateKeyPem: REDACTED })),
      },
    });
  }
  const ports = new Map<number, PortTls>();
  for (const [port, entries] of byPort) {
    const byName = [...entries].sort((a, b) => hostnameRank(b.hostname) - hostnameRank(a.hostname));
    ports.set(port, {
      byName,
      fallback: entries.find((e) => e.hostname === undefined || e.hostname === '') ?? (entries[0] as ListenerTls),
    });
  }
  return { listeners: kept, ports, contexts };
}

/** Whether a config (unvalidated) carries private key material in any listener. */
export function carriesKeyMaterial(config: unknown): boolean {
  const listeners = (config as { listeners?: unknown } | null)?.listeners;
  if (!Array.isArray(listeners)) return false;
  return listeners.some((l) => {
    const certs = (l as { tls?: { certificates?: unknown } } | null)?.tls?.certificates;
    return Array.isArray(certs) && certs.some((c) => typeof (c as { privateKeyPem?: unknown } | null)?.privateKeyPem === 'string');
  });
}

/** What /config_dump shows of a certificate: its name and the leaf's subject, SANs and expiry; the key redacted. */
export function describeCertificate(c: { name?: unknown; certChainPem?: unknown }): Record<string, unknown> {
  const out: Record<string, unknown> = { name: c.name, privateKeyPem: REDACTED };
  if (typeof c.certChainPem !== 'string') return out;
  try {
    const x = new X509Certificate(c.certChainPem);
    return {
      ...out,
      subject: x.subject,
      subjectAltName: x.subjectAltName,
      notAfter: new Date(x.validTo).toISOString(),
      fingerprint256: x.fingerprint256,
    };
  } catch {
    return { ...out, certChainPem: 'does not parse' };
  }
}
