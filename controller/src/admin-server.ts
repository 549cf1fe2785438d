import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** /healthz (alive), /readyz (caches synced), /metrics (Prometheus text). */
export function createAdminServer(o: { ready: () => boolean; registry: Registry }): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ok = o.ready();
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ready\n' : 'caches not synced\n');
      return;
    }
    if (path === '/metrics') {
      void o.registry.metrics().then((text) => {
        res.setHeader('content-type', o.registry.contentType);
        res.end(text);
      });
      return;
    }
    res.statusCode = 404;
    res.end('not found\n');
  });
}
