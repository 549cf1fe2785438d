import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoadGenerator } from './load-generator.js';
import { OUTCOME_CSV_HEADER, RequestRecord, outcomeCsv } from './request-record.js';
import { parseResourceSample, type ResourceSample } from './resource-samples.js';
import { faultSchedule, keycloakDownMs, type Fault } from './schedule.js';
import { processReport, soakCriteria, type FaultResult, type SoakReport } from './soak-report.js';
import { SoakWorld, hostOf } from './soak-world.js';

export interface SoakOptions {
  readonly minutes: number;
  /** requests per second */
  readonly rate: number;
  /** where requests.csv and report.json go */
  readonly outDir: string;
  readonly command: string;
  readonly log?: (msg: string) => void;
}

/** Valid tokens are fetched again this often (they live 15 minutes); a failed refresh keeps the old ones. */
const TOKEN_REFRESH_MS = 5 * 60_000;

/**
 * The soak: the world started, a steady mixed load, the faults of the schedule one after another,
 * resources sampled at start, every minute (every sixth of a shorter run) and at the end.
 * Returns the report (also written to <outDir>/report.json); every request is in requests.csv.
 */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? ((msg: string) => process.stderr.write(`[soak] ${msg}\n`));
  const durationMs = o.minutes * 60_000;
  mkdirSync(o.outDir, { recursive: true });
  const startedAt = new Date().toISOString();
  // Requests in flight and their expected answers: the load fills it, the upstream checks leaks against it.
  const inFlight = new Map<number, { expected: number }>();
  const world = await SoakWorld.start({ mustNotReach: (id) => (inFlight.get(id)?.expected ?? 200) !== 200, log });
  const record = new RequestRecord();
  const csv = createWriteStream(join(o.outDir, 'requests.csv'));
  csv.write(OUTCOME_CSV_HEADER);
  let phase = 'steady';
  const load = new LoadGenerator({
    rate: o.rate,
    inFlight,
    proxies: world.proxies.map((p) => p.endpoint),
    hostOf,
    token: (c, n) => world.tokens.token(c, n),
    phase: () => phase,
    onOutcome: (out) => {
      record.add(out);
      csv.write(outcomeCsv(out));
    },
  });
  const samples = new Map<string, ResourceSample[]>();
  const sample = async () => {
    const at = load.now();
    await Promise.all(
      world.processes().map(async ({ instance, adminPort }) => {
        try {
          const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
          const s = parseResourceSample(at, text);
          if (s) samples.set(instance, [...(samples.get(instance) ?? []), s]);
        } catch {
          // a process between restarts: its next instance is sampled next time
        }
      }),
    );
  };

  await load.pollReadiness();
  log(`load: ${o.rate} req/s for ${o.minutes} min`);
  load.start();
  await sample();
  // Every minute (every sixth of a shorter run): enough points that a GC's sawtooth is not a slope.
  const sampler = setInterval(() => void sample(), Math.min(60_000, durationMs / 6));
  const refresher = setInterval(() => {
    if (phase === 'keycloak-down') return;
    world.tokens.refresh().catch((err: unknown) => log(`token refresh failed (old tokens kept): ${String(err)}`));
  }, TOKEN_REFRESH_MS);

  const faults: FaultResult[] = [];
  const run: Record<Fault, () => Promise<string>> = {
    churn: () => world.churn(),
    'bad-tenant': () => world.badTenant(),
    'key-rotation': () => world.rotateKey(),
    'old-key-removed': () => world.removeOldKeys(),
    'leader-killed': () => world.killLeader(),
    'apiserver-restart': () => world.restartApiServer(),
    'proxy-restart': () => world.restartProxy(),
    'keycloak-down': () => world.keycloakDown(keycloakDownMs(durationMs)),
  };
  for (const { fault, atMs } of faultSchedule(durationMs)) {
    const wait = atMs - load.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    phase = fault;
    const startedAtMs = load.now();
    log(`fault ${fault} at ${Math.round(startedAtMs / 1000)} s`);
    let result: FaultResult;
    try {
      const detail = await run[fault]();
      result = { fault, startedAtMs, endedAtMs: load.now(), ok: true, detail };
    } catch (err) {
      result = { fault, startedAtMs, endedAtMs: load.now(), ok: false, detail: (err as Error).message };
    }
    faults.push(result);
    log(`  ${result.ok ? 'ok' : 'FAILED'}: ${result.detail}`);
    phase = 'steady';
  }
  const rest = durationMs - load.now();
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  clearInterval(sampler);
  clearInterval(refresher);
  await sample();
  const elapsedMs = load.now();
  await load.stop();
  await new Promise<void>((r) => csv.end(r));
  const leaked = world.upstream.leakedCount;
  await world.stop();

  const processes = [...samples].map(([instance, s]) => processReport(instance, s));
  const criteria = soakCriteria({
    record,
    sent: load.sent,
    skipped: load.skipped,
    expectedSent: Math.floor((elapsedMs * o.rate) / 1000),
    leaked,
    faults,
    processes,
  });
  const report: SoakReport = {
    command: o.command,
    startedAt,
    minutes: o.minutes,
    ratePerSecond: o.rate,
    requests: {
      sent: load.sent,
      answered: record.total - record.noAnswer,
      skipped: load.skipped,
      wrong: record.wrong,
      wrongValid: record.wrongValid,
      noAnswer: record.noAnswer,
      serverErrors: record.serverErrors,
    },
    leakedToBackend: leaked,
    longestValidGapMs: Math.round(record.longestValidGapMs),
    phases: record.phaseSummaries(),
    faults,
    processes,
    answers: Object.fromEntries([...record.counts].sort(([a], [b]) => a.localeCompare(b))),
    wrongExamples: record.wrongKept,
    criteria,
    pass: criteria.every((c) => c.pass),
  };
  writeFileSync(join(o.outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}
