import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  INFRA_HOME,
  apply,
  freePort,
  generateSigningKey,
  getJson,
  helm,
  kubectl,
  request,
  startController,
  startJwksServer,
  startProxy,
  waitFor,
  type JwksServer,
  type RunningController,
  type RunningProxy,
} from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';

/**
 * The chart's observability kit (docs/operations.md, "Monitoring") with the real tools: promtool
 * (scripts/infra/promtool.sh) checks and unit-tests the alert rules and parses every dashboard
 * query; the real helm renders the monitoring objects from the same files; and a real controller and
 * proxies, scraped, export every metric the rules and the dashboard read, and fire exactly the alerts
 * their state calls for.
 */
const root = process.cwd();
const chart = resolve(root, 'charts/agentgateway');
const rulesFile = resolve(chart, 'files/prometheus-rules.yaml');
const rulesTestFile = resolve(root, 'e2e/testdata/prometheus-rules.test.yaml');
const dashboardFile = resolve(chart, 'files/grafana-dashboard.json');
const admin = () => inject('kubeconfig');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the promtool of scripts/infra/promtool.sh; a missing binary fails the test (never a skip). */
async function promtool(args: string[]): Promise<Run> {
  const bin = join(INFRA_HOME, 'bin', 'promtool');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`bash scripts/infra/all.sh\` first`);
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, args, { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const scratch = () => mkdtempSync(join(tmpdir(), 'agw-monitoring-'));

interface Rule {
  alert: string;
  expr: string;
  for: string;
}
const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: Panel[] };
const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
/** Every dashboard query with its Grafana variables replaced as Grafana does (All = `.*`). */
const dashboardQueries = flat(dashboard.panels).flatMap((p) =>
  (p.targets ?? []).map((t) => ({
    title: p.title,
    expr: t.expr.replaceAll('$__rate_interval', '5m').replace(/\$\{?(namespace|policy)\}?/g, '.*'),
  })),
);

