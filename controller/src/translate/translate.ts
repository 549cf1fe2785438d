import {
  GATEWAY_API_GROUP, PARAMETERS_KIND, POLICY_GROUP, parseDurationMs,
  type AgentgatewayParameters, type AgentgatewayParametersSpec, type AgentgatewayPolicy, type GatewayClass, type CompiledJwtPolicy, type CompiledListener, type CompiledRoute, type Gateway, type HttpRoute,
  type Listener, type PolicyTargetReference, type ProxyConfig,
} from '@agw/api';
import { appendTo } from './append-to.js';
import { indexBackends, referenceGranted, resolveServicePort, type BackendIndex } from './backends.js';
import { intersectHostnames } from './hostnames.js';
import { translateJwtPolicy, type TranslatedJwt } from './jwt-policy.js';
import { routeRegexProblems } from './route-regexes.js';
import {
  cond, keyOf, type GatewayStatusOut, type PolicyAncestorOut, type JwksRequest, type ObjectKey, type PendingCondition, type RouteParentStatusOut,
  type TranslateInput, type TranslateOutput,
} from './model.js';

/** Attachment levels, least to most specific (upstream: Gateway < Listener < Route < Route rule). */
const Level = { Gateway: 0, Listener: 1, Route: 2, RouteRule: 3 } as const;
type Level = (typeof Level)[keyof typeof Level];

interface Attachment { readonly policy: AgentgatewayPolicy; readonly level: Level; readonly preRouting: boolean }

