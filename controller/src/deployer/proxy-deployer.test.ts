import { Gateway } from '@agw/api';
import { describe, expect, it, vi } from 'vitest';
import type { KubeRest } from '../kube/kube-rest.js';
import { ProxyDeployer } from './proxy-deployer.js';

const gateway = Gateway.parse({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'team-a', uid: 'u-9' },
  spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'https', port: 443, protocol: 'HTTPS' }] },
});
const params = {
  image: 'img:1',
  controllerAddress: 'agentgateway.agentgateway-system.svc:9978',
  serviceType: 'ClusterIP' as const,
  resources: {},
  adminPort: 15000,
};

function deployer(o: { caFile?: string; files: Map<string, string> }) {
  const calls: Array<{ path: string; body: Record<string, unknown> }> = [];
  const rest = {
    call: vi.fn((_m: string, path: string, body: Record<string, unknown>) => {
      calls.push({ path, body });
      return Promise.resolve({ status: 200, body: {} });
    }),
  } as unknown as KubeRest;
  const log = vi.fn();
  const d = new ProxyDeployer({
    rest,
    params: { ...params, ...(o.caFile !== undefined ? { controllerCaFile: o.caFile } : {}) },
    gateway: () => ({ gateway, parameters: undefined }),
    log,
    readFile: (f) => {
      const text = o.files.get(f);
      return text === undefined ? Promise.reject(new Error(`ENOENT: ${f}`)) : Promise.resolve(text);
    },
  });
  return { d, calls, log };
}

describe('ProxyDeployer with a CA file', () => {
  it('applies the CA ConfigMap first, then the proxy objects; re-reads the file and re-applies when it changes', async () => {
    const files = new Map([['/ca.crt', 'CA-1']]);
    const { d, calls } = deployer({ caFile: '/ca.crt', files });
    d.update(['team-a/gw']);
    await vi.waitFor(() => expect(calls).toHaveLength(4));
    expect(calls.map((c) => c.path.split('?')[0])).toEqual([
      '/api/v1/namespaces/team-a/configmaps/agentgateway-controller-ca',
      '/api/v1/namespaces/team-a/serviceaccounts/gw',
      '/apis/apps/v1/namespaces/team-a/deployments/gw',
      '/api/v1/namespaces/team-a/services/gw',
    ]);
    expect(calls[0]?.body['data']).toEqual({ 'ca.crt': 'CA-1' });
    d.update(['team-a/gw']);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(4); // unchanged: no API call
    files.set('/ca.crt', 'CA-2');
    d.update(['team-a/gw']);
    await vi.waitFor(() => expect(calls).toHaveLength(8));
    expect(calls[4]?.body['data']).toEqual({ 'ca.crt': 'CA-2' });
    d.stop();
  });

  it('an unreadable CA file applies nothing and is retried with a warning', async () => {
    const { d, calls, log } = deployer({ caFile: '/missing.crt', files: new Map() });
    d.update(['team-a/gw']);
    await vi.waitFor(() =>
      expect(log).toHaveBeenCalledWith('warn', 'proxy deployment failed; retrying', {
        gateway: 'team-a/gw',
        error: 'ENOENT: /missing.crt',
      }),
    );
    expect(calls).toEqual([]);
    d.stop();
  });

  it('without a CA file: no ConfigMap, plaintext proxies', async () => {
    const { d, calls } = deployer({ files: new Map() });
    d.update(['team-a/gw']);
    await vi.waitFor(() => expect(calls).toHaveLength(3));
    expect(calls.some((c) => c.path.includes('/configmaps/'))).toBe(false);
    d.stop();
  });
});
