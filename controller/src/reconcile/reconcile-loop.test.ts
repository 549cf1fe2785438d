import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KeyStore } from '../jwks/key-store.js';
import type { InformerSet } from '../kube/informers.js';
import type { ControllerMetrics } from '../metrics.js';
import type { ConfigServer } from '../push/config-server.js';
import type { StatusWriter } from '../status/status-writer.js';
import { ReconcileLoop } from './reconcile-loop.js';

describe('ReconcileLoop', () => {
  it("lets the event loop turn between pushing configs and the leader's status work (pushes leave on that turn)", async () => {
    const order: string[] = [];
    const loop = new ReconcileLoop({
      informers: { synced: true, list: () => [] } as unknown as InformerSet,
      keys: {
        keys: () => new Map(),
        errors: () => new Map(),
        sync: () => undefined,
        persist: async () => undefined,
      } as unknown as KeyStore,
      configServer: {
        update: () => {
          order.push('configs pushed');
          setImmediate(() => order.push('event loop turned'));
        },
      } as unknown as ConfigServer,
      statuses: { update: () => order.push('statuses queued') } as unknown as StatusWriter,
      deployer: undefined,
      metrics: {
        reconcileDuration: { startTimer: () => () => 0 },
        gatewayConfigs: { inc: () => undefined },
        reconciles: { inc: () => undefined },
      } as unknown as ControllerMetrics,
      logger: pino({ level: 'silent' }),
      controllerName: 'agentgateway.dev/agentgateway',
      isLeader: () => true,
    });
    loop.schedule();
    await loop.settled();
    expect(order).toEqual(['configs pushed', 'event loop turned', 'statuses queued']);
  });
});
