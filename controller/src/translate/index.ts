export { translate } from './translate.js';
export * from './model.js';
export { parseInlineJwks, validateJwksUrl } from './jwt-policy.js';
export { routeRegexProblems, type RouteRegexProblem } from './route-regexes.js';
