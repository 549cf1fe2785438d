import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface EchoRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface EchoUpstream {
  readonly port: number;
  readonly requests: EchoRequest[];
  close(): Promise<void>;
}

export interface EchoUpstreamOptions {
  /**
   * Serve HTTPS (HTTP/1.1) with this certificate chain and key (PEM), e.g. signed by a test's
   * private CA; every answer then says the SNI it was reached with in `x-tls-servername`.
   */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/**
 * A real HTTP upstream on 127.0.0.1:0 that answers like httpbin: `/headers` gives
 * `{"headers": {...}}` (names in canonical case, as httpbin), anything else echoes the request.
 * `/status/<code>` answers that code; `/delay/<ms>` answers after that long; `name` tags answers.
 */
export async function startEchoUpstream(name = 'echo', options: EchoUpstreamOptions = {}): Promise<EchoUpstream> {
  const requests: EchoRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (options.tls !== undefined) res.setHeader('x-tls-servername', String((req.socket as TLSSocket).servername || '-'));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(r);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      res.setHeader('x-upstream', name);
      const status = /^\/status\/(\d{3})$/.exec(path);
      if (status) {
        res.statusCode = Number(status[1]);
        res.end();
        return;
      }
      const delay = /^\/delay\/(\d+)$/.exec(path);
      if (delay) {
        setTimeout(() => {
          if (!res.destroyed) res.end('{"delayed":true}');
        }, Number(delay[1]));
        return;
      }
      res.setHeader('content-type', 'application/json');
      if (path === '/headers') {
        const canonical = Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [
            k
              .split('-')
              .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
              .join('-'),
            Array.isArray(v) ? v.join(',') : v,
          ]),
        );
        res.end(JSON.stringify({ headers: canonical }));
        return;
      }
      res.end(JSON.stringify({ upstream: name, ...r }));
    });
  };
  const server: Server = options.tls === undefined ? createServer(handler) : createHttpsServer({ ...options.tls }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
