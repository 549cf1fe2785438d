import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { TestCertificates } from '@agw/test-kit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubeError, KubeRest } from './kube-rest.js';

/**
 * KubeRest against a real https server on 127.0.0.1 (a private CA's leaf): connections to the API
 * server are kept alive and reused, a changed trust bundle gets a new one, a bearer token is read
 * at every call, and a connection the server closed while idle costs no failed call.
 */
const certs = new TestCertificates();
let server: Server;
let port = 0;
let ca = '';
let otherCa = '';
/** TLS connections the server accepted, and the Authorization header of each request. */
let connections = 0;
let authorizations: Array<string | undefined> = [];
const requestsOn = new WeakMap<object, number>();

beforeAll(async () => {
  ca = certs.ca('ca').cert;
  otherCa = certs.ca('other-ca').cert;
  const leaf = certs.leaf('leaf', 'ca', 'localhost', ['IP:127.0.0.1', 'DNS:localhost']);
  server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    authorizations.push(req.headers.authorization);
    // A kept-alive connection closed as a request arrives on it (the server's idle close crossing it).
    const served = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, served);
    if (req.url === '/dropped-on-reuse' && served > 1) {
      req.socket.destroy();
      return;
    }
    if (req.url === '/missing') {
      res.statusCode = 404;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'Status', message: 'not found', reason: 'NotFound' }));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, method: req.method }));
  });
  server.on('secureConnection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

beforeEach(() => {
  server.closeAllConnections();
  connections = 0;
  authorizations = [];
});

function kubeConfig(caPem: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

describe('KubeRest connections', () => {
  it('sends sequential calls over one kept-alive TLS connection', async () => {
    const rest = new KubeRest(kubeConfig(ca, 't1'));
    for (let i = 0; i < 5; i++) {
      const r = await rest.mergePatch<{ path: string; method: string }>(`/apis/x/${i}/status`, { status: {} });
      expect(r.body).toEqual({ path: `/apis/x/${i}/status`, method: 'PATCH' });
    }
    expect(connections).toBe(1);
    rest.close();
  });

  it('opens at most one connection per concurrent call and reuses them after', async () => {
    const rest = new KubeRest(kubeConfig(ca, 't1'));
    await Promise.all([0, 1, 2, 3].map((i) => rest.get(`/c/${i}`)));
    const opened = connections;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(4);
    for (let i = 0; i < 4; i++) await rest.get(`/again/${i}`);
    expect(connections).toBe(opened);
    rest.close();
  });

  it('reads the bearer token at every call, on the same connection', async () => {
    const kc = kubeConfig(ca, 'first');
    const rest = new KubeRest(kc);
    await rest.get('/a');
    kc.users[0] = { name: 'u', token: 'second' };
    await rest.get('/b');
    expect(authorizations).toEqual(['Bearer first', 'Bearer second']);
    expect(connections).toBe(1);
    rest.close();
  });

  it('uses a new connection when the trust bundle changes (a rotated CA)', async () => {
    const kc = kubeConfig(ca, 't');
    const rest = new KubeRest(kc);
    await rest.get('/a');
    kc.clusters[0] = { ...kc.clusters[0]!, caData: Buffer.from(`${otherCa}${ca}`).toString('base64') };
    await rest.get('/b');
    expect(connections).toBe(2);
    // A bundle without the server's CA: refused, not served on the pooled connection of the old one.
    kc.clusters[0] = { ...kc.clusters[0]!, caData: Buffer.from(otherCa).toString('base64') };
    await expect(rest.get('/c')).rejects.toThrow(/certificate/);
    rest.close();
  });

  it('makes a new connection when the server closed the idle one', async () => {
    const rest = new KubeRest(kubeConfig(ca, 't'));
    await rest.get('/a');
    // Closed at once before the next call: the client may or may not have seen the close yet
    // (a reset reused socket is retried once), and the call succeeds either way.
    server.closeAllConnections();
    const r = await rest.get<{ path: string }>('/b');
    expect(r.body.path).toBe('/b');
    expect(connections).toBe(2);
    rest.close();
  });

  it('sends a call again on a new connection when its kept-alive one is closed under it, once', async () => {
    const rest = new KubeRest(kubeConfig(ca, 't'));
    await rest.get('/a');
    const r = await rest.get<{ path: string }>('/dropped-on-reuse');
    expect(r.body.path).toBe('/dropped-on-reuse');
    expect(connections).toBe(2);
    rest.close();
  });

  it("still reports the API server's errors with status and reason", async () => {
    const rest = new KubeRest(kubeConfig(ca, 't'));
    const err = await rest.get('/missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).status).toBe(404);
    expect((err as KubeError).reason).toBe('NotFound');
    await rest.get('/after-error');
    expect(connections).toBe(1);
    rest.close();
  });
});
