#!/usr/bin/env node
/**
 * The floor of a Node.js HTTP proxy on this machine, as a reference row of `npm run bench`: a
 * `node:http` server that forwards every request on an undici Agent (the dispatcher the proxy
 * forwards on, ADR 0004) to one upstream, removing hop-by-hop headers both ways and adding the
 * forwarding headers the proxy adds (X-Forwarded-For/-Proto/-Host, X-Request-Id, Forwarded), so
 * that the upstream's answer is the same size. No routing, no request-target checks, no policy, no
 * framework, no metrics, no logs: what any Node proxy pays before doing its job. Not a product.
 *   node bench/dist/node-forwarder.js <port> <upstream port>
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
if (port === undefined || upstreamPort === undefined || !(port > 0) || !(upstreamPort > 0))
  throw new Error('usage: node-forwarder.js <port> <upstream port>');
const origin = `http://127.0.0.1:${upstreamPort}`;
/** The proxy's own settings for plain HTTP/1.1 upstreams (proxy/src/plugins/upstream.ts defaults). */
const agent = new Agent({ connections: 128, pipelining: 1 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function withoutHopByHop(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

createServer((req, res) => {
  const headers = withoutHopByHop(req.headers);
  const client = req.socket.remoteAddress ?? '';
  const host = req.headers.host ?? '';
  headers['x-forwarded-for'] = client;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = host;
  headers['x-request-id'] = randomUUID();
  headers['forwarded'] = `for=${client};host="${host}";proto=http`;
  // undici takes a handler as its new interface (onRequestStart…) only when onRequestStart is there.
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_c, status, upstreamHeaders) {
      res.writeHead(status, withoutHopByHop(upstreamHeaders));
    },
    onResponseData(_c, chunk) {
      res.write(chunk);
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError() {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end('bad gateway');
    },
  };
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  agent.dispatch(
    { origin, path: req.url ?? '/', method: req.method ?? 'GET', headers: headers as Record<string, string>, body: hasBody ? req : null },
    handler,
  );
}).listen(port, '127.0.0.1');
