import {
  apply,
  freePort,
  generateSigningKey,
  jwks,
  kubectl,
  mintToken,
  startController,
  startEchoUpstream,
  startProxy,
  waitFor,
  type EchoUpstream,
  type RunningController,
  type RunningProxy,
  type SigningKey,
  TestCertificates,
} from '@agw/test-kit';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * An HTTPS listener on the real API server: a `kubernetes.io/tls` Secret referenced by the
 * Gateway, the key pushed to the proxy over the TLS-protected config stream, and curl (HTTP/1.1
 * and HTTP/2, `--cacert`) through it with the JWT guide's answers; certificate rotation by
 * updating the Secret; listener conditions for a bad reference.
 */
const admin = () => inject('kubeconfig');
const NS = 'https';
const GW = 'https-gw';
const HOST = 'secure.example.com';
let upstream: EchoUpstream;
let controller: RunningController;
let proxy: RunningProxy;
let key: SigningKey;
let port = 0;

const certs = new TestCertificates();
const dir = certs.dir;
/** A self-signed certificate (its own CA for curl --cacert) for `names`, as `<dir>/<file>.crt`. */
const certificate = (file: string, cn: string, names: string[]) => certs.selfSigned(file, cn, names);
const tlsSecret = (name: string, c: { cert: string; key: string }) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: NS },
  type: 'kubernetes.io/tls',
  stringData: { 'tls.crt': c.cert, 'tls.key': c.key },
});

/** curl as a user runs it: `--cacert`, the name resolved to the proxy's port on 127.0.0.1. */
async function curl(args: string[], caFile = join(dir, 'first.crt')): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('curl', [
      '-sS',
      '--cacert',
      caFile,
      '--resolve',
      `${HOST}:${port}:127.0.0.1`,
      ...args,
      `https://${HOST}:${port}/headers`,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
/** The subject CN of the certificate a new TLS connection is served. */
function servedCommonName(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: HOST, rejectUnauthorized: false }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.end();
      resolve(String(cn));
    });
    s.on('error', reject);
  });
}
const listenerCondition = async (type: string) => {
  const r = await kubectl(admin(), ['get', 'gateway', GW, '-n', NS, '-o', 'json']);
  const gw = JSON.parse(r.stdout) as {
    status?: { listeners?: Array<{ name: string; conditions: Array<{ type: string; status: string; reason: string; message: string }> }> };
  };
  return (name: string) => gw.status?.listeners?.find((l) => l.name === name)?.conditions.find((c) => c.type === type);
};

beforeAll(async () => {
  const first = certificate('first', 'first', [`DNS:${HOST}`]);
  // The config stream's own certificate (the proxy checks it with --controller-ca).
  certificate('xds', 'agentgateway', ['DNS:agentgateway.agentgateway-system.svc', 'IP:127.0.0.1']);
  [upstream, key] = await Promise.all([startEchoUpstream('secure-backend'), generateSigningKey('RS256', 'https-key')]);
  port = await freePort();
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), [
    tlsSecret('first-cert', first),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: NS }, spec: { ports: [{ name: 'http', port: 80 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'backend-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'backend' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['backend.localhost'] }],
      ports: [{ name: 'http', port: upstream.port }],
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: {
        gatewayClassName: 'agentgateway',
        listeners: [
          {
            name: 'https',
            protocol: 'HTTPS',
            port: 443,
            hostname: HOST,
            tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'first-cert' }] },
          },
          // Another tenant's listener referring to a Secret in another namespace, without a ReferenceGrant.
          {
            name: 'other',
            protocol: 'HTTPS',
            port: 443,
            hostname: 'other.example.com',
            tls: { certificateRefs: [{ kind: 'Secret', name: 'elsewhere', namespace: 'default' }] },
          },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'app', namespace: NS },
      spec: { parentRefs: [{ name: GW }], hostnames: [HOST], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'jwt', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }],
        traffic: { jwtAuthentication: { providers: [{ issuer: 'https://issuer.example', jwks: { inline: JSON.stringify(jwks(key)) } }] } },
      },
    },
  ]);
  controller = await startController({
    kubeconfig: inject('controllerKubeconfig'),
    name: 'https-controller',
    extraArgs: [`--xds-tls-cert=${join(dir, 'xds.crt')}`, `--xds-tls-key=${join(dir, 'xds.key')}`],
  });
  proxy = await startProxy({
    adminKubeconfig: admin(),
    xdsPort: controller.xdsPort,
    gateway: `${NS}/${GW}`,
    name: 'https-proxy',
    listenerPort: 443,
    port,
    extraArgs: [`--controller-ca=${join(dir, 'xds.crt')}`, '--controller-server-name=agentgateway.agentgateway-system.svc'],
  });
  await waitFor('HTTPS listener served', async () => (await curl(['-o', '/dev/null', '-w', '%{http_code}'])).stdout === '401', 60_000, 200);
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
});

