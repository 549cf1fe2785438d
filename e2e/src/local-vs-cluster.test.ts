import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  apply,
  generateSigningKey,
  getJson,
  jwks,
  kubectl,
  request,
  startController,
  startEchoUpstream,
  startProxy,
  waitFor,
  type EchoUpstream,
  type RunningController,
  type RunningProxy,
} from '@agw/test-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
// @agw/cli is not a dependency of e2e: its built output, by path (as `agw local` runs it).
import { LocalGateway, type LocalOptions } from '../../cli/dist/local/local-gateway.js';

/**
 * One reconciler for the cluster and `agw local` (issue 13): the same manifests, applied to the
 * real API server (built controller + one connected proxy) and run through an in-process
 * LocalGateway from files, must give the same statuses. Compared object by object, entry by entry
 * (route parent, policy ancestor, Gateway listener): every condition's type, status, reason and
 * message, Programmed included. lastTransitionTime and observedGeneration are not compared (local
 * mode has neither: no clock in its output, no generations in files).
 */
const admin = () => inject('kubeconfig');
const NS = 'e2e-lvc';
const GW = 'lvc-gw';
const ISS = 'https://lvc.example';
const CONTROLLER_NAME = 'agentgateway.dev/agentgateway';

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface ListenerStatus {
  name: string;
  attachedRoutes: number;
  supportedKinds: unknown;
  conditions: Cond[];
}
/** Status entries keyed as `agw local` prints them (`HTTPRoute ns/r → Gateway ns/gw`), plus `Gateway ns/gw listener <name>`. */
type Statuses = Map<string, { conditions: Cond[]; extra?: unknown }>;

let upstream: EchoUpstream;
let controller: RunningController | undefined;
let proxy: RunningProxy | undefined;
let local: LocalGateway | undefined;
let dir: string;
const printed: string[] = [];

const route = (name: string, host: string, rules: unknown[]) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: GW }], hostnames: [host], rules },
});
const policy = (name: string, target: { kind: string; name: string }, jwt: Record<string, unknown>) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: NS },
  spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', ...target }], traffic: { jwtAuthentication: jwt } },
});
const toBackend = [{ name: 'backend', port: 80 }];

async function manifests(): Promise<unknown[]> {
  const k1 = await generateSigningKey('RS256', 'lvc-k1');
  return [
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
    // The API server refuses loopback IPv4 endpoint addresses: an FQDN that resolves to 127.0.0.1 (as controller.test.ts).
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'backend-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'backend' } },
      addressType: 'FQDN',
      endpoints: [{ addresses: ['backend.localhost'] }],
      ports: [{ name: 'http', port: upstream.port }],
    },
    route('route-ok', 'ok.example.com', [{ backendRefs: toBackend }]),
    route('route-missing-backend', 'missing.example.com', [{ backendRefs: [{ name: 'no-such-service', port: 80 }] }]),
    route('route-bad-regex', 'regex.example.com', [
      { matches: [{ path: { type: 'RegularExpression', value: '/(unclosed' } }], backendRefs: toBackend },
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: toBackend },
    ]),
    policy(
      'valid-jwt',
      { kind: 'HTTPRoute', name: 'route-ok' },
      { mode: 'Strict', providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(k1)) } }] },
    ),
    policy(
      'gateway-jwt',
      { kind: 'Gateway', name: GW },
      { mode: 'Permissive', providers: [{ issuer: ISS, jwks: { inline: JSON.stringify(jwks(k1)) } }] },
    ),
    policy(
      'invalid-jwks',
      { kind: 'HTTPRoute', name: 'route-bad-regex' },
      { providers: [{ issuer: ISS, jwks: { inline: '{"keys":[{"kty":"RSB","kid":"x"}]}' } }] },
    ),
    policy('missing-target', { kind: 'Gateway', name: 'fake-gw' }, { providers: [{ issuer: ISS, jwks: { inline: '{"keys":[]}' } }] }),
    // Policies after the signature check: a valid one of each kind, and CEL that does not parse.
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'claims-rbac-passthrough', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'route-ok' }],
        traffic: {
          authorization: { action: 'Require', policy: { matchExpressions: ["has(jwt.sub) && jwt.sub != ''"] } },
          transformation: { request: { set: [{ name: 'x-user-id', value: 'jwt.sub' }] } },
        },
        backend: { auth: { passthrough: {} } },
      },
    },
    {
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: 'invalid-cel', namespace: NS },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: GW }],
        traffic: {
          authorization: { policy: { matchExpressions: ['jwt.sub =='] } },
          transformation: { request: { set: [{ name: 'x-a', value: "'unclosed" }], add: [{ name: 'x-b', value: '1 +' }] } },
        },
      },
    },
  ];
}

