import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startControlPlane, kubectl, type ControlPlane } from './harness/control-plane.js';
import { gatewayApiCrdDir } from './harness/infra.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    controllerKubeconfig: string;
    apiServerUrl: string;
  }
}

let cp: ControlPlane | undefined;

/**
 * One real control plane for the whole e2e run: etcd + kube-apiserver, then the Gateway API
 * standard CRDs and our CRD installed with the real kubectl. AGW_E2E_INFRA=local (CI) or auto
 * uses the binaries of scripts/infra; a missing binary fails the run (never a skip).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const mode = process.env['AGW_E2E_INFRA'] ?? 'auto';
  if (mode === 'containers') throw new Error('AGW_E2E_INFRA=containers needs a Docker engine; this machine has none. Use local.');
  cp = await startControlPlane();
  const gw = gatewayApiCrdDir();
  const files = readdirSync(gw).filter((f) => f.endsWith('.yaml')).map((f) => join(gw, f));
  const ours = resolve(process.cwd(), 'crds');
  for (const args of [['apply', '--server-side', ...files.flatMap((f) => ['-f', f])], ['apply', '--server-side', '-f', ours]]) {
    const r = await kubectl(cp.kubeconfig, args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  }
  const established = await kubectl(cp.kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  if (established.code !== 0) throw new Error(`CRDs not established: ${established.stderr}`);
  project.provide('kubeconfig', cp.kubeconfig);
  project.provide('controllerKubeconfig', cp.controllerKubeconfig);
  project.provide('apiServerUrl', cp.url);
  return async () => { await cp?.stop(); };
}