describe('an HTTPS listener with a kubernetes.io/tls Secret', () => {
  it('curl --cacert over HTTP/1.1: 401 "authentication failure: no bearer token found" without a token, 200 with one', async () => {
    const denied = await curl(['--http1.1', '-w', '\n%{http_code} %{http_version}']);
    expect(denied.stdout).toBe('authentication failure: no bearer token found\n401 1.1');
    const token = await mintToken(key, { claims: { iss: 'https://issuer.example', sub: 'alice' } });
    const ok = await curl(['--http1.1', '-H', `Authorization: Bearer ${token}`, '-w', '\n%{http_code}']);
    expect(ok.stdout.endsWith('\n200')).toBe(true);
    expect(upstream.requests.at(-1)?.headers['x-forwarded-proto']).toBe('https');
  });

  it('curl --http2: ALPN h2, the same answers', async () => {
    const denied = await curl(['--http2', '-w', '\n%{http_code} %{http_version}']);
    expect(denied.stdout).toBe('authentication failure: no bearer token found\n401 2');
    const token = await mintToken(key, { claims: { iss: 'https://issuer.example', sub: 'alice' } });
    const ok = await curl(['--http2', '-H', `Authorization: Bearer ${token}`, '-w', '\n%{http_code} %{http_version}']);
    expect(ok.stdout.endsWith('\n200 2')).toBe(true);
  });

  it('plain HTTP on the HTTPS port is refused (no token ever travels in clear)', async () => {
    const r = await promisify(execFile)('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/headers`]).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
    );
    expect(r.stdout).not.toBe('200');
    expect(r.stdout).not.toBe('401');
  });

  it("the listener's conditions: Programmed; another listener's cross-namespace Secret without ReferenceGrant is RefNotPermitted", async () => {
    let cond: Awaited<ReturnType<typeof listenerCondition>> | undefined;
    await waitFor(
      'listener conditions',
      async () => {
        cond = await listenerCondition('ResolvedRefs');
        return cond('other')?.status === 'False';
      },
      30_000,
      200,
    );
    expect(cond?.('https')).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
    expect(cond?.('other')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
  });

  it('the Secret is updated with a new certificate under load: new connections get it, no request fails, no restart', async () => {
    expect(await servedCommonName()).toBe('first');
    const second = certificate('second', 'second', [`DNS:${HOST}`]);
    const token = await mintToken(key, { claims: { iss: 'https://issuer.example', sub: 'alice' } });
    const ca = [readFileSync(join(dir, 'first.crt'), 'utf8'), second.cert];
    // Four clients trusting both certificates: two open a connection per request, two keep theirs alive.
    const load = { ok: 0, failures: [] as string[], servedBy: new Map<string, number>(), afterSwitch: 0, switched: false };
    let stop = false;
    const client = async (keepAlive: boolean) => {
      const agent = new HttpsAgent({ keepAlive, maxSockets: 1, ca });
      while (!stop) {
        try {
          const { status, cn } = await new Promise<{ status: number; cn: string }>((resolve, reject) => {
            const req = httpsRequest(
              {
                host: '127.0.0.1',
                port,
                servername: HOST,
                agent,
                path: '/headers',
                headers: { host: HOST, authorization: `Bearer ${token}` },
              },
              (res) => {
                const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN);
                res.resume();
                res.on('end', () => resolve({ status: res.statusCode ?? 0, cn }));
              },
            );
            req.on('error', reject);
            req.end();
          });
          if (status !== 200) load.failures.push(`status ${status}`);
          else load.ok++;
          load.servedBy.set(cn, (load.servedBy.get(cn) ?? 0) + 1);
          if (load.switched) load.afterSwitch++;
        } catch (err) {
          load.failures.push((err as Error).message);
        }
      }
      agent.destroy();
    };
    const clients = [client(false), client(false), client(true), client(true)];
    await waitFor('load running', async () => load.ok >= 20, 30_000, 50);
    await apply(admin(), [tlsSecret('first-cert', second)]);
    await waitFor('new certificate served', async () => (await servedCommonName()) === 'second', 30_000, 100);
    load.switched = true;
    await waitFor('requests after the switch', async () => load.afterSwitch >= 100, 30_000, 50);
    stop = true;
    await Promise.all(clients);
    expect(load.failures).toEqual([]);
    // Connections opened before the update finished on the first certificate; new ones got the second.
    expect(load.servedBy.get('first')).toBeGreaterThan(0);
    expect(load.servedBy.get('second')).toBeGreaterThan(0);
    const ok = await curl(['-H', `Authorization: Bearer ${token}`, '-w', '\n%{http_code}'], join(dir, 'second.crt'));
    expect(ok.stdout.endsWith('\n200')).toBe(true);
  });
});
