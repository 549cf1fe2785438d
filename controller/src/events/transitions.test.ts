import { describe, expect, it } from 'vitest';
import { transitionEvents } from './transitions.js';

const ME = 'agentgateway.dev/agentgateway';
const ancestor = (reason: string, message: string, controllerName = ME) => ({
  ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'ns', name: 'gw' },
  controllerName,
  conditions: [{ type: 'Accepted', status: 'True', reason, message }],
});
const policy = (...a: unknown[]) => ({ ancestors: a });

describe('transitionEvents: which status writes need a human', () => {
  it('a policy becoming PartiallyValid is a Warning with the reason; the same status again is none', () => {
    const bad = policy(ancestor('PartiallyValid', 'provider 0 (issuer "x"): invalid inline JWKS'));
    expect(transitionEvents('AgentgatewayPolicy', policy(ancestor('Valid', 'Policy accepted')), bad, ME)).toEqual([
      { type: 'Warning', reason: 'PolicyPartiallyValid', note: 'Gateway ns/gw: provider 0 (issuer "x"): invalid inline JWKS' },
    ]);
    expect(transitionEvents('AgentgatewayPolicy', bad, bad, ME)).toEqual([]);
  });

  it('a new policy that is already PartiallyValid is reported; a new valid one is not', () => {
    expect(transitionEvents('AgentgatewayPolicy', undefined, policy(ancestor('PartiallyValid', 'm')), ME)).toHaveLength(1);
    expect(transitionEvents('AgentgatewayPolicy', undefined, policy(ancestor('Valid', 'Policy accepted')), ME)).toEqual([]);
  });

  it('a changed problem is reported again; recovery is a Normal event', () => {
    expect(
      transitionEvents('AgentgatewayPolicy', policy(ancestor('PartiallyValid', 'a')), policy(ancestor('PartiallyValid', 'b')), ME)[0]?.note,
    ).toBe('Gateway ns/gw: b');
    expect(
      transitionEvents('AgentgatewayPolicy', policy(ancestor('Invalid', 'a')), policy(ancestor('Valid', 'Policy accepted')), ME),
    ).toEqual([{ type: 'Normal', reason: 'PolicyValid', note: 'Gateway ns/gw: Accepted=True Valid' }]);
  });

  it("other controllers' entries are not ours to report", () => {
    expect(transitionEvents('AgentgatewayPolicy', undefined, policy(ancestor('PartiallyValid', 'm', 'example.com/other')), ME)).toEqual([]);
  });

  it('a route rule refused, a class with bad parameters, a config a proxy rejected', () => {
    const parents = (reason: string) => ({
      parents: [
        {
          parentRef: { name: 'gw' },
          controllerName: ME,
          conditions: [{ type: 'Accepted', status: 'False', reason, message: 'rule 0: …' }],
        },
      ],
    });
    expect(transitionEvents('HTTPRoute', undefined, parents('UnsupportedValue'), ME).map((e) => e.reason)).toEqual(['RouteRuleRejected']);
    expect(
      transitionEvents(
        'GatewayClass',
        { conditions: [] },
        { conditions: [{ type: 'Accepted', status: 'False', reason: 'InvalidParameters', message: 'x' }] },
        ME,
      ).map((e) => e.reason),
    ).toEqual(['InvalidParameters']);
    expect(
      transitionEvents(
        'Gateway',
        { conditions: [{ type: 'Programmed', status: 'False', reason: 'Rejected', message: 'x' }] },
        { conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed', message: 'ok' }] },
        ME,
      ),
    ).toEqual([{ type: 'Normal', reason: 'ConfigApplied', note: 'Programmed=True Programmed' }]);
  });

  it('an AgentgatewayBackend becoming invalid is BackendInvalid (not a policy event); fixed, BackendValid', () => {
    const invalid = {
      conditions: [{ type: 'Accepted', status: 'False', reason: 'Invalid', message: 'static.host "a b" is not a host name or IP address' }],
    };
    const ok = { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Backend accepted' }] };
    expect(transitionEvents('AgentgatewayBackend', ok, invalid, ME)).toEqual([
      { type: 'Warning', reason: 'BackendInvalid', note: 'static.host "a b" is not a host name or IP address' },
    ]);
    expect(transitionEvents('AgentgatewayBackend', invalid, ok, ME)).toEqual([
      { type: 'Normal', reason: 'BackendValid', note: 'Accepted=True Accepted' },
    ]);
  });
});
