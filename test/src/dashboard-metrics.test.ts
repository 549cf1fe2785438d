import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The chart's alert rules and Grafana dashboard (charts/agentgateway/files/) query only metrics the
 * code registers, with labels those metrics have: a renamed metric or label fails here, not on an
 * operator's empty panel or silent alert. Also: every panel has a title and uses the dashboard's
 * datasource variable, and every alert has a duration, a severity and operator-facing text.
 *
 * The registered metrics are read from the source (controller/src, proxy/src; tests excluded):
 * `name: 'agw_…'` object literals with their `labelNames`, the positional `new TallyHistogram('agw_…',
 * help, label, …)`, and, where `collectDefaultMetrics` is called, prom-client's default metric names
 * (process_*, nodejs_*) read from prom-client's own files. A histogram `h` is queried as h_bucket
 * (with `le`), h_sum and h_count.
 */
const root = resolve(fileURLToPath(import.meta.url), '../../..');
const rulesFile = join(root, 'charts/agentgateway/files/prometheus-rules.yaml');
const dashboardFile = join(root, 'charts/agentgateway/files/grafana-dashboard.json');

/**
 * Labels a scrape adds to every series: job and instance always; namespace and pod from the
 * Prometheus Operator's ServiceMonitor/PodMonitor; gateway from the relabeling of the chart's
 * PodMonitor (templates/podmonitor.yaml).
 */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'gateway'];

/** Metric name → its label names; `undefined` labels: not known from our source (prom-client defaults). */
type Registered = Map<string, ReadonlySet<string> | undefined>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const quoted = (list: string): string[] => [...list.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);

/** The metrics registered by the TypeScript `sources` (see the file comment). */
export function metricsInSource(sources: ReadonlyArray<{ text: string }>, defaultMetricNames: () => string[]): Registered {
  const out: Registered = new Map();
  const add = (name: string, labels: string[], histogram: boolean) => {
    if (!histogram) {
      out.set(name, new Set(labels));
      return;
    }
    out.set(`${name}_bucket`, new Set([...labels, 'le']));
    out.set(`${name}_sum`, new Set(labels));
    out.set(`${name}_count`, new Set(labels));
  };
  for (const { text } of sources) {
    for (const m of text.matchAll(/name: '(agw_[a-z0-9_]+)'/g)) {
      // The options object of one metric: from its name to where it is registered.
      const rest = text.slice(m.index);
      const end = rest.search(/registers?:|registry:/);
      const options = end < 0 ? rest.slice(0, 400) : rest.slice(0, end);
      const labels = /labelNames: \[([^\]]*)\]/.exec(options);
      const before = text.slice(Math.max(0, m.index - 120), m.index);
      const ctor = [...before.matchAll(/new (\w+)\(/g)].pop()?.[1];
      add(m[1] as string, labels ? quoted(labels[1] as string) : [], ctor === 'Histogram');
    }
    for (const m of text.matchAll(/new TallyHistogram\(\s*'(agw_[a-z0-9_]+)',\s*'(?:[^'\\]|\\.)*',\s*'([a-z_]+)'/g)) {
      add(m[1] as string, [m[2] as string], true);
    }
    if (/collectDefaultMetrics\(/.test(text)) for (const n of defaultMetricNames()) if (!out.has(n)) out.set(n, undefined);
  }
  return out;
}

/** prom-client's default metric names, from the prom-client the proxy resolves. */
function promClientDefaults(): string[] {
  const pkg = createRequire(join(root, 'proxy/package.json')).resolve('prom-client/package.json');
  const dir = join(dirname(pkg), 'lib/metrics');
  return [
    ...new Set(
      readdirSync(dir)
        .filter((f) => f.endsWith('.js'))
        .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/'((?:process|nodejs)_[a-z0-9_]+)'/g)].map((m) => m[1] as string)),
    ),
  ];
}

export interface PromqlNames {
  /** Every metric name the expression reads. */
  readonly metrics: string[];
  /** Label names of each selector's matchers, by metric. */
  readonly matchers: Array<{ metric: string | undefined; labels: string[] }>;
  /** Label names of by/without/on/ignoring/group_left/group_right. */
  readonly grouping: string[];
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);

