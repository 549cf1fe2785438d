import type { AgentgatewayPolicy, FeaturePolicies } from '@agw/api';
import type { BackendIndex } from '../backends.js';
import type { JwksKeys, JwksRequest } from '../model.js';

/** A traffic policy feature, by its key in the proxy config's `policies` and in `PolicyRefs`. */
export type FeatureName = keyof FeaturePolicies;

/** Upstream's attachment phases: PreRouting runs before route selection (Gateway and listener targets only). */
export type Phase = 'PreRouting' | 'Route';

/**
 * How attachments at several levels combine (agentgateway-cel-policies.md §1):
 * - `most-specific`: the most specific attachment replaces the others (route rule > route >
 *   listener > Gateway; among equals the oldest policy): JWT, transformation.
 * - `merge-all`: every attachment at every level applies (authorization rules).
 */
export type MergeRule = 'most-specific' | 'merge-all';

/** What a feature reads besides the policy itself. */
export interface FeatureContext {
  readonly backends: BackendIndex;
  readonly jwks: ReadonlyMap<string, JwksKeys>;
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
 * A policy feature: its contract is in api/ (the CRD field and the compiled form), its proxy
 * stage in proxy/src/stages/. Adding a feature = one file here, listed in FEATURES.
 */
export interface PolicyFeature<F extends FeatureName = FeatureName> {
  readonly name: F;
  readonly phases: ReadonlySet<Phase>;
  readonly merge: MergeRule;
  /** This feature's compiled form of a policy; undefined when the policy does not carry the feature. Pure. */
  translate(policy: AgentgatewayPolicy, ctx: FeatureContext): FeatureTranslation<FeaturePolicies[F][string]> | undefined;
}
