import {
  GATEWAY_API_GROUP,
  POLICY_GROUP,
  type AgentgatewayPolicy,
  type FeaturePolicies,
  type Gateway,
  type HttpRoute,
  type PolicyTargetReference,
  type Service,
} from '@agw/api';
import { appendTo } from './append-to.js';
import { isAgentgatewayBackendRef, referenceGranted, type BackendIndex } from './backends.js';
import { agentgatewayBackendKey } from './features/backend-tls.js';
import {
  FEATURES,
  type AnyPolicyFeature,
  type FeatureName,
  type FeatureTranslation,
  type Phase,
  type PolicyFeature,
} from './features/index.js';
import type { FeatureContext } from './features/feature.js';
import type { RouteOutcome } from './routes.js';
import {
  cond,
  keyOf,
  olderFirst,
  sortedOlderFirst,
  type JwksRequest,
  type ObjectKey,
  type PolicyAncestorOut,
  type TranslateInput,
} from './model.js';

/**
 * Attachment levels, least to most specific (upstream: Gateway < Listener < Route < Route rule <
 * Service). Service levels hold backend features only: `Backend` is a whole Service, `BackendPort`
 * one port of it (targetRef sectionName = the port's name or number), more specific than the whole.
 */
export const Level = { Gateway: 0, Listener: 1, Route: 2, RouteRule: 3, Backend: 4, BackendPort: 5 } as const;
export type Level = (typeof Level)[keyof typeof Level];

export interface Attachment {
  readonly policy: AgentgatewayPolicy;
  /** `<namespace>/<name>` of the policy (computed once: attachments are read per route). */
  readonly key: ObjectKey;
  readonly level: Level;
  readonly phase: Phase;
  /** The features the policy carries. */
  readonly carries: ReadonlySet<FeatureName>;
}

/** Per feature, the compiled part of each policy that carries it, by policy key. */
export type FeatureTables = { readonly [F in FeatureName]: Map<ObjectKey, FeatureTranslation<FeaturePolicies[F][string]>> };

export interface PolicyAttachments {
  readonly byFeature: FeatureTables;
  /** `<gw key>` (Gateway level) or `<gw key>/<listener>` (listener level) → attachments. */
  readonly toGateways: ReadonlyMap<string, Attachment[]>;
  /** `<route key>` (route level) or `<route key>#<rule name>` (rule level) → attachments. */
  readonly toRoutes: ReadonlyMap<string, Attachment[]>;
  /**
   * Backend targets → attachments: `<svc ns>/<svc name>` (Service level), `<svc ns>/<svc name>:<port>`
   * (port level), `AgentgatewayBackend/<ns>/<name>` (an AgentgatewayBackend, Service level).
   */
  readonly toServices: ReadonlyMap<string, Attachment[]>;
  readonly status: Map<ObjectKey, readonly PolicyAncestorOut[]>;
  readonly jwksRequests: JwksRequest[];
  /** The Gateways each policy applies to (its Gateway ancestors, uncapped): the configs a change of the policy can touch. */
  readonly gatewaysByPolicy: Map<ObjectKey, ReadonlySet<ObjectKey>>;
}

/**
 * What one policy comes to in a pass, before the statuses that depend on other policies: its
 * feature translations, where it attaches, its Gateway ancestors, why targets are not attached.
 * Kept across passes that change only routes and policies (model.ts TranslateMemo) and reused
 * while the routes it names are the same objects; `volatile` ones are made anew at every pass.
 */
