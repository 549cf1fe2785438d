import { RE2JS } from 're2js';
import { boundedMemo } from '../bounded-memo.js';
import { chargeUnits } from './cost.js';
import { CelLimits } from './limits.js';

/**
 * Regular expressions of CEL (`matches`, `regexReplace`) on RE2 semantics, as upstream (Rust's
 * `regex` crate and cel-go are RE2-family engines): matching is linear in the input, so
 * `'aaaa…!'.matches('(a+)+b')` answers at once instead of backtracking for ever, and what RE2
 * refuses (look-around, back-references) is an evaluation error. The library's own `matches`
 * (JS RegExp, which backtracks) is never used: compile.ts routes every `.matches()` here.
 *
 * Compiled patterns (and refusals) are memoized per process (most expressions use literal
 * patterns), at most `CelLimits.regexCacheSize` of them.
 */
export class CelRegexError extends Error {
  readonly code = 'invalid_regex';
}

/**
 * Compiling is charged only when the pattern is not memoized yet: a flat 20,000 units (re2js
 * compiles typical patterns in well under a millisecond, the largest RE2 accepts in ~30-70 ms),
 * so one evaluation compiles at most ~50 distinct patterns, e.g. built from request data.
 */
const COMPILE_COST = 20_000;

const compileMemo = boundedMemo((pattern: string): RE2JS | CelRegexError => {
  chargeUnits(COMPILE_COST);
  if (pattern.length > CelLimits.maxRegexLength) {
    return new CelRegexError(`regular expression longer than ${CelLimits.maxRegexLength} characters`);
  }
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    // re2js words its errors as Go's regexp/syntax: "error parsing regexp: missing closing ): `(x`".
    return new CelRegexError(`'${pattern}' not a valid regex: ${(err as Error).message}`);
  }
}, CelLimits.regexCacheSize);

export function compileCelRegex(pattern: string): RE2JS {
  const re = compileMemo(pattern);
  if (re instanceof CelRegexError) throw re;
  return re;
}

/**
 * Charges a match before running it: re2js is linear, in (program size × input length). Measured
 * steady state: ≤ 2 ns per instruction·character while its DFA applies, ~13 ns beyond ~1,000
 * instructions (`.{1000}.{1000}.{1000}`), where it falls back to the NFA. So one cost unit
 * (~50 ns) per 32 instruction·characters, per 4 above 1,000 instructions; captures
 * (`regexReplace`) count double. A match that would exceed the budget is refused before it runs.
 */
function chargeMatch(re: RE2JS, input: string, captures: boolean): void {
  const size = re.programSize();
  const perUnit = (size > 1_000 ? 4 : 32) / (captures ? 2 : 1);
  chargeUnits(Math.ceil((size * input.length) / perUnit));
}

/** CEL `s.matches(re)`: true if `re` matches any part of `s` (an unanchored search). */
export function celMatches(s: string, pattern: string): boolean {
  const re = compileCelRegex(pattern);
  chargeMatch(re, s, false);
  return re.test(s);
}

/**
 * upstream's `s.regexReplace(re, replacement)`: replaces the **first** match only (Rust
 * `Regex::replace`), with Rust's replacement syntax: `$1`/`${1}` a group by number, `$name`/
 * `${name}` by name (a name is the longest run of `[0-9A-Za-z_]`, so `$1a` means a group named
 * "1a"), a missing or unmatched group is empty, `$$` is a literal `$`, any other `$` is literal.
 */
export function celRegexReplace(s: string, pattern: string, replacement: string): string {
  const re = compileCelRegex(pattern);
  chargeMatch(re, s, true);
  const m = re.exec(s) as (RegExpExecArray & { groups?: Record<string, string | undefined> }) | null;
  if (!m) return s;
  const expanded = expandReplacement(replacement, m);
  return s.slice(0, m.index) + expanded + s.slice(m.index + m[0]!.length);
}

function expandReplacement(rep: string, m: RegExpExecArray & { groups?: Record<string, string | undefined> }): string {
  if (!rep.includes('$')) return rep;
  let out = '';
  for (let i = 0; i < rep.length; i++) {
    const c = rep[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = rep[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    let end = i + 1;
    if (next === '{') {
      const close = rep.indexOf('}', i + 2);
      const candidate = close < 0 ? '' : rep.slice(i + 2, close);
      if (close >= 0 && /^[0-9A-Za-z_]+$/.test(candidate)) {
        name = candidate;
        end = close + 1;
      }
    } else {
      const run = /^[0-9A-Za-z_]+/.exec(rep.slice(i + 1));
      if (run) {
        name = run[0];
        end = i + 1 + name.length;
      }
    }
    if (name === undefined) {
      out += '$';
      continue;
    }
    out += groupValue(m, name) ?? '';
    i = end - 1;
  }
  return out;
}

function groupValue(m: RegExpExecArray & { groups?: Record<string, string | undefined> }, name: string): string | undefined {
  if (/^[0-9]+$/.test(name)) {
    const n = Number(name);
    return n < m.length ? m[n] : undefined;
  }
  return m.groups?.[name];
}
