#!/usr/bin/env node
/**
 * Controller latency on a real kube-apiserver + etcd (scripts/infra), the built controller and
 * proxy processes, with 1,000 other HTTPRoutes present:
 *   1. create → enforced: POST an HTTPRoute (then a policy on it) to the API server, poll the proxy
 *      every 2 ms until it answers as the new object says (200, then 401); 30 samples each.
 *   2. churn: 1,000 routes + 1,000 policies written at 100/s; time from the last write until every
 *      one is enforced; meanwhile an already-valid route is requested continuously (non-2xx counted).
 *   3. controller RSS at the end.
 * Creates go straight to the API (what kubectl apply sends, without its ~150 ms CLI start).
 *   npm run bench:controller [-- --routes 1000 --gateways 1 --policies 0 --controller-node-flags="<flags>"]   (needs scripts/infra/all.sh)
 * --routes: the other HTTPRoutes present, spread over --gateways Gateways (the proxy serves the
 * first; the measured routes and policies go to it), --policies of them with a JWT policy each;
 * --controller-node-flags: node flags of the controller (the chart passes `--max-old-space-size` =
 * 60% of its memory limit: 307 for the default 512Mi).
 */
import { KubeRest } from '@agw/controller';
import {
  generateSigningKey,
  jwks,
  mintToken,
  request,
  startControlPlane,
  startController,
  startEchoUpstream,
  startProxy,
  kubectl,
  gatewayApiCrdDir,
} from '@agw/test-kit';
import { KubeConfig } from '@kubernetes/client-node';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '../..');
const NS = 'bench';
const { values } = parseArgs({
  options: {
    routes: { type: 'string', default: '1000' },
    gateways: { type: 'string', default: '1' },
    policies: { type: 'string', default: '0' },
    'controller-node-flags': { type: 'string', default: '' },
  },
});
const OTHER = Number(values.routes);
const GATEWAYS = Number(values.gateways);
const OTHER_POLICIES = Number(values.policies);
/** node flags of the controller process, e.g. the chart's heap flag for its 512Mi limit: `--max-old-space-size=307`. */
const CONTROLLER_NODE_FLAGS = (values['controller-node-flags'] ?? '').split(/\s+/).filter(Boolean);
const SAMPLES = 30;
/** Creates in flight while the other objects are set up (the API server's write rate is the limit, not one request's latency). */
const SETUP_CONCURRENCY = 8;