export interface PolicyRecord {
  readonly policy: AgentgatewayPolicy;
  readonly key: ObjectKey;
  readonly translations: ReadonlyArray<readonly [FeatureName, FeatureTranslation<unknown>]>;
  readonly jwksRequests: readonly JwksRequest[];
  readonly adds: ReadonlyArray<readonly [AttachmentMap, string, Attachment]>;
  /** Its Gateway ancestors through its targets (never modified: a pass copies them to add more). */
  readonly ancestors: ReadonlySet<ObjectKey>;
  /** Why targets are not attached; a Service target no route uses keeps its message unless a JWKS fetch uses it. */
  readonly notAttached: ReadonlyArray<string | { target: string; message: string }>;
  readonly errors: readonly string[];
  readonly notes: readonly string[];
  /** `<ns>/<name>` of every HTTPRoute its targetRefs name: a change of one of them makes the record stale. */
  readonly routeKeys: readonly ObjectKey[];
  /**
   * Targets chosen by label selectors (any route may match), or a Service or AgentgatewayBackend
   * (its Gateways come from every route to it, and its status from other policies' JWKS fetches).
   */
  readonly volatile: boolean;
  /** Its status when not volatile (it depends on the record only: the same object while the record is reused). */
  readonly status: readonly PolicyAncestorOut[] | undefined;
}

export type PolicyRecordsMemo = WeakMap<AgentgatewayPolicy, PolicyRecord>;

type AttachmentMap = 'toGateways' | 'toRoutes' | 'toServices';

/** The routes a pass attached (routes.ts), as policies read them. */
export interface AttachedRoutes {
  /** Each route's outcome: its `gateways` are a policy's ancestors through it. */
  readonly outcomes: Pick<WeakMap<HttpRoute, RouteOutcome>, 'get'>;
  readonly routesByKey: ReadonlyMap<ObjectKey, HttpRoute>;
}

/**
 * Policies → their targets (targetRefs or targetSelectors), each feature translated once per
 * policy, with every policy's ancestors status (upstream's PolicyConditionMap).
 *
 * `records`: kept from the previous pass, reused for every policy whose record is not stale after
 * `changedRoutes` (the `<ns>/<name>` of routes added, removed or replaced since; undefined: a pass
 * from scratch, records are made and kept). Such a pass costs a few lookups per unchanged policy.
 */
