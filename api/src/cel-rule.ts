import type { z } from 'zod';

/**
 * One validation rule, written once: the CEL expression the API server evaluates
 * (`x-kubernetes-validations`) and the same check in TypeScript for zod, with one message.
 * Messages are upstream agentgateway's, verbatim, so users see the same text everywhere.
 */
export interface CelRule<T> {
  /** CEL expression over `self`, emitted into the CRD. */
  readonly rule: string;
  /** Message shown by the API server and by zod, verbatim. */
  readonly message: string;
  /** The same predicate as `rule`, evaluated by zod on parsed input. */
  readonly holds: (self: T) => boolean;
}

/** A field's kubectl-explain text plus its CEL rules, with the rules enforced by zod too. */
export function withRules<S extends z.ZodType>(schema: S, description: string, rules: ReadonlyArray<CelRule<z.output<S>>>): S {
  const refined =
    rules.length === 0
      ? schema
      : schema.superRefine((value, ctx) => {
          for (const r of rules) {
            if (!r.holds(value)) ctx.addIssue({ code: 'custom', message: r.message, input: value });
          }
        });
  const meta: Record<string, unknown> = { description };
  if (rules.length > 0) {
    meta['x-kubernetes-validations'] = rules.map(({ rule, message }) => ({ rule, message }));
  }
  return refined.meta(meta) as S;
}

/** `[has(a), has(b)].filter(x, x).size() == 1` as both CEL and a predicate. */
export function exactlyOneOf<T extends object>(fields: ReadonlyArray<keyof T & string>, upstreamList?: string): CelRule<T> {
  const has = fields.map((f) => `has(self.${f})`).join(',');
  return {
    rule: `[${has}].filter(x,x).size() == 1`,
    message: `exactly one of the fields in [${upstreamList ?? fields.join(' ')}] must be set`,
    holds: (self) => fields.filter((f) => (self as Record<string, unknown>)[f] !== undefined).length === 1,
  };
}
