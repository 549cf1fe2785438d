#!/usr/bin/env node
/**
 * The virtual-host lookup alone (issue 18), ns per request host: `findVirtualHost` (exact hostname,
 * then wildcard suffixes, then the catch-all) against a scan of the listener's hostnames in rank
 * order (what matchRoute did before fef93e6), with 10, 1,000 and 10,000 exact hostnames plus 10
 * wildcards, hosts spread over all of them; 3 interleaved rounds.
 *   node bench/dist/route-table-bench.js
 */
import { compileRouteTable, findVirtualHost, hostnameMatches } from '@agw/proxy';

const rows: string[] = ['| hostnames | scan ns/host (rounds) | lookup ns/host (rounds) |', '|---|---|---|'];
for (const n of [10, 1_000, 10_000]) {
  const route = (i: number, hostname: string) => ({
    id: `r${i}`,
    listeners: ['http'],
    hostnames: [hostname],
    order: i,
    backends: [],
    match: { path: { type: 'PathPrefix' as const, value: '/' }, headers: [], queryParams: [] },
  });
  const routes = [
    ...Array.from({ length: n }, (_, i) => route(i, `host-${i}.example.com`)),
    ...Array.from({ length: 10 }, (_, i) => route(n + i, `*.zone-${i}.example.net`)),
  ];
  const listener = compileRouteTable([{ name: 'http', port: 80, protocol: 'HTTP' }], routes).ports.get(80)?.[0];
  if (listener === undefined) throw new Error('no listener');
  const hosts = Array.from({ length: 1_000 }, (_, i) =>
    i % 10 === 0 ? `a.zone-${i % 7}.example.net` : `host-${(i * 7919) % n}.example.com`,
  );
  const scan = (host: string) => listener.vhosts.find((v) => hostnameMatches(v.pattern, host));
  const lookup = (host: string) => findVirtualHost(listener, host);
  const time = (find: (host: string) => unknown, repeats: number) => {
    let found = 0;
    const t = process.hrtime.bigint();
    for (let r = 0; r < repeats; r++) for (const h of hosts) if (find(h) !== undefined) found++;
    if (found !== repeats * hosts.length) throw new Error(`${found} of ${repeats * hosts.length} hosts found`);
    return Number(process.hrtime.bigint() - t) / repeats / hosts.length;
  };
  const repeats = Math.max(2, Math.round(200_000 / n));
  const scans: number[] = [],
    lookups: number[] = [];
  for (let round = 0; round < 3; round++) {
    scans.push(time(scan, repeats));
    lookups.push(time(lookup, 200));
  }
  const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  rows.push(`| ${n.toLocaleString('en-US')} + 10 wildcards | ${f(scans)} | ${f(lookups)} |`);
}
process.stdout.write(rows.join('\n') + '\n');
