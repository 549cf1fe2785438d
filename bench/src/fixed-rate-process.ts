#!/usr/bin/env node
/**
 * fixedRate (fixed-rate.ts) in a process of its own: `node bench/dist/fixed-rate-process.js '<json>'`
 * prints its LatencyResult as JSON on stdout. The proxy bench runs its 1,000 req/s rows here, so
 * that the timing loop shares no event loop or heap with the bench's own (autocannon's state and
 * results, thousands of tokens, its polls of the proxies' admin ports), whose pauses were in every
 * row's tail. Options (JSON): port, host, headers, rate, seconds, connections, and `tokensFile` +
 * `tokenStart`: a JSON array of tokens sent as `authorization: Bearer <token>`, one per request
 * from `tokenStart` on.
 */
import { readFileSync } from 'node:fs';
import { fixedRate } from './fixed-rate.js';

interface Options {
  readonly port: number;
  readonly host: string;
  readonly headers: Record<string, string>;
  readonly rate: number;
  readonly seconds: number;
  readonly connections: number;
  readonly tokensFile?: string;
  readonly tokenStart?: number;
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '{}') as Options;
  const tokens = o.tokensFile === undefined ? undefined : (JSON.parse(readFileSync(o.tokensFile, 'utf8')) as string[]);
  const start = o.tokenStart ?? 0;
  // One untimed second first: a fresh process's first requests pay for compiling its code and
  // opening its connections, which the measured rows must not (the bench's own process was warm).
  await fixedRate({ port: o.port, host: o.host, headers: o.headers, rate: o.rate, seconds: 1, connections: o.connections });
  const result = await fixedRate({
    port: o.port,
    host: o.host,
    headers: o.headers,
    ...(tokens !== undefined && tokens.length > 0
      ? { headersFor: (i: number) => ({ authorization: `Bearer ${tokens[(start + i) % tokens.length] ?? ''}` }) }
      : {}),
    rate: o.rate,
    seconds: o.seconds,
    connections: o.connections,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`fixed-rate-process: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
