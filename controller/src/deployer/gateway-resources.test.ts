import { Gateway } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { applyPath, gatewayResources } from './gateway-resources.js';

const gw = Gateway.parse({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'agentgateway-proxy', namespace: 'agentgateway-system', uid: 'u-1' },
  spec: {
    gatewayClassName: 'agentgateway',
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'alt', port: 8080, protocol: 'HTTP' },
      { name: 'alt2', port: 8080, protocol: 'HTTP', hostname: 'x.example' },
    ],
  },
});
const params = {
  image: 'img:1',
  controllerAddress: 'agentgateway.agentgateway-system.svc:9978',
  serviceType: 'LoadBalancer' as const,
  resources: {},
  adminPort: 15000,
};

describe('gatewayResources', () => {
  // Loosely typed views of the generated manifests, for reading nested fields in assertions.
  type Manifest = {
    metadata: { ownerReferences: unknown[] } & Record<string, unknown>;
    spec: { template: { spec: Pod } } & Record<string, unknown>;
  };
  type Pod = {
    securityContext: unknown;
    containers: Array<{ securityContext: unknown; args: string[] }>;
    volumes: Array<{ projected: { sources: Array<{ serviceAccountToken: unknown }> } }>;
  };
  const [sa, deploy, svc] = gatewayResources(gw, params) as unknown as Manifest[];
  it('names everything after the Gateway, owned by it', () => {
    for (const o of [sa, deploy, svc]) {
      expect(o?.metadata).toMatchObject({
        name: 'agentgateway-proxy',
        namespace: 'agentgateway-system',
        labels: { 'gateway.networking.k8s.io/gateway-name': 'agentgateway-proxy' },
      });
      expect(o?.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          name: 'agentgateway-proxy',
          uid: 'u-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });
  it('Service: LoadBalancer, one port per distinct listener port, port == targetPort', () => {
    expect(svc?.spec).toEqual({
      type: 'LoadBalancer',
      selector: { 'gateway.networking.k8s.io/gateway-name': 'agentgateway-proxy' },
      ports: [
        { name: 'listener-80', port: 80, targetPort: 80, protocol: 'TCP' },
        { name: 'listener-8080', port: 8080, targetPort: 8080, protocol: 'TCP' },
      ],
    });
  });
  it('Deployment: non-root, read-only root, no escalation, projected token with audience agentgateway, port-80 sysctl', () => {
    const pod = deploy?.spec.template.spec as Pod;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
    });
    expect(pod.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.containers[0]?.args).toEqual([
      'node',
      'proxy/dist/main.js',
      '--controller=agentgateway.agentgateway-system.svc:9978',
      '--gateway=agentgateway-system/agentgateway-proxy',
      '--admin-port=15000',
    ]);
    expect(pod.volumes[0]?.projected.sources[0]?.serviceAccountToken).toEqual({
      audience: 'agentgateway',
      path: 'agentgateway',
      expirationSeconds: 3600,
    });
  });
  it("the class's AgentgatewayParameters override image, replicas, resources and Service type", () => {
    type Deploy = { spec: { replicas: number; template: { spec: { containers: Array<{ image: string; resources: unknown }> } } } };
    const [, d, sv] = gatewayResources(gw, params, {
      image: 'custom:2',
      replicas: 3,
      serviceType: 'ClusterIP',
      resources: { limits: { memory: '1Gi' } },
    }) as unknown as [unknown, Deploy, { spec: { type: string } }];
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0]?.image).toBe('custom:2');
    expect(d.spec.template.spec.containers[0]?.resources).toEqual({ limits: { memory: '1Gi' } });
    expect(sv.spec.type).toBe('ClusterIP');
    expect((gatewayResources(gw, params)[1] as unknown as Deploy).spec.replicas).toBe(1);
  });

  it('server-side apply paths', () => {
    expect(applyPath(deploy as Record<string, unknown>)).toBe(
      '/apis/apps/v1/namespaces/agentgateway-system/deployments/agentgateway-proxy?fieldManager=agentgateway-ts&force=true',
    );
    expect(applyPath(svc as Record<string, unknown>)).toBe(
      '/api/v1/namespaces/agentgateway-system/services/agentgateway-proxy?fieldManager=agentgateway-ts&force=true',
    );
  });
});
