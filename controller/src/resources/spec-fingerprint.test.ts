import { describe, expect, it } from 'vitest';
import { withoutStatusFingerprint } from './spec-fingerprint.js';

const policy = (o: { rv?: string; status?: unknown; labels?: Record<string, string>; generation?: number; spec?: unknown } = {}) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: {
    name: 'p',
    namespace: 'n',
    uid: 'u1',
    generation: o.generation ?? 1,
    resourceVersion: o.rv ?? '10',
    labels: o.labels ?? { team: 'a' },
    managedFields: [{ manager: o.rv ?? 'kubectl' }],
  },
  spec: o.spec ?? { targetRefs: [{ kind: 'Gateway', name: 'gw' }] },
  ...(o.status !== undefined ? { status: o.status } : {}),
});

describe('withoutStatusFingerprint: what tells a status-only update from a change', () => {
  it('a status write (new status, resourceVersion and managedFields) leaves it equal', () => {
    expect(withoutStatusFingerprint(policy({ rv: '11', status: { ancestors: [{ x: 1 }] } }))).toBe(withoutStatusFingerprint(policy()));
  });
  it('spec, generation and labels (policy selectors read them) each change it', () => {
    const base = withoutStatusFingerprint(policy());
    expect(withoutStatusFingerprint(policy({ spec: { targetRefs: [] } }))).not.toBe(base);
    expect(withoutStatusFingerprint(policy({ generation: 2 }))).not.toBe(base);
    expect(withoutStatusFingerprint(policy({ labels: { team: 'b' } }))).not.toBe(base);
  });
});
