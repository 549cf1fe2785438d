#!/usr/bin/env node
/**
 * `npm run soak -- --minutes N [--rate R] [--out DIR]`: the soak of issue 19 on real parts (see
 * soak-run.ts). Prints a summary and the pass criteria; exits 1 when one fails. report.json and
 * requests.csv are written to DIR (default .soak-results/<timestamp>).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary } from './summary.js';
import { runSoak } from './soak-run.js';

const USAGE = 'usage: npm run soak -- [--minutes N (default 60)] [--rate REQ_PER_S (default 500)] [--out DIR]\n';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { minutes: { type: 'string' }, rate: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const minutes = Number(values.minutes ?? 60);
  const rate = Number(values.rate ?? 500);
  if (!(minutes >= 1 && minutes <= 24 * 60) || !(rate >= 1 && rate <= 5000)) {
    process.stderr.write(`--minutes must be 1..1440 and --rate 1..5000\n${USAGE}`);
    return 2;
  }
  const outDir = values.out ?? join('.soak-results', new Date().toISOString().replaceAll(':', '-'));
  const report = await runSoak({ minutes, rate, outDir, command: `npm run soak -- --minutes ${minutes} --rate ${rate}` });
  process.stdout.write(formatSummary(report));
  process.stdout.write(`report: ${join(outDir, 'report.json')}, every request: ${join(outDir, 'requests.csv')}\n`);
  return report.pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed to run: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
