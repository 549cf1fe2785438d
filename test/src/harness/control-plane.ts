import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { infraBin } from './infra.js';
import { freePort, startProcess, waitFor, type Managed } from './process.js';

const run = promisify(execFile);

export interface ControlPlane {
  readonly url: string;
  /** Kubeconfig of the cluster admin (system:masters). */
  readonly kubeconfig: string;
  /** Kubeconfig of the controller's identity (RBAC-limited, ServiceAccount-like user). */
  readonly controllerKubeconfig: string;
  readonly dir: string;
  stop(): Promise<void>;
  /** Stops and starts kube-apiserver only (etcd keeps the data). */
  restartApiServer(): Promise<void>;
}

/** Token users: an admin and the controller's ServiceAccount identity (bound by the chart's role). */
export const CONTROLLER_USER = 'system:serviceaccount:agentgateway-system:agentgateway';

function kubeconfig(url: string, ca: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'e2e',
    clusters: [{ name: 'e2e', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'u' } }],
  });
}

function readyz(url: string, token: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/readyz`, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Starts etcd and kube-apiserver on loopback, as controller-runtime's envtest does (INFRA.md §3):
 * RBAC on, token users, self-signed serving cert. Ready when /readyz answers 200.
 */
export async function startControlPlane(): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'agw-e2e-'));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = startProcess('etcd', infraBin('etcd'), [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    '--unsafe-no-fsync=true',
    '--experimental-watch-progress-notify-interval=5s',
    '--log-level=warn',
  ]);
  await waitFor('etcd /health', async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok, 30_000);

  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const adminToken = 'e2e-admin-token';
  const controllerToken = 'e2e-controller-token';
  writeFileSync(
    join(dir, 'tokens.csv'),
    [
      `${adminToken},e2e-admin,e2e-admin,"system:masters"`,
      `${controllerToken},${CONTROLLER_USER},agentgateway-uid,"system:serviceaccounts,system:serviceaccounts:agentgateway-system"`,
    ].join('\n') + '\n',
  );
  const url = `https://127.0.0.1:${apiPort}`;
  const args = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--cert-dir=${join(dir, 'certs')}`,
    `--secure-port=${apiPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--authorization-mode=RBAC',
    '--disable-admission-plugins=ServiceAccount',
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    `--service-account-issuer=${url}/`,
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--enable-priority-and-fairness=false',
    '--v=1',
  ];
  let api: Managed = startProcess('kube-apiserver', infraBin('kube-apiserver'), args);
  const caPath = join(dir, 'certs', 'apiserver.crt');
  const ready = async () => {
    await waitFor(
      'kube-apiserver cert',
      async () => {
        readFileSync(caPath);
        return true;
      },
      60_000,
    );
    await waitFor('kube-apiserver /readyz', () => readyz(url, adminToken, readFileSync(caPath, 'utf8')), 120_000, 500);
  };
  await ready();
  const ca = readFileSync(caPath, 'utf8');
  const admin = join(dir, 'admin.kubeconfig');
  const ctrl = join(dir, 'controller.kubeconfig');
  writeFileSync(admin, kubeconfig(url, ca, adminToken));
  writeFileSync(ctrl, kubeconfig(url, ca, controllerToken));
  return {
    url,
    kubeconfig: admin,
    controllerKubeconfig: ctrl,
    dir,
    async stop() {
      await api.stop();
      await etcd.stop();
    },
    async restartApiServer() {
      await api.stop();
      api = startProcess('kube-apiserver', infraBin('kube-apiserver'), args);
      await waitFor('kube-apiserver /readyz after restart', () => readyz(url, adminToken, ca), 120_000, 500);
    },
  };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl against a kubeconfig; never throws on a non-zero exit. */
export async function kubectl(kubeconfigPath: string, args: string[], stdin?: string): Promise<KubectlResult> {
  const child = run(infraBin('kubectl'), [`--kubeconfig=${kubeconfigPath}`, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (stdin !== undefined) {
    child.child.stdin?.end(stdin);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