export function attachPolicies(
  input: TranslateInput,
  gatewaysByKey: ReadonlyMap<string, Gateway>,
  routes: AttachedRoutes,
  ctx: FeatureContext,
  translationsMemo?: FeatureTranslationsMemo,
  records?: { readonly memo: PolicyRecordsMemo; readonly changedRoutes: ReadonlySet<ObjectKey> | undefined },
): PolicyAttachments {
  // A new feature is a compile error here until it has its table.
  const byFeature: FeatureTables = {
    jwt: new Map(),
    authorization: new Map(),
    transformation: new Map(),
    backendAuth: new Map(),
    backendTls: new Map(),
  };
  const maps: Record<AttachmentMap, Map<string, Attachment[]>> = { toGateways: new Map(), toRoutes: new Map(), toServices: new Map() };
  const status = new Map<ObjectKey, readonly PolicyAncestorOut[]>();
  const jwksRequests: JwksRequest[] = [];
  const ancestorsByKey = new Map<ObjectKey, Set<ObjectKey> | ReadonlySet<ObjectKey>>();
  let servicesInUse: ReadonlyMap<string, string[]> | undefined; // built on the first Service target
  const inUse = () => (servicesInUse ??= gatewaysByService(input.httpRoutes, routes.outcomes, ctx.backends));
  const changed = records?.changedRoutes;
  /**
   * Policies whose status waits until every policy is attached (a Service target may be in use
   * through another's JWKS), each with its own copy of its ancestors (the record's are never changed).
   */
  const volatile: Array<{ readonly rec: PolicyRecord; readonly ancestors: Set<ObjectKey> }> = [];
  for (const p of sortedOlderFirst(input.policies)) {
    let rec = changed === undefined ? undefined : records?.memo.get(p);
    if (rec === undefined || rec.volatile || rec.routeKeys.some((k) => changed?.has(k))) {
      rec = policyRecord(p, input, gatewaysByKey, routes, ctx, inUse, translationsMemo);
      // A volatile record is made anew every pass: kept, it would never be read.
      if (!rec.volatile) records?.memo.set(p, rec);
    }
    for (const [f, t] of rec.translations) byFeature[f].set(rec.key, t as never);
    for (const r of rec.jwksRequests) jwksRequests.push(r);
    for (const [m, target, a] of rec.adds) appendTo(maps[m], target, a);
    const ancestors = rec.volatile ? new Set(rec.ancestors) : rec.ancestors;
    ancestorsByKey.set(rec.key, ancestors);
    // In policy order (a volatile one's is replaced below, in place).
    status.set(rec.key, rec.status ?? []);
    if (rec.volatile) volatile.push({ rec, ancestors: ancestors as Set<ObjectKey> });
  }
  // Statuses once every policy is attached: a `backend.tls` on a Service no route uses is still in
  // use when a JWT policy fetches its keys from that Service (its Gateways are then ancestors).
  for (const { rec, ancestors } of volatile) {
    const { policy, key, notAttached, errors, notes } = rec;
    // Two policies of one name (files; never in a cluster): the newer one's attachment and status stand.
    if (ancestorsByKey.get(key) !== ancestors) continue;
    const jwksUsers = ctx.backendTls?.jwksUsers(key);
    const messages = notAttached.flatMap((n) => {
      if (typeof n === 'string') return [n];
      const gateways = [...(jwksUsers?.get(n.target) ?? [])].flatMap((u) => [...(ancestorsByKey.get(u) ?? [])]);
      for (const g of gateways) ancestors.add(g);
      return gateways.length === 0 ? [n.message] : [];
    });
    if (policy.spec.targetSelectors !== undefined && ancestors.size === 0 && messages.length === 0) {
      messages.push(`Policy is not attached: no Gateway matching selector found in namespace ${policy.metadata.namespace ?? ''}`);
    }
    status.set(key, policyAncestors(policy, [...ancestors].sort(), messages, errors, notes, input.controllerName));
  }
  return {
    byFeature,
    toGateways: maps.toGateways,
    toRoutes: maps.toRoutes,
    toServices: maps.toServices,
    status,
    jwksRequests,
    gatewaysByPolicy: ancestorsByKey,
  };
}

