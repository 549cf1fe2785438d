import { KubeError, type KubeRest } from './kube-rest.js';

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity (pod name). */
  readonly identity: string;
  /** How long a lease lasts without renewal, ms (default 15 000, as client-go). */
  readonly leaseDurationMs: number;
  /** Renewal period, ms (default 5 000). */
  readonly renewEveryMs: number;
  readonly now: () => number;
  readonly onChange: (leader: boolean) => void;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

const micro = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * coordination.k8s.io/v1 Lease election. A replica holds the lease while it renews it; others
 * take it over once it has not been renewed for `leaseDurationMs`. Updates are conditional on
 * resourceVersion, so two replicas never both believe they won.
 */
export class LeaderElector {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private leader = false;
  private stopped = false;

  constructor(
    private readonly rest: KubeRest,
    private readonly o: LeaderElectionOptions,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    void this.tick();
  }

  /** Stops renewing; a leader gives the lease up at once so another replica takes over quickly. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leader) {
      try {
        const lease = await this.read();
        if (lease?.spec.holderIdentity === this.o.identity) {
          await this.rest.call('PUT', this.path(), { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
        }
      } catch {
        /* best effort */
      }
      this.set(false);
    }
  }

  private path(name = this.o.name) {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${name}`;
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return (await this.rest.get<Lease>(this.path())).body;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.o.log('info', leader ? 'became leader' : 'lost leadership', {
      lease: `${this.o.namespace}/${this.o.name}`,
      identity: this.o.identity,
    });
    this.o.onChange(leader);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const now = this.o.now();
      const lease = await this.read();
      const spec = {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
        renewTime: micro(now),
      };
      if (lease === undefined) {
        await this.rest.call('POST', `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...spec, acquireTime: micro(now), leaseTransitions: 0 },
        });
        this.set(true);
      } else {
        const holder = lease.spec.holderIdentity ?? '';
        const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
        const expired = now - renewed > (lease.spec.leaseDurationSeconds ?? 15) * 1000;
        if (holder === this.o.identity || holder === '' || expired) {
          const transitions = (lease.spec.leaseTransitions ?? 0) + (holder === this.o.identity ? 0 : 1);
          await this.rest.call('PUT', this.path(), {
            ...lease,
            spec: {
              ...lease.spec,
              ...spec,
              leaseTransitions: transitions,
              ...(holder === this.o.identity ? {} : { acquireTime: micro(now) }),
            },
          });
          this.set(true);
        } else {
          this.set(false);
        }
      }
    } catch (err) {
      // A conflict means another replica wrote first; any other error: we cannot prove we lead.
      if (!(err instanceof KubeError && err.status === 409)) this.o.log('warn', 'lease renewal failed', { error: (err as Error).message });
      this.set(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.o.renewEveryMs);
  }
}