/**
 * Conditions as compared. The config version in Programmed messages (`config <16 hex>`) is a hash
 * of the served config, which orders routes and merge-all policies by creationTimestamp: the API
 * server stamps objects to the second (one `kubectl apply` may straddle a second), local mode has
 * none (name order). The versions may then differ while every status and word is the same.
 */
const strip = (cs: readonly Cond[] | undefined): Cond[] =>
  (cs ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message.replace(/\bconfig [0-9a-f]{16}\b/g, 'config <version>'),
  }));

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  status?: Record<string, unknown>;
}
interface Ref {
  namespace?: string;
  name: string;
  group?: string;
}

/** The cluster's statuses (our controller's entries only) of the GatewayClass and of every object in NS. */
async function clusterStatuses(): Promise<Statuses> {
  const out: Statuses = new Map();
  const gc = await getJson<Obj>(admin(), ['gatewayclass', 'agentgateway']);
  if (gc?.status?.['conditions'] !== undefined)
    out.set('GatewayClass agentgateway', { conditions: strip(gc.status['conditions'] as Cond[]) });
  const list = await getJson<{ items: Obj[] }>(admin(), ['gateways,httproutes,agentgatewaypolicies', '-n', NS]);
  for (const o of list?.items ?? []) {
    const key = `${o.metadata.namespace ?? NS}/${o.metadata.name}`;
    const st = o.status ?? {};
    if (o.kind === 'Gateway') {
      if (st['conditions'] === undefined || (st['conditions'] as unknown[]).length === 0) continue;
      out.set(`Gateway ${key}`, { conditions: strip(st['conditions'] as Cond[]) });
      for (const l of (st['listeners'] as ListenerStatus[] | undefined) ?? []) {
        out.set(`Gateway ${key} listener ${l.name}`, {
          conditions: strip(l.conditions),
          extra: { attachedRoutes: l.attachedRoutes, supportedKinds: l.supportedKinds },
        });
      }
    } else if (o.kind === 'HTTPRoute') {
      for (const p of (st['parents'] as Array<{ parentRef: Ref; controllerName: string; conditions: Cond[] }> | undefined) ?? []) {
        if (p.controllerName !== CONTROLLER_NAME) continue;
        out.set(`HTTPRoute ${key} → Gateway ${p.parentRef.namespace ?? o.metadata.namespace}/${p.parentRef.name}`, {
          conditions: strip(p.conditions),
        });
      }
    } else if (o.kind === 'AgentgatewayPolicy') {
      for (const a of (st['ancestors'] as Array<{ ancestorRef: Ref; controllerName: string; conditions: Cond[] }> | undefined) ?? []) {
        if (a.controllerName !== CONTROLLER_NAME) continue;
        const anc =
          a.ancestorRef.name === 'StatusSummary' ? 'StatusSummary' : `Gateway ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`;
        out.set(`AgentgatewayPolicy ${key} → ${anc}`, { conditions: strip(a.conditions) });
      }
    }
  }
  return out;
}

/**
 * The trailing `Programmed=…` of a printed status line (local mode computes Programmed from its
 * in-process proxy and prints it last: on Gateway lines before ` (listeners: …)`).
 */
function printedProgrammed(line: string | undefined, gatewayLine: boolean): Cond | undefined {
  if (line === undefined) return undefined;
  const suffix = gatewayLine ? line.lastIndexOf(' (listeners: ') : -1;
  const body = suffix >= 0 ? line.slice(0, suffix) : line;
  const at = body.lastIndexOf('Programmed=');
  if (at < 0 || (at > 0 && body.slice(at - 2, at) !== '; ')) return undefined;
  const m = /^Programmed=(True|False) (\S+)(?: "(.*)")?$/.exec(body.slice(at));
  return m ? strip([{ type: 'Programmed', status: m[1] as string, reason: m[2] as string, message: m[3] ?? '' } as Cond])[0] : undefined;
}

/**
 * Local mode's statuses: its last translation (the conditions it prints), with the Programmed
 * condition it printed (from its /status endpoint) where the status writer adds one: the Gateway,
 * each of its listeners, and each policy's Gateway ancestor.
 */
