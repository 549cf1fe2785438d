import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cgroupCpus } from './cgroup-cpus.js';
import { readSettings } from './settings.js';

const base = ['--config', 'x.yaml'];

describe('proxy settings: numeric flags are whole numbers in range, or refused at start', () => {
  it('defaults', () => {
    expect(readSettings(base, {})).toMatchObject({
      adminPort: 15000,
      drainMs: 5000,
      jwtCacheEntries: 10_000,
      workers: Math.min(availableParallelism(), cgroupCpus() ?? 64, 64),
      upstreamTimeoutMs: 30_000,
      refetchIntervalMs: 30_000,
      workerIndex: 0,
    });
  });
  it('flags, and env variables where no flag is given', () => {
    const s = readSettings([...base, '--drain-ms=0', '--jwt-cache-entries', '0', '--workers=2'], {
      AGW_UPSTREAM_TIMEOUT_MS: '1500',
      AGW_DRAIN_MS: '9',
      AGW_WORKER_INDEX: '1',
    });
    expect(s).toMatchObject({ drainMs: 0, jwtCacheEntries: 0, workers: 2, upstreamTimeoutMs: 1500, workerIndex: 1 });
  });
  it.each([
    [['--admin-port=70000'], {}, /^--admin-port takes a whole number \(a port number\) from 0 to 65535, not "70000"$/],
    [['--drain-ms=soon'], {}, /^--drain-ms takes a whole number \(ms\)/],
    [['--upstream-timeout-ms=-1'], {}, /^--upstream-timeout-ms takes a whole number \(ms\)/],
    [['--refetch-interval-ms=1.5'], {}, /^--refetch-interval-ms takes a whole number \(ms\)/],
    [['--jwt-cache-entries=lots'], {}, /^--jwt-cache-entries takes a whole number \(entries\)/],
    [['--workers=0'], {}, /^--workers takes a whole number \(worker processes\) from 1 to 64, not "0"$/],
    [[], { AGW_WORKERS: '65' }, /^--workers takes a whole number/],
    [[], { AGW_UPSTREAM_TIMEOUT_MS: '3e9' }, /^--upstream-timeout-ms takes a whole number/],
  ])('%j %j is refused', (argv, env, message) => {
    expect(() => readSettings([...base, ...argv], env)).toThrow(message);
  });
});
