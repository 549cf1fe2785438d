import type { WatchedName } from './resources.js';

/** One object the controller watches: its resource (from WATCHED), namespace ('' when cluster-scoped) and name. */
export interface ObjectRef {
  readonly resource: WatchedName;
  readonly namespace: string;
  readonly name: string;
}

/** `<namespace>/<name>`: the key translate() uses for namespaced objects (cluster-scoped: `/<name>`). */
export const nsName = (ref: Pick<ObjectRef, 'namespace' | 'name'>): string => `${ref.namespace}/${ref.name}`;

/** The ref of a translate key (`<ns>/<name>`; a cluster-scoped key may be a bare name). */
export function refOf(resource: WatchedName, key: string): ObjectRef {
  const slash = key.indexOf('/');
  return slash < 0 ? { resource, namespace: '', name: key } : { resource, namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * A work-queue key for a ref, and back. The queue deduplicates strings; only this module builds
 * or reads them (resource names and Kubernetes names contain no space).
 */
export const queueKey = (ref: ObjectRef): string => `${ref.resource} ${ref.namespace}/${ref.name}`;
export function fromQueueKey(key: string): ObjectRef {
  const space = key.indexOf(' ');
  return refOf(key.slice(0, space) as WatchedName, key.slice(space + 1));
}
