import { describe, expect, it } from 'vitest';
import { ControllerService } from './controller-service.js';
import { LatencyHistogram, RequestRecord, type Outcome } from './request-record.js';
import { parseResourceSample, slopePerHour, type ResourceSample } from './resource-samples.js';
import { faultSchedule, keycloakDownMs, FAULTS } from './schedule.js';
import { soakCriteria, processReport } from './soak-report.js';
import { CREDENTIALS, ROUTE_MODES, credentialFor, expectedStatus, routeFor } from './traffic-mix.js';
import { createServer } from 'node:net';

describe('traffic mix', () => {
  it("expected answers follow agentgateway's modes", () => {
    expect(ROUTE_MODES.map((m) => CREDENTIALS.map((c) => expectedStatus(m, c)))).toEqual([
      [200, 401, 401, 401, 401, 401], // Strict
      [200, 200, 401, 401, 401, 401], // Optional: no token passes, a bad one does not
      [200, 200, 200, 200, 200, 200], // Permissive
    ]);
  });
  it('every route × credential pair occurs within 60 requests; half the traffic is valid', () => {
    const pairs = new Set(Array.from({ length: 60 }, (_, n) => `${routeFor(n)} ${credentialFor(n)}`));
    expect(pairs.size).toBe(ROUTE_MODES.length * CREDENTIALS.length);
    expect(Array.from({ length: 1000 }, (_, n) => credentialFor(n)).filter((c) => c === 'valid').length).toBe(500);
  });
});

describe('fault schedule', () => {
  it('3 minutes: one cycle, every fault once, in order, inside the run; Keycloak down 18 s', () => {
    const s = faultSchedule(180_000);
    expect(s.map((f) => f.fault)).toEqual([...FAULTS]);
    expect(s.every((f, i) => f.atMs < 180_000 && (i === 0 || f.atMs > (s[i - 1]?.atMs ?? 0)))).toBe(true);
    expect(keycloakDownMs(180_000)).toBe(18_000);
  });
  it('60 minutes: two 30-minute cycles; Keycloak down 2 minutes', () => {
    const s = faultSchedule(3_600_000);
    expect(s).toHaveLength(2 * FAULTS.length);
    expect(s[FAULTS.length]?.atMs).toBe(1_800_000 + 0.04 * 1_800_000);
    expect(keycloakDownMs(3_600_000)).toBe(120_000);
  });
});

const outcome = (o: Partial<Outcome>): Outcome => ({
  atMs: 0,
  id: 0,
  proxy: 'p',
  route: 'Strict',
  credential: 'valid',
  expected: 200,
  status: 200,
  latencyMs: 1,
  phase: 'steady',
  ...o,
});

describe('request record', () => {
  it('counts wrong answers (valid ones apart), 5xx, no-answers, and the longest gap between valid successes', () => {
    const r = new RequestRecord();
    r.add(outcome({ atMs: 0 }));
    r.add(outcome({ atMs: 100, status: 503 })); // valid, wrong, 5xx
    r.add(outcome({ atMs: 200, credential: 'none', expected: 401, status: 200 })); // wrong, not valid
    r.add(outcome({ atMs: 300, status: 0, error: 'timeout' }));
    r.add(outcome({ atMs: 2000 }));
    expect([r.total, r.wrong, r.wrongValid, r.serverErrors, r.noAnswer]).toEqual([5, 3, 2, 1, 1]);
    expect(r.longestValidGapMs).toBe(2000);
    expect(r.counts.get('Strict valid 200')).toBe(2);
    expect(r.phaseSummaries()[0]).toMatchObject({ phase: 'steady', requests: 5, wrong: 3 });
  });
  it('histogram quantiles are within one 2% bucket', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.add(i / 10); // 0.1 .. 100 ms
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(50);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(51.1);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(99);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(100);
  });
});

describe('resource samples', () => {
  const text = [
    'process_resident_memory_bytes 104857600',
    'nodejs_heap_size_used_bytes 52428800',
    'process_open_fds 42',
    'nodejs_eventloop_lag_p99_seconds 0.0125',
  ].join('\n');
  it('reads RSS, heap, fds and event-loop p99 from prom-client text; a missing series gives undefined', () => {
    expect(parseResourceSample(5, text)).toEqual({ atMs: 5, rssMiB: 100, heapUsedMiB: 50, openFds: 42, eventLoopP99Ms: 12.5 });
    expect(parseResourceSample(5, text.replace('process_open_fds 42', ''))).toBeUndefined();
  });
  const series = (minutes: number, mibPerHour: number): ResourceSample[] =>
    Array.from({ length: minutes + 1 }, (_, m) => ({
      atMs: m * 60_000,
      rssMiB: 100 + (mibPerHour * m) / 60,
      heapUsedMiB: 50,
      openFds: 40,
      eventLoopP99Ms: 10,
    }));
  it('slope per hour after warm-up; none for under 20 minutes of samples after it', () => {
    expect(slopePerHour(series(60, 30), (s) => s.rssMiB, 15 * 60_000)).toBeCloseTo(30, 5);
    expect(slopePerHour(series(30, 30), (s) => s.rssMiB, 15 * 60_000)).toBeUndefined();
  });
  it('criteria: a leak fails the memory criterion; a short run reports it not measurable and passes it', () => {
    const base = { record: new RequestRecord(), sent: 100, skipped: 0, expectedSent: 100, leaked: 0, faults: [] };
    const leak = soakCriteria({ ...base, processes: [processReport('p#1', series(60, 80))] });
    expect(leak.find((c) => c.name.startsWith('no memory slope'))?.pass).toBe(false);
    const short = soakCriteria({ ...base, processes: [processReport('p#1', series(3, 80))] });
    expect(short.find((c) => c.name.startsWith('no memory slope'))).toMatchObject({
      pass: true,
      value: expect.stringMatching(/^not measurable/),
    });
    expect(soakCriteria({ ...base, leaked: 1, processes: [] }).find((c) => c.name.includes('reached the backend'))?.pass).toBe(false);
  });
});

describe('controller Service', () => {
  it('sends each connection to a replica that accepts it, skipping a dead one', async () => {
    const replica = createServer((s) => s.end('replica-b'));
    await new Promise<void>((r) => replica.listen(0, '127.0.0.1', r));
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as { port: number }).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const svc = await ControllerService.start([deadPort, (replica.address() as { port: number }).port]);
    const { connect } = await import('node:net');
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<string>((resolve, reject) => {
        const c = connect(svc.port, '127.0.0.1');
        let data = '';
        c.on('data', (d: Buffer) => (data += d.toString()));
        c.on('end', () => resolve(data));
        c.on('error', reject);
      });
      expect(got).toBe('replica-b');
    }
    await svc.close();
    await new Promise<void>((r) => replica.close(() => r()));
  });
});

describe('recording upstream', () => {
  it('counts a request that reached it although its expected answer was a rejection', async () => {
    const { RecordingUpstream } = await import('./recording-upstream.js');
    const up = await RecordingUpstream.start((id) => id === 7);
    for (const id of [7, 8]) {
      const r = await fetch(`http://127.0.0.1:${up.port}/soak`, { headers: { 'x-soak-id': String(id) } });
      expect([r.status, await r.text()]).toEqual([200, 'ok\n']);
    }
    expect([up.received, up.leakedCount, up.leaked]).toEqual([2, 1, [7]]);
    await up.close();
  });
});
