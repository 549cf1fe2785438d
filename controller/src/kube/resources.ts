import { WATCHED_KINDS, apiVersionOf, type WatchedKind, type WatchedName } from '@agw/api';

export type { WatchedName };

/** A watched kind as the API server serves it: list/watch path and, when we write it, the status path. */
export interface WatchedResource {
  readonly kind: string;
  readonly apiVersion: string;
  /** Cluster-wide collection path, e.g. /apis/gateway.networking.k8s.io/v1/gateways. */
  readonly path: string;
  /** Path of one object's status subresource, for the kinds whose status we write. */
  readonly statusPath?: (ns: string, name: string) => string;
  /** List/watch field selector (the API server filters: other objects never reach the controller). */
  readonly fieldSelector?: string;
  /** Not served by every cluster (api's WatchedKind.optional): a 404 on list is an empty list. */
  readonly optional?: true;
}

function resourceOf(k: WatchedKind): WatchedResource {
  const base = k.group === '' ? `/api/${k.version}` : `/apis/${k.group}/${k.version}`;
  const statusPath = !k.statusWritten
    ? undefined
    : k.namespaced
      ? (ns: string, name: string) => `${base}/namespaces/${ns}/${k.plural}/${name}/status`
      : (_ns: string, name: string) => `${base}/${k.plural}/${name}/status`;
  return {
    kind: k.kind,
    apiVersion: apiVersionOf(k),
    path: `${base}/${k.plural}`,
    ...(statusPath ? { statusPath } : {}),
    ...(k.fieldSelector !== undefined ? { fieldSelector: k.fieldSelector } : {}),
    ...(k.optional === true ? { optional: true as const } : {}),
  };
}

/** Every watched kind's API paths, derived from api's registry (WATCHED_KINDS). */
export const WATCHED = Object.fromEntries(
  (Object.keys(WATCHED_KINDS) as WatchedName[]).map((name) => [name, resourceOf(WATCHED_KINDS[name])]),
) as Record<WatchedName, WatchedResource>;

/** Path of an object's status subresource; throws for a resource whose status we never write. */
export function statusPathOf(resource: WatchedName, ns: string, name: string): string {
  const r = WATCHED[resource];
  if (r.statusPath === undefined) throw new Error(`${r.kind} has no status written by this controller`);
  return r.statusPath(ns, name);
}