/** One policy's record (PolicyRecord): its features translated (from the memo when there) and its targets resolved. */
function policyRecord(
  p: AgentgatewayPolicy,
  input: TranslateInput,
  gatewaysByKey: ReadonlyMap<string, Gateway>,
  routes: AttachedRoutes,
  ctx: FeatureContext,
  servicesInUse: () => ReadonlyMap<string, string[]>,
  translationsMemo: FeatureTranslationsMemo | undefined,
): PolicyRecord {
  const pns = p.metadata.namespace ?? '';
  const phase: Phase = p.spec.traffic?.phase === 'PreRouting' ? 'PreRouting' : 'Route';
  const errors: string[] = [];
  const notes: string[] = [];
  const jwksRequests: JwksRequest[] = [];
  const translations: Array<readonly [FeatureName, FeatureTranslation<unknown>]> = [];
  const carries = new Set<FeatureName>();
  const key = keyOf(p);
  for (const f of FEATURES) {
    const t = translationOf(f, p, ctx, translationsMemo);
    if (t === undefined) continue;
    translations.push([f.name, t]);
    carries.add(f.name);
    errors.push(...t.errors);
    notes.push(...t.notes);
    jwksRequests.push(...t.jwksRequests);
  }
  const notAttached: Array<string | { target: string; message: string }> = [];
  const ancestors = new Set<ObjectKey>();
  const adds: Array<readonly [AttachmentMap, string, Attachment]> = [];
  const routeKeys: ObjectKey[] = [];
  let volatile = p.spec.targetRefs === undefined || p.spec.targetSelectors !== undefined;
  const add = (map: AttachmentMap, target: string, level: Level) => {
    if (carries.size > 0) adds.push([map, target, { policy: p, key, level, phase, carries }]);
  };
  /** A backend target (`what`: how the message names it): its Gateways are those of the routes that use it. */
  const attachBackend = (target: string, level: Level, what: string) => {
    add('toServices', target, level);
    const gws = servicesInUse().get(target) ?? [];
    if (gws.length === 0)
      notAttached.push({ target, message: `Policy is not attached: ${what} is not a backend of any route attached to a Gateway` });
    for (const g of gws) ancestors.add(g);
  };
  for (const t of targetsOf(p, input)) {
    if (t.kind === 'Gateway' && t.group === GATEWAY_API_GROUP) {
      const gw = gatewaysByKey.get(`${pns}/${t.name}`);
      if (gw === undefined) {
        notAttached.push(`Policy is not attached: Gateway ${pns}/${t.name} not found`);
        continue;
      }
      if (t.sectionName !== undefined) {
        if (!gw.spec.listeners.some((l) => l.name === t.sectionName)) {
          notAttached.push(`Policy is not attached: sectionName "${t.sectionName}" not found in Gateway ${pns}/${t.name}`);
          continue;
        }
        add('toGateways', `${keyOf(gw)}/${t.sectionName}`, Level.Listener);
      } else {
        add('toGateways', keyOf(gw), Level.Gateway);
      }
      ancestors.add(keyOf(gw));
    } else if (t.kind === 'HTTPRoute' && t.group === GATEWAY_API_GROUP) {
      routeKeys.push(`${pns}/${t.name}`);
      const route = routes.routesByKey.get(`${pns}/${t.name}`);
      if (route === undefined) {
        notAttached.push(`Policy is not attached: HTTPRoute ${pns}/${t.name} not found`);
        continue;
      }
      if (t.sectionName !== undefined && !route.spec.rules.some((r) => r.name === t.sectionName)) {
        notAttached.push(`Policy is not attached: sectionName "${t.sectionName}" not found in HTTPRoute ${pns}/${t.name}`);
        continue;
      }
      add(
        'toRoutes',
        t.sectionName !== undefined ? `${keyOf(route)}#${t.sectionName}` : keyOf(route),
        t.sectionName !== undefined ? Level.RouteRule : Level.Route,
      );
      const parents = routes.outcomes.get(route)?.gateways ?? [];
      if (parents.length === 0) notAttached.push(`Policy is not attached: HTTPRoute ${pns}/${t.name} is not attached to any Gateway`);
      for (const g of parents) ancestors.add(g);
    } else if (t.kind === 'Service' && t.group === '') {
      volatile = true;
      const svcKey = `${pns}/${t.name}`;
      const svc = ctx.backends.services.get(svcKey);
      if (svc === undefined) {
        notAttached.push(`Policy is not attached: Service ${svcKey} not found`);
        continue;
      }
      // Only backend features apply to a Service (the CRD refuses traffic on a Service target;
      // were one to get through, its traffic part is simply never looked up at this level).
      if (!FEATURES.some((f) => f.scope === 'backend' && carries.has(f.name))) {
        notAttached.push(`Policy is not attached: only backend policies apply to Service ${svcKey}`);
        continue;
      }
      let target = svcKey;
      if (t.sectionName !== undefined) {
        const port = servicePortOf(svc, t.sectionName);
        if (port === undefined) {
          notAttached.push(`Policy is not attached: sectionName "${t.sectionName}" not found in Service ${svcKey}`);
          continue;
        }
        target = `${svcKey}:${port.port}`;
      }
      attachBackend(target, t.sectionName !== undefined ? Level.BackendPort : Level.Backend, `Service ${target}`);
    } else if (isAgentgatewayBackendRef(t)) {
      volatile = true;
      const backendKey = `${pns}/${t.name}`;
      if (!ctx.backends.agentgatewayBackends.has(backendKey)) {
        notAttached.push(`Policy is not attached: AgentgatewayBackend ${backendKey} not found`);
        continue;
      }
      if (!FEATURES.some((f) => f.scope === 'backend' && carries.has(f.name))) {
        notAttached.push(`Policy is not attached: only backend policies apply to AgentgatewayBackend ${backendKey}`);
        continue;
      }
      // Upstream's sectionName on an AgentgatewayBackend names a sub-backend (an AI provider); a static backend has none.
      if (t.sectionName !== undefined) {
        notAttached.push(`Policy is not attached: sectionName "${t.sectionName}" not found in AgentgatewayBackend ${backendKey}`);
        continue;
      }
      attachBackend(agentgatewayBackendKey(backendKey), Level.Backend, `AgentgatewayBackend ${backendKey}`);
    } else {
      notAttached.push(`Policy is not attached: ${t.kind} ${pns}/${t.name} is not supported by this controller`);
    }
  }
  const status = volatile
    ? undefined
    : policyAncestors(p, [...ancestors].sort(), notAttached as string[], errors, notes, input.controllerName);
  return { policy: p, key, translations, jwksRequests, adds, ancestors, notAttached, errors, notes, routeKeys, volatile, status };
}

