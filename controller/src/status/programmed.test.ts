import { describe, expect, it } from 'vitest';
import { policyProgrammedCondition, policyProgrammingSummary, type GatewayProgramming } from './programmed.js';

const acked: GatewayProgramming = { proxies: 2, version: 'v2', acked: 2, nacks: [], warnings: [] };
const pending: GatewayProgramming = { ...acked, acked: 1 };
const trueAt = (observedGeneration: number) => ({
  status: 'True',
  reason: 'Programmed',
  message: 'applied by 2 proxies',
  observedGeneration,
});

describe('policyProgrammedCondition', () => {
  it('applied by every proxy: True, without the config version', () => {
    expect(policyProgrammedCondition('d/gw', acked, 3, undefined)).toEqual({
      type: 'Programmed',
      status: 'True',
      reason: 'Programmed',
      message: 'applied by 2 proxies',
      observedGeneration: 3,
    });
  });

  it('a new config not applied everywhere yet: a policy Programmed at this generation stays so', () => {
    expect(policyProgrammedCondition('d/gw', pending, 3, trueAt(3))).toMatchObject({ status: 'True', message: 'applied by 2 proxies' });
  });

  it('keeping True never keeps a message someone else wrote', () => {
    const spoofed = { ...trueAt(3), message: 'applied by 1000 proxies, all good' };
    expect(policyProgrammedCondition('d/gw', pending, 3, spoofed).message).toBe('applied by 2 proxies');
  });

  it('a new generation of the policy waits for the proxies', () => {
    expect(policyProgrammedCondition('d/gw', pending, 4, trueAt(3))).toMatchObject({
      status: 'False',
      reason: 'Pending',
      message: "1 of 2 proxies applied the Gateway's current config",
      observedGeneration: 4,
    });
    expect(policyProgrammedCondition('d/gw', pending, 4, undefined)).toMatchObject({ status: 'False', reason: 'Pending' });
  });

  it('no proxy, or a NACK: False whatever it was', () => {
    expect(policyProgrammedCondition('d/gw', { ...acked, proxies: 0, acked: 0 }, 3, trueAt(3))).toMatchObject({
      status: 'False',
      message: 'no proxy of Gateway d/gw is connected',
    });
    expect(policyProgrammedCondition('d/gw', { ...pending, nacks: [{ proxy: 'p1', reason: 'bad' }] }, 3, trueAt(3))).toMatchObject({
      status: 'False',
      reason: 'Rejected',
      message: 'proxy p1: bad',
    });
  });

  it('what proxies left out is said', () => {
    const p = { ...acked, warnings: [{ proxy: 'p1', warning: 'route d/r/0/0 left out' }] };
    expect(policyProgrammedCondition('d/gw', p, 1, undefined).message).toBe('applied by 2 proxies; left out: route d/r/0/0 left out');
  });
});

describe('policyProgrammingSummary', () => {
  it('a new version and its ACKs do not change it; proxies, NACKs and warnings do', () => {
    const s = policyProgrammingSummary(acked);
    expect(policyProgrammingSummary({ ...pending, version: 'v3' })).toBe(s);
    expect(policyProgrammingSummary({ ...acked, proxies: 3 })).not.toBe(s);
    expect(policyProgrammingSummary({ ...acked, nacks: [{ proxy: 'p', reason: 'r' }] })).not.toBe(s);
    expect(policyProgrammingSummary({ ...acked, warnings: [{ proxy: 'p', warning: 'w' }] })).not.toBe(s);
  });
});
