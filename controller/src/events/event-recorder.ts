import type { KubeRest } from '../kube/kube-rest.js';
import type { TransitionEvent } from './transitions.js';

/** The object an event is about (kubectl describe finds events by kind, namespace, name and uid). */
export interface EventSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface EventRecorderOptions {
  readonly rest: KubeRest;
  /** reportingController, e.g. agentgateway.dev/agentgateway. */
  readonly controller: string;
  /** reportingInstance: this controller's identity. */
  readonly instance: string;
  /** ms since the epoch. */
  readonly now: () => number;
  readonly log: (level: 'warn', msg: string, fields: Record<string, unknown>) => void;
  /** The same event (subject, reason, note) is recorded at most once per this long, ms (default 10 min). */
  readonly dedupMs?: number;
  /** At most this many events per minute in all (default 30): a flapping cluster cannot flood the API server. */
  readonly perMinute?: number;
}

/**
 * Records Kubernetes Events (events.k8s.io/v1) for transitions that need a human. Deduplicated
 * (the same event at most once per dedupMs), rate-limited (perMinute in all), fire-and-forget:
 * a failed write is logged, never retried, never thrown into a reconcile.
 */
export class EventRecorder {
  private readonly recent = new Map<string, number>();
  private windowStartMs = 0;
  private inWindow = 0;
  private dropped = 0;
  private sequence = 0;

  constructor(private readonly o: EventRecorderOptions) {}

  record(subject: EventSubject, e: TransitionEvent): void {
    const now = this.o.now();
    const key = `${subject.kind}/${subject.namespace}/${subject.name}/${e.reason}/${e.note}`;
    const last = this.recent.get(key);
    if (last !== undefined && now - last < (this.o.dedupMs ?? 600_000)) return;
    if (now - this.windowStartMs >= 60_000) {
      if (this.dropped > 0) this.o.log('warn', 'events dropped by the rate limit', { dropped: this.dropped });
      this.windowStartMs = now;
      this.inWindow = 0;
      this.dropped = 0;
    }
    if (this.inWindow >= (this.o.perMinute ?? 30)) {
      this.dropped++;
      return;
    }
    this.inWindow++;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) for (const [k, t] of this.recent) if (now - t >= (this.o.dedupMs ?? 600_000)) this.recent.delete(k);
    // Events about cluster-scoped objects (GatewayClass) live in `default`, as the API server requires.
    const ns = subject.namespace === '' ? 'default' : subject.namespace;
    // As kubelet names its events: the object's name and a unique hex suffix (generateName's prefix must itself be a valid name).
    const name = `${subject.name.slice(0, 200)}.${now.toString(16)}${(this.sequence++ % 0x10000).toString(16).padStart(4, '0')}`;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      // MicroTime: RFC 3339 with microseconds.
      eventTime: new Date(now).toISOString().replace('Z', '000Z'),
      reportingController: this.o.controller,
      reportingInstance: this.o.instance.slice(0, 128),
      action: e.type === 'Warning' ? 'Rejected' : 'Accepted',
      reason: e.reason,
      type: e.type,
      note: e.note.length > 1024 ? `${e.note.slice(0, 1021)}...` : e.note,
      regarding: {
        apiVersion: subject.apiVersion,
        kind: subject.kind,
        namespace: subject.namespace === '' ? undefined : subject.namespace,
        name: subject.name,
        ...(subject.uid ? { uid: subject.uid } : {}),
      },
    };
    this.o.rest.call('POST', `/apis/events.k8s.io/v1/namespaces/${ns}/events`, body).catch((err: unknown) => {
      this.o.log('warn', 'could not record event', {
        reason: e.reason,
        object: `${subject.kind} ${ns}/${subject.name}`,
        error: (err as Error).message,
      });
    });
  }
}