/** The port of Service `svc` a targetRef's `sectionName` names: by port name, or by number. */
export function servicePortOf(svc: Service, sectionName: string): Service['spec']['ports'][number] | undefined {
  return svc.spec.ports.find((sp) => sp.name === sectionName || String(sp.port) === sectionName);
}

/**
 * Each policy's feature translations (undefined: the policy does not carry the feature). They
 * depend on the policy and the feature context (backends, keys, TLS, CA bundles), never on routes,
 * so a pass that changed only routes reuses them (model.ts TranslateMemo).
 */
export type FeatureTranslationsMemo = WeakMap<AgentgatewayPolicy, Map<FeatureName, FeatureTranslation<unknown> | undefined>>;

/** One feature's translation of a policy (from the memo when there). */
function translationOf<F extends FeatureName>(
  f: PolicyFeature<F>,
  p: AgentgatewayPolicy,
  ctx: FeatureContext,
  memo: FeatureTranslationsMemo | undefined,
): FeatureTranslation<unknown> | undefined {
  let byFeature = memo?.get(p);
  if (byFeature === undefined) {
    byFeature = new Map();
    memo?.set(p, byFeature);
  }
  if (byFeature.has(f.name)) return byFeature.get(f.name);
  const t = f.translate(p, ctx);
  byFeature.set(f.name, t);
  return t;
}

/**
 * The Gateways each Service (`<ns>/<name>`, and `<ns>/<name>:<port>`) or AgentgatewayBackend
 * (`AgentgatewayBackend/<ns>/<name>`) is a backend of, through the routes attached to them: a
 * backend-level policy's ancestors. A backendRef a ReferenceGrant does not permit is no use of the
 * backend (it never reaches a config).
 */
function gatewaysByService(
  httpRoutes: readonly HttpRoute[],
  outcomes: AttachedRoutes['outcomes'],
  idx: BackendIndex,
): Map<string, string[]> {
  const sets = new Map<string, Set<string>>();
  for (const route of httpRoutes) {
    const gateways = outcomes.get(route)?.gateways ?? [];
    if (gateways.length === 0) continue;
    const rns = route.metadata.namespace ?? '';
    for (const rule of route.spec.rules) {
      for (const ref of rule.backendRefs) {
        const ns = ref.namespace ?? rns;
        let keys: string[];
        if (isAgentgatewayBackendRef(ref)) {
          if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name, ref.kind, ref.group)) continue;
          keys = [agentgatewayBackendKey(`${ns}/${ref.name}`)];
        } else {
          if (!(ref.group === '' && ref.kind === 'Service')) continue;
          if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name)) continue;
          keys = [`${ns}/${ref.name}`, ...(ref.port !== undefined ? [`${ns}/${ref.name}:${ref.port}`] : [])];
        }
        for (const k of keys) {
          const set = sets.get(k) ?? new Set<string>();
          for (const g of gateways) set.add(g);
          sets.set(k, set);
        }
      }
    }
  }
  return new Map([...sets].map(([k, v]) => [k, [...v]]));
}