async function localStatuses(gw: LocalGateway): Promise<{ statuses: Statuses; lines: Record<string, string> }> {
  const lines = JSON.parse((await request(gw.adminPort as number, { path: '/status' })).body) as Record<string, string>;
  const out = gw.lastOutput;
  if (out === undefined) throw new Error('local mode has no translation');
  const statuses: Statuses = new Map();
  for (const [name, cs] of out.status.gatewayClasses) statuses.set(`GatewayClass ${name}`, { conditions: strip(cs) });
  for (const [key, s] of out.status.gateways) {
    const programmed = printedProgrammed(lines[`Gateway ${key}`], true);
    const withP = (cs: readonly Cond[]) => [...strip(cs), ...(programmed ? [programmed] : [])];
    statuses.set(`Gateway ${key}`, { conditions: withP(s.conditions) });
    for (const l of s.listeners)
      statuses.set(`Gateway ${key} listener ${l.name}`, {
        conditions: withP(l.conditions),
        extra: { attachedRoutes: l.attachedRoutes, supportedKinds: l.supportedKinds },
      });
  }
  for (const [key, parents] of out.status.httpRoutes) {
    for (const p of parents)
      statuses.set(`HTTPRoute ${key} → Gateway ${p.parentRef.namespace}/${p.parentRef.name}`, { conditions: strip(p.conditions) });
  }
  for (const [key, ancestors] of out.status.policies) {
    for (const a of ancestors) {
      const anc =
        a.ancestorRef.name === 'StatusSummary' ? 'StatusSummary' : `Gateway ${a.ancestorRef.namespace ?? ''}/${a.ancestorRef.name}`;
      const lineKey = `AgentgatewayPolicy ${key} → ${anc}`;
      const programmed = anc === 'StatusSummary' ? undefined : printedProgrammed(lines[lineKey], false);
      statuses.set(lineKey, { conditions: [...strip(a.conditions), ...(programmed ? [programmed] : [])] });
    }
  }
  return { statuses, lines };
}

const show = (c: Cond | undefined) => (c === undefined ? '(absent)' : `${c.status} ${c.reason} ${JSON.stringify(c.message)}`);

/** Every difference, one line each: keys on one side only, conditions by type, listener counts and kinds. */
function differences(cluster: Statuses, localSt: Statuses): string[] {
  const diffs: string[] = [];
  for (const key of [...new Set([...cluster.keys(), ...localSt.keys()])].sort()) {
    const c = cluster.get(key);
    const l = localSt.get(key);
    if (c === undefined) {
      diffs.push(`${key}: only in local mode: ${l?.conditions.map((x) => `${x.type}=${show(x)}`).join('; ')}`);
      continue;
    }
    if (l === undefined) {
      diffs.push(`${key}: only in the cluster: ${c.conditions.map((x) => `${x.type}=${show(x)}`).join('; ')}`);
      continue;
    }
    const types = [...new Set([...c.conditions.map((x) => x.type), ...l.conditions.map((x) => x.type)])];
    for (const t of types) {
      const cc = c.conditions.find((x) => x.type === t);
      const lc = l.conditions.find((x) => x.type === t);
      if (cc?.status !== lc?.status || cc?.reason !== lc?.reason || cc?.message !== lc?.message) {
        diffs.push(`${key}: ${t}: cluster ${show(cc)} vs local ${show(lc)}`);
      }
    }
    const order = (s: { conditions: Cond[] }) => s.conditions.map((x) => x.type).join(',');
    if (order(c) !== order(l)) diffs.push(`${key}: condition order: cluster [${order(c)}] vs local [${order(l)}]`);
    if (JSON.stringify(c.extra) !== JSON.stringify(l.extra))
      diffs.push(`${key}: cluster ${JSON.stringify(c.extra)} vs local ${JSON.stringify(l.extra)}`);
  }
  return diffs;
}

