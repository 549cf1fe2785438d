export { translate } from './translate.js';
export * from './model.js';
export { validateJwksUrl } from './features/jwt.js';
export { FEATURES, type FeatureName, type MergeRule, type Phase, type PolicyFeature } from './features/index.js';
export { parseJwks, type JwksParse } from './jwks-keys.js';
export { routeRegexProblems, type RouteRegexProblem } from './route-regexes.js';
