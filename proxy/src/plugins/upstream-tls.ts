import type { CompiledBackendTlsPolicy } from '@agw/api';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { Agent, buildConnector, type ConnectorOptions } from './undici-dispatcher.js';
import type { BackendTlsRuntime, RuntimeConfig } from '../config/compile.js';

/**
 * TLS from the proxy to backends (`policies.backendTls` of the config): the connection options
 * of each mode, one undici Agent per distinct setting, and which failures are TLS failures.
 *
 * Modes (AgentgatewayPolicy `backend.tls`, Gateway API BackendTLSPolicy):
 * - default: the chain is verified against `caPem` (else Node's bundled roots) and the certificate
 *   must carry the SNI name (`sni`, else the backend's `hostname`);
 * - `subjectAltNames`: the chain is verified, and the certificate must carry one of those names
 *   instead of the SNI name;
 * - `insecureSkipVerify: Hostname`: the chain is verified, the name is not;
 * - `insecureSkipVerify: All`: nothing is verified (still encrypted).
 * TLS backends speak HTTP/1.1 (ALPN `http/1.1` only), whatever the Service port's appProtocol.
 */

/** TLS of one request's upstream call: the settings, the name sent as SNI and verified, the backend (for logs). */
export interface UpstreamTls {
  readonly tls: BackendTlsRuntime;
  readonly servername: string;
  readonly backend: string;
}

/** The SNI name of a call: the policy's `sni`, else the backend's DNS name, else the endpoint's host. */
export function servernameOf(settings: CompiledBackendTlsPolicy, backendHostname: string | undefined, endpointHost: string): string {
  return settings.sni ?? backendHostname ?? endpointHost;
}

/**
 * The certificate must carry one of the DNS names (checked as Node checks a host name, wildcards
 * included; an IP address against the IP SANs) or one of the URIs (exact).
 */
export function checkSubjectAltNames(
  sans: NonNullable<CompiledBackendTlsPolicy['subjectAltNames']>,
  cert: PeerCertificate,
): Error | undefined {
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

/**
 * `tls.connect` options of one setting and SNI name. An IP address is never sent as SNI (RFC 6066
 * forbids it: `servername: ''`, which also keeps Node's https from sending the request's Host
 * instead); it is still the name verified. Never called for a setting with `invalid`.
 */
export type TlsConnectOptions = Pick<ConnectionOptions, 'servername' | 'ca' | 'minVersion' | 'rejectUnauthorized' | 'checkServerIdentity'>;

export function tlsConnectOptions(settings: CompiledBackendTlsPolicy, servername: string): TlsConnectOptions {
  const base: TlsConnectOptions = {
    servername: isIP(servername) === 0 ? servername : '',
    ...(settings.caPem !== undefined ? { ca: settings.caPem } : {}),
    minVersion: 'TLSv1.2',
  };
  const sans = settings.subjectAltNames;
  switch (settings.insecureSkipVerify) {
    case 'All':
      return { ...base, rejectUnauthorized: false, checkServerIdentity: () => undefined };
    case 'Hostname':
      return { ...base, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    default:
      return {
        ...base,
        rejectUnauthorized: true,
        checkServerIdentity:
          sans !== undefined && sans.hostnames.length + sans.uris.length > 0
            ? (_host, cert) => checkSubjectAltNames(sans, cert)
            : (_host, cert) => checkServerIdentity(servername, cert),
      };
  }
}

/** OpenSSL's certificate verification errors, as Node names them in `err.code`. */
const VERIFY_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * Whether an upstream failure is the TLS handshake's: the certificate not verified (unknown CA,
 * expired, …), its name not the expected one, or the TLS protocol itself (an upstream that does
 * not speak TLS, no common version or cipher). Decided on codes only.
 */
export function isTlsFailure(err: { code?: string }): boolean {
  const code = err.code;
  if (code === undefined) return false;
  return VERIFY_ERRORS.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO';
}

export interface TlsAgentOptions {
  readonly connections: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
}

/**
 * The undici Agents of TLS upstream calls, one per distinct setting (content of the TLS settings
 * and the SNI name): connections and TLS sessions are shared only by calls with the same trust.
 * When a request brings a config not seen before, the Agents no backend of that config uses are
 * closed (gracefully: calls in flight on them finish); one a late request of an older config
 * needs again is made anew. `close()` closes them all (the server's onClose).
 */
export class TlsAgents {
  private readonly agents = new Map<string, Agent>();
  private seen: RuntimeConfig | undefined;

  constructor(private readonly o: TlsAgentOptions) {}

  /** Call once per request with its config: closes the Agents a newly seen config no longer uses. */
  observe(runtime: RuntimeConfig | undefined): void {
    if (runtime === undefined || runtime === this.seen) return;
    this.seen = runtime;
    if (this.agents.size === 0) return;
    const used = tlsAgentKeys(runtime);
    for (const [key, agent] of this.agents) {
      if (used.has(key)) continue;
      this.agents.delete(key);
      void agent.close().catch(() => undefined);
    }
  }

  agentFor(t: UpstreamTls): Agent {
    const key = agentKey(t.tls, t.servername);
    let agent = this.agents.get(key);
    if (agent === undefined) {
      const options = tlsConnectOptions(t.tls.settings, t.servername);
      // undici takes the SNI of a connection from the request (its `servername`, else its Host
      // header): the connector puts ours back, so the request's Host never becomes the SNI.
      const connector = buildConnector(options as ConnectorOptions);
      const sni = options.servername === '' ? undefined : options.servername;
      agent = new Agent({
        connections: this.o.connections,
        pipelining: 1,
        headersTimeout: this.o.headersTimeout,
        bodyTimeout: this.o.bodyTimeout,
        connect: (opts, cb) => {
          const { servername: _fromRequest, ...rest } = opts;
          return connector(sni === undefined ? rest : { ...rest, servername: sni }, cb);
        },
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** How many Agents are open (tests). */
  get size(): number {
    return this.agents.size;
  }

  async close(): Promise<void> {
    const all = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(all.map((a) => a.close()));
  }
}

const agentKey = (tls: BackendTlsRuntime, servername: string): string => `${tls.id}\0${servername}`;

const keysByRuntime = new WeakMap<RuntimeConfig, ReadonlySet<string>>();

/** The Agent keys every backend of a config may use (each SNI name its TLS settings give), computed once per config. */
export function tlsAgentKeys(runtime: RuntimeConfig): ReadonlySet<string> {
  let keys = keysByRuntime.get(runtime);
  if (keys !== undefined) return keys;
  const out = new Set<string>();
  for (const route of runtime.config.routes)
    for (const b of route.backends) {
      const ref = b.policies?.backendTls ?? route.policies?.backendTls;
      const tls = ref === undefined ? undefined : runtime.backendTls.get(ref);
      if (tls === undefined || tls.settings.invalid !== undefined) continue;
      if (tls.settings.sni !== undefined || b.hostname !== undefined) out.add(agentKey(tls, servernameOf(tls.settings, b.hostname, '')));
      else for (const ep of b.endpoints) out.add(agentKey(tls, ep.host));
    }
  keys = out;
  keysByRuntime.set(runtime, keys);
  return keys;
}
