import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kubectl } from './control-plane.js';
import { helm } from './helm.js';
import { gatewayApiCrdDir } from './infra.js';

const root = resolve(import.meta.dirname, '../../..');

/**
 * Makes a fresh control plane an agentgateway cluster, as a platform team does: the Gateway API
 * standard CRDs and our CRD with the real kubectl (server-side apply, then Established), then
 * `helm install` of the chart (no --wait: there is no kubelet to start its pods). Returns helm's
 * output (its NOTES). Throws with the tool's stderr on any failure.
 */
export async function installAgentgateway(kubeconfig: string): Promise<string> {
  const gw = gatewayApiCrdDir();
  const files = readdirSync(gw)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(gw, f));
  for (const args of [
    ['apply', '--server-side', ...files.flatMap((f) => ['-f', f])],
    ['apply', '--server-side', '-f', join(root, 'crds')],
  ]) {
    const r = await kubectl(kubeconfig, args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  }
  const established = await kubectl(kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  if (established.code !== 0) throw new Error(`CRDs not established: ${established.stderr}`);
  const install = await helm(kubeconfig, [
    'install',
    'agentgateway',
    join(root, 'charts/agentgateway'),
    '-n',
    'agentgateway-system',
    '--create-namespace',
  ]);
  if (install.code !== 0) throw new Error(`helm install failed: ${install.stderr}`);
  return install.stdout;
}
