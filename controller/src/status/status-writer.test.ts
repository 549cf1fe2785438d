import { GATEWAY_API_GROUP } from '@agw/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KubeRest } from '../kube/kube-rest.js';
import { ControllerMetrics } from '../metrics.js';
import { cond, type TranslateOutput } from '../translate/model.js';
import type { GatewayProgramming } from './programmed.js';
import { PENDING_GRACE_MS, StatusWriter, type StatusObject } from './status-writer.js';

/**
 * The status writer's Programmed while proxies apply a new config: a config applied within
 * PENDING_GRACE_MS is one write (True with its version), not Pending then True; a slower one is
 * written Pending when the grace ends; a NACK at once. The API server is a recording store here
 * (the writer's calls and the objects they leave), so the timings can be driven with fake timers;
 * the e2e suites run the writer against a real API server, without these timings.
 */
const CONTROLLER = 'agentgateway.dev/agentgateway';
const GW = 'ns/gw';
const POLICY = 'ns/p';

let objects: Map<string, StatusObject>;
let writes: Array<{ path: string; status: Record<string, unknown> }>;
let programming: GatewayProgramming;
let nowMs: number;
let writer: StatusWriter;

const rest = {
  mergePatch: (path: string, body: { metadata: { resourceVersion: string }; status: Record<string, unknown> }) => {
    writes.push({ path, status: body.status });
    const key = path.includes('/gateways/') ? `gateways ${GW}` : `policies ${POLICY}`;
    const cur = objects.get(key) as StatusObject;
    const next = { metadata: { ...cur.metadata, resourceVersion: String(Number(cur.metadata.resourceVersion) + 1) }, status: body.status };
    objects.set(key, next);
    return Promise.resolve({ status: 200, body: next });
  },
} as unknown as KubeRest;

const output = (withPolicy: boolean): TranslateOutput =>
  ({
    status: {
      gateways: new Map([[GW, { conditions: [cond('Accepted', true, 'Accepted', 'Accepted by agentgateway-ts', 1)], listeners: [] }]]),
      policies: new Map(
        withPolicy
          ? [
              [
                POLICY,
                [
                  {
                    ancestorRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: 'ns', name: 'gw' },
                    controllerName: CONTROLLER,
                    conditions: [cond('Accepted', true, 'Valid', 'Policy accepted', 1)],
                  },
                ],
              ],
            ]
          : [],
      ),
      httpRoutes: new Map(),
      gatewayClasses: new Map(),
      parameters: new Map(),
      backendTlsPolicies: new Map(),
      agentgatewayBackends: new Map(),
    },
  }) as unknown as TranslateOutput;

/** The Programmed condition of the last write to the Gateway (or the policy's Gateway ancestor). */
const lastProgrammed = (of: 'gateway' | 'policy') => {
  const w = writes.filter((x) => x.path.includes(of === 'gateway' ? '/gateways/' : '/agentgatewaypolicies/')).at(-1);
  const conditions =
    of === 'gateway'
      ? (w?.status['conditions'] as Array<{ type: string }> | undefined)
      : (w?.status['ancestors'] as Array<{ conditions: Array<{ type: string }> }> | undefined)?.[0]?.conditions;
  return conditions?.find((c) => c.type === 'Programmed');
};

