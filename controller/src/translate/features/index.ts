import type { AgentgatewayPolicy } from '@agw/api';
import { authorizationFeature } from './authorization.js';
import { backendAuthFeature } from './backend-auth.js';
import { backendTlsFeature } from './backend-tls.js';
import type { AnyPolicyFeature, ExpressionProblem } from './feature.js';
import { jwtFeature } from './jwt.js';
import { transformationFeature } from './transformation.js';

/**
 * Every policy feature, in the proxy's stage order (upstream: jwt → authorization → rate limit →
 * transformation, then the backend policies per backend call):
 *
 * | feature          | scope   | phases            | merge         | levels, most specific first                       |
 * |------------------|---------|-------------------|---------------|---------------------------------------------------|
 * | `jwt`            | traffic | PreRouting, Route | most-specific | route rule > route > listener > Gateway           |
 * | `authorization`  | traffic | PreRouting, Route | merge-all     | all levels combine, oldest policy first           |
 * | `transformation` | traffic | PreRouting, Route | most-specific | route rule > route > listener > Gateway           |
 * | `backendAuth`    | backend | Route             | most-specific | Service > route rule > route > listener > Gateway |
 * | `backendTls`     | backend | Route             | most-specific | Service (AgentgatewayPolicy, then BackendTLSPolicy) > route rule > route > listener > Gateway |
 */
export const FEATURES: readonly AnyPolicyFeature[] = [
  jwtFeature,
  authorizationFeature,
  transformationFeature,
  backendAuthFeature,
  backendTlsFeature,
];

/**
 * The CEL expressions of a policy that do not parse, every feature's, with the status message and
 * the field path (`agw validate` and `agw local` print them at their file:line).
 */
export function policyExpressionProblems(policy: AgentgatewayPolicy): ExpressionProblem[] {
  return FEATURES.flatMap((f) => f.expressionProblems?.(policy) ?? []);
}

export type {
  AnyPolicyFeature,
  BackendFeatureName,
  ExpressionProblem,
  FeatureName,
  FeatureTranslation,
  MergeRule,
  Phase,
  PolicyFeature,
  Scope,
} from './feature.js';
