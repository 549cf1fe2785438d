import { parseQuantity } from './quantity.js';

/** Memory one proxy worker is given room for, MiB (RSS ~80 MiB idle, ~120 MiB under load, at 10–1,000 routes: bench/README.md "npm run bench:memory"). */
export const WORKER_MIB = 160;
/** Share of the container's memory limit given to V8's old space across workers (the rest: code, buffers, young generation). */
const HEAP_SHARE = 0.6;
/** The proxy binary's own bound on --workers. */
const MAX_WORKERS = 64;
/** Largest heap flag written, MiB (4 TiB): an absurd memory limit (`1e300`) must not print as `5.7e+299`, which Node refuses. */
const MAX_HEAP_MIB = 4 * 2 ** 20;

export interface ProxySizing {
  /** `--workers`. */
  readonly workers: number;
  /** `--max-old-space-size` of each worker, MiB; undefined leaves V8's default. */
  readonly maxOldSpaceMiB?: number;
}

/**
 * Worker processes and heap per worker for a proxy container, from its resources. Node sees the
 * node's CPUs and memory, not the container's: on a 32-core node the binary's default would start
 * 32 workers of ~130 MiB in a 512Mi container, and V8 would size each heap from the node's memory.
 * So: one worker per CPU of the limit (else of the request), rounded up, one when neither is set;
 * no more than the memory limit holds at WORKER_MIB each, at least one; each worker's old space
 * HEAP_SHARE of the memory limit divided among them (V8's default without a memory limit).
 */
export function proxySizing(resources: {
  requests?: Record<string, string> | undefined;
  limits?: Record<string, string> | undefined;
}): ProxySizing {
  const cpu = parseQuantity(resources.limits?.['cpu']) ?? parseQuantity(resources.requests?.['cpu']);
  const memoryBytes = parseQuantity(resources.limits?.['memory']);
  const memoryMiB = memoryBytes !== undefined && memoryBytes > 0 ? memoryBytes / 2 ** 20 : undefined;
  const byCpu = cpu !== undefined && cpu > 0 ? Math.ceil(cpu) : 1;
  const byMemory = memoryMiB !== undefined ? Math.floor(memoryMiB / WORKER_MIB) : MAX_WORKERS;
  const workers = Math.max(1, Math.min(byCpu, byMemory, MAX_WORKERS));
  return {
    workers,
    ...(memoryMiB !== undefined
      ? { maxOldSpaceMiB: Math.min(MAX_HEAP_MIB, Math.max(16, Math.floor((memoryMiB * HEAP_SHARE) / workers))) }
      : {}),
  };
}
