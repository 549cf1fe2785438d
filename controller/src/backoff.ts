/** First retry after a failed fetch, ms (upstream: 100 ms · 2^(attempt+1), so 200 ms first). */
export const BACKOFF_BASE_MS = 100;
/** Longest wait between retries, ms (upstream's cap). */
export const BACKOFF_CAP_MS = 15_000;

/**
 * Delay before retry number `attempt` (0-based): 200 ms, 400 ms, 800 ms … capped at 15 s, then
 * "equal jitter" (half fixed, half random) so that controllers do not retry in lock-step.
 * `random` in [0, 1) is injected for tests. Never overflows, whatever the attempt count.
 */
export function retryDelayMs(attempt: number, random: () => number): number {
  const exp = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt + 1, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}
