import type { AgentgatewayPolicy, CompiledBackend, FeaturePolicies, PolicyRefs } from '@agw/api';
import type { BackendIndex } from '../backends.js';
import type { CaBundleCheck, JwksKeys, JwksRequest, ObjectKey } from '../model.js';
import type { ServiceTlsResolver } from '../service-tls.js';

/** A policy feature, by its key in the proxy config's `policies` and in `PolicyRefs`. */
export type FeatureName = keyof FeaturePolicies;

/** Upstream's attachment phases: PreRouting runs before route selection (Gateway and listener targets only). */
export type Phase = 'PreRouting' | 'Route';

/**
 * How attachments at several levels combine (agentgateway-cel-policies.md §1):
 * - `most-specific`: the most specific attachment replaces the others (Service > route rule >
 *   route > listener > Gateway; among equals the oldest policy): JWT, transformation, backend auth.
 * - `merge-all`: every attachment at every level applies, oldest policy first (authorization rules).
 *
 * The rule follows from the contract: a feature whose `PolicyRefs` entry is a list is merge-all,
 * one whose entry is a single key is most-specific (so the two cannot disagree).
 */
export type MergeRule = 'most-specific' | 'merge-all';
export type MergeRuleOf<F extends FeatureName> = F extends FeatureName
  ? NonNullable<PolicyRefs[F]> extends readonly string[]
    ? 'merge-all'
    : 'most-specific'
  : never;

/** Features that also attach to a backend (`CompiledBackend.policies`), i.e. `spec.backend.*`. */
export type BackendFeatureName = keyof NonNullable<CompiledBackend['policies']> & FeatureName;

/**
 * Where a feature runs (agentgateway-cel-policies.md §1):
 * - `traffic` (`spec.traffic.*`): per request, in its phase; attaches to Gateways, listeners,
 *   routes and route rules.
 * - `backend` (`spec.backend.*`): per backend call, after routing. It also attaches to Services
 *   (most specific of all), and `traffic.phase` does not move it: a PreRouting policy's backend
 *   part applies at its own level (Gateway or listener) to every route there, as a Route-phase one.
 */
export type Scope = 'traffic' | 'backend';
export type ScopeOf<F extends FeatureName> = F extends BackendFeatureName ? 'backend' : 'traffic';

/** What a feature reads besides the policy itself. */
export interface FeatureContext {
  readonly backends: BackendIndex;
  readonly jwks: ReadonlyMap<string, JwksKeys>;
  /** TLS of calls to a Service (JWKS fetches): its AgentgatewayPolicy `backend.tls`, else its BackendTLSPolicy; absent: none. */
  readonly backendTls?: ServiceTlsResolver;
  /** CA bundles (`ca.crt` of ConfigMaps) by `<ns>/<name>`, checked at the edge; absent: none (a reference is "not found"). */
  readonly caBundles?: ReadonlyMap<ObjectKey, CaBundleCheck>;
  /** Last fetch errors of JWKS URLs without usable keys; absent: none known. */
  readonly jwksErrors?: ReadonlyMap<string, string>;
}

/** One policy's part of a feature, compiled, with what the policy status says about it. */
export interface FeatureTranslation<Compiled> {
  readonly compiled: Compiled;
  /** Problems that left part of the feature out: the policy is Accepted=True PartiallyValid (upstream). */
  readonly errors: readonly string[];
  /** Facts that do not change acceptance (stale keys, removed key material), appended to the message. */
  readonly notes: readonly string[];
  readonly jwksRequests: readonly JwksRequest[];
}

/**
 * A CEL expression of a policy that does not parse: its field path in the policy object (for the
 * CLI's file:line) and the status message (upstream's wording). The policy is still pushed with
 * the expression as written; the proxy makes it fail at every evaluation.
 */
export interface ExpressionProblem {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/**
 * A policy feature: its contract is in api/ (the CRD field and the compiled form), its proxy
 * stage in proxy/src/stages/. Adding a feature = one file here, listed in FEATURES.
 *
 * | feature          | scope   | phases            | merge         |
 * |------------------|---------|-------------------|---------------|
 * | `jwt`            | traffic | PreRouting, Route | most-specific |
 * | `authorization`  | traffic | PreRouting, Route | merge-all     |
 * | `transformation` | traffic | PreRouting, Route | most-specific |
 * | `backendAuth`    | backend | Route             | most-specific |
 * | `backendTls`     | backend | Route             | most-specific |
 */
export interface PolicyFeature<F extends FeatureName = FeatureName> {
  readonly name: F;
  readonly scope: ScopeOf<F>;
  readonly phases: ReadonlySet<Phase>;
  readonly merge: MergeRuleOf<F>;
  /** This feature's compiled form of a policy; undefined when the policy does not carry the feature. Pure. */
  translate(policy: AgentgatewayPolicy, ctx: FeatureContext): FeatureTranslation<FeaturePolicies[F][string]> | undefined;
  /** CEL expressions of the feature that do not parse (also in `translate`'s errors). Absent: the feature has none. */
  expressionProblems?(policy: AgentgatewayPolicy): readonly ExpressionProblem[];
}

/** Any one feature: a union, so that checking `merge` or `scope` narrows `name` (and the refs it may write). */
export type AnyPolicyFeature = { [F in FeatureName]: PolicyFeature<F> }[FeatureName];
