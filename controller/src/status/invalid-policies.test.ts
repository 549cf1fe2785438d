import { describe, expect, it } from 'vitest';
import { invalidPolicyStatus } from './invalid-policies.js';

describe('invalidPolicyStatus', () => {
  it('gives an unparseable policy a StatusSummary Accepted=False Invalid with the reasons; other kinds are ignored', () => {
    const out = invalidPolicyStatus(
      [
        {
          ref: 'AgentgatewayPolicy ns/p',
          issues: [{ path: ['spec', 'traffic'], message: 'unknown field "spec.traffic.rateLimit"' }],
          object: { metadata: { generation: 3 } },
        },
        { ref: 'Service ns/s', issues: [{ path: ['spec'], message: 'bad' }], object: {} },
      ],
      'agentgateway.dev/agentgateway',
    );
    expect([...out.keys()]).toEqual(['ns/p']);
    expect(out.get('ns/p')).toEqual([
      {
        ancestorRef: { group: 'agentgateway.dev', kind: 'Gateway', name: 'StatusSummary' },
        controllerName: 'agentgateway.dev/agentgateway',
        conditions: [
          {
            type: 'Accepted',
            status: 'False',
            reason: 'Invalid',
            message: 'policy does not parse: spec.traffic: unknown field "spec.traffic.rateLimit"',
            observedGeneration: 3,
          },
        ],
      },
    ]);
  });
});
