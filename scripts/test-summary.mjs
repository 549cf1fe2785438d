#!/usr/bin/env node
// Prints one plain "<project>: N passed, N failed" line per vitest JSON report, and a total, so the
// CI log states the counts in a form any reader (or tool) understands. Exit 1 if a report is missing.
import { readFileSync } from 'node:fs';

let passed = 0,
  failed = 0,
  missing = false;
for (const project of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(`.test-results/${project}.json`, 'utf8'));
    const p = r.numPassedTests ?? 0,
      f = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
    passed += p;
    failed += f;
    console.log(`${project}: ${p} passed, ${f} failed`);
  } catch {
    console.log(`${project}: no report (.test-results/${project}.json)`);
    missing = true;
  }
}
console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(missing || failed > 0 ? 1 : 0);
