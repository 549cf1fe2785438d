import { SECRET_TYPE_TLS, boundedMemo, type Gateway, type Secret } from '@agw/api';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { ObjectKey, TlsSecretCheck } from '../translate/model.js';

/**
 * The certificate Secrets translate gets: only those of type kubernetes.io/tls that some Gateway
 * listener's `tls.certificateRefs` names (core Secret refs; namespace default the Gateway's), each
 * checked here, at the edge, with node:crypto (translate is pure and imports no `node:*`).
 * Another type is left out like an absent Secret, as the cluster's field selector leaves it out:
 * local mode and the cluster say the same.
 */
export function referencedTlsSecrets(gateways: readonly Gateway[], secrets: readonly Secret[]): Map<ObjectKey, TlsSecretCheck> {
  const wanted = new Set<ObjectKey>();
  for (const gw of gateways)
    for (const l of gw.spec.listeners)
      for (const ref of l.tls?.certificateRefs ?? [])
        if (ref.group === '' && ref.kind === 'Secret') wanted.add(`${ref.namespace ?? gw.metadata.namespace ?? ''}/${ref.name}`);
  const out = new Map<ObjectKey, TlsSecretCheck>();
  if (wanted.size === 0) return out;
  for (const s of secrets) {
    const key = `${s.metadata.namespace ?? ''}/${s.metadata.name}`;
    if (s.type === SECRET_TYPE_TLS && wanted.has(key)) out.set(key, checkTlsSecret(s));
  }
  return out;
}

/**
 * One Secret's `tls.crt` (PEM certificate chain, leaf first) and `tls.key` (PEM private key):
 * both present, every certificate parses, the key parses (unencrypted) and matches the leaf.
 * A problem names the Secret and the fault, never the content, nor node's error text.
 */
export function checkTlsSecret(s: Secret): TlsSecretCheck {
  const id = `Secret ${s.metadata.namespace ?? ''}/${s.metadata.name}`;
  const crt = field(s, 'tls.crt');
  const key = field(s, 'tls.key');
  for (const [name, v] of [
    ['tls.crt', crt],
    ['tls.key', key],
  ] as const) {
    if (v === 'missing') return { ok: false, problem: `${id} has no ${name}` };
    if (v === 'not base64') return { ok: false, problem: `${id}: data.${name} is not valid base64` };
  }
  const problem = checkPair(crt as string, key as string);
  return problem === undefined
    ? { ok: true, certChainPem: crt as string, privateKeyPem: key as string }
    : { ok: false, problem: `${id}: ${problem}` };
}

/** `stringData` wins over `data` (as on write to the API server); data is base64. */
function field(s: Secret, name: string): string | 'missing' | 'not base64' {
  const plain = s.stringData?.[name];
  if (plain !== undefined) return plain.trim() === '' ? 'missing' : plain;
  const b64 = s.data[name];
  if (b64 === undefined) return 'missing';
  const compact = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) return 'not base64';
  const text = Buffer.from(compact, 'base64').toString('utf8');
  return text.trim() === '' ? 'missing' : text;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Memoized by content (every reconcile sees every referenced Secret; they rarely change). */
const checkPairMemo = boundedMemo((both: string): { problem?: string } => {
  const sep = both.indexOf('\0');
  const problem = checkPairNow(both.slice(0, sep), both.slice(sep + 1));
  return problem === undefined ? {} : { problem };
}, 1_000);
const checkPair = (crt: string, key: string): string | undefined => checkPairMemo(`${crt}\0${key}`).problem;

function checkPairNow(crt: string, key: string): string | undefined {
  const blocks = crt.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'tls.crt holds no PEM certificate';
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      return `tls.crt: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`;
    }
  }
  // PKCS#8 `ENCRYPTED PRIVATE KEY` or a traditional PEM with `Proc-Type: 4,ENCRYPTED`.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(key))
    return 'tls.key is encrypted (a passphrase-protected key is not supported)';
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key, format: 'pem' });
  } catch {
    // node's error text is not used: it could quote the input.
    return 'tls.key is not a valid PEM private key';
  }
  let matches = false;
  try {
    matches = (certs[0] as X509Certificate).checkPrivateKey(privateKey);
  } catch {
    matches = false;
  }
  return matches ? undefined : 'tls.key does not match the certificate of tls.crt (the first one, the leaf)';
}
