import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface JwksServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>/keys`. */
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

/** A real JWKS endpoint on 127.0.0.1:0 whose keys, failures and body the test controls. */
export async function startJwksServer(initial: JWK[] = []): Promise<JwksServer> {
  let keys = initial;
  let failure: number | undefined;
  let raw: string | undefined;
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (failure !== undefined) {
      res.statusCode = failure;
      res.end('unavailable');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(raw ?? JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/keys`,
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
