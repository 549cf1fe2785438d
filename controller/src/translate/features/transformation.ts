import type { AgentgatewayPolicy, CompiledTransform, CompiledTransformationPolicy, Transform, Transformation } from '@agw/api';
import { keyOf } from '../model.js';
import { celProblem } from './cel-check.js';
import type { ExpressionProblem, PolicyFeature } from './feature.js';

type Path = ReadonlyArray<string | number>;
const BASE = ['spec', 'traffic', 'transformation'] as const;

/**
 * Header names as the proxy matches them: lower-case (HTTP field names are case-insensitive and
 * Node gives them lower-cased). Pseudo-headers (`:authority`, …) are kept as written: the CRD only
 * admits the five lower-case ones.
 */
const headerName = (name: string): string => (name.startsWith(':') ? name : name.toLowerCase());

function compileTransform(t: Transform): CompiledTransform {
  return {
    // Metadata names are variable names (`metadata.<name>`): case kept.
    metadata: Object.entries(t.metadata ?? {}).map(([name, value]) => ({ name, value })),
    add: (t.add ?? []).map((h) => ({ name: headerName(h.name), value: h.value })),
    set: (t.set ?? []).map((h) => ({ name: headerName(h.name), value: h.value })),
    remove: (t.remove ?? []).map(headerName),
    ...(t.body !== undefined ? { body: t.body } : {}),
  };
}

/** Expressions of one Transform that do not parse, with upstream's messages (set, add, body, metadata). */
function transformProblems(t: Transform | undefined, path: Path): ExpressionProblem[] {
  if (t === undefined) return [];
  return [
    ...(t.set ?? []).flatMap((h, i) => celProblem([...path, 'set', i, 'value'], h.value, 'header value is not a valid CEL expression')),
    ...(t.add ?? []).flatMap((h, i) => celProblem([...path, 'add', i, 'value'], h.value, 'invalid header value')),
    ...(t.body !== undefined ? celProblem([...path, 'body'], t.body, 'body value is not a valid CEL expression') : []),
    ...Object.entries(t.metadata ?? {}).flatMap(([name, value]) =>
      celProblem([...path, 'metadata', name], value, 'metadata value is not a valid CEL expression'),
    ),
  ];
}

/** Every expression of the transformation that does not parse, in the order of the spec. */
export function transformationExpressionProblems(policy: AgentgatewayPolicy): ExpressionProblem[] {
  const tr = policy.spec.traffic?.transformation;
  if (tr === undefined) return [];
  if (tr.conditional !== undefined)
    return tr.conditional.flatMap((e, i) => [
      ...(e.condition !== undefined
        ? celProblem([...BASE, 'conditional', i, 'condition'], e.condition, 'condition CEL expression is invalid')
        : []),
      ...transformProblems(e.policy.request, [...BASE, 'conditional', i, 'policy', 'request']),
      ...transformProblems(e.policy.response, [...BASE, 'conditional', i, 'policy', 'response']),
    ]);
  return [...transformProblems(tr.request, [...BASE, 'request']), ...transformProblems(tr.response, [...BASE, 'response'])];
}

/**
 * `spec.traffic.transformation` → entries, the first whose condition is true (or that has none)
 * applying: without `conditional`, one entry without condition; with it, its entries in order.
 * Expressions are pushed as written, parse errors included: the proxy treats such an expression
 * as failing (a header whose value fails is removed, a failing body is empty, a failing condition
 * is false), and the policy is PartiallyValid (upstream).
 */
export function translateTransformation(policy: AgentgatewayPolicy, tr: Transformation): CompiledTransformationPolicy {
  const entry = (condition: string | undefined, request: Transform | undefined, response: Transform | undefined) => ({
    ...(condition !== undefined ? { condition } : {}),
    ...(request !== undefined ? { request: compileTransform(request) } : {}),
    ...(response !== undefined ? { response: compileTransform(response) } : {}),
  });
  return {
    policy: keyOf(policy),
    entries:
      tr.conditional !== undefined
        ? tr.conditional.map((e) => entry(e.condition, e.policy.request, e.policy.response))
        : [entry(undefined, tr.request, tr.response)],
  };
}

/** In both phases; the most specific attachment replaces the others wholesale (upstream e2e TestTransformation). */
export const transformationFeature: PolicyFeature<'transformation'> = {
  name: 'transformation',
  scope: 'traffic',
  phases: new Set(['PreRouting', 'Route']),
  merge: 'most-specific',
  translate(policy) {
    const tr = policy.spec.traffic?.transformation;
    if (tr === undefined) return undefined;
    return {
      compiled: translateTransformation(policy, tr),
      errors: transformationExpressionProblems(policy).map((p) => p.message),
      notes: [],
      jwksRequests: [],
    };
  },
  expressionProblems: transformationExpressionProblems,
};