/**
 * The policies of one feature that apply at a place, from the attachments of every level there,
 * by the feature's merge rule: the most specific (then oldest) one, or all of them, oldest first.
 */
export function applicable(feature: AnyPolicyFeature, phase: Phase, attachments: readonly Attachment[]): ObjectKey[] {
  if (!feature.phases.has(phase)) return [];
  // `traffic.phase` moves traffic features only: a backend feature runs after routing, whatever the policy's phase.
  const list = attachments.filter((a) => (feature.scope === 'backend' || a.phase === phase) && a.carries.has(feature.name));
  if (list.length <= 1) return list.length === 0 ? [] : [(list[0] as Attachment).key];
  if (feature.merge === 'merge-all') return [...new Set(list.sort((a, b) => olderFirst(a.policy, b.policy)).map((a) => a.key))];
  return [(list.sort((a, b) => b.level - a.level || olderFirst(a.policy, b.policy))[0] as Attachment).key];
}

/** A policy's targets: its targetRefs, or what its targetSelectors select in its namespace. */
export function targetsOf(
  p: AgentgatewayPolicy,
  input: Pick<TranslateInput, 'gateways' | 'httpRoutes' | 'services' | 'agentgatewayBackends'>,
): PolicyTargetReference[] {
  if (p.spec.targetRefs !== undefined) return p.spec.targetRefs;
  const pns = p.metadata.namespace ?? '';
  const out: PolicyTargetReference[] = [];
  for (const sel of p.spec.targetSelectors ?? []) {
    const matches = (labels: Record<string, string> | undefined) => Object.entries(sel.matchLabels).every(([k, v]) => labels?.[k] === v);
    const pool =
      sel.kind === 'Gateway'
        ? input.gateways
        : sel.kind === 'HTTPRoute'
          ? input.httpRoutes
          : sel.kind === 'Service' && sel.group === ''
            ? input.services
            : isAgentgatewayBackendRef(sel)
              ? (input.agentgatewayBackends ?? [])
              : [];
    for (const o of pool) {
      if ((o.metadata.namespace ?? '') === pns && matches(o.metadata.labels)) {
        out.push({ group: sel.group, kind: sel.kind, name: o.metadata.name, ...(sel.sectionName ? { sectionName: sel.sectionName } : {}) });
      }
    }
  }
  return out;
}

/** Upstream's PolicyConditionMap (§2.3): Valid/Attached, PartiallyValid without Attached, StatusSummary. */
function policyAncestors(
  p: AgentgatewayPolicy,
  gateways: string[],
  notAttached: string[],
  errors: readonly string[],
  notes: readonly string[],
  controllerName: string,
): PolicyAncestorOut[] {
  const g = p.metadata.generation;
  const accepted = notes.length === 0 ? 'Policy accepted' : `Policy accepted (${notes.join('; ')})`;
  const conditions =
    errors.length === 0
      ? [cond('Accepted', true, 'Valid', accepted, g), cond('Attached', true, 'Attached', 'Attached to all targets', g)]
      : [cond('Accepted', true, 'PartiallyValid', errors.join('; '), g)];
  const out: PolicyAncestorOut[] = gateways.map((key) => {
    const [namespace, name] = key.split('/') as [string, string];
    return {
      ancestorRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace, name },
      controllerName,
      conditions: conditions.map((c) => ({ ...c })),
    };
  });
  if (notAttached.length > 0) {
    out.push({
      // As upstream: no namespace; kind is the CRD default the API server fills in.
      ancestorRef: { group: POLICY_GROUP, kind: 'Gateway', name: 'StatusSummary' },
      controllerName,
      conditions: [cond('Accepted', true, 'Valid', 'Policy accepted', g), cond('Attached', false, 'Pending', notAttached.join('\n'), g)],
    });
  }
  return out;
}