/** A new config version `v` that `acked` of 1 proxy applied; the writer hears of it as from the config server. */
const proxies = (version: string, acked: number, nacks: GatewayProgramming['nacks'] = []) => {
  programming = { proxies: 1, version, acked, nacks, warnings: [] };
  writer.programmingChanged(GW);
  return writer.idle();
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  nowMs = Date.UTC(2026, 10, 30);
  writes = [];
  objects = new Map([
    [`gateways ${GW}`, { metadata: { name: 'gw', namespace: 'ns', resourceVersion: '1', generation: 1 } }],
    [`policies ${POLICY}`, { metadata: { name: 'p', namespace: 'ns', resourceVersion: '1', generation: 1 } }],
  ]);
  programming = { proxies: 1, version: 'v1', acked: 1, nacks: [], warnings: [] };
  writer = new StatusWriter({
    rest,
    metrics: new ControllerMetrics({
      queueDepth: () => 0,
      connectedProxies: () => 1,
      leader: () => true,
      jwks: () => [],
      now: () => nowMs,
    }),
    controllerName: CONTROLLER,
    now: () => nowMs,
    cached: (ref) => objects.get(`${ref.resource} ${ref.namespace}/${ref.name}`),
    isLeader: () => true,
    programming: () => programming,
    log: () => undefined,
  });
});

afterEach(() => {
  writer.stop();
  vi.useRealTimers();
});

describe('Programmed while proxies apply a new config', () => {
  it('a config applied within the grace: one write, True with the new version (no Pending between)', async () => {
    writer.update(output(false), []);
    await writer.idle();
    expect(writes).toHaveLength(1);
    expect(lastProgrammed('gateway')).toMatchObject({ status: 'True', message: 'config v1 applied by 1 proxy' });

    await proxies('v2', 0);
    expect(writes).toHaveLength(1); // held back: the proxy is applying v2
    nowMs += 30;
    await proxies('v2', 1);
    expect(writes).toHaveLength(2);
    expect(lastProgrammed('gateway')).toMatchObject({ status: 'True', message: 'config v2 applied by 1 proxy' });
  });

  it('a config not applied within the grace: Pending when it ends, then True when applied', async () => {
    writer.update(output(false), []);
    await writer.idle();
    await proxies('v2', 0);
    expect(writes).toHaveLength(1);
    nowMs += PENDING_GRACE_MS;
    await vi.advanceTimersByTimeAsync(PENDING_GRACE_MS);
    await writer.idle();
    expect(writes).toHaveLength(2);
    expect(lastProgrammed('gateway')).toMatchObject({ status: 'False', reason: 'Pending', message: '0 of 1 proxies applied config v2' });
    await proxies('v2', 1);
    expect(lastProgrammed('gateway')).toMatchObject({ status: 'True', message: 'config v2 applied by 1 proxy' });
  });

  it('a proxy that refuses the config (NACK): written at once', async () => {
    writer.update(output(false), []);
    await writer.idle();
    await proxies('v2', 0, [{ proxy: 'p1', reason: 'bad config' }]);
    expect(writes).toHaveLength(2);
    expect(lastProgrammed('gateway')).toMatchObject({ status: 'False', reason: 'Rejected', message: 'proxy p1: bad config' });
  });

  it('a new policy on a Gateway applying a config: its first status says Programmed True once applied', async () => {
    programming = { proxies: 1, version: 'v2', acked: 0, nacks: [], warnings: [] };
    writer.update(output(true), []);
    await writer.idle();
    expect(writes).toHaveLength(0); // the Gateway and the policy wait for the proxy
    nowMs += 40;
    await proxies('v2', 1);
    expect(writes.map((w) => w.path.split('/').at(-2))).toEqual(['gw', 'p']);
    expect(lastProgrammed('policy')).toMatchObject({ status: 'True', reason: 'Programmed', message: 'applied by 1 proxy' });
  });

  it('new versions every few hundred ms that the proxy never applies: Pending once the grace since the first has passed', async () => {
    writer.update(output(false), []);
    await writer.idle();
    for (const v of ['v2', 'v3', 'v4']) {
      await proxies(v, 0);
      nowMs += 400;
      await vi.advanceTimersByTimeAsync(400);
      await writer.idle();
    }
    // 1.2 s after v2 the proxy has applied none of v2…v4: the grace did not restart with v3 and v4.
    expect(writes).toHaveLength(2);
    expect(lastProgrammed('gateway')).toMatchObject({ status: 'False', reason: 'Pending', message: '0 of 1 proxies applied config v4' });
  });
});
