import { describe, expect, it } from 'vitest';
import { cpusOfQuota } from './cgroup-cpus.js';

describe('cpusOfQuota: the CPUs a cgroup quota allows, rounded up', () => {
  it('cgroup v2 cpu.max', () => {
    expect(cpusOfQuota('200000 100000\n')).toBe(2);
    expect(cpusOfQuota('150000 100000')).toBe(2);
    expect(cpusOfQuota('50000 100000')).toBe(1);
    expect(cpusOfQuota('max 100000\n')).toBeUndefined();
  });
  it("cgroup v1's cfs quota and period (-1: no quota)", () => {
    expect(cpusOfQuota(undefined, '400000\n', '100000\n')).toBe(4);
    expect(cpusOfQuota(undefined, '-1\n', '100000\n')).toBeUndefined();
  });
  it('absent or malformed: undefined (the CPUs Node sees decide)', () => {
    expect(cpusOfQuota(undefined)).toBeUndefined();
    expect(cpusOfQuota('garbage')).toBeUndefined();
    expect(cpusOfQuota('0 100000')).toBeUndefined();
    expect(cpusOfQuota('1e9 100000')).toBeUndefined();
  });
});
