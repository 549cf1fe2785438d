import type { SoakReport } from './soak-report.js';

/** The report as text: criteria, faults, phases, processes. */
export function formatSummary(r: SoakReport): string {
  const lines: string[] = [];
  lines.push(`soak ${r.minutes} min at ${r.ratePerSecond} req/s: ${r.pass ? 'PASS' : 'FAIL'}`);
  for (const c of r.criteria) lines.push(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${c.value}`);
  lines.push(`requests: ${JSON.stringify(r.requests)}, longest valid gap ${r.longestValidGapMs} ms`);
  lines.push('faults:');
  for (const f of r.faults)
    lines.push(
      `  ${Math.round(f.startedAtMs / 1000)}s ${f.fault} (${Math.round((f.endedAtMs - f.startedAtMs) / 1000)} s) ${f.ok ? 'ok' : 'FAILED'}: ${f.detail}`,
    );
  lines.push('phases (all requests): p50 / p99 / max ms');
  for (const p of r.phases)
    lines.push(`  ${p.phase.padEnd(18)} ${String(p.requests).padStart(8)} req  ${p.p50Ms} / ${p.p99Ms} / ${p.maxMs}  wrong ${p.wrong}`);
  lines.push('processes: RSS MiB first→last (slope MiB/h), heap MiB first→last (slope), max fds, max event-loop p99 ms');
  for (const p of r.processes) {
    const a = p.samples[0],
      z = p.samples[p.samples.length - 1];
    lines.push(
      `  ${p.instance.padEnd(22)} ${a?.rssMiB}→${z?.rssMiB} (${p.rssSlopeMiBPerHour ?? 'n/a'})  ${a?.heapUsedMiB}→${z?.heapUsedMiB} (${p.heapSlopeMiBPerHour ?? 'n/a'})  ${p.maxOpenFds}  ${p.maxEventLoopP99Ms}`,
    );
  }
  for (const w of r.wrongExamples.slice(0, 10)) lines.push(`  wrong: ${JSON.stringify(w)}`);
  return lines.join('\n') + '\n';
}
