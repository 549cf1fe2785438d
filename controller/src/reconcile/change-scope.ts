import { GATEWAY_API_GROUP, type AgentgatewayPolicy, type ConfigMap, type HttpRoute, type WatchedName } from '@agw/api';
import { caBundleRefs } from '../resources/ca-bundles.js';
import type { ParsedObjects } from '../resources/parse-objects.js';
import { keyOf, type ChangeScope, type JwksKeys, type ObjectKey } from '../translate/model.js';

/** What one pass read: the parsed objects and the key store's state. */
export interface PassInputs {
  readonly parsed: ParsedObjects;
  readonly jwks: ReadonlyMap<string, JwksKeys>;
  readonly jwksErrors?: ReadonlyMap<string, string> | undefined;
  /** No two objects of one kind share a namespace and name (true of the cluster's caches; files may break it). */
  readonly namesUnique?: boolean | undefined;
}

/** The parsed lists other than HTTPRoutes, policies and ConfigMaps: a change to any of them may touch every Gateway. */
const EVERY_GATEWAY_KINDS: readonly Exclude<WatchedName, 'httpRoutes' | 'policies' | 'configMaps'>[] = [
  'gatewayClasses',
  'gateways',
  'referenceGrants',
  'parameters',
  'agentgatewayBackends',
  'services',
  'endpointSlices',
  'secrets',
  'backendTlsPolicies',
];

/**
 * What changed since the previous pass, when it is confined to HTTPRoutes and AgentgatewayPolicies;
 * 'all' otherwise.
 *
 * A Gateway's config depends on the routes attached to it, the policies that apply to it, and the
 * other kinds (listeners, backends, keys...); a route attaches only to Gateways its parentRefs
 * name. So a change of routes touches the Gateways named by the old and the new version of each
 * changed, added or removed route (`routeGateways`), and a change of policies the Gateways the old
 * and the new version of each changed policy apply to (`policies`; translate resolves them, see
 * model.ts ChangeScope). Any other difference (an object of another kind replaced, added, removed
 * or reordered; a key set or fetch error changed) answers 'all', as does a first pass, and so does
 * any pass with backend TLS configured in it or in the previous one (a BackendTLSPolicy, or a
 * policy's `backend.tls`): which
 * Gateways use those is recorded while each Gateway is compiled (their status ancestors), so every
 * Gateway must be. Objects are compared by identity: the parse memo returns the same parsed object
 * for an unchanged one, and without a memo every pass answers 'all' (correct, only slower).
 */
export function changeScope(previous: PassInputs | undefined, next: PassInputs): ChangeScope | 'all' {
  // Backend TLS in either pass: a policy translated with TLS settings that are now gone must not be reused.
  if (previous === undefined || usesBackendTls(previous.parsed) || usesBackendTls(next.parsed)) return 'all';
  for (const kind of EVERY_GATEWAY_KINDS) {
    if (!sameItems(previous.parsed[kind] ?? [], next.parsed[kind] ?? [])) return 'all';
  }
  // ConfigMaps count only as the CA bundles objects name: the controller's own persisted key sets
  // (written at each key refresh) and other applications' ConfigMaps made every pass a full one.
  if (!sameItems(caBundlesOf(previous.parsed), caBundlesOf(next.parsed))) return 'all';
  if (!sameKeySets(previous.jwks, next.jwks) || !sameStrings(previous.jwksErrors, next.jwksErrors)) return 'all';
  const trim = previous.namesUnique === true && next.namesUnique === true;
  const routes = changed(...lists(previous.parsed.httpRoutes, next.parsed.httpRoutes, trim));
  const policies = changed<AgentgatewayPolicy>(...lists(previous.parsed.policies, next.parsed.policies, trim));
  if (routes === 'all' || policies === 'all') return 'all';
  const routeGateways = new Set<ObjectKey>();
  for (const [now, before] of routes) {
    if (now !== undefined) addParents(routeGateways, now);
    if (before !== undefined) addParents(routeGateways, before);
  }
  return {
    routeGateways,
    policies: new Set(policies.map(([now, before]) => keyOf((now ?? before) as AgentgatewayPolicy))),
    routes,
  };
}