/** Older first, then namespace/name: Gateway API's conflict rule, used when two policies tie. */
function olderFirst(a: AgentgatewayPolicy, b: AgentgatewayPolicy): number {
  return (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || keyOf(a).localeCompare(keyOf(b));
}

/** The most specific attachment wins; among equals, the oldest policy. */
function winner(list: readonly Attachment[]): Attachment | undefined {
  return [...list].sort((a, b) => b.level - a.level || olderFirst(a.policy, b.policy))[0];
}

const isHttpListener = (l: Listener) => l.protocol === 'HTTP';

interface RouteAttachment { readonly route: HttpRoute; readonly gateway: Gateway; readonly listeners: ReadonlyMap<string, string[]> /* listener → hostnames */ }

/**
 * resources → per-Gateway proxy config + every status, with no I/O, clock or logger. Same input,
 * same output: the controller and local mode both call it after every change (level-based).
 */
export function translate(input: TranslateInput): TranslateOutput {
  const gen = (o: { metadata: { generation?: number | undefined } }) => o.metadata.generation;
  const ourClasses = input.gatewayClasses.filter((c) => c.spec.controllerName === input.controllerName);
  const classNames = new Set(ourClasses.map((c) => c.metadata.name));
  const params = resolveClassParameters(ourClasses, input.parameters ?? []);
  const gatewayClassStatus = new Map(ourClasses.map((c) => {
    const problem = params.problems.get(c.metadata.name);
    return [c.metadata.name, [problem === undefined
      ? cond('Accepted', true, 'Accepted', 'Accepted by agentgateway-ts', gen(c))
      : cond('Accepted', false, 'InvalidParameters', problem, gen(c))]];
  }));
  const gateways = input.gateways.filter((g) => classNames.has(g.spec.gatewayClassName)).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  const gatewaysByKey = new Map(gateways.map((g) => [keyOf(g), g]));
  const idx: BackendIndex = indexBackends(input.services, input.endpointSlices, input.referenceGrants);

  // ---- routes → gateways -----------------------------------------------------------------
  const routeStatus = new Map<ObjectKey, RouteParentStatusOut[]>();
  /** Rules left out of every config because a regular expression of theirs does not compile. */
  const invalidRules = new Map<HttpRoute, ReadonlySet<number>>();
  const attachments: RouteAttachment[] = [];
  const attachedCount = new Map<string, number>(); // `<gw key>/<listener>` → routes
  const routes = [...input.httpRoutes].sort((a, b) =>
    (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || keyOf(a).localeCompare(keyOf(b)));
  for (const route of routes) {
    const rns = route.metadata.namespace ?? '';
    const parents: RouteParentStatusOut[] = [];
    const resolved = resolveRouteRefs(route, idx);
    const regexProblems = routeRegexProblems(route);
    const badRules = new Set(regexProblems.map((p) => p.ruleIndex));
    if (badRules.size > 0) invalidRules.set(route, badRules);
    // Gateway API: an unsupported value is Accepted=False UnsupportedValue; the rule alone is left out.
    const unsupported = regexProblems.length === 0 ? undefined : `${regexProblems.map((p) => p.message).join('; ')}; ${
      badRules.size < route.spec.rules.length ? 'the other rules are served' : 'no rule is served'}`;
    for (const ref of route.spec.parentRefs) {
      if (ref.group !== GATEWAY_API_GROUP || ref.kind !== 'Gateway') continue;
      const gwKey = `${ref.namespace ?? rns}/${ref.name}`;
      const gw = gatewaysByKey.get(gwKey);
      if (gw === undefined) continue; // not ours (or absent): another controller's business
      const parentRef = { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: ref.namespace ?? rns, name: ref.name, ...(ref.sectionName ? { sectionName: ref.sectionName } : {}) };
      const candidates = gw.spec.listeners.filter((l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port));
      const allowed = candidates.filter((l) => isHttpListener(l) && allowsRoute(l, gw, rns));
      const byListener = new Map<string, string[]>();
      for (const l of allowed) {
        const hosts = intersectHostnames(l.hostname, route.spec.hostnames);
        if (hosts !== 'none') byListener.set(l.name, hosts);
      }
      let accepted: PendingCondition;
      if (candidates.length === 0) accepted = cond('Accepted', false, 'NoMatchingParent', `no listener matches parentRef ${ref.sectionName ?? ''}${ref.port ?? ''}`.trim(), gen(route));
      else if (allowed.length === 0) accepted = cond('Accepted', false, 'NotAllowedByListeners', 'no listener of the Gateway allows this route', gen(route));
      else if (byListener.size === 0) accepted = cond('Accepted', false, 'NoMatchingListenerHostname', 'no hostname of the route matches a listener hostname', gen(route));
      else if (unsupported !== undefined) accepted = cond('Accepted', false, 'UnsupportedValue', unsupported, gen(route));
      else accepted = cond('Accepted', true, 'Accepted', 'Route accepted', gen(route));
      parents.push({ parentRef, controllerName: input.controllerName, conditions: [accepted, resolved.condition(gen(route))] });
      if (byListener.size > 0) {
        attachments.push({ route, gateway: gw, listeners: byListener });
        for (const l of byListener.keys()) attachedCount.set(`${gwKey}/${l}`, (attachedCount.get(`${gwKey}/${l}`) ?? 0) + 1);
      }
    }
    if (parents.length > 0) routeStatus.set(keyOf(route), parents);
  }

  // Indexes: policy targets look routes and their parents up by key (no scans per target).
  const routesByKey = new Map(input.httpRoutes.map((r) => [keyOf(r), r]));
  const parentsByRoute = new Map<HttpRoute, string[]>();
  for (const a of attachments) appendTo(parentsByRoute, a.route, keyOf(a.gateway));

  // ---- policies → targets ------------------------------------------------------------------
  const jwtByPolicy = new Map<ObjectKey, TranslatedJwt>();
  const gwAttach = new Map<string, Attachment[]>();    // `<gw key>` or `<gw key>/<listener>`
  const routeAttach = new Map<string, Attachment[]>(); // `<route key>` or `<route key>#<rule name>`
  const policyStatus = new Map<ObjectKey, ReturnType<typeof policyAncestors>>();
  const requests: JwksRequest[] = [];
  const policies = [...input.policies].sort(olderFirst);
  for (const p of policies) {
    const pns = p.metadata.namespace ?? '';
    const jwt = p.spec.traffic?.jwtAuthentication;
    const preRouting = p.spec.traffic?.phase === 'PreRouting';
    const translated = jwt === undefined ? undefined : translateJwtPolicy(p, jwt, idx, input.jwks);
    if (translated !== undefined) { jwtByPolicy.set(keyOf(p), translated); requests.push(...translated.requests); }
    const notAttached: string[] = [];
    const ancestors = new Set<ObjectKey>();
    const add = (map: Map<string, Attachment[]>, key: string, level: Level) => {
      if (translated === undefined) return;
      appendTo(map, key, { policy: p, level, preRouting });
    };
    for (const t of targetsOf(p, input)) {
      if (t.kind === 'Gateway' && t.group === GATEWAY_API_GROUP) {
        const gw = gatewaysByKey.get(`${pns}/${t.name}`);
        if (gw === undefined) { notAttached.push(`Policy is not attached: Gateway ${pns}/${t.name} not found`); continue; }
        if (t.sectionName !== undefined) {
          if (!gw.spec.listeners.some((l) => l.name === t.sectionName)) { notAttached.push(`Policy is not attached: sectionName "${t.sectionName}" not found in Gateway ${pns}/${t.name}`); continue; }
          add(gwAttach, `${keyOf(gw)}/${t.sectionName}`, Level.Listener);
        } else {
          add(gwAttach, keyOf(gw), Level.Gateway);
        }
        ancestors.add(keyOf(gw));
      } else if (t.kind === 'HTTPRoute' && t.group === GATEWAY_API_GROUP) {
        const route = routesByKey.get(`${pns}/${t.name}`);
        if (route === undefined) { notAttached.push(`Policy is not attached: HTTPRoute ${pns}/${t.name} not found`); continue; }
        if (t.sectionName !== undefined && !route.spec.rules.some((r) => r.name === t.sectionName)) {
          notAttached.push(`Policy is not attached: sectionName "${t.sectionName}" not found in HTTPRoute ${pns}/${t.name}`); continue;
        }
        add(routeAttach, t.sectionName !== undefined ? `${keyOf(route)}#${t.sectionName}` : keyOf(route), t.sectionName !== undefined ? Level.RouteRule : Level.Route);
        const parents = parentsByRoute.get(route) ?? [];
        if (parents.length === 0) notAttached.push(`Policy is not attached: HTTPRoute ${pns}/${t.name} is not attached to any Gateway`);
        for (const g of parents) ancestors.add(g);
      } else {
        notAttached.push(`Policy is not attached: ${t.kind} ${pns}/${t.name} is not supported by this controller`);
      }
    }
    if (p.spec.targetSelectors !== undefined && ancestors.size === 0 && notAttached.length === 0) {
      notAttached.push(`Policy is not attached: no Gateway matching selector found in namespace ${pns}`);
    }
    policyStatus.set(keyOf(p), policyAncestors(p, [...ancestors].sort(), notAttached, translated, input.controllerName));
  }

  // ---- per-Gateway config ------------------------------------------------------------------
  const attachmentsByGateway = new Map<Gateway, RouteAttachment[]>();
  for (const a of attachments) appendTo(attachmentsByGateway, a.gateway, a);
  const configs = new Map<ObjectKey, Omit<ProxyConfig, 'version'>>();
  const gatewayStatus = new Map<ObjectKey, GatewayStatusOut>();
  for (const gw of gateways) {
    const gwKey = keyOf(gw);
    const jwtPolicies: Record<string, CompiledJwtPolicy> = {};
    const use = (a: Attachment | undefined): string | undefined => {
      if (a === undefined) return undefined;
      const t = jwtByPolicy.get(keyOf(a.policy));
      if (t === undefined) return undefined;
      jwtPolicies[keyOf(a.policy)] = t.policy;
      return keyOf(a.policy);
    };
    const gwLevel = gwAttach.get(gwKey) ?? [];
    const listeners: CompiledListener[] = gw.spec.listeners.filter(isHttpListener).map((l) => {
      const pre = winner([...gwLevel, ...(gwAttach.get(`${gwKey}/${l.name}`) ?? [])].filter((a) => a.preRouting));
      const key = use(pre);
      return { name: l.name, port: l.port, ...(l.hostname ? { hostname: l.hostname } : {}), ...(key ? { preRoutingJwtPolicy: key } : {}) };
    });
    const compiled: CompiledRoute[] = [];
    let order = 0;
    for (const att of attachmentsByGateway.get(gw) ?? []) {
      const route = att.route;
      const rKey = keyOf(route);
      const leftOut = invalidRules.get(route);
      route.spec.rules.forEach((rule, ri) => {
        if (leftOut?.has(ri) === true) return;
        const backends = resolveRuleBackends(route, ri, idx);
        const timeoutMs = ruleTimeoutMs(rule.timeouts);
        rule.matches.forEach((m, mi) => {
          const rank = order++;
          for (const [listener, hostnames] of [...att.listeners.entries()].sort()) {
            const candidates = [
              ...gwLevel, ...(gwAttach.get(`${gwKey}/${listener}`) ?? []),
              ...(routeAttach.get(rKey) ?? []), ...(rule.name ? routeAttach.get(`${rKey}#${rule.name}`) ?? [] : []),
            ].filter((a) => !a.preRouting);
            const jwtPolicy = use(winner(candidates));
            compiled.push({
              id: `${rKey}/${ri}/${mi}`, listeners: [listener], hostnames, order: rank,
              match: {
                path: { type: m.path.type, value: m.path.value },
                headers: (m.headers ?? []).map((h) => ({ type: h.type, name: h.name, value: h.value })),
                queryParams: (m.queryParams ?? []).map((q) => ({ type: q.type, name: q.name, value: q.value })),
                ...(m.method ? { method: m.method } : {}),
              },
              backends: backends.backends,
              ...(backends.invalid ? { invalid: backends.invalid } : {}),
              ...(jwtPolicy ? { jwtPolicy } : {}),
              ...(timeoutMs !== undefined ? { timeoutMs } : {}),
            });
          }
        });
      });
    }
    configs.set(gwKey, { schemaVersion: 1, gateway: { namespace: gw.metadata.namespace ?? '', name: gw.metadata.name }, listeners, routes: compiled, jwtPolicies });
    gatewayStatus.set(gwKey, {
      conditions: [cond('Accepted', true, 'Accepted', 'Gateway accepted', gen(gw))],
      listeners: gw.spec.listeners.map((l) => ({
        name: l.name,
        attachedRoutes: attachedCount.get(`${gwKey}/${l.name}`) ?? 0,
        supportedKinds: isHttpListener(l) ? [{ group: GATEWAY_API_GROUP, kind: 'HTTPRoute' }] : [],
        conditions: isHttpListener(l)
          ? [cond('Accepted', true, 'Accepted', 'Listener accepted', gen(gw)), cond('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', gen(gw))]
          : [cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not supported (HTTP only)`, gen(gw)), cond('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', gen(gw))],
      })),
    });
  }

  return {
    configs,
    status: { policies: policyStatus, gateways: gatewayStatus, httpRoutes: routeStatus, gatewayClasses: gatewayClassStatus, parameters: params.status },
    gatewayParameters: new Map(gateways.map((g) => [keyOf(g), params.byClass.get(g.spec.gatewayClassName)])),
    jwksRequests: collapseRequests(requests),
  };
}

/**
 * GatewayClass parametersRef → AgentgatewayParameters: the spec per class, a problem per class
 * whose reference is unusable (Gateway API: Accepted=False InvalidParameters), and a status for
 * each parameters object in use.
 */
function resolveClassParameters(classes: readonly GatewayClass[], parameters: readonly AgentgatewayParameters[]) {
  const byKey = new Map(parameters.map((p) => [keyOf(p), p]));
  const byClass = new Map<string, AgentgatewayParametersSpec>();
  const problems = new Map<string, string>();
  const users = new Map<ObjectKey, string[]>();
  for (const c of classes) {
    const ref = c.spec.parametersRef;
    if (ref === undefined) continue;
    if (ref.group !== POLICY_GROUP || ref.kind !== PARAMETERS_KIND) {
      problems.set(c.metadata.name, `parametersRef ${ref.group === '' ? '' : `${ref.group}/`}${ref.kind} is not supported (use ${POLICY_GROUP}/${PARAMETERS_KIND})`);
      continue;
    }
    const key = `${ref.namespace ?? ''}/${ref.name}`;
    const p = byKey.get(key);
    if (ref.namespace === undefined || p === undefined) {
      problems.set(c.metadata.name, `parametersRef ${PARAMETERS_KIND} ${key} not found${ref.namespace === undefined ? ' (a namespace is required)' : ''}`);
      continue;
    }
    byClass.set(c.metadata.name, p.spec);
    appendTo(users, key, c.metadata.name);
  }
  const status = new Map<ObjectKey, PendingCondition[]>([...users].map(([key, names]) => {
    const p = byKey.get(key) as AgentgatewayParameters;
    return [key, [cond('Accepted', true, 'Accepted', `used by GatewayClass ${names.sort().join(', ')}`, p.metadata.generation)]];
  }));
  return { byClass, problems, status };
}

/**
 * HTTPRoute rule timeouts (Gateway API durations, e.g. "10s"): the shorter of `request` and
 * `backendRequest` (there are no retries, so both bound the one upstream exchange); "0s" or unset
 * means no route timeout (the proxy's default applies).
 */
function ruleTimeoutMs(t: { request?: string | undefined; backendRequest?: string | undefined } | undefined): number | undefined {
  const values = [t?.request, t?.backendRequest].map((d) => (d === undefined ? undefined : parseDurationMs(d))).filter((v): v is number => v !== undefined && v > 0);
  return values.length === 0 ? undefined : Math.min(...values);
}

function allowsRoute(l: Listener, gw: Gateway, routeNs: string): boolean {
  const kinds = l.allowedRoutes.kinds;
  if (kinds !== undefined && kinds.length > 0 && !kinds.some((k) => k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP)) return false;
  switch (l.allowedRoutes.namespaces.from) {
    case 'All': return true;
    case 'Same': return routeNs === (gw.metadata.namespace ?? '');
    case 'Selector': return false; // Namespace labels are not watched: refuse rather than guess.
  }
}

function targetsOf(p: AgentgatewayPolicy, input: TranslateInput): PolicyTargetReference[] {
  if (p.spec.targetRefs !== undefined) return p.spec.targetRefs;
  const pns = p.metadata.namespace ?? '';
  const out: PolicyTargetReference[] = [];
  for (const sel of p.spec.targetSelectors ?? []) {
    const matches = (labels: Record<string, string> | undefined) => Object.entries(sel.matchLabels).every(([k, v]) => labels?.[k] === v);
    const pool = sel.kind === 'Gateway' ? input.gateways : sel.kind === 'HTTPRoute' ? input.httpRoutes : [];
    for (const o of pool) {
      if ((o.metadata.namespace ?? '') === pns && matches(o.metadata.labels)) {
        out.push({ group: sel.group, kind: sel.kind, name: o.metadata.name, ...(sel.sectionName ? { sectionName: sel.sectionName } : {}) });
      }
    }
  }
  return out;
}

/** Upstream's PolicyConditionMap (§2.3): Valid/Attached, PartiallyValid without Attached, StatusSummary. */
function policyAncestors(p: AgentgatewayPolicy, gateways: string[], notAttached: string[], jwt: TranslatedJwt | undefined, controllerName: string): PolicyAncestorOut[] {
  const g = p.metadata.generation;
  const errors = jwt?.errors ?? [];
  const notes = jwt?.notes ?? [];
  const accepted = notes.length === 0 ? 'Policy accepted' : `Policy accepted (${notes.join('; ')})`;
  const conditions = errors.length === 0
    ? [cond('Accepted', true, 'Valid', accepted, g), cond('Attached', true, 'Attached', 'Attached to all targets', g)]
    : [cond('Accepted', true, 'PartiallyValid', errors.join('; '), g)];
  const out: PolicyAncestorOut[] = gateways.map((key) => {
    const [namespace, name] = key.split('/') as [string, string];
    return { ancestorRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace, name }, controllerName, conditions: conditions.map((c) => ({ ...c })) };
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

function resolveRouteRefs(route: HttpRoute, idx: BackendIndex) {
  const rns = route.metadata.namespace ?? '';
  const problems: Array<{ reason: string; message: string }> = [];
  for (const rule of route.spec.rules) {
    for (const ref of rule.backendRefs) {
      if (!(ref.group === '' && ref.kind === 'Service')) { problems.push({ reason: 'InvalidKind', message: `backendRef kind ${ref.kind} is not supported` }); continue; }
      const ns = ref.namespace ?? rns;
      if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name)) { problems.push({ reason: 'RefNotPermitted', message: `backendRef to Service ${ns}/${ref.name} not permitted by any ReferenceGrant` }); continue; }
      const r = resolveServicePort(idx, ns, ref.name, ref.port);
      if (!r.ok) problems.push({ reason: r.reason, message: r.message });
    }
  }
  return {
    condition: (g: number | undefined) => problems.length === 0
      ? cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', g)
      : cond('ResolvedRefs', false, (problems[0] as { reason: string }).reason, problems.map((p) => p.message).join('; '), g),
  };
}

function resolveRuleBackends(route: HttpRoute, ruleIndex: number, idx: BackendIndex): { backends: CompiledRoute['backends']; invalid?: string } {
  const rns = route.metadata.namespace ?? '';
  const rule = route.spec.rules[ruleIndex];
  if (rule === undefined) return { backends: [] };
  const backends: CompiledRoute['backends'] = [];
  const errors: string[] = [];
  for (const ref of rule.backendRefs) {
    const ns = ref.namespace ?? rns;
    if (!(ref.group === '' && ref.kind === 'Service')) { errors.push(`backendRef kind ${ref.kind} is not supported`); continue; }
    if (!referenceGranted(idx, GATEWAY_API_GROUP, 'HTTPRoute', rns, ns, ref.name)) { errors.push(`backendRef to Service ${ns}/${ref.name} not permitted`); continue; }
    const r = resolveServicePort(idx, ns, ref.name, ref.port);
    if (!r.ok) { errors.push(r.message); continue; }
    backends.push({ name: `${ns}/${ref.name}:${ref.port}`, weight: ref.weight, endpoints: r.endpoints });
  }
  // Gateway API: a rule whose every backendRef is invalid answers 500.
  return backends.length === 0 && errors.length > 0 ? { backends, invalid: `invalid backend: ${errors.join('; ')}` } : { backends };
}

/** One request per URL: owners merged, the lowest refresh period and the first resolved endpoint kept. */
function collapseRequests(requests: readonly JwksRequest[]): JwksRequest[] {
  const byUrl = new Map<string, JwksRequest>();
  for (const r of requests) {
    const prev = byUrl.get(r.url);
    byUrl.set(r.url, prev === undefined ? r : {
      url: r.url, refreshMs: Math.min(prev.refreshMs, r.refreshMs), owners: [...prev.owners, ...r.owners],
      ...(prev.connect ?? r.connect ? { connect: (prev.connect ?? r.connect) as NonNullable<JwksRequest['connect']> } : {}),
    });
  }
  return [...byUrl.values()].sort((a, b) => a.url.localeCompare(b.url));
}
