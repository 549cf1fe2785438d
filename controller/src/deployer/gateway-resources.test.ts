import { Gateway } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { applyPath, fieldManagerOf, gatewayResources, hostOf } from './gateway-resources.js';

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
      // No CPU in the resources: one worker, whatever the node's CPUs (proxy-sizing.ts).
      '--workers=1',
    ]);
    expect(pod.volumes[0]?.projected.sources[0]?.serviceAccountToken).toEqual({
      audience: 'agentgateway',
      path: 'agentgateway',
      expirationSeconds: 3600,
    });
  });
  it('resources size the proxy: workers and per-worker heap from the CPU and memory limits (proxy-sizing.ts)', () => {
    type Deploy = { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
    const sized = gatewayResources(gw, { ...params, resources: { requests: { cpu: '100m' }, limits: { cpu: '2', memory: '1Gi' } } });
    expect((sized[1] as unknown as Deploy).spec.template.spec.containers[0]?.args).toEqual([
      'node',
      '--max-old-space-size=307',
      'proxy/dist/main.js',
      '--controller=agentgateway.agentgateway-system.svc:9978',
      '--gateway=agentgateway-system/agentgateway-proxy',
      '--admin-port=15000',
      '--workers=2',
    ]);
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

  describe('with the CA of a TLS config stream', () => {
    const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    type CaPod = {
      metadata: { annotations?: Record<string, string> };
      spec: {
        containers: Array<{ args: string[]; volumeMounts: unknown[] }>;
        volumes: unknown[];
      };
    };
    const objs = gatewayResources(gw, params, undefined, CA);
    const cm = objs[0] as { kind: string; metadata: Record<string, unknown>; data: Record<string, string> };
    const pod = (objs[2] as unknown as { spec: { template: CaPod } }).spec.template;

    it('first a ConfigMap agentgateway-controller-ca in the Gateway namespace, with ca.crt, co-owned by the Gateway', () => {
      expect(objs.map((o) => o['kind'])).toEqual(['ConfigMap', 'ServiceAccount', 'Deployment', 'Service']);
      expect(cm.metadata).toEqual({
        name: 'agentgateway-controller-ca',
        namespace: 'agentgateway-system',
        labels: { 'app.kubernetes.io/name': 'agentgateway-proxy', 'app.kubernetes.io/managed-by': 'agentgateway-ts' },
        ownerReferences: [
          {
            apiVersion: 'gateway.networking.k8s.io/v1',
            kind: 'Gateway',
            name: 'agentgateway-proxy',
            uid: 'u-1',
            controller: false,
            blockOwnerDeletion: true,
          },
        ],
      });
      expect(cm.data).toEqual({ 'ca.crt': CA });
    });

    it('the proxy mounts it and dials the stream over TLS, checking the host of the controller address', () => {
      expect(pod.spec.containers[0]?.args.slice(-2)).toEqual([
        '--controller-ca=/etc/agentgateway/xds-ca/ca.crt',
        '--controller-server-name=agentgateway.agentgateway-system.svc',
      ]);
      expect(pod.spec.containers[0]?.volumeMounts).toContainEqual({
        name: 'agentgateway-controller-ca',
        mountPath: '/etc/agentgateway/xds-ca',
        readOnly: true,
      });
      expect(pod.spec.volumes).toContainEqual({
        name: 'agentgateway-controller-ca',
        configMap: { name: 'agentgateway-controller-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
      });
    });

    it('a new CA changes the pod template (the proxies read it at start, so they roll)', () => {
      const hash = (ca: string) =>
        (gatewayResources(gw, params, undefined, ca)[2] as unknown as { spec: { template: CaPod } }).spec.template.metadata.annotations?.[
          'agentgateway.dev/xds-ca-sha256'
        ];
      expect(hash(CA)).toMatch(/^[0-9a-f]{64}$/);
      expect(hash(CA)).toBe(hash(CA));
      expect(hash(`${CA}\n`)).not.toBe(hash(CA));
    });

    it('without a CA: no ConfigMap, no mount, no TLS flag, no annotation', () => {
      const plain = gatewayResources(gw, params);
      expect(plain.map((o) => o['kind'])).toEqual(['ServiceAccount', 'Deployment', 'Service']);
      expect(JSON.stringify(plain)).not.toMatch(/controller-ca|xds-ca/);
    });

    it('each Gateway applies the shared ConfigMap with a field manager of its own (its ownerReference survives the others)', () => {
      expect(fieldManagerOf(cm)).toBe('agentgateway-ts/u-1');
      expect(applyPath(cm)).toBe(
        '/api/v1/namespaces/agentgateway-system/configmaps/agentgateway-controller-ca?fieldManager=agentgateway-ts%2Fu-1&force=true',
      );
      expect(fieldManagerOf(objs[2] as Record<string, unknown>)).toBe('agentgateway-ts');
    });
  });

  it.each([
    ['agentgateway.agentgateway-system.svc:9978', 'agentgateway.agentgateway-system.svc'],
    ['controller.example', 'controller.example'],
    ['[fd00::1]:9978', 'fd00::1'],
    ['fd00::1', 'fd00::1'],
  ])('hostOf(%s) = %s', (address, host) => {
    expect(hostOf(address)).toBe(host);
  });
});