/**
 * The parts of two lists that differ: without the objects both start with and end with (the same
 * objects at the same places), when names are unique (`trim`); else the lists whole. A cache lists
 * its objects in the order they were added, an update in place: one change leaves the rest of the
 * 10,000 routes out of changed()'s Sets (it cost ~7 ms per pass). Without unique names a changed
 * object could share its name with an unchanged one (changed() answers 'all' then), so nothing is
 * trimmed.
 */
function lists<T>(before: readonly T[], now: readonly T[], trim: boolean): [readonly T[], readonly T[]] {
  if (!trim) return [before, now];
  let start = 0;
  while (start < before.length && start < now.length && before[start] === now[start]) start++;
  let end = 0;
  while (end < before.length - start && end < now.length - start && before[before.length - 1 - end] === now[now.length - 1 - end]) end++;
  return [before.slice(start, before.length - end), now.slice(start, now.length - end)];
}

/**
 * Objects added, removed or replaced between two lists, by `<ns>/<name>`: [new or undefined, old
 * or undefined]. 'all' when a list holds two objects of one name (files in local mode can): which
 * one translate keeps is not a change this comparison can scope. Unchanged objects are found by
 * identity; only changed ones are looked up by name.
 */
function changed<T extends HttpRoute | AgentgatewayPolicy>(
  before: readonly T[],
  now: readonly T[],
): Array<[T | undefined, T | undefined]> | 'all' {
  const gone = new Set(before);
  const names = new Set<ObjectKey>();
  const added: T[] = [];
  for (const o of now) {
    const key = keyOf(o);
    if (names.has(key)) return 'all';
    names.add(key);
    if (!gone.delete(o)) added.push(o);
  }
  const addedNames = new Set(added.map(keyOf));
  const old = new Map<ObjectKey, T>();
  for (const o of gone) {
    const key = keyOf(o);
    // Two old objects of one name, or an old one beside an unchanged one of its name.
    if (old.has(key) || (names.has(key) && !addedNames.has(key))) return 'all';
    old.set(key, o);
  }
  const out: Array<[T | undefined, T | undefined]> = added.map((o) => {
    const was = old.get(keyOf(o));
    old.delete(keyOf(o));
    return [o, was];
  });
  for (const removed of old.values()) out.push([undefined, removed]);
  return out;
}

/** The ConfigMaps the parsed objects name as CA bundles (what a pass reads of ConfigMaps). */
function caBundlesOf(parsed: ParsedObjects): readonly ConfigMap[] {
  const wanted = caBundleRefs(parsed.backendTlsPolicies ?? [], parsed.policies, parsed.agentgatewayBackends ?? []);
  return wanted.size === 0 ? [] : (parsed.configMaps ?? []).filter((cm) => wanted.has(keyOf(cm)));
}

function usesBackendTls(parsed: ParsedObjects): boolean {
  return (parsed.backendTlsPolicies ?? []).length > 0 || parsed.policies.some((p) => p.spec.backend?.tls !== undefined);
}

/** The Gateways a route's parentRefs name (whether ours or not: translate decides). */
function addParents(into: Set<ObjectKey>, route: HttpRoute): void {
  const ns = route.metadata.namespace ?? '';
  for (const ref of route.spec.parentRefs) {
    if (ref.group === GATEWAY_API_GROUP && ref.kind === 'Gateway') into.add(`${ref.namespace ?? ns}/${ref.name}`);
  }
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Same URLs with the same keys, staleness and notes (the key store builds a new Map each pass; key arrays are compared by content). */
function sameKeySets(a: ReadonlyMap<string, JwksKeys>, b: ReadonlyMap<string, JwksKeys>): boolean {
  if (a.size !== b.size) return false;
  for (const [url, x] of a) {
    const y = b.get(url);
    if (y === undefined) return false;
    if (x !== y && JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

function sameStrings(a: ReadonlyMap<string, string> | undefined, b: ReadonlyMap<string, string> | undefined): boolean {
  const x = a ?? new Map<string, string>(),
    y = b ?? new Map<string, string>();
  return x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
}
