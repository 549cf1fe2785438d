import type { KubeConfig } from '@kubernetes/client-node';
import { request, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';

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
 * Plain REST calls to the API server with the KubeConfig's TLS and credentials, for the few
 * writes the controller makes (status merge patches, leases, ConfigMaps, TokenReviews). Reads go
 * through informers. `timeoutMs` bounds every call (default 15 s).
 */
export class KubeRest {
  private readonly server: URL;

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
    const payload = body === undefined ? undefined : JSON.stringify(body);
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
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = unknown>(path: string) {
    return this.call<T>('GET', path);
  }
  /** JSON merge patch (RFC 7386); with metadata.resourceVersion in the body it is conditional (409 on conflict). */
  mergePatch<T = unknown>(path: string, body: unknown) {
    return this.call<T>('PATCH', path, body, 'application/merge-patch+json');
  }
}
