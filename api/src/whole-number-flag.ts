/**
 * A numeric command-line flag (or its env variable), read once at start: a whole number within
 * [min, max] or a one-line error naming the flag. `Number()` alone turns `abc` into NaN and `-1` or
 * `1.5` into values that timers, sockets and caches then reject deep inside a request, or worse,
 * accept (a NaN timeout never fires).
 */
export interface WholeNumberRange {
  readonly min: number;
  readonly max: number;
  /** What the number counts, for the message: "ms", "entries", "a port number". */
  readonly unit: string;
}

/** Milliseconds a Node timer or socket timeout accepts: 0 to 2^31-1 (~24.8 days). */
export const TIMER_MS: WholeNumberRange = { min: 0, max: 2 ** 31 - 1, unit: 'ms' };
/** A TCP port to listen on; 0 binds any free port. */
export const PORT: WholeNumberRange = { min: 0, max: 65_535, unit: 'a port number' };

export function readWholeNumberFlag(flag: string, raw: string | undefined, fallback: number, range: WholeNumberRange): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < range.min || value > range.max)
    throw new Error(`--${flag} takes a whole number (${range.unit}) from ${range.min} to ${range.max}, not ${JSON.stringify(raw)}`);
  return value;
}