/** The metric and label names of a PromQL expression (Grafana's `$variables` allowed). */
export function promqlNames(expr: string): PromqlNames {
  let e = expr.replace(/\$\{?\w+\}?/g, (v) => (v.includes('interval') ? '5m' : 'x'));
  e = e.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  const matchers: PromqlNames['matchers'] = [];
  e = e.replace(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g, (_all, metric: string | undefined, body: string) => {
    matchers.push({ metric, labels: [...body.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] as string) });
    return metric ?? '';
  });
  e = e.replace(/\[[^\]]*\]/g, '');
  const grouping: string[] = [];
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, list: string) => {
    grouping.push(
      ...list
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
    );
    return ' ';
  });
  const metrics = [...e.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?!\s*\(|[\w:])/g)]
    .map((m) => m[1] as string)
    .filter((n) => !KEYWORDS.has(n.toLowerCase()));
  for (const m of matchers) if (m.metric !== undefined && !metrics.includes(m.metric)) metrics.push(m.metric);
  return { metrics: [...new Set(metrics)], matchers, grouping: [...new Set(grouping)] };
}

interface Panel {
  type: string;
  title?: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr?: string; datasource?: { uid?: string } }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { uid?: string } }> };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
const rulesText = readFileSync(rulesFile, 'utf8');
const rules = (parse(rulesText) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
const registered = metricsInSource(
  [...sourceFiles(join(root, 'controller/src')), ...sourceFiles(join(root, 'proxy/src'))].map((f) => ({ text: readFileSync(f, 'utf8') })),
  promClientDefaults,
);

/** Every query of the dashboard and the rules, named for the failure message. */
const queries: Array<[string, string]> = [
  ...panels.flatMap((p) =>
    (p.targets ?? []).map((t, i): [string, string] => [`dashboard panel "${p.title ?? '?'}" target ${i}`, t.expr ?? '']),
  ),
  ...dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v): [string, string] => {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
      const lv = /^label_values\((\w+),\s*(\w+)\)$/.exec(q);
      return [`dashboard variable $${v.name}`, lv ? `sum by (${lv[2]}) (${lv[1]})` : q];
    }),
  ...rules.map((r): [string, string] => [`rule ${r.alert ?? r.record ?? '?'}`, r.expr]),
];

/** What is wrong with one query: unknown metrics, selectors without a metric, labels no metric of it has. */
function problems(expr: string): string[] {
  const n = promqlNames(expr);
  const out: string[] = [];
  for (const m of n.metrics) if (!registered.has(m)) out.push(`unknown metric ${m}`);
  const labelsOf = (m: string): ReadonlySet<string> | undefined => registered.get(m);
  for (const s of n.matchers) {
    if (s.metric === undefined) {
      out.push(`selector without a metric name: {${s.labels.join(',')}}`);
      continue;
    }
    const known = labelsOf(s.metric);
    if (known === undefined) continue;
    for (const l of s.labels) if (!known.has(l) && !TARGET_LABELS.includes(l)) out.push(`${s.metric} has no label ${l}`);
  }
  const all = new Set([...TARGET_LABELS, ...n.metrics.flatMap((m) => [...(labelsOf(m) ?? [])])]);
  const unknownLabels = n.metrics.some((m) => registered.has(m) && labelsOf(m) === undefined);
  if (!unknownLabels) for (const l of n.grouping) if (!all.has(l)) out.push(`no metric of the query has label ${l}`);
  return out;
}

