import { WATCHED } from '../kube/resources.js';
import type { ObjectRef } from '../kube/object-ref.js';
import type { StatusObject } from '../status/status-writer.js';
import type { EventRecorder } from './event-recorder.js';
import { transitionEvents } from './transitions.js';

/**
 * What the controller tells a human through Events, from two sources: status transitions that need
 * one (transitions.ts decides which), and a JWKS URL whose fetches start failing or recover (one
 * Event per policy that uses it). Leader only; the recorder deduplicates and rate-limits.
 */
export class ControllerEvents {
  constructor(
    private readonly o: {
      readonly recorder: EventRecorder;
      readonly controllerName: string;
      readonly isLeader: () => boolean;
      /** The cached policy object (for its uid), by namespace and name. */
      readonly policy: (namespace: string, name: string) => StatusObject | undefined;
    },
  ) {}

  /** A status was written: the transitions of it that need a human. */
  statusWritten(ref: ObjectRef, before: StatusObject, status: Record<string, unknown>): void {
    const kind = WATCHED[ref.resource];
    for (const e of transitionEvents(kind.kind, before.status, status, this.o.controllerName)) {
      this.o.recorder.record(
        {
          apiVersion: kind.apiVersion,
          kind: kind.kind,
          namespace: ref.namespace,
          name: ref.name,
          ...(before.metadata.uid ? { uid: before.metadata.uid } : {}),
        },
        e,
      );
    }
  }

  /** A JWKS URL's fetch failed after succeeding, or succeeded after failing; `owners` are `AgentgatewayPolicy/<ns>/<name>#…`. */
  jwksFetchTransition(url: string, ok: boolean, owners: readonly string[], error: string | undefined): void {
    if (!this.o.isLeader()) return;
    for (const owner of new Set(owners.map((w) => w.split('#', 1)[0] as string))) {
      const [, ns = '', name = ''] = owner.split('/');
      const policy = this.o.policy(ns, name);
      this.o.recorder.record(
        {
          apiVersion: WATCHED.policies.apiVersion,
          kind: 'AgentgatewayPolicy',
          namespace: ns,
          name,
          ...(policy?.metadata.uid ? { uid: policy.metadata.uid } : {}),
        },
        ok
          ? { type: 'Normal', reason: 'JwksFetchRecovered', note: `jwks keyset for "${url}" fetched again` }
          : {
              type: 'Warning',
              reason: 'JwksFetchFailed',
              note: `jwks keyset for "${url}" could not be fetched (last known good keys, if any, keep serving): ${error ?? 'unknown error'}`,
            },
      );
    }
  }
}
