import type { KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request, type RequestOptions } from 'node:https';

export interface KubeResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** A Kubernetes API error with the server's status and message (e.g. 409 Conflict). */
export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/**
 * Idle keep-alive connections to the API server are closed after this long (ms): below the idle
 * timeouts of API servers and load balancers in front of them (60 s and more), so that a request
 * rarely meets a connection the server has just closed.
 */
const IDLE_CONNECTION_MS = 15_000;
/** Connections to the API server at most at once (the status writer runs 4 writes at a time). */
const MAX_CONNECTIONS = 8;

/** The TLS material of a call's options (the kubeconfig's files are read again at every call). */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** A reused connection failed before any answer (see KubeRest.call). */
class StaleConnection extends Error {}

/**
 * Plain REST calls to the API server with the KubeConfig's TLS and credentials, for the few
 * writes the controller makes (status merge patches, leases, ConfigMaps, TokenReviews). Reads go
 * through informers. `timeoutMs` bounds every call (default 15 s).
 *
 * Connections are kept alive and reused: the kubeconfig makes a new agent for every call, which
 * cost a TCP and TLS handshake per status write (several per route change at 10,000 routes). The
 * pooled agent is keyed by the call's TLS material: a rotated client certificate or CA gets a new
 * one (the old one's idle connections close after IDLE_CONNECTION_MS). Credentials in headers
 * (bearer tokens, rotated by the kubelet) are read at every call and need no new connection. A
 * cluster reached through a proxy (`proxy-url`) keeps the kubeconfig's own agent per call.
 */
export class KubeRest {
  private readonly server: URL;
  private pooled: { readonly tls: string; readonly agent: HttpAgent } | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly timeoutMs = 15_000,
  ) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse<T>> {
    const opts: RequestOptions = {
      method,
      host: this.server.hostname,
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path: `${this.server.pathname.replace(/\/$/, '')}${path}`,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': contentType } : {}) },
      timeout: this.timeoutMs,
    };
    await this.kc.applyToHTTPSOptions(opts);
    if (this.kc.getCurrentCluster()?.proxyUrl === undefined) opts.agent = this.agentFor(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    try {
      return await this.send<T>(opts, payload);
    } catch (err) {
      // A kept-alive connection the server closed while this call was being sent (its close and
      // our write crossed): nothing was processed, so the call goes once more, on a new one.
      if (!(err instanceof StaleConnection)) throw err;
      return this.send<T>(opts, payload);
    }
  }

  private send<T>(opts: RequestOptions, payload: string | undefined): Promise<KubeResponse<T>> {
    const { method = 'GET', path = '' } = opts;
    return new Promise((resolve, reject) => {
      const req = (this.server.protocol === 'https:' ? request : httpRequest)(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            /* plain text error */
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const s = parsed as { message?: string; reason?: string } | undefined;
            reject(new KubeError(status, `${method} ${path}: ${status} ${s?.message ?? text}`, s?.reason));
            return;
          }
          resolve({ status, body: parsed as T });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const closedUnderUs = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        reject(closedUnderUs ? new StaleConnection(err.message) : err);
      });
      req.end(payload);
    });
  }

  /** Stops reusing connections: idle ones are closed now (calls after this open new ones). */
  close(): void {
    this.pooled?.agent.destroy();
    this.pooled = undefined;
  }

  /** The keep-alive agent for the TLS material of `opts`, made anew when that changed. */
  private agentFor(opts: RequestOptions): HttpAgent {
    const hash = createHash('sha256');
    for (const field of TLS_FIELDS) {
      const v: unknown = opts[field];
      const bytes = v === undefined ? '' : Buffer.isBuffer(v) ? v : JSON.stringify(v);
      hash.update(`${field}:${bytes.length}:`).update(bytes);
    }
    const tls = hash.digest('base64');
    if (this.pooled?.tls === tls) return this.pooled.agent;
    const options = { keepAlive: true, maxSockets: MAX_CONNECTIONS, timeout: IDLE_CONNECTION_MS };
    const tlsOptions = Object.fromEntries(TLS_FIELDS.filter((f) => opts[f] !== undefined).map((f) => [f, opts[f]]));
    const agent = this.server.protocol === 'https:' ? new HttpsAgent({ ...options, ...tlsOptions }) : new HttpAgent(options);
    this.pooled = { tls, agent };
    return agent;
  }

  get<T = unknown>(path: string) {
    return this.call<T>('GET', path);
  }
  /** JSON merge patch (RFC 7386); with metadata.resourceVersion in the body it is conditional (409 on conflict). */
  mergePatch<T = unknown>(path: string, body: unknown) {
    return this.call<T>('PATCH', path, body, 'application/merge-patch+json');
  }
}