beforeAll(async () => {
  upstream = await startEchoUpstream('lvc-backend');
  const objects = await manifests();
  // Local mode: the same objects, as one YAML file (no GatewayClass: local mode assumes it, as the
  // controller creates it when missing; the cluster has the chart's).
  dir = mkdtempSync(join(tmpdir(), 'agw-lvc-'));
  writeFileSync(join(dir, 'manifests.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  const silent = {
    level: 'silent',
    fatal() {},
    error() {},
    warn() {},
    info() {},
    debug() {},
    trace() {},
    silent() {},
    child: () => silent,
  } as unknown as LocalOptions['logger'];
  local = new LocalGateway({
    paths: [dir],
    portMap: new Map([[80, 0]]),
    host: '127.0.0.1',
    adminPort: 0,
    logger: silent,
    print: (l) => printed.push(l),
    watch: false,
  });
  await local.start();
  // The cluster: the same objects, the built controller (chart's ServiceAccount) and one proxy of the Gateway.
  expect((await kubectl(admin(), ['create', 'namespace', NS])).code).toBe(0);
  await apply(admin(), objects);
  controller = await startController({ kubeconfig: inject('controllerKubeconfig'), name: 'controller-lvc' });
  proxy = await startProxy({ adminKubeconfig: admin(), xdsPort: controller.xdsPort, gateway: `${NS}/${GW}`, name: 'proxy-lvc' });
}, 120_000);

afterAll(async () => {
  await local?.stop();
  await proxy?.stop();
  await controller?.stop();
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agw local and the cluster controller give the same statuses', () => {
  let cluster: Statuses;
  let localSt: Statuses;
  let lines: Record<string, string>;

  beforeAll(async () => {
    ({ statuses: localSt, lines } = await localStatuses(local as LocalGateway));
    // Settled: every entry local mode has is in the cluster with at least its condition types, the
    // proxy ACKed (Gateway Programmed=True), and two reads 1 s apart agree. If that never happens,
    // the comparison below says what differs (instead of a bare timeout).
    let previous = '';
    const settled = async () => {
      cluster = await clusterStatuses();
      const complete =
        [...localSt].every(([k, l]) => {
          const c = cluster.get(k);
          return c !== undefined && l.conditions.every((x) => c.conditions.some((y) => y.type === x.type));
        }) && cluster.get(`Gateway ${NS}/${GW}`)?.conditions.some((x) => x.type === 'Programmed' && x.status === 'True') === true;
      const now = JSON.stringify([...cluster]);
      const stable = complete && now === previous;
      previous = now;
      return stable;
    };
    await waitFor('cluster statuses settled', settled, 60_000, 1_000).catch(() => undefined);
  }, 90_000);

  it('the manifests exercise what they are meant to (the comparison is not vacuous)', () => {
    const cond = (key: string, type: string) => localSt.get(key)?.conditions.find((c) => c.type === type);
    expect(cond('GatewayClass agentgateway', 'Accepted')?.status).toBe('True');
    expect(cond(`Gateway ${NS}/${GW}`, 'Programmed')).toMatchObject({ status: 'True', reason: 'Programmed' });
    expect(cond(`HTTPRoute ${NS}/route-ok → Gateway ${NS}/${GW}`, 'ResolvedRefs')?.status).toBe('True');
    expect(cond(`HTTPRoute ${NS}/route-missing-backend → Gateway ${NS}/${GW}`, 'ResolvedRefs')).toMatchObject({
      status: 'False',
      reason: 'BackendNotFound',
    });
    expect(JSON.stringify(localSt.get(`HTTPRoute ${NS}/route-bad-regex → Gateway ${NS}/${GW}`)?.conditions)).toContain('(unclosed');
    expect(cond(`AgentgatewayPolicy ${NS}/valid-jwt → Gateway ${NS}/${GW}`, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(cond(`AgentgatewayPolicy ${NS}/invalid-jwks → Gateway ${NS}/${GW}`, 'Accepted')).toMatchObject({
      status: 'True',
      reason: 'PartiallyValid',
    });
    expect(cond(`AgentgatewayPolicy ${NS}/missing-target → StatusSummary`, 'Attached')).toMatchObject({
      status: 'False',
      reason: 'Pending',
    });
    expect(cond(`AgentgatewayPolicy ${NS}/claims-rbac-passthrough → Gateway ${NS}/${GW}`, 'Accepted')).toMatchObject({
      status: 'True',
      reason: 'Valid',
    });
    expect(cond(`AgentgatewayPolicy ${NS}/invalid-cel → Gateway ${NS}/${GW}`, 'Accepted')).toMatchObject({
      status: 'True',
      reason: 'PartiallyValid',
    });
    expect(cond(`AgentgatewayPolicy ${NS}/invalid-cel → Gateway ${NS}/${GW}`, 'Accepted')?.message).toContain(
      'authorization matchExpression is not a valid CEL expression: jwt.sub ==',
    );
    expect(localSt.size).toBe(2 + 1 + 3 + 6); // class, gateway, its listener, 3 routes, 6 policies
    // Every line local mode serves on /status is covered by the comparison (listeners ride on the Gateway's).
    expect(Object.keys(lines).sort()).toEqual([...localSt.keys()].filter((k) => !k.includes(' listener ')).sort());
  });

  it('the comparison itself fails on a difference (a missing entry, a condition, a listener count)', () => {
    const c = (message: string): Cond => ({ type: 'Accepted', status: 'True', reason: 'Accepted', message });
    const a: Statuses = new Map([
      ['Gateway x/g', { conditions: [c('one')] }],
      ['Gateway x/g listener l', { conditions: [], extra: { attachedRoutes: 1 } }],
      ['HTTPRoute x/r → Gateway x/g', { conditions: [] }],
    ]);
    const b: Statuses = new Map([
      ['Gateway x/g', { conditions: [c('two')] }],
      ['Gateway x/g listener l', { conditions: [], extra: { attachedRoutes: 2 } }],
    ]);
    expect(differences(a, b)).toEqual([
      'Gateway x/g: Accepted: cluster True Accepted "one" vs local True Accepted "two"',
      'Gateway x/g listener l: cluster {"attachedRoutes":1} vs local {"attachedRoutes":2}',
      'HTTPRoute x/r → Gateway x/g: only in the cluster: ',
    ]);
  });

  it('every condition of every object: same type, status, reason and message', () => {
    const diffs = differences(cluster, localSt);
    expect(diffs, `local mode and the cluster differ:\n${diffs.join('\n')}`).toEqual([]);
  });
});
