#!/usr/bin/env node
/**
 * The request-target canonicalizer alone (issue 12), ns per `canonicalTarget()` call: typical
 * paths 1e6 calls each, hostile ones 1e5 (1e4 for the ~8 KiB ones), 3 interleaved rounds.
 *   node bench/dist/request-target-bench.js
 */
import { canonicalTarget, DEFAULT_PATH_RULES } from '@agw/proxy';

const cases: Array<[url: string, calls: number]> = [
  ['/headers', 1e6],
  ['/api/v1/users/123?x=1', 1e6],
  ['/open/../secure', 1e5],
  ['/open/%2e%2e/secure', 1e5],
  ['/%73ecure', 1e5],
  ['//secure', 1e5],
  ['/secure;x', 1e5],
  ['/open\\..\\secure', 1e5],
  ['/secure%2Fx', 1e5],
  ['http://paths.example.com/secure/x', 1e5],
  ['/../../../etc/passwd', 1e5],
  [`/${'a/'.repeat(4000)}%`, 1e4],
  [`/${'%41'.repeat(2700)}`, 1e4],
  [`/${'x'.repeat(8000)}?${'q'.repeat(100)}`, 1e4],
];
let sink = 0;
const call = (url: string) => {
  sink += canonicalTarget(url, 'GET', DEFAULT_PATH_RULES).kind.length;
};
for (const [url] of cases) for (let i = 0; i < 20_000; i++) call(url); // warm-up
const ns: number[][] = cases.map(() => []);
for (let round = 0; round < 3; round++) {
  cases.forEach(([url, n], i) => {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) call(url);
    ns[i]?.push(Number(process.hrtime.bigint() - t0) / n);
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const out = ['| target | result | calls per round | ns/call, median | rounds |', '|---|---|---|---|---|'];
cases.forEach(([url, n], i) => {
  const r = canonicalTarget(url, 'GET', DEFAULT_PATH_RULES);
  const shown = url.length > 40 ? `${url.slice(0, 16)}… (${url.length} chars)` : url;
  const result =
    r.kind === 'origin'
      ? r.path.length > 30
        ? `${r.path.slice(0, 12)}… (${r.path.length} chars)`
        : r.path + r.query
      : r.kind === 'refused'
        ? r.code
        : r.kind;
  const rounds = ns[i] ?? [];
  out.push(
    `| \`${shown}\` | ${result} | ${n.toExponential(0)} | ${median(rounds).toFixed(0)} | ${rounds.map((x) => x.toFixed(0)).join(' / ')} |`,
  );
});
process.stdout.write(`${out.join('\n')}\n${sink === 0.5 ? '\n' : ''}`);