describe('promtool and the alert rules', () => {
  it('promtool check rules accepts charts/agentgateway/files/prometheus-rules.yaml', async () => {
    const r = await promtool(['check', 'rules', rulesFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('promtool test rules: every alert fires on the series of e2e/testdata/prometheus-rules.test.yaml, and stays quiet where it must', async () => {
    const r = await promtool(['test', 'rules', rulesTestFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    // Every alert is exercised by the test file, firing at least once.
    const tests = parse(readFileSync(rulesTestFile, 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const fired = new Set(
      tests.tests
        .flatMap((t) => t.alert_rule_test ?? [])
        .filter((a) => a.exp_alerts.length > 0)
        .map((a) => a.alertname),
    );
    expect([...fired].sort()).toEqual(rules.map((x) => x.alert).sort());
  });

  // A weakened rule must fail the unit tests: they test the decisions, not just the syntax.
  it.each([
    ['AgwJwtAuthFailureRatioHigh', 'counting `missing` tokens as checks', (s: string) => s.replaceAll('result!="missing"', 'result=~".+"')],
    [
      'AgwProxyConfigRejected',
      'without the first NACK of a process',
      (s: string) =>
        s.replace(
          '(agw_config_updates_total{result="rejected"} unless agw_config_updates_total{result="rejected"} offset 10m)',
          '(agw_config_updates_total{result="rejected"} > 1e9)',
        ),
    ],
    [
      'AgwControllerStatusWriteErrors',
      'counting retried conflicts',
      (s: string) => s.replace('status_writes_total{result="error"}', 'status_writes_total{result=~"error|conflict"}'),
    ],
    ['AgwJwksStale', 'without its 10m grace', (s: string) => s.replace(/(expr: agw_jwks_stale == 1\n\s+for: )10m/, '$11m')],
  ])('promtool test rules fails when %s is weakened (%s)', async (alert, _how, weaken) => {
    const dir = scratch();
    const original = readFileSync(rulesFile, 'utf8');
    const weakened = weaken(original);
    expect(weakened).not.toBe(original);
    writeFileSync(join(dir, 'rules.yaml'), weakened);
    const t = parse(readFileSync(rulesTestFile, 'utf8')) as { rule_files: string[] };
    t.rule_files = ['rules.yaml'];
    writeFileSync(join(dir, 'test.yaml'), stringify(t, { lineWidth: 0 }));
    const r = await promtool(['test', 'rules', join(dir, 'test.yaml')]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`alertname: ${alert}`);
  });

  it('promtool parses every query of the Grafana dashboard', async () => {
    expect(dashboardQueries.length).toBeGreaterThan(25);
    const dir = scratch();
    const file = join(dir, 'dashboard-queries.yaml');
    writeFileSync(
      file,
      stringify(
        { groups: [{ name: 'dashboard', rules: dashboardQueries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }] },
        { lineWidth: 0 },
      ),
    );
    const r = await promtool(['check', 'rules', '--lint=none', file]);
    expect(r.code, `${r.stdout}${r.stderr}\n${dashboardQueries.map((q, i) => `${i} ${q.title}: ${q.expr}`).join('\n')}`).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${dashboardQueries.length} rules found`);
  });
});

// ------------------------------------------------------------------------------------------------
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
const MONITORING_KINDS = ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'ConfigMap'];

async function render(sets: string[]): Promise<Obj[]> {
  const r = await helm(admin(), [
    'template',
    'agentgateway',
    chart,
    '-n',
    'agentgateway-system',
    '--kube-version',
    '1.34.4',
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  expect(r.code, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}
/** A monitoring object: not the config stream's CA ConfigMap (<release>-xds-ca), which the chart renders by default. */
const isMonitoring = (o: Obj) => MONITORING_KINDS.includes(o.kind) && o.metadata.name !== 'agentgateway-xds-ca';
const ofKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind && (kind !== 'ConfigMap' || isMonitoring(o)));

describe('helm template with monitoring', () => {
  it('renders no monitoring object by default (monitoring.enabled=false)', async () => {
    const objs = await render([]);
    expect(objs.filter(isMonitoring).map((o) => o.kind)).toEqual([]);
  });

  it('monitoring.enabled=true renders the ServiceMonitor, PodMonitor, PrometheusRule and dashboard ConfigMap, labelled, from the files the tests read', async () => {
    const objs = await render([
      'monitoring.enabled=true',
      'monitoring.labels.release=kube-prometheus-stack',
      'monitoring.dashboard.annotations.grafana_folder=Gateways',
    ]);
    const mon = objs.filter(isMonitoring);
    expect(mon.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/agentgateway-dashboard',
      'PodMonitor/agentgateway-proxies',
      'PrometheusRule/agentgateway',
      'ServiceMonitor/agentgateway',
    ]);
    for (const o of mon) expect(o.metadata.labels?.['release'], `${o.kind} labels`).toBe('kube-prometheus-stack');
    for (const o of mon.filter((x) => x.kind !== 'ConfigMap')) expect(o.apiVersion).toBe('monitoring.coreos.com/v1');
    // The rules promtool tested and the dashboard the unit test read, unchanged.
    expect(ofKind(objs, 'PrometheusRule')[0]?.spec).toEqual(parse(readFileSync(rulesFile, 'utf8')));
    const cm = ofKind(objs, 'ConfigMap')[0] as Obj;
    expect(cm.metadata).toMatchObject({
      namespace: 'agentgateway-system',
      labels: { grafana_dashboard: '1' },
      annotations: { grafana_folder: 'Gateways' },
    });
    expect(JSON.parse(cm.data?.['agentgateway-ts.json'] ?? '')).toEqual(JSON.parse(readFileSync(dashboardFile, 'utf8')));
    // The ServiceMonitor selects the chart's controller Service and its metrics port.
    const sm = ofKind(objs, 'ServiceMonitor')[0]?.spec as {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      endpoints: Array<{ port: string; path: string }>;
    };
    const svc = ofKind(objs, 'Service')[0] as Obj & { spec: { ports: Array<{ name: string }> } };
    expect(svc.metadata.labels).toMatchObject(sm.selector.matchLabels);
    expect(sm.namespaceSelector.matchNames).toEqual([svc.metadata.namespace]);
    expect(svc.spec.ports.map((p) => p.name)).toContain(sm.endpoints[0]?.port);
    expect(sm.endpoints[0]?.path).toBe('/metrics');
    const pm = ofKind(objs, 'PodMonitor')[0]?.spec as { namespaceSelector: unknown };
    expect(pm.namespaceSelector).toEqual({ any: true });
  });

  it.each([
    ['serviceMonitor', 'ServiceMonitor'],
    ['podMonitor', 'PodMonitor'],
    ['prometheusRule', 'PrometheusRule'],
    ['dashboard', 'ConfigMap'],
  ])('monitoring.%s.enabled=false leaves out the %s only', async (key, kind) => {
    const objs = await render(['monitoring.enabled=true', `monitoring.${key}.enabled=false`]);
    expect(
      objs
        .filter(isMonitoring)
        .map((o) => o.kind)
        .sort(),
    ).toEqual(MONITORING_KINDS.filter((k) => k !== kind).sort());
  });

  it('scrape settings and the PodMonitor namespaces are passed on; a bad interval is refused by the values schema', async () => {
    const objs = await render([
      'monitoring.enabled=true',
      'monitoring.podMonitor.namespaces={team-a,team-b}',
      'monitoring.podMonitor.interval=15s',
      'monitoring.serviceMonitor.scrapeTimeout=5s',
    ]);
    expect(ofKind(objs, 'PodMonitor')[0]?.spec).toMatchObject({
      namespaceSelector: { matchNames: ['team-a', 'team-b'] },
      podMetricsEndpoints: [{ port: 'admin', interval: '15s' }],
    });
    expect(ofKind(objs, 'ServiceMonitor')[0]?.spec).toMatchObject({ endpoints: [{ port: 'http-metrics', scrapeTimeout: '5s' }] });
    const bad = await helm(admin(), [
      'template',
      'agentgateway',
      chart,
      '--kube-version',
      '1.34.4',
      '--set',
      'monitoring.serviceMonitor.interval=often',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('interval');
  });
});

// ------------------------------------------------------------------------------------------------
const NS = 'e2e-mon';
const GW = 'mon-gw';
const ISS = 'https://idp.monitoring.example';
let idp: JwksServer;
let deadJwksUrl: string;
let controller: RunningController;
let proxy: RunningProxy;
let ghost: RunningProxy;

/** What the chart's ServiceMonitor/PodMonitor would add to each scraped series. */
const TARGETS = {
  controller: { job: 'agentgateway', instance: '10.0.0.1:9092', namespace: 'agentgateway-system', pod: 'agentgateway-0' },
  proxy: { job: 'agentgateway-system/agentgateway-proxies', instance: '10.0.1.5:15000', namespace: NS, pod: `${GW}-0`, gateway: GW },
  ghost: { job: 'agentgateway-system/agentgateway-proxies', instance: '10.0.1.6:15000', namespace: NS, pod: 'ghost-0', gateway: 'ghost' },
};

interface Scrape {
  families: Map<string, string>;
  samples: Array<{ name: string; labels: string; value: number }>;
}

/** A Prometheus text exposition: families (# TYPE) and samples (label text kept as exposed). */
function parseExposition(text: string): Scrape {
  const families = new Map<string, string>();
  const samples: Scrape['samples'] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      families.set(type[1] as string, type[2] as string);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m) samples.push({ name: m[1] as string, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return { families, samples };
}

async function scrape(adminPort: number): Promise<Scrape> {
  const r = await request(adminPort, { path: '/metrics' });
  expect(r.status).toBe(200);
  return parseExposition(r.body);
}

/** Metric names a family of the given type is queried by. */
const seriesNames = (name: string, type: string) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]);

beforeAll(async () => {
  const key = await generateSigningKey('RS256', 'mon-key');
  idp = await startJwksServer([key.jwk]);
  deadJwksUrl = `http://127.0.0.1:${await freePort()}/keys`; // nothing listens there: every fetch fails
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  const route = (name: string, host: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: NS },
    spec: { parentRefs: [{ name: GW }], hostnames: [host], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] },
  });
  const policy = (name: string, routeName: string, jwksSource: Record<string, unknown>) => ({
    apiVersion: 'agentgateway.dev/v1alpha1',
    kind: 'AgentgatewayPolicy',
    metadata: { name, namespace: NS },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: routeName }],
      traffic: { jwtAuthentication: { providers: [{ issuer: ISS, jwks: jwksSource }] } },
    },
  });
  await apply(admin(), [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GW, namespace: NS },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend', namespace: NS },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
    route('healthy', 'healthy.example'),
    route('broken', 'broken.example'),
    route('keyless', 'keyless.example'),
    policy('healthy-jwks', 'healthy', { remote: { url: idp.url } }),
    policy('dead-jwks', 'broken', { remote: { url: deadJwksUrl } }),
    policy('empty-jwks', 'keyless', { inline: '{"keys":[]}' }),
  ]);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'monitoring-controller' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'monitoring-proxy' });
  // The proxy of a Gateway that does not exist: it runs, and never gets a config.
  ghost = await startProxy({
    adminKubeconfig: admin(),
    xdsPort: controller.xdsPort,
    gateway: `${NS}/ghost`,
    name: 'monitoring-ghost-proxy',
  });
  const has = (s: Scrape, name: string, labels: RegExp, pred: (v: number) => boolean) =>
    s.samples.some((x) => x.name === name && labels.test(x.labels) && pred(x.value));
  await waitFor(
    'controller leader, JWKS fetched (one good, one failing), proxy with config',
    async () => {
      const c = await scrape(controller.adminPort);
      const p = await scrape(proxy.adminPort);
      return (
        has(c, 'agw_controller_leader', /^$/, (v) => v === 1) &&
        has(c, 'agw_jwks_keys', new RegExp(`url="${idp.url}"`), (v) => v > 0) &&
        has(c, 'agw_jwks_stale', new RegExp(`url="${deadJwksUrl}"`), (v) => v === 1) &&
        has(p, 'agw_config_info', /version=/, (v) => v === 1) &&
        has(p, 'agw_jwt_keys', new RegExp(`policy="${NS}/empty-jwks"`), (v) => v === 0)
      );
    },
    60_000,
    250,
  );
}, 180_000);

afterAll(async () => {
  await ghost?.stop();
  await proxy?.stop();
  await controller?.stop();
  await idp?.close();
  await kubectl(admin(), ['delete', 'namespace', NS, '--wait=false']);
});

describe("live: a real controller and proxies, scraped as the chart's monitors would", () => {
  it('the PodMonitor selects the proxy pods the deployer creates, on their admin port, with the Gateway name label', async () => {
    const pm = ofKind(await render(['monitoring.enabled=true']), 'PodMonitor')[0]?.spec as {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: Array<{ port: string; relabelings: Array<{ sourceLabels: string[]; targetLabel: string }> }>;
    };
    let deploy:
      | {
          spec: {
            template: {
              metadata: { labels: Record<string, string> };
              spec: { containers: Array<{ ports: Array<{ name: string; containerPort: number }> }> };
            };
          };
        }
      | undefined;
    await waitFor('proxy Deployment', async () => (deploy = await getJson(admin(), ['deployment', GW, '-n', NS])) !== undefined, 30_000);
    const pod = deploy?.spec.template;
    expect(pod?.metadata.labels).toMatchObject(pm.selector.matchLabels);
    expect(pod?.spec.containers[0]?.ports.find((p) => p.name === pm.podMetricsEndpoints[0]?.port)?.containerPort).toBe(15000);
    // __meta_kubernetes_pod_label_<name with non-alphanumerics as _> is the pod label's value.
    const relabel = pm.podMetricsEndpoints[0]?.relabelings[0];
    expect(relabel?.targetLabel).toBe('gateway');
    const source = Object.keys(pod?.metadata.labels ?? {}).find(
      (l) => `__meta_kubernetes_pod_label_${l.replace(/[^a-zA-Z0-9_]/g, '_')}` === relabel?.sourceLabels[0],
    );
    expect(source && pod?.metadata.labels[source]).toBe(GW);
  });

  it('every metric the rules and the dashboard read is exported by the running controller or proxy', async () => {
    const exported = new Set<string>();
    for (const port of [controller.adminPort, proxy.adminPort]) {
      for (const [name, type] of (await scrape(port)).families) for (const n of seriesNames(name, type)) exported.add(n);
    }
    const texts = [...rules.map((r) => r.expr), ...dashboardQueries.map((q) => q.expr)];
    const read = new Set(texts.flatMap((t) => [...t.matchAll(/\b(?:agw|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(read.size).toBeGreaterThan(25);
    expect([...read].filter((n) => !exported.has(n)).sort()).toEqual([]);
  });

  it('on the live series (held for 30 minutes), exactly the alerts their state calls for fire', async () => {
    const ownSeries = (labels: string): boolean => {
      const url = /(?:^|,)url="([^"]*)"/.exec(labels)?.[1];
      const policy = /(?:^|,)policy="([^"]*)"/.exec(labels)?.[1];
      return (
        (url === undefined || url === idp.url || url === deadJwksUrl) &&
        (policy === undefined || policy === '' || policy.startsWith(`${NS}/`))
      );
    };
    const series: Array<{ series: string; values: string }> = [];
    for (const [port, target] of [
      [controller.adminPort, TARGETS.controller],
      [proxy.adminPort, TARGETS.proxy],
      [ghost.adminPort, TARGETS.ghost],
    ] as const) {
      const extra = Object.entries(target)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      for (const s of (await scrape(port)).samples) {
        if (!Number.isFinite(s.value)) continue;
        // The controller watches the whole shared e2e cluster: series of other suites' objects (their
        // JWKS URLs, their policies), created while this one runs, are not this test's state.
        if (!ownSeries(s.labels)) continue;
        series.push({ series: `${s.name}{${s.labels === '' ? extra : `${s.labels},${extra}`}}`, values: `${s.value.toFixed(6)}x30` });
      }
    }
    const dir = scratch();
    writeFileSync(join(dir, 'rules.yaml'), readFileSync(rulesFile, 'utf8'));
    writeFileSync(
      join(dir, 'live.test.yaml'),
      stringify(
        {
          rule_files: ['rules.yaml'],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: series,
              promql_expr_test: [
                {
                  expr: 'count by (alertname, url, instance, policy) (ALERTS{alertstate="firing"})',
                  eval_time: '30m',
                  exp_samples: [
                    // The policy whose JWKS cannot be fetched: never any key, and stale.
                    { labels: `{alertname="AgwJwksKeySetEmpty",instance="${TARGETS.controller.instance}",url="${deadJwksUrl}"}`, value: 1 },
                    { labels: `{alertname="AgwJwksStale",instance="${TARGETS.controller.instance}",url="${deadJwksUrl}"}`, value: 1 },
                    // The policy with an empty inline key set: the proxy has its provider, with no key. (The
                    // dead remote one has no provider on the proxy: no series, AgwJwksKeySetEmpty covers it.)
                    {
                      labels: `{alertname="AgwProxyJwtProviderNoKeys",instance="${TARGETS.proxy.instance}",policy="${NS}/empty-jwks"}`,
                      value: 1,
                    },
                    // The proxy of a Gateway that does not exist serves no config.
                    { labels: `{alertname="AgwProxyWithoutConfig",instance="${TARGETS.ghost.instance}"}`, value: 1 },
                  ],
                },
              ],
            },
          ],
        },
        { lineWidth: 0 },
      ),
    );
    const r = await promtool(['test', 'rules', join(dir, 'live.test.yaml')]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  });
});
