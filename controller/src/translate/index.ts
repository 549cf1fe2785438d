export { translate } from './translate.js';
export * from './model.js';
export { validateJwksUrl } from './jwt-policy.js';
export { parseJwks, type JwksParse } from './jwks-keys.js';
export { routeRegexProblems, type RouteRegexProblem } from './route-regexes.js';
