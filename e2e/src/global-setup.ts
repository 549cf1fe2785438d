import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { TestProject } from 'vitest/node';
import { startControlPlane, installAgentgateway, type ControlPlane, LOG_DIR } from '@agw/test-kit';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    controllerKubeconfig: string;
    apiServerUrl: string;
    helmInstallOutput: string;
    /** POST <harnessUrl>/restart-apiserver restarts kube-apiserver (etcd keeps the data). */
    harnessUrl: string;
  }
}

let cp: ControlPlane | undefined;

/**
 * One real control plane for the whole e2e run: etcd + kube-apiserver, then the Gateway API
 * standard CRDs, our CRD and the chart (installAgentgateway). AGW_E2E_INFRA=local (CI) or auto
 * uses the binaries of scripts/infra; a missing binary fails the run (never a skip).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const mode = process.env['AGW_E2E_INFRA'] ?? 'auto';
  if (mode === 'containers') throw new Error('AGW_E2E_INFRA=containers needs a Docker engine; this machine has none. Use local.');
  rmSync(LOG_DIR, { recursive: true, force: true }); // logs of this run only
  cp = await startControlPlane();
  project.provide('helmInstallOutput', await installAgentgateway(cp.kubeconfig));
  // The control plane lives in this process; tests ask for a kube-apiserver restart over loopback.
  const control = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/restart-apiserver') {
      void (cp as ControlPlane).restartApiServer().then(
        () => res.end('restarted\n'),
        (err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        },
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
  project.provide('harnessUrl', `http://127.0.0.1:${(control.address() as { port: number }).port}`);
  project.provide('kubeconfig', cp.kubeconfig);
  project.provide('controllerKubeconfig', cp.controllerKubeconfig);
  project.provide('apiServerUrl', cp.url);
  return async () => {
    control.close();
    await cp?.stop();
  };
}
