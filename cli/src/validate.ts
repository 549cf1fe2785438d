import { WATCHED_KINDS, apiServerProblems } from '@agw/api';
import {
  formatIssue,
  parseObjects,
  policyExpressionProblems,
  routeFilterProblems,
  routeRegexProblems,
  type ObjectIssue,
  type ObjectProblem,
} from '@agw/controller';
import { kindCaseHint, kindCaseMessage } from './kind-hint.js';
import type { Manifest } from './manifests.js';

export interface ValidationProblem {
  readonly file: string;
  readonly line: number;
  readonly object: string;
  readonly field: string;
  readonly message: string;
}

/** Not an error (the exit code stays), but likely a mistake: a kind spelled with the wrong case. */
export interface ValidationWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/**
 * Validates manifests offline with the same zod schemas and CEL rules as the API server (same
 * messages: OpenAPI checks worded by apiServerIssues, CEL rules with upstream's). AgentgatewayPolicy is checked in full; Gateway API objects for the fields we read.
 * Never throws: an object that cannot be checked at all is a problem of its file.
 */
export function validateManifests(manifests: readonly Manifest[]): {
  problems: ValidationProblem[];
  checked: number;
  ignored: string[];
  warnings: ValidationWarning[];
} {
  const problems: ValidationProblem[] = [];
  const ignored: string[] = [];
  const warnings: ValidationWarning[] = [];
  let checked = 0;
  for (const m of manifests) {
    const hint = kindCaseHint(m.object);
    if (hint !== undefined)
      warnings.push({
        file: m.file,
        line: m.lineOf(['kind']),
        message: kindCaseMessage(String((m.object as { kind: unknown }).kind), hint),
      });
    let parsed: ReturnType<typeof parseObjects>;
    try {
      parsed = parseObjects([m.object]);
    } catch (err) {
      problems.push({
        file: m.file,
        line: m.line,
        object: '(document)',
        field: '(root)',
        message: `could not be checked: ${(err as Error).message}`,
      });
      continue;
    }
    ignored.push(...parsed.ignored);
    if (parsed.ignored.length === 0) checked++;
    for (const p of parsed.problems) {
      // Each issue keeps its field path: it maps back to a line of the file.
      for (const issue of apiServerIssues(p)) {
        problems.push({
          file: m.file,
          line: m.lineOf(issue.path),
          object: p.ref,
          field: issue.path.join('.') || '(root)',
          message: issue.message,
        });
      }
    }
    problems.push(...routeProblems(m, parsed.httpRoutes));
    // Admitted by the API server, PartiallyValid in the controller: a warning (kubectl apply works).
    for (const p of policyProblems(m, parsed.policies))
      warnings.push({
        file: p.file,
        line: p.line,
        message: `${p.object}: ${p.field}: ${p.message} (PartiallyValid: this expression fails at every request)`,
      });
  }
  return { problems, checked, ignored, warnings };
}

/**
 * A refused object's issues in the API server's words (schema-messages.ts: `Required value`,
 * `Unsupported value: …`, `… in body should have at least 1 items`; CEL rules keep upstream's
 * messages): the object parsed again with its kind's boundary schema, as parseObjects picked it.
 * Falls back to the parser's own issues (zod's words) if that finds none.
 */
export function apiServerIssues(p: ObjectProblem): readonly ObjectIssue[] {
  const o = (p.object ?? {}) as { apiVersion?: unknown; kind?: unknown };
  const apiVersion = String(o.apiVersion ?? '');
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const kind = Object.values(WATCHED_KINDS).find((k) => k.group === group && k.kind === o.kind);
  const issues = kind === undefined ? undefined : apiServerProblems(kind.schema, p.object);
  return issues !== undefined && issues.length > 0 ? issues : p.issues;
}

/** Every issue of a refused object in the API server's words, `; `-separated (as formatIssues). */
export const formatApiServerIssues = (p: ObjectProblem): string => apiServerIssues(p).map(formatIssue).join('; ');

/**
 * What the API server admits but the controller refuses in an HTTPRoute: a regular expression
 * RE2 does not compile, a filter the proxy does not serve or a filter value it refuses (the rule
 * is left out, the route Accepted=False UnsupportedValue).
 */
export function routeProblems(m: Manifest, routes: ReturnType<typeof parseObjects>['httpRoutes']): ValidationProblem[] {
  return routes.flatMap((route) =>
    [...routeRegexProblems(route), ...routeFilterProblems(route)].map((p) => ({
      file: m.file,
      line: m.lineOf(p.path),
      object: `HTTPRoute ${route.metadata.namespace ?? 'default'}/${route.metadata.name}`,
      field: p.path.slice(1).join('.'),
      message: p.message,
    })),
  );
}

/**
 * What the API server admits but the controller reports: a CEL expression of a policy that does
 * not parse (the policy is Accepted=True PartiallyValid with the same message, and the
 * expression fails at every evaluation in the proxy).
 */
export function policyProblems(m: Manifest, policies: ReturnType<typeof parseObjects>['policies']): ValidationProblem[] {
  return policies.flatMap((policy) =>
    policyExpressionProblems(policy).map((p) => ({
      file: m.file,
      line: m.lineOf(p.path),
      object: `AgentgatewayPolicy ${policy.metadata.namespace ?? 'default'}/${policy.metadata.name}`,
      field: p.path.join('.'),
      message: p.message,
    })),
  );
}

export function formatProblem(p: ValidationProblem): string {
  return `${p.file}:${p.line}: ${p.object}: ${p.field === '(root)' ? '' : `${p.field}: `}${p.message}`;
}

export const formatWarning = (w: ValidationWarning): string => `warning: ${w.file}:${w.line}: ${w.message}`;
