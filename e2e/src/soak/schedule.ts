/**
 * When the soak injects its faults: pure. One cycle of faults spans the run, or 30 minutes of it
 * when the run is longer (then the cycle repeats). Each fault starts at its offset in the cycle or
 * when the one before it has ended, whichever is later: faults never overlap, so each phase's
 * numbers belong to one fault.
 */
export const FAULTS = [
  'churn', // 200 objects of another namespace created, updated, deleted
  'bad-tenant', // another tenant applies an HTTPRoute and a policy that are invalid
  'key-rotation', // Keycloak gets a new signing key of higher priority; tokens are refreshed
  'old-key-removed', // the previous signing key is removed from the realm
  'leader-killed', // the controller leader gets SIGKILL; the other replica takes over; it restarts as standby
  'apiserver-restart', // kube-apiserver stopped and started (etcd keeps the data)
  'proxy-restart', // one proxy drains (SIGTERM) and a new one starts on its port
  'keycloak-down', // Keycloak stopped, then started again with its data
] as const;
export type Fault = (typeof FAULTS)[number];

export interface ScheduledFault {
  readonly fault: Fault;
  /** Earliest start, ms after the load started. */
  readonly atMs: number;
}

/** The longest cycle of faults, ms (a 60-minute run sees every fault twice). */
export const CYCLE_MAX_MS = 30 * 60_000;

/** Where each fault falls in its cycle (fraction of the cycle); the last tenth is quiet, to measure recovery. */
const OFFSETS: Readonly<Record<Fault, number>> = {
  churn: 0.04,
  'bad-tenant': 0.12,
  'key-rotation': 0.2,
  'old-key-removed': 0.3,
  'leader-killed': 0.4,
  'apiserver-restart': 0.5,
  'proxy-restart': 0.6,
  'keycloak-down': 0.68,
};

export function faultSchedule(durationMs: number): ScheduledFault[] {
  const cycle = Math.min(durationMs, CYCLE_MAX_MS);
  const cycles = Math.max(1, Math.floor(durationMs / cycle));
  const out: ScheduledFault[] = [];
  for (let c = 0; c < cycles; c++) for (const fault of FAULTS) out.push({ fault, atMs: Math.round(c * cycle + OFFSETS[fault] * cycle) });
  return out;
}

/** How long Keycloak stays stopped: 2 minutes, or a tenth of a shorter cycle (18 s in the 3-minute form). */
export function keycloakDownMs(durationMs: number): number {
  return Math.min(120_000, Math.round(Math.min(durationMs, CYCLE_MAX_MS) / 10));
}
