import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { retryDelayMs } from '../backoff.js';
import { KubeError, type KubeRest } from './kube-rest.js';
import { WATCHED, type WatchedName, type WatchedResource } from './resources.js';
import { withoutStatusFingerprint } from '../resources/spec-fingerprint.js';

export interface InformerEvents {
  /** Any add, update or delete: the caller enqueues a (coalesced) reconcile. */
  readonly onChange: (resource: WatchedName) => void;
  /**
   * An update of an object whose status we write that changed nothing but its status (our own
   * status writes, mostly): no reconcile can change a config or a status for it, so the caller only
   * re-checks that object's status (someone else may have overwritten ours). Without this handler
   * such updates are changes like any other.
   */
  readonly onStatusOnly?: (resource: WatchedName, namespace: string, name: string) => void;
  readonly onError: (resource: WatchedName, err: unknown, retryInMs: number) => void;
  /** All informers have listed once (the cache is complete enough to translate). */
  readonly onSynced: () => void;
  /** An optional kind became unserved by the API server (404 on list): treated as empty until it is served. */
  readonly onMissing?: (resource: WatchedName, kind: string) => void;
  readonly random?: () => number;
}

type Cached = KubernetesObject & Record<string, unknown>;

/**
 * One @kubernetes/client-node informer per watched resource. Each restarts itself after an error
 * (including 410 Gone) with capped, jittered backoff; the last listed objects stay in its cache
 * meanwhile, so a flapping API server never empties the controller's view.
 */
export class InformerSet {
  private readonly informers = new Map<WatchedName, ListWatch<Cached>>();
  private readonly listed = new Set<WatchedName>();
  /** Optional kinds the API server answered 404 for at their last list. */
  private readonly missing = new Set<WatchedName>();
  private readonly attempts = new Map<WatchedName, number>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly rest: KubeRest,
    private readonly events: InformerEvents,
  ) {}

  async start(): Promise<void> {
    for (const name of Object.keys(WATCHED) as WatchedName[]) {
      const res: WatchedResource = WATCHED[name];
      const list = async (): Promise<KubernetesListObject<Cached>> => {
        // The watch gets the same field selector (ListWatch passes it): list and watch see the same set.
        const query = res.fieldSelector === undefined ? '' : `?fieldSelector=${encodeURIComponent(res.fieldSelector)}`;
        let r: { body: KubernetesListObject<Cached> };
        try {
          r = await this.rest.get<KubernetesListObject<Cached>>(`${res.path}${query}`);
          this.missing.delete(name);
        } catch (err) {
          if (!(res.optional === true && err instanceof KubeError && err.status === 404)) throw err;
          // The cluster does not serve this kind (its CRD is missing or older): no objects. The
          // watch that follows fails the same way and restarts with backoff, listing again.
          if (!this.missing.has(name)) {
            this.missing.add(name);
            this.events.onMissing?.(name, res.kind);
          }
          r = { body: { apiVersion: 'v1', kind: 'List', metadata: {}, items: [] } };
        }
        // Lists carry no kind/apiVersion per item; restore them so the boundary parser can tell kinds apart.
        r.body.items = r.body.items.map((i) => withoutManagedFields({ ...i, kind: res.kind, apiVersion: res.apiVersion }));
        this.listed.add(name);
        this.attempts.set(name, 0);
        if (this.listed.size === this.informers.size) this.events.onSynced();
        return r.body;
      };
      // makeInformer takes no field selector; ListWatch does (not started here: start() below).
      const inf = new ListWatch<Cached>(res.path, new Watch(this.kc), list, false, undefined, res.fieldSelector);
      // Watched objects enter the cache as the API server sent them: their managedFields go first.
      inf.on('add', withoutManagedFields);
      inf.on('update', withoutManagedFields);
      if (res.statusPath === undefined || this.events.onStatusOnly === undefined) {
        for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, () => this.events.onChange(name));
      } else {
        // Fingerprints of everything but the status, by namespace/name (a relist after a watch gap
        // can bring a recreated object as an update: its uid is in the fingerprint, keys stay bounded).
        const seen = new Map<string, string>();
        const keyOf = (o: Cached) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
        const onStatusOnly = this.events.onStatusOnly;
        inf.on('add', (o) => {
          seen.set(keyOf(o), withoutStatusFingerprint(o));
          this.events.onChange(name);
        });
        inf.on('update', (o) => {
          const key = keyOf(o);
          const fp = withoutStatusFingerprint(o);
          if (seen.get(key) === fp) {
            onStatusOnly(name, o.metadata?.namespace ?? '', o.metadata?.name ?? '');
            return;
          }
          seen.set(key, fp);
          this.events.onChange(name);
        });
        inf.on('delete', (o) => {
          seen.delete(keyOf(o));
          this.events.onChange(name);
        });
      }
      inf.on('error', (err: unknown) => this.restart(name, err));
      this.informers.set(name, inf);
    }
    await Promise.all([...this.informers.entries()].map(([name, inf]) => inf.start().catch((err: unknown) => this.restart(name, err))));
  }

  private restart(name: WatchedName, err: unknown): void {
    if (this.stopped) return;
    const attempt = this.attempts.get(name) ?? 0;
    this.attempts.set(name, attempt + 1);
    const delay = Math.max(200, retryDelayMs(attempt + 2, this.events.random ?? Math.random));
    this.events.onError(name, err, delay);
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped)
        void this.informers
          .get(name)
          ?.start()
          .catch((e: unknown) => this.restart(name, e));
    }, delay);
    this.timers.add(t);
  }

  /**
   * Cached objects of a resource, with kind and apiVersion set. The cache's own objects when they
   * carry both (list items are given them above; watch events carry them), so an object keeps its
   * identity until the API server changes it: the reconcile pass's parse memo is keyed by it.
   */
  list(name: WatchedName): Cached[] {
    const res = WATCHED[name];
    return (this.informers.get(name)?.list() ?? []).map((o) =>
      o.kind === res.kind && o.apiVersion === res.apiVersion ? o : { ...o, kind: res.kind, apiVersion: res.apiVersion },
    );
  }

  /** One cached object, O(1) (the informer's cache is indexed by namespace and name). */
  get(name: WatchedName, namespace: string, objectName: string): Cached | undefined {
    const o = this.informers.get(name)?.get(objectName, namespace === '' ? undefined : namespace);
    return o === undefined ? undefined : { ...o, kind: WATCHED[name].kind, apiVersion: WATCHED[name].apiVersion };
  }

  /** Optional kinds the API server does not serve (404 at their last list). */
  get missingKinds(): WatchedName[] {
    return [...this.missing];
  }

  get synced(): boolean {
    return this.listed.size === this.informers.size && this.informers.size > 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.informers.values()].map((i) => i.stop().catch(() => undefined)));
  }
}

/**
 * Drops `metadata.managedFields` in place (server-side apply's field ownership: often as large as
 * the spec, never read here), so the informer caches hold less. Returns the object.
 */
function withoutManagedFields<T extends KubernetesObject>(o: T): T {
  if (o.metadata?.managedFields !== undefined) delete o.metadata.managedFields;
  return o;
}