async function main(): Promise<void> {
  const cp = await startControlPlane();
  const gwDir = gatewayApiCrdDir();
  for (const args of [
    [
      'apply',
      '--server-side',
      ...readdirSync(gwDir)
        .filter((f) => f.endsWith('.yaml'))
        .flatMap((f) => ['-f', join(gwDir, f)]),
    ],
    ['apply', '--server-side', '-f', join(root, 'crds')],
    ['create', 'namespace', NS],
  ]) {
    const r = await kubectl(cp.kubeconfig, args);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  await kubectl(cp.kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const rest = new KubeRest(kc);
  const post = (plural: string, obj: unknown) =>
    rest.call(
      'POST',
      plural === 'httproutes'
        ? `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes`
        : `/apis/agentgateway.dev/v1alpha1/namespaces/${NS}/agentgatewaypolicies`,
      obj,
    );
  const upstream = await startEchoUpstream();
  const key = await generateSigningKey('RS256', 'k');
  const token = await mintToken(key, { claims: { iss: 'https://bench' } });
  const inline = JSON.stringify(jwks(key));
  const route = (name: string, gateway = 'gw') => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: NS },
    spec: {
      parentRefs: [{ name: gateway }],
      hostnames: [`${name}.example.com`],
      rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }],
    },
  });
  const policy = (name: string, target: string) => ({
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayPolicy',
    metadata: { name, namespace: NS },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: target }],
      traffic: { jwtAuthentication: { providers: [{ issuer: 'https://bench', jwks: { inline } }] } },
    },
  });
  await rest.call('POST', `/apis/gateway.networking.k8s.io/v1/gatewayclasses`, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: 'agentgateway' },
    spec: { controllerName: 'agentgateway.dev/agentgateway' },
  });
  // gw (the proxy's), then gw-1 ... gw-(GATEWAYS-1).
  const gatewayNames = Array.from({ length: GATEWAYS }, (_, g) => (g === 0 ? 'gw' : `gw-${g}`));
  for (const name of gatewayNames)
    await rest.call('POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/gateways`, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    });
  await rest.call('POST', `/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'backend', namespace: NS },
    spec: { ports: [{ name: 'http', port: 80 }] },
  });
  await rest.call('POST', `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'backend-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'backend' } },
    addressType: 'FQDN',
    endpoints: [{ addresses: ['backend.localhost'] }],
    ports: [{ name: 'http', port: upstream.port }],
  });
  const setup: Array<() => Promise<unknown>> = [
    ...Array.from({ length: OTHER }, (_, i) => () => post('httproutes', route(`other-${i}`, gatewayNames[i % GATEWAYS]))),
    // Never on other-0: the churn phase puts its own policy there (other-0 is on the proxy's Gateway whatever --gateways).
    ...Array.from(
      { length: Math.min(OTHER_POLICIES, Math.max(0, OTHER - 1)) },
      (_, i) => () => post('policies', policy(`other-${i + 1}`, `other-${i + 1}`)),
    ),
  ];
  await Promise.all(
    Array.from({ length: SETUP_CONCURRENCY }, async () => {
      for (let next = setup.shift(); next !== undefined; next = setup.shift()) await next();
    }),
  );
  const controller = await startController({ kubeconfig: cp.kubeconfig, name: 'bench-controller', nodeFlags: CONTROLLER_NODE_FLAGS });
  const proxy = await startProxy({ adminKubeconfig: cp.kubeconfig, xdsPort: controller.xdsPort, gateway: `${NS}/gw`, name: 'bench-proxy' });
  // 0 while the proxy's port is not open yet (it opens once its first config arrives).
  const statusOf = async (host: string, withToken = false) =>
    (
      await request(proxy.port, { host, ...(withToken ? { headers: { authorization: `Bearer ${token}` } } : {}) }).catch(() => ({
        status: 0,
      }))
    ).status;
  const until = async (host: string, want: number) => {
    const t0 = process.hrtime.bigint();
    while ((await statusOf(host)) !== want) await new Promise((r) => setTimeout(r, 2));
    return t0;
  };
  while ((await statusOf('other-0.example.com')) !== 200) await new Promise((r) => setTimeout(r, 50));

  const routeMs: number[] = [],
    policyMs: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    let t = process.hrtime.bigint();
    await post('httproutes', route(`lat-${s}`));
    await until(`lat-${s}.example.com`, 200);
    routeMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    await post('policies', policy(`lat-${s}`, `lat-${s}`));
    await until(`lat-${s}.example.com`, 401);
    policyMs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }

  // Churn: 1,000 routes + policies at 100 writes/s while an existing protected route is used.
  await post('policies', policy('steady', 'other-0'));
  await until('other-0.example.com', 401);
  let churning = true,
    steadyRequests = 0,
    steadyBad = 0;
  const steady = (async () => {
    while (churning) {
      steadyRequests++;
      if ((await statusOf('other-0.example.com', true)) !== 200) steadyBad++;
    }
  })();
  const CHURN = 500; // routes; with their policies, 1,000 objects
  const writeStart = Date.now();
  for (let i = 0; i < CHURN; i++) {
    const due = writeStart + i * 20; // two writes per 20 ms = 100/s
    while (Date.now() < due) await new Promise((r) => setTimeout(r, 1));
    await post('httproutes', route(`churn-${i}`));
    await post('policies', policy(`churn-${i}`, `churn-${i}`));
  }
  const lastWrite = process.hrtime.bigint();
  // Every churned host polled until it is enforced, by 32 concurrent pollers (a host not yet
  // enforced goes back in the queue): the last one's first enforced answer ends the measure. One
  // poller going through 500 hosts in turn took ~0.5-1 s per sweep here, which the measure then
  // counted as the controller's.
  const queue = Array.from({ length: CHURN }, (_, i) => `churn-${i}.example.com`);
  let lastEnforced = lastWrite;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
        if ((await statusOf(host)) === 401) lastEnforced = process.hrtime.bigint();
        else queue.push(host);
      }
    }),
  );
  const churnMs = Number(lastEnforced - lastWrite) / 1e6;
  churning = false;
  await steady;
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${controller.proc.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  // The controller's own view (Node's process metrics on its admin port): live heap against RSS.
  const metrics = (await request(controller.adminPort, { path: '/metrics' })).body;
  const mib = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN) / 1024 / 1024;
  const heapMb = mib('nodejs_heap_size_used_bytes');
  const heapTotalMb = mib('nodejs_heap_size_total_bytes');
  const externalMb = mib('nodejs_external_memory_bytes');
  const count = (series: string) => Number(new RegExp(`^${series} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
  const passes = `${count('agw_controller_reconcile_duration_seconds_count')} passes (${count('agw_controller_reconcile_duration_seconds_sum').toFixed(1)} s in all); Gateway configs compiled ${count('agw_controller_gateway_configs_total{outcome="compiled"}')}, kept ${count('agw_controller_gateway_configs_total{outcome="kept"}')}`;
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
  const f = (n: number) => n.toFixed(1);
  process.stdout.write(
    [
      `| measure (${OTHER} other HTTPRoutes on ${GATEWAYS} Gateway(s), ${OTHER_POLICIES} other policies) | p50 ms | p99 ms | max ms |`,
      '|---|---|---|---|',
      `| HTTPRoute created → served by the proxy | ${f(pct(routeMs, 0.5))} | ${f(pct(routeMs, 0.99))} | ${f(Math.max(...routeMs))} |`,
      `| AgentgatewayPolicy created → enforced by the proxy | ${f(pct(policyMs, 0.5))} | ${f(pct(policyMs, 0.99))} | ${f(Math.max(...policyMs))} |`,
      '',
      `Churn: ${CHURN} HTTPRoutes + ${CHURN} policies written at 100/s (${((Date.now() - writeStart) / 1000).toFixed(1)} s): all enforced ${f(churnMs)} ms after the last write; an already-protected route answered ${steadyRequests - steadyBad}/${steadyRequests} requests with 200 meanwhile (${steadyBad} non-2xx). Controller RSS at the end: ${f(rssMb)} MiB (node flags: ${CONTROLLER_NODE_FLAGS.join(' ') || 'none'}; V8 heap used ${f(heapMb)} of ${f(heapTotalMb)} MiB, external ${f(externalMb)} MiB). Controller over the whole run: ${passes}.`,
      '',
    ].join('\n'),
  );
  await proxy.stop();
  await controller.stop();
  await upstream.close();
  await cp.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`controller-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
