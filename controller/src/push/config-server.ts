import {
  MAX_PUSH_MESSAGE_BYTES,
  PUSH_METHOD_PATH,
  decodeProxyMessage,
  encodeMessage,
  type ControllerToProxy,
  type ProxyConfig,
  type ProxyToController,
} from '@agw/api';
import { Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import type { GatewayProgramming } from '../status/programmed.js';
import { configJson, forgetConfigJson, withVersion } from './config-version.js';

export type { GatewayProgramming };

/** Who a proxy is, once its credentials were checked. */
export interface ProxyIdentity {
  /** Gateways (`<ns>/<name>`) this identity may receive; undefined: any (auth disabled). */
  readonly allowedGateways?: ReadonlySet<string>;
  readonly user: string;
}

/** Checks the bearer token of a connecting proxy (TokenReview in the cluster); throws to refuse. */
export type Authenticate = (token: string | undefined) => Promise<ProxyIdentity>;

interface Conn {
  readonly id: string;
  readonly gateway: string;
  readonly stream: ServerDuplexStream<ProxyToController, Outgoing>;
  sentVersion?: string;
  /** The stream's buffer is full: send nothing more until it drains, then only the newest config. */
  blocked?: boolean;
  /**
   * The version sent and not answered yet: nothing more is sent until the proxy ACKs or NACKs it
   * (or ACK_TIMEOUT_MS passes), then only the newest config. Without it, under churn the stream
   * queued up to 16 snapshots (~0.8 MB each at 1,500 routes) that the proxy received, decoded and
   * compiled one by one: the newest arrived ~1 s after its pass.
   */
  inFlight?: { version: string; timer: ReturnType<typeof setTimeout> };
  ackedVersion?: string;
  /** What the proxy left out of the version it ACKed. */
  ackWarnings?: readonly string[];
  nack?: { version: string; reason: string };
}

/** Why an HTTPS listener was not pushed (the Gateway's and the listener's Programmed message). */
export const plaintextWithheldMessage = (listener: string): string =>
  `HTTPS listener ${listener} not sent: the config stream is not TLS-protected (set --xds-tls-cert and --xds-tls-key; --allow-plaintext-key-push is for development only)`;

export interface ConfigServerOptions {
  /**
   * Push private keys (HTTPS listeners' certificates) over a plaintext stream. Default false: over
   * plaintext, HTTPS listeners (and routes attached only to them) are left out of what is sent,
   * and the Gateway's status says so. Development only.
   */
  readonly allowPlaintextKeyPush?: boolean;
  /** Largest snapshot sent, bytes (default MAX_PUSH_MESSAGE_BYTES; tests lower it). */
  readonly maxMessageBytes?: number;
  /** How long a snapshot may go unanswered before the newest is sent anyway, ms (default ACK_TIMEOUT_MS; tests lower it). */
  readonly ackTimeoutMs?: number;
}

/** What the server writes: snapshots encoded once per Gateway version (not once per proxy). */
type Outgoing = Buffer;

export interface ConfigServerEvents {
  /** A proxy of `gateway` (`<ns>/<name>`) connected, disconnected, ACKed or NACKed: its statuses (Programmed) may change. */
  readonly onProgrammingChange: (gateway: string) => void;
  /** A proxy asks for a refetch of `remoteUrl` (unknown kid). */
  readonly onRefetch: (remoteUrl: string, kid: string) => void;
  readonly onPushed?: (gateway: string, version: string) => void;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * How long a snapshot may go unanswered before the newest is sent anyway: a proxy that never
 * answers is not left on an old config for ever (a large Gateway compiles in well under this).
 */
export const ACK_TIMEOUT_MS = 10_000;

const service: ServiceDefinition = {
  Stream: {
    path: PUSH_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    originalName: 'Stream',
    requestSerialize: (m: ProxyToController) => Buffer.from(encodeMessage(m)),
    requestDeserialize: (b: Buffer) => decodeProxyMessage(b),
    responseSerialize: (m: Outgoing) => m,
    responseDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as ControllerToProxy,
  },
};

/**
 * Streams each Gateway's config to its proxies: the current snapshot right after `hello`, then
 * every new version (only when it differs from what that proxy last got). Proxies ACK or NACK;
 * a proxy may only receive the Gateways its identity allows. Keepalives detect dead peers.
 */
export class ConfigServer {
  private readonly server = new Server({
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_send_message_length': MAX_PUSH_MESSAGE_BYTES,
  });
  /** What is sent per Gateway: the config, less its HTTPS listeners when key material may not go. */
  private readonly configs = new Map<string, ProxyConfig>();
  /** HTTPS listeners left out of what is sent, per Gateway (plaintext stream). */
  private readonly withheld = new Map<string, readonly string[]>();
  /** The snapshot message of each Gateway's current version, encoded (by the first send). */
  private readonly encoded = new Map<string, { version: string; bytes: Buffer }>();
  private readonly conns = new Map<string, Conn>();
  private nextId = 0;
  /** Set by listen() with TLS credentials; until then (and without them) the stream is plaintext. */
  private tlsProtected = false;

  constructor(
    private readonly authenticate: Authenticate,
    private readonly events: ConfigServerEvents,
    private readonly options: ConfigServerOptions = {},
  ) {
    this.server.addService(service, {
      Stream: (s: ServerDuplexStream<ProxyToController, Outgoing>) => {
        void this.accept(s);
      },
    });
  }

  /**
   * Binds `host:port` (port 0 picks one); resolves to the bound port. With `tls` (PEM certificate
   * chain and key) the stream is TLS-only; without it, plaintext (inside the cluster network).
   */
  listen(host: string, port: number, tls?: { certChain: Buffer; privateKey: Buffer }): Promise<number> {
    this.tlsProtected = tls !== undefined;
    const creds =
      tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(null, [{ cert_chain: tls.certChain, private_key: tls.privateKey }], false);
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, creds, (err, bound) => (err ? reject(err) : resolve(bound)));
    });
  }

  /** Replaces the configs; pushes each changed one to its proxies. Gateways absent are forgotten. */
  update(configs: ReadonlyMap<string, ProxyConfig>): void {
    for (const gw of [...this.configs.keys()]) if (!configs.has(gw)) this.configs.delete(gw);
    for (const gw of [...this.withheld.keys()]) if (!configs.has(gw)) this.withheld.delete(gw);
    for (const gw of [...this.encoded.keys()]) if (!configs.has(gw)) this.encoded.delete(gw);
    for (const [gw, cfg] of configs) {
      const { sent, withheld } = this.sendable(cfg);
      if (withheld.length > 0) {
        if (this.withheld.get(gw)?.join() !== withheld.join())
          this.events.log('warn', 'HTTPS listeners not sent: the config stream is not TLS-protected', { gateway: gw, listeners: withheld });
        this.withheld.set(gw, withheld);
      } else this.withheld.delete(gw);
      const previous = this.configs.get(gw)?.version;
      this.configs.set(gw, sent);
      let waiting = false;
      for (const c of this.conns.values())
        if (c.gateway === gw) {
          this.send(c);
          waiting ||= c.sentVersion !== sent.version;
        }
      // A new version is not applied yet: Programmed says so until the proxies ACK it.
      if (previous !== undefined && previous !== sent.version) this.events.onProgrammingChange(gw);
      // Its JSON is kept only for a proxy that waits for an answer before it gets this version (a
      // newer version drops it with the config); not for one that may connect (encoded then, anew).
      if (!waiting) forgetConfigJson(sent);
    }
  }

  /**
   * Private keys go only over a TLS-protected stream (or with allowPlaintextKeyPush): otherwise
   * listeners carrying certificates are left out, with the routes attached only to them, and the
   * rest is versioned anew (its content differs).
   */
  private sendable(cfg: ProxyConfig): { sent: ProxyConfig; withheld: string[] } {
    if (this.tlsProtected || this.options.allowPlaintextKeyPush === true) return { sent: cfg, withheld: [] };
    // A config the proxy will refuse anyway (malformed lists) is sent as it is, for the proxy's NACK.
    if (!Array.isArray(cfg.listeners) || !Array.isArray(cfg.routes)) return { sent: cfg, withheld: [] };
    const withheld = cfg.listeners.filter((l) => l.tls !== undefined).map((l) => l.name);
    if (withheld.length === 0) return { sent: cfg, withheld };
    const left = new Set(withheld);
    const { version: _full, ...rest } = cfg;
    const sent = withVersion({
      ...rest,
      listeners: cfg.listeners.filter((l) => !left.has(l.name)),
      routes: cfg.routes.map((r) => ({ ...r, listeners: r.listeners.filter((n) => !left.has(n)) })).filter((r) => r.listeners.length > 0),
    });
    return { sent, withheld };
  }

  /**
   * The snapshot message of the Gateway's current config, encoded once per version: the bytes of
   * encodeMessage({ type: 'snapshot', config: cfg }), from the JSON its version was hashed from.
   */
  private snapshotBytes(gateway: string, cfg: ProxyConfig): Buffer {
    const done = this.encoded.get(gateway);
    if (done !== undefined && done.version === cfg.version) return done.bytes;
    const bytes = Buffer.from(`{"type":"snapshot","config":${configJson(cfg)}}`, 'utf8');
    this.encoded.set(gateway, { version: cfg.version, bytes });
    return bytes;
  }

  programming(gateway: string): GatewayProgramming {
    const version = this.configs.get(gateway)?.version;
    const conns = [...this.conns.values()].filter((c) => c.gateway === gateway);
    return {
      proxies: conns.length,
      ...(version !== undefined ? { version } : {}),
      acked: conns.filter((c) => version !== undefined && c.ackedVersion === version).length,
      nacks: conns
        .filter((c) => c.nack !== undefined && c.nack.version === version)
        .map((c) => ({ proxy: c.id, reason: (c.nack as { reason: string }).reason })),
      warnings: conns
        .filter((c) => version !== undefined && c.ackedVersion === version)
        .flatMap((c) => (c.ackWarnings ?? []).map((warning) => ({ proxy: c.id, warning }))),
      ...(this.withheld.has(gateway)
        ? { withheld: (this.withheld.get(gateway) ?? []).map((listener) => ({ listener, message: plaintextWithheldMessage(listener) })) }
        : {}),
    };
  }

  get connectedProxies(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) c.stream.end();
    await new Promise<void>((r) => this.server.tryShutdown(() => r()));
  }

  private send(c: Conn): void {
    const cfg = this.configs.get(c.gateway);
    if (cfg === undefined || c.sentVersion === cfg.version || c.blocked === true || c.inFlight !== undefined) return;
    c.sentVersion = cfg.version;
    const bytes = this.snapshotBytes(c.gateway, cfg);
    const max = this.options.maxMessageBytes ?? MAX_PUSH_MESSAGE_BYTES;
    if (bytes.length > max) {
      // The proxy would refuse it (and reconnect for ever): not sent; its proxies keep the last config.
      const reason = `config ${cfg.version} is ${bytes.length} bytes, over the config stream's limit of ${max}: not sent (split the Gateway's routes across Gateways)`;
      this.events.log('warn', 'config not sent: too large', {
        proxy: c.id,
        gateway: c.gateway,
        version: cfg.version,
        bytes: bytes.length,
        max,
      });
      c.nack = { version: cfg.version, reason };
      this.events.onProgrammingChange(c.gateway);
      return;
    }
    const version = cfg.version;
    const timer = setTimeout(() => {
      if (c.inFlight?.version !== version) return;
      delete c.inFlight;
      this.events.log('warn', 'proxy did not answer a config; sending the newest', { proxy: c.id, gateway: c.gateway, version });
      this.send(c);
    }, this.options.ackTimeoutMs ?? ACK_TIMEOUT_MS);
    timer.unref();
    c.inFlight = { version, timer };
    const more = c.stream.write(bytes);
    this.events.onPushed?.(c.gateway, cfg.version);
    if (!more) {
      // A slow proxy: intermediate versions are skipped rather than buffered in the controller.
      c.blocked = true;
      c.stream.once('drain', () => {
        c.blocked = false;
        this.send(c);
      });
    }
  }

  private async accept(stream: ServerDuplexStream<ProxyToController, Outgoing>): Promise<void> {
    const auth = stream.metadata.get('authorization')[0];
    const token = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7) : undefined;
    let identity: ProxyIdentity;
    try {
      identity = await this.authenticate(token);
    } catch (err) {
      this.events.log('warn', 'proxy refused', { error: (err as Error).message });
      stream.emit('error', { code: GrpcStatus.UNAUTHENTICATED, details: (err as Error).message });
      return;
    }
    let conn: Conn | undefined;
    const drop = () => {
      if (conn?.inFlight !== undefined) {
        clearTimeout(conn.inFlight.timer);
        delete conn.inFlight;
      }
      if (conn !== undefined && this.conns.delete(conn.id)) {
        this.events.log('info', 'proxy disconnected', { proxy: conn.id, gateway: conn.gateway });
        this.events.onProgrammingChange(conn.gateway);
      }
    };
    stream.on('data', (m: ProxyToController) => {
      if (m.type === 'hello') {
        const gw = `${m.gateway.namespace}/${m.gateway.name}`;
        if (identity.allowedGateways !== undefined && !identity.allowedGateways.has(gw)) {
          this.events.log('warn', 'proxy asked for a gateway its identity does not allow', { user: identity.user, gateway: gw });
          stream.emit('error', {
            code: GrpcStatus.PERMISSION_DENIED,
            details: `${identity.user} may not read the config of Gateway ${gw}`,
          });
          return;
        }
        conn = { id: `${m.proxyId}#${this.nextId++}`, gateway: gw, stream };
        this.conns.set(conn.id, conn);
        this.events.log('info', 'proxy connected', { proxy: conn.id, gateway: gw, user: identity.user });
        this.send(conn);
        this.events.onProgrammingChange(gw);
        return;
      }
      if (conn === undefined) return;
      if (m.type === 'ack') {
        conn.ackedVersion = m.version;
        if (m.warnings !== undefined && m.warnings.length > 0) {
          conn.ackWarnings = m.warnings;
          this.events.log('warn', 'proxy applied config with parts left out', { proxy: conn.id, version: m.version, warnings: m.warnings });
        } else delete conn.ackWarnings;
        delete conn.nack;
        this.events.onProgrammingChange(conn.gateway);
      }
      if (m.type === 'nack') {
        conn.nack = { version: m.version, reason: m.reason };
        this.events.log('warn', 'proxy rejected config', { proxy: conn.id, version: m.version, reason: m.reason });
        this.events.onProgrammingChange(conn.gateway);
      }
      // The version in flight was answered (applied or refused): the newest, if it differs, goes now.
      if ((m.type === 'ack' || m.type === 'nack') && conn.inFlight?.version === m.version) {
        clearTimeout(conn.inFlight.timer);
        delete conn.inFlight;
        this.send(conn);
      }
      if (m.type === 'refetchKeys') this.events.onRefetch(m.remoteUrl, m.kid);
    });
    stream.on('end', () => {
      drop();
      stream.end();
    });
    stream.on('error', drop);
    stream.on('close', drop);
  }
}
