#!/usr/bin/env node
/**
 * Controller latency on a real kube-apiserver + etcd (scripts/infra), the built controller and
 * proxy processes, with 1,000 other HTTPRoutes present:
 *   1. create → enforced: POST an HTTPRoute (then a policy on it) to the API server, poll the proxy
 *      every 2 ms until it answers as the new object says (200, then 401); 30 samples each.
 *   2. churn: 500 routes + 500 policies written at up to 100/s; time from the last write until every
 *      one is enforced (each host's first 401, polled from when it is written); meanwhile an
 *      already-valid route is requested continuously (non-2xx counted).
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
import { Agent, request as httpRequest } from 'node:http';
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
  // The controller runs as deployed: its Lease is in agentgateway-system, so it leads and writes
  // statuses (without the namespace it never led, and the runs before 2026-11-30's sixth session
  // measured a controller that wrote no status at all).
  const ns = await kubectl(cp.kubeconfig, ['create', 'namespace', 'agentgateway-system']);
  if (ns.code !== 0) throw new Error(`kubectl create namespace agentgateway-system: ${ns.stderr}`);
  const controllerStarted = process.hrtime.bigint();
  const controller = await startController({ kubeconfig: cp.kubeconfig, name: 'bench-controller', nodeFlags: CONTROLLER_NODE_FLAGS });
  for (let i = 0; ; i++) {
    const text = (await request(controller.adminPort, { path: '/metrics' })).body;
    if (/^agw_controller_leader 1$/m.test(text)) break;
    if (i === 300) throw new Error('the bench controller did not become leader in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
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
  // Steady state before the samples: the leader's first statuses of every object and the proxy
  // Deployments written (its queue empty at three reads 200 ms apart); how long that took is reported.
  const startupWrites = await untilQueueEmpty(controller.adminPort, controllerStarted);
  const passesBefore = await passTotals(controller.adminPort);

  // Each sample in ms from the POST sent, and the part of it before the API server answered the
  // POST (its write to etcd: not the controller's; what follows is watch → pass → push → proxy).
  const routeMs: number[] = [],
    policyMs: number[] = [],
    routePostMs: number[] = [],
    policyPostMs: number[] = [];
  const msSince = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
  for (let s = 0; s < SAMPLES; s++) {
    let t = process.hrtime.bigint();
    await post('httproutes', route(`lat-${s}`));
    routePostMs.push(msSince(t));
    await until(`lat-${s}.example.com`, 200);
    routeMs.push(msSince(t));
    t = process.hrtime.bigint();
    await post('policies', policy(`lat-${s}`, `lat-${s}`));
    policyPostMs.push(msSince(t));
    await until(`lat-${s}.example.com`, 401);
    policyMs.push(msSince(t));
  }
  const afterPost = (all: number[], posts: number[]) => all.map((ms, i) => ms - (posts[i] ?? 0));

  const passesAfter = await passTotals(controller.adminPort);
  const samplePasses = passesAfter.count - passesBefore.count;
  const samplePassMs = ((passesAfter.seconds - passesBefore.seconds) * 1000) / Math.max(1, samplePasses);

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
  // Each churned host is polled from when its policy is written until it answers 401 (a host not
  // yet enforced goes back in the queue); the last host's first 401 ends the measure. Sweeping all
  // 500 hosts only after the last write (one new connection each) took 0.7-2 s on a loaded 2-core
  // machine while the proxy had enforced everything ~0.15 s after the write: the measure was the
  // sweep's. So: keep-alive connections, 2 pollers during the writes (10 ms apart each: ~100
  // requests/s at most), 32 after the last write for the hosts left.
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const pollStatus = (host: string): Promise<number> =>
    new Promise((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: proxy.port, path: '/', headers: { host }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  const queue: string[] = [];
  let writing = true;
  let lastEnforced = 0n;
  const poller = async () => {
    for (;;) {
      const host = queue.shift();
      if (host === undefined) {
        if (!writing) return;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      if ((await pollStatus(host)) === 401) {
        const t = process.hrtime.bigint();
        if (t > lastEnforced) lastEnforced = t;
      } else queue.push(host);
      if (writing) await new Promise((r) => setTimeout(r, 10));
    }
  };
  const duringWrites = Array.from({ length: 2 }, poller);
  const writeStart = Date.now();
  for (let i = 0; i < CHURN; i++) {
    const due = writeStart + i * 20; // two writes per 20 ms = 100/s
    while (Date.now() < due) await new Promise((r) => setTimeout(r, 1));
    await post('httproutes', route(`churn-${i}`));
    await post('policies', policy(`churn-${i}`, `churn-${i}`));
    queue.push(`churn-${i}.example.com`);
  }
  const lastWrite = process.hrtime.bigint();
  writing = false;
  const leftAtLastWrite = queue.length;
  await Promise.all([...duringWrites, ...Array.from({ length: 30 }, poller)]);
  const churnMs = lastEnforced > lastWrite ? Number(lastEnforced - lastWrite) / 1e6 : 0;
  // Untimed: every churned host still enforced at the end (one confirmed during the writes could have regressed).
  for (let i = 0; i < CHURN; i++) {
    const st = await pollStatus(`churn-${i}.example.com`);
    if (st !== 401) throw new Error(`churn-${i}.example.com answered ${st} after the churn measure, not 401`);
  }
  agent.destroy();
  churning = false;
  await steady;
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${controller.proc.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  // The controller's own view (Node's process metrics on its admin port): live heap against RSS.
  const metrics = (await request(controller.adminPort, { path: '/metrics' })).body;
  const mib = (name: string) => metricValue(metrics, name) / 1024 / 1024;
  const heapMb = mib('nodejs_heap_size_used_bytes');
  const heapTotalMb = mib('nodejs_heap_size_total_bytes');
  const externalMb = mib('nodejs_external_memory_bytes');
  const count = (series: string) => metricValue(metrics, series);
  const passes = `${count('agw_controller_reconcile_duration_seconds_count')} passes (${count('agw_controller_reconcile_duration_seconds_sum').toFixed(1)} s in all); Gateway configs compiled ${count('agw_controller_gateway_configs_total{outcome="compiled"}')}, kept ${count('agw_controller_gateway_configs_total{outcome="kept"}')}`;
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
  const f = (n: number) => n.toFixed(1);
  process.stdout.write(
    [
      `Startup: the controller leading, every object's status and the proxy Deployments written ${startupWrites.seconds.toFixed(1)} s after it started (${startupWrites.writes} status writes); the samples below start then.`,
      '',
      `| measure (${OTHER} other HTTPRoutes on ${GATEWAYS} Gateway(s), ${OTHER_POLICIES} other policies) | p50 ms | p99 ms | max ms |`,
      '|---|---|---|---|',
      `| HTTPRoute created → served by the proxy | ${f(pct(routeMs, 0.5))} | ${f(pct(routeMs, 0.99))} | ${f(Math.max(...routeMs))} |`,
      `| AgentgatewayPolicy created → enforced by the proxy | ${f(pct(policyMs, 0.5))} | ${f(pct(policyMs, 0.99))} | ${f(Math.max(...policyMs))} |`,
      `| … of which the API server's answer to the route's POST | ${f(pct(routePostMs, 0.5))} | ${f(pct(routePostMs, 0.99))} | ${f(Math.max(...routePostMs))} |`,
      `| … and from that answer to served (watch, pass, push, proxy) | ${f(pct(afterPost(routeMs, routePostMs), 0.5))} | ${f(pct(afterPost(routeMs, routePostMs), 0.99))} | ${f(Math.max(...afterPost(routeMs, routePostMs)))} |`,
      `| … of which the API server's answer to the policy's POST | ${f(pct(policyPostMs, 0.5))} | ${f(pct(policyPostMs, 0.99))} | ${f(Math.max(...policyPostMs))} |`,
      `| … and from that answer to enforced | ${f(pct(afterPost(policyMs, policyPostMs), 0.5))} | ${f(pct(afterPost(policyMs, policyPostMs), 0.99))} | ${f(Math.max(...afterPost(policyMs, policyPostMs)))} |`,
      '',
      `Controller passes during the samples: ${samplePasses}, ${f(samplePassMs)} ms each on average (agw_controller_reconcile_duration_seconds: the pass, its push, and the leader's status and deployer bookkeeping after it).`,
      '',
      `Churn: ${CHURN} HTTPRoutes + ${CHURN} policies written at up to 100/s (${((Date.now() - writeStart) / 1000).toFixed(1)} s): all enforced ${f(churnMs)} ms after the last write (${leftAtLastWrite} hosts not yet seen enforced at the last write); an already-protected route answered ${steadyRequests - steadyBad}/${steadyRequests} requests with 200 meanwhile (${steadyBad} non-2xx). Controller RSS at the end: ${f(rssMb)} MiB (node flags: ${CONTROLLER_NODE_FLAGS.join(' ') || 'none'}; V8 heap used ${f(heapMb)} of ${f(heapTotalMb)} MiB, external ${f(externalMb)} MiB). Controller over the whole run: ${passes}.`,
      '',
    ].join('\n'),
  );
  await proxy.stop();
  await controller.stop();
  await upstream.close();
  await cp.stop();
  process.exit(0);
}

/** The controller's passes so far and the seconds they took (agw_controller_reconcile_duration_seconds). */
async function passTotals(adminPort: number): Promise<{ count: number; seconds: number }> {
  const text = (await request(adminPort, { path: '/metrics' })).body;
  return {
    count: metricValue(text, 'agw_controller_reconcile_duration_seconds_count'),
    seconds: metricValue(text, 'agw_controller_reconcile_duration_seconds_sum'),
  };
}

/** One series' value in a Prometheus text exposition (NaN when absent). */
function metricValue(text: string, series: string): number {
  return Number(new RegExp(`^${series} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

/**
 * Waits until the controller's status and deployer queue (agw_controller_queue_depth) reads 0 three
 * times 200 ms apart (at most 600 s): the seconds since `since` and the status writes made.
 */
async function untilQueueEmpty(adminPort: number, since: bigint): Promise<{ seconds: number; writes: number }> {
  let empty = 0;
  for (let i = 0; i < 3000 && empty < 3; i++) {
    const text = (await request(adminPort, { path: '/metrics' })).body;
    empty = /^agw_controller_queue_depth 0$/m.test(text) ? empty + 1 : 0;
    if (empty < 3) await new Promise((r) => setTimeout(r, 200));
  }
  if (empty < 3) throw new Error("the controller's status queue did not empty in 600 s");
  const text = (await request(adminPort, { path: '/metrics' })).body;
  const writes = [...text.matchAll(/^agw_controller_status_writes_total\{[^}]*result="written"[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
  return { seconds: Number(process.hrtime.bigint() - since) / 1e9, writes };
}

main().catch((err: unknown) => {
  process.stderr.write(`controller-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
