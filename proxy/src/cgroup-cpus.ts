import { readFileSync } from 'node:fs';

/**
 * CPUs a cgroup CPU quota allows, rounded up: cgroup v2 `cpu.max` ("<quota> <period>", or "max
 * <period>" for none) or cgroup v1's `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1 for none).
 * Undefined when there is no quota or the text is not one (then the CPUs Node sees decide).
 */
export function cpusOfQuota(cpuMax: string | undefined, v1Quota?: string, v1Period?: string): number | undefined {
  const fromV2 = cpuMax?.trim().split(/\s+/);
  const [quota, period] = fromV2 !== undefined && fromV2.length === 2 ? fromV2 : [v1Quota?.trim(), v1Period?.trim()];
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined;
  const q = Number(quota),
    p = Number(period);
  return q > 0 && p > 0 ? Math.max(1, Math.ceil(q / p)) : undefined;
}

/** This process's cgroup CPU quota in CPUs (the edge of cpusOfQuota: reads /sys/fs/cgroup), or undefined. */
export function cgroupCpus(): number | undefined {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  return cpusOfQuota(
    read('/sys/fs/cgroup/cpu.max'),
    read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'),
    read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'),
  );
}
