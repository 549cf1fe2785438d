import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface LatencyResult {
  readonly sent: number;
  readonly ok: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/**
 * Sends `rate` requests per second for `seconds`, on up to `connections` keep-alive connections,
 * each timed with process.hrtime (µs resolution; autocannon reports whole milliseconds). Requests
 * are issued on schedule, not after the previous answer, so queueing shows up in the tail.
 * `headersFor(i)` adds headers per request (e.g. a different token each time).
 */
export async function fixedRate(o: {
  port: number;
  host: string;
  headers?: Record<string, string>;
  headersFor?: (i: number) => Record<string, string>;
  rate: number;
  seconds: number;
  connections: number;
}): Promise<LatencyResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const latencies: number[] = [];
  let ok = 0;
  const total = o.rate * o.seconds;
  const intervalNs = 1e9 / o.rate;
  const start = process.hrtime.bigint();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = start + BigInt(Math.round(i * intervalNs));
    for (;;) {
      const now = process.hrtime.bigint();
      if (now >= due) break;
      const waitMs = Number(due - now) / 1e6;
      await new Promise((r) => (waitMs > 1 ? setTimeout(r, waitMs - 0.5) : setImmediate(r)));
    }
    pending.push(
      new Promise<void>((resolve) => {
        const t0 = process.hrtime.bigint();
        const req = request(
          { host: '127.0.0.1', port: o.port, path: '/headers', agent, headers: { host: o.host, ...o.headers, ...o.headersFor?.(i) } },
          (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
              if (res.statusCode === 200) ok++;
              resolve();
            });
          },
        );
        req.on('error', () => resolve());
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 1000) / 1000;
  return { sent: total, ok, p50Ms: q(0.5), p90Ms: q(0.9), p99Ms: q(0.99), p999Ms: q(0.999), maxMs: q(1) };
}

/**
 * fixedRate in a child process (fixed-rate-process.ts): the same measure, without the caller's
 * event loop and heap in its timings. `tokens`: sent one per request as a bearer token, from
 * `tokenStart` on (written to a file for the child).
 */
export async function fixedRateInChild(o: {
  port: number;
  host: string;
  headers?: Record<string, string>;
  tokens?: { readonly list: readonly string[]; readonly start: number };
  rate: number;
  seconds: number;
  connections: number;
}): Promise<LatencyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'agw-fixed-rate-'));
  try {
    let tokensFile: string | undefined;
    if (o.tokens !== undefined) {
      tokensFile = join(dir, 'tokens.json');
      writeFileSync(tokensFile, JSON.stringify(o.tokens.list));
    }
    const options = {
      port: o.port,
      host: o.host,
      headers: o.headers ?? {},
      rate: o.rate,
      seconds: o.seconds,
      connections: o.connections,
      ...(tokensFile !== undefined ? { tokensFile, tokenStart: o.tokens?.start ?? 0 } : {}),
    };
    const script = fileURLToPath(new URL('./fixed-rate-process.js', import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, [script, JSON.stringify(options)], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout) as LatencyResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
