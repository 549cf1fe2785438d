import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface JwksServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>/keys` (`https://` when served over TLS). */
  readonly url: string;
  /** Requests served so far, per path. */
  readonly hits: Map<string, number>;
  setKeys(keys: JWK[]): void;
  /** While set, every request gets this status (e.g. 503), as an IdP outage. */
  failWith(status: number | undefined): void;
  /** Raw body to serve instead of the key set (invalid JSON tests). */
  serveRaw(body: string | undefined): void;
  close(): Promise<void>;
}

export interface JwksServerOptions {
  /** Serve HTTPS with this certificate chain and key (PEM), e.g. signed by a test's private CA. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** A real JWKS endpoint on 127.0.0.1:0 whose keys, failures and body the test controls. */
export async function startJwksServer(initial: JWK[] = [], options: JwksServerOptions = {}): Promise<JwksServer> {
  let keys = initial;
  let failure: number | undefined;
  let raw: string | undefined;
  const hits = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (failure !== undefined) {
      res.statusCode = failure;
      res.end('unavailable');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(raw ?? JSON.stringify({ keys }));
  };
  const server = options.tls === undefined ? createServer(handler) : createHttpsServer({ ...options.tls }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}/keys`,
    hits,
    setKeys: (k) => {
      keys = k;
    },
    failWith: (s) => {
      failure = s;
    },
    serveRaw: (b) => {
      raw = b;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
