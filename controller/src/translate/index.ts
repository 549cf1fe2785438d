export { translate } from './translate.js';
export * from './model.js';
export { validateJwksUrl } from './features/jwt.js';
export {
  FEATURES,
  policyExpressionProblems,
  type AnyPolicyFeature,
  type ExpressionProblem,
  type FeatureName,
  type MergeRule,
  type Phase,
  type PolicyFeature,
  type Scope,
} from './features/index.js';
export { parseJwks, type JwksParse } from './jwks-keys.js';
export { routeFilterProblems, type RouteFilterProblem } from './route-filters.js';
export { routeRegexProblems, type RouteRegexProblem } from './route-regexes.js';
