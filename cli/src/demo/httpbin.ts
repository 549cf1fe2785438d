import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The quickstart's upstream, answering like httpbin: `/headers` → `{"headers": {...}}` with
 * canonical header names, `/status/<code>` → that status, anything else → the request echoed.
 */
export async function startHttpbin(o: { port: number; host?: string }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [
        k
          .split('-')
          .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
          .join('-'),
        Array.isArray(v) ? v.join(',') : (v ?? ''),
      ]),
    );
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      res.statusCode = Number(status[1]);
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (path === '/headers') {
      res.end(`${JSON.stringify({ headers }, null, 2)}\n`);
      return;
    }
    res.end(`${JSON.stringify({ method: req.method, url: req.url, headers }, null, 2)}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
