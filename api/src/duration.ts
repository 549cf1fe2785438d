/**
 * Kubernetes/Go duration strings as the agentgateway CRD accepts them: `^([0-9]{1,5}(h|m|s|ms)){1,4}$`
 * (e.g. `5m`, `1h30m`, `250ms`). Parsed to milliseconds.
 */
export const DURATION_PATTERN = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** Milliseconds of a duration string, or undefined when it does not match DURATION_PATTERN. */
export function parseDurationMs(text: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
  return total;
}
