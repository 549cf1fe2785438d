import {
  MAX_PUSH_MESSAGE_BYTES,
  PUSH_METHOD_PATH,
  PUSH_PROTOCOL_VERSION,
  decodeControllerMessage,
  encodeMessage,
  type ControllerToProxy,
  type ProxyToController,
} from '@agw/api';
import { Client, Metadata, credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { applyConfig } from './apply.js';
import { carriesKeyMaterial } from './compile-tls.js';
import type { ConfigStore } from './store.js';

/** A snapshot's config as received: only its version is known before compileConfig validates it. */
type SnapshotConfig = Extract<ControllerToProxy, { type: 'snapshot' }>['config'];

export interface ControllerSourceOptions {
  /** `host:port` of the controller's config server. */
  readonly address: string;
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly proxyId: string;
  /** Bearer token for the controller (a projected ServiceAccount token), re-read at each connect. */
  readonly token: () => string | undefined;
  readonly store: ConfigStore;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Delay before reconnect attempt `n`, ms. */
  readonly retryDelayMs: (attempt: number) => number;
  /** PEM CA bundle: connect with TLS and verify the controller against it; unset: plaintext. */
  readonly tlsCa?: Buffer;
  /** Name checked in the controller's certificate, when it differs from the address host. */
  readonly tlsServerName?: string;
  /** Development only: accept private keys (HTTPS listeners) over a plaintext stream (`--allow-plaintext-key-push`). */
  readonly allowPlaintextKeyPush?: boolean;
}

/** The NACK reason for key material over a plaintext stream. */
export const PLAINTEXT_KEY_REFUSAL =
  'refusing key material over a plaintext config stream; use --controller-ca <pem> (TLS to the controller) or --allow-plaintext-key-push for development';

/**
 * Whether a snapshot must be refused for how it came: private keys (HTTPS listeners' certificates)
 * over a stream that is not TLS-protected, unless the development flag allows it. A key seen in
 * clear text on the wire is compromised whatever the proxy does next, but refusing it makes the
 * misconfiguration loud (NACK → the Gateway's Programmed=False) instead of quietly serving.
 * Config files and local mode are not streams and never ask. Returns the NACK reason, if any.
 */
export function keyMaterialRefusal(config: unknown, stream: { tls: boolean; allowPlaintextKeyPush: boolean }): string | undefined {
  if (stream.tls || stream.allowPlaintextKeyPush) return undefined;
  return carriesKeyMaterial(config) ? PLAINTEXT_KEY_REFUSAL : undefined;
}

/**
 * Receives the Gateway's config from the controller over one gRPC stream: hello, then snapshots,
 * each compiled and swapped in, then ACKed (or NACKed with the reason while the previous config
 * keeps serving). A lost stream is reopened with backoff; the last good config serves meanwhile.
 */
export class ControllerSource {
  private readonly client: Client;
  private stream: ClientDuplexStream<ProxyToController, ControllerToProxy> | undefined;
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The newest snapshot not yet applied; older unapplied ones are skipped (never ACKed). */
  private pending: SnapshotConfig | undefined;
  private applying = false;
  connected = false;

  constructor(private readonly o: ControllerSourceOptions) {
    this.client = new Client(o.address, o.tlsCa === undefined ? credentials.createInsecure() : credentials.createSsl(o.tlsCa), {
      'grpc.keepalive_time_ms': 20_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      // gRPC's default is 4 MiB, which one Gateway of ~10,000 routes exceeds.
      'grpc.max_receive_message_length': MAX_PUSH_MESSAGE_BYTES,
      // HTTP/2 flow-control window as large as a message: with the default 64 KiB a 0.8 MB snapshot
      // took ~12 WINDOW_UPDATE round trips, each waiting for the controller's event loop between
      // reconcile passes (~1 s per snapshot under churn). The controller sends one snapshot at a
      // time (it waits for the ACK), so the larger window does not let snapshots pile up here.
      'grpc-node.flow_control_window': MAX_PUSH_MESSAGE_BYTES,
      ...(o.tlsServerName !== undefined ? { 'grpc.ssl_target_name_override': o.tlsServerName } : {}),
    });
  }

  start(): void {
    this.connect();
  }

  /** Asks the controller to refetch the keys of `remoteUrl` (a token carried an unknown kid). */
  requestRefetch(remoteUrl: string, kid: string): void {
    this.stream?.write({ type: 'refetchKeys', remoteUrl, kid });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.stream?.cancel();
    this.client.close();
  }

  /**
   * Applies snapshots one at a time, always the newest: under churn the controller may send faster
   * than a large config compiles, and compiling every intermediate version would only fall behind.
   */
  private async applyPending(stream: ClientDuplexStream<ProxyToController, ControllerToProxy>): Promise<void> {
    this.applying = true;
    while (this.pending !== undefined) {
      const config = this.pending;
      this.pending = undefined;
      const refused = keyMaterialRefusal(config, {
        tls: this.o.tlsCa !== undefined,
        allowPlaintextKeyPush: this.o.allowPlaintextKeyPush === true,
      });
      if (refused !== undefined) this.o.store.reject(config.version, refused);
      const error = refused ?? (await applyConfig(this.o.store, config));
      const warnings = error === undefined ? (this.o.store.current?.warnings ?? []).slice(0, 20).map((w) => w.slice(0, 2048)) : [];
      stream.write(
        error === undefined
          ? { type: 'ack', version: config.version, ...(warnings.length > 0 ? { warnings } : {}) }
          : { type: 'nack', version: config.version, reason: error },
      );
      if (error !== undefined)
        this.o.log('warn', 'config rejected; the last good config keeps serving', { version: config.version, error });
    }
    this.applying = false;
  }

  private connect(): void {
    if (this.stopped) return;
    const md = new Metadata();
    const token = this.o.token();
    if (token !== undefined) md.set('authorization', `Bearer ${token}`);
    const stream = this.client.makeBidiStreamRequest<ProxyToController, ControllerToProxy>(
      PUSH_METHOD_PATH,
      (m) => Buffer.from(encodeMessage(m)),
      (b) => decodeControllerMessage(b),
      md,
    );
    this.stream = stream;
    stream.write({ type: 'hello', protocolVersion: PUSH_PROTOCOL_VERSION, gateway: this.o.gateway, proxyId: this.o.proxyId });
    stream.on('data', (m: ControllerToProxy) => {
      if (!this.connected) {
        this.connected = true;
        this.attempt = 0;
        this.o.log('info', 'connected to controller', { address: this.o.address });
      }
      if (m.type === 'error') {
        this.o.log('warn', 'controller error', { message: m.message });
        return;
      }
      this.pending = m.config;
      if (!this.applying) void this.applyPending(stream);
    });
    let closed = false;
    const retry = (why: string) => {
      if (closed) return;
      closed = true;
      this.connected = false;
      if (this.stopped) return;
      const delay = this.o.retryDelayMs(this.attempt++);
      this.o.log('warn', 'config stream lost; retrying', { reason: why, retryInMs: delay });
      this.timer = setTimeout(() => this.connect(), delay);
    };
    stream.on('error', (err: Error) => retry(err.message));
    stream.on('end', () => retry('stream ended'));
  }
}
