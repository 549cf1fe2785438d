import { compileRouteRegex, type HttpRoute } from '@agw/api';

/** A regular expression of an HTTPRoute that the proxy's engine (RE2 semantics) refuses. */
export interface RouteRegexProblem {
  readonly ruleIndex: number;
  /** Field path inside the HTTPRoute object (`spec.rules.0.matches.1.path.value`), for file:line. */
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/**
 * Every `RegularExpression` match value of a route compiled as the proxy will compile it
 * (api's compileRouteRegex): what fails here is reported on the route's status and left out of the
 * config, so the proxy never receives it. The message names the rule (index and name) and the error.
 */
export function routeRegexProblems(route: HttpRoute): RouteRegexProblem[] {
  const out: RouteRegexProblem[] = [];
  route.spec.rules.forEach((rule, ri) => {
    const ruleName = rule.name === undefined ? `rule ${ri}` : `rule ${ri} (${rule.name})`;
    const check = (what: string, value: string, path: ReadonlyArray<string | number>) => {
      const re = compileRouteRegex(value);
      if (!re.ok)
        out.push({
          ruleIndex: ri,
          path: ['spec', 'rules', ri, 'matches', ...path],
          message: `${ruleName}: ${what} regular expression ${JSON.stringify(value)} is invalid: ${re.error}`,
        });
    };
    rule.matches.forEach((m, mi) => {
      if (m.path.type === 'RegularExpression') check('path', m.path.value, [mi, 'path', 'value']);
      (m.headers ?? []).forEach((h, hi) => {
        if (h.type === 'RegularExpression') check(`header ${h.name}`, h.value, [mi, 'headers', hi, 'value']);
      });
      (m.queryParams ?? []).forEach((q, qi) => {
        if (q.type === 'RegularExpression') check(`query parameter ${q.name}`, q.value, [mi, 'queryParams', qi, 'value']);
      });
    });
  });
  return out;
}