describe("metric names of the chart's rules and dashboard", () => {
  it('promqlNames finds metrics, matcher labels and grouping labels (the extraction itself)', () => {
    expect(
      promqlNames(
        'sum by (policy) (rate(agw_jwt_auth_total{result=~"rejected|x",namespace=~"$namespace"}[$__rate_interval])) / on (job, instance) group_left agw_config_info unless up offset 10m > 0.5',
      ),
    ).toEqual({
      metrics: ['agw_jwt_auth_total', 'agw_config_info', 'up'],
      matchers: [{ metric: 'agw_jwt_auth_total', labels: ['result', 'namespace'] }],
      grouping: ['policy', 'job', 'instance'],
    });
    expect(promqlNames('histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) or vector(0)').metrics).toEqual(['h_bucket']);
    expect(promqlNames('{__name__="x", a="b}"}').matchers).toEqual([{ metric: undefined, labels: ['__name__', 'a'] }]);
  });

  it('reads the metrics the code registers, with their labels and histogram series', () => {
    expect(registered.get('agw_jwt_auth_total')).toEqual(new Set(['policy', 'provider', 'result', 'reason']));
    expect(registered.get('agw_controller_status_writes_total')).toEqual(new Set(['kind', 'result']));
    expect(registered.get('agw_proxy_request_duration_seconds_bucket')).toEqual(new Set(['route', 'le']));
    expect(registered.get('agw_controller_reconcile_duration_seconds_count')).toEqual(new Set());
    expect(registered.get('agw_jwks_keys')).toEqual(new Set(['url']));
    expect(registered.has('process_cpu_seconds_total') && registered.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    // Every family docs/operations.md lists (a broken regex would make this test vacuous).
    expect([...registered.keys()].filter((k) => k.startsWith('agw_')).length).toBeGreaterThanOrEqual(26);
  });

  it('the source reader sees labels and histograms as they are written', () => {
    const src = [
      "readonly a = new Counter({ name: 'agw_a_total', help: 'h', labelNames: ['x', 'y'] as const, registers: [r] });",
      "readonly b = new Histogram({\n  name: 'agw_b_seconds', help: 'h',\n  buckets: [1], registers: [r],\n});",
      "new TallyHistogram(\n  'agw_c_seconds', 'Help, with \\'quotes\\'.', 'route',\n  [1], r);",
      "new Gauge({ name: 'agw_d', help: 'h', registers: [r], collect() { this.set({ z: 1 }, 1); } });",
    ].join('\n');
    const m = metricsInSource([{ text: src }], () => []);
    expect(Object.fromEntries([...m].map(([k, v]) => [k, [...(v ?? [])]]))).toEqual({
      agw_a_total: ['x', 'y'],
      agw_b_seconds_bucket: ['le'],
      agw_b_seconds_sum: [],
      agw_b_seconds_count: [],
      agw_c_seconds_bucket: ['route', 'le'],
      agw_c_seconds_sum: ['route'],
      agw_c_seconds_count: ['route'],
      agw_d: [],
    });
  });

  it('finds the queries of the dashboard and the rules', () => {
    expect(queries.filter(([w]) => w.startsWith('dashboard panel')).length).toBeGreaterThan(25);
    expect(queries.filter(([w]) => w.startsWith('rule')).length).toBe(rules.length);
  });

  it.each(queries)('%s reads only registered metrics and their labels', (_where, expr) => {
    expect(expr).not.toBe('');
    expect(problems(expr)).toEqual([]);
  });

  it('every agw_ name in the rule and dashboard texts (descriptions included) is registered (a histogram by its family name too)', () => {
    const texts = { [relative(root, rulesFile)]: rulesText, [relative(root, dashboardFile)]: readFileSync(dashboardFile, 'utf8') };
    const unknown = Object.entries(texts).flatMap(([file, text]) =>
      [...new Set([...text.matchAll(/\bagw_[a-z0-9_]+/g)].map((m) => m[0]))]
        .filter((n) => !registered.has(n) && !registered.has(`${n}_bucket`))
        .map((n) => `${file}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});

describe('charts/agentgateway/files/grafana-dashboard.json', () => {
  it('has a Prometheus datasource variable', () => {
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });

  it.each(panels.map((p) => [p.title ?? '(untitled)', p]))('panel "%s" has a title and queries the datasource variable', (_t, p) => {
    expect(p.title?.trim()).toBeTruthy();
    expect(p.datasource?.uid).toBe('${datasource}');
    expect(p.targets?.length).toBeGreaterThan(0);
    for (const t of p.targets ?? []) expect(t.datasource?.uid ?? p.datasource?.uid).toBe('${datasource}');
  });

  it('query variables use the datasource variable, and the alerts its panels name exist', () => {
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) expect(v.datasource?.uid).toBe('${datasource}');
    const alerts = new Set(rules.map((r) => r.alert));
    const named = [...readFileSync(dashboardFile, 'utf8').matchAll(/\bAgw[A-Z]\w+/g)].map((m) => m[0]);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((a) => !alerts.has(a))).toEqual([]);
  });
});

describe('charts/agentgateway/files/prometheus-rules.yaml', () => {
  it('has the alerts of issue 17', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'AgwControllerNoLeader',
      'AgwControllerReconcileErrors',
      'AgwControllerStatusWriteErrors',
      'AgwJwksKeySetEmpty',
      'AgwJwksStale',
      'AgwJwtAuthFailureRatioHigh',
      'AgwProxiesDisconnected',
      'AgwProxyConfigRejected',
      'AgwProxyJwtProviderNoKeys',
      'AgwProxyWithoutConfig',
    ]);
  });

  it.each(rules.map((r) => [r.alert ?? '?', r]))('%s has a duration, a severity, a summary and a description', (_a, r) => {
    expect(r.for).toMatch(/^\d+[smh]$/);
    expect(['warning', 'critical']).toContain(r.labels?.['severity']);
    expect(r.annotations?.['summary']?.length).toBeGreaterThan(10);
    expect(r.annotations?.['description']?.length).toBeGreaterThan(80);
  });
});
