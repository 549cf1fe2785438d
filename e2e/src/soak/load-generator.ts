import { Agent, request as httpRequest } from 'node:http';
import { expectedStatus, credentialFor, routeFor, type Credential, type RouteMode } from './traffic-mix.js';
import type { Outcome } from './request-record.js';

/** A proxy the load can reach; `ready` is what its /readyz said last (a Service's endpoint state). */
export interface ProxyEndpoint {
  readonly name: string;
  port: number;
  adminPort: number;
  ready: boolean;
}

export interface LoadOptions {
  /** requests per second, spread evenly (a tick every 10 ms) */
  readonly rate: number;
  /** ids in flight → the answer they must get (shared with the upstream, which checks leaks against it) */
  readonly inFlight: Map<number, { expected: number }>;
  readonly proxies: ProxyEndpoint[];
  readonly hostOf: (mode: RouteMode) => string;
  readonly token: (credential: Credential, n: number) => string | undefined;
  readonly phase: () => string;
  readonly onOutcome: (o: Outcome) => void;
  /** ms; a request without an answer by then counts as status 0 */
  readonly timeoutMs?: number;
  /** in-flight bound: beyond it the generator skips (and counts) instead of queueing without end */
  readonly maxInFlight?: number;
}

const TICK_MS = 10;
const READYZ_EVERY_MS = 200;

/**
 * A steady load at a fixed rate over keep-alive connections (FIFO socket use, so no connection
 * idles into a server's keep-alive timeout), spread over the proxies whose /readyz is 200 — as a
 * Service spreads it over ready endpoints. Every request's expected answer is known when sent.
 */
export class LoadGenerator {
  sent = 0;
  skipped = 0;
  private readonly agents = new Map<string, Agent>();
  private tick: NodeJS.Timeout | undefined;
  private readyz: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private nextProxy = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly o: LoadOptions) {}

  /** ms since start() */
  now(): number {
    return performance.now() - this.startedAt;
  }

  start(): void {
    this.startedAt = performance.now();
    this.tick = setInterval(() => this.fire(), TICK_MS);
    this.readyz = setInterval(() => void this.pollReadiness(), READYZ_EVERY_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.tick);
    clearInterval(this.readyz);
    if (this.o.inFlight.size > 0) await new Promise<void>((r) => (this.drained = r));
    for (const a of this.agents.values()) a.destroy();
  }

  async pollReadiness(): Promise<void> {
    await Promise.all(
      this.o.proxies.map(async (p) => {
        try {
          const r = await fetch(`http://127.0.0.1:${p.adminPort}/readyz`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          p.ready = r.ok;
        } catch {
          p.ready = false;
        }
      }),
    );
  }

  private fire(): void {
    const due = Math.floor((this.now() * this.o.rate) / 1000) - this.sent - this.skipped;
    for (let i = 0; i < due; i++) {
      if (this.o.inFlight.size >= (this.o.maxInFlight ?? 2000)) {
        this.skipped++;
        continue;
      }
      this.send(this.sent++);
    }
  }

  private pickProxy(): ProxyEndpoint | undefined {
    const n = this.o.proxies.length;
    for (let i = 0; i < n; i++) {
      const p = this.o.proxies[this.nextProxy++ % n] as ProxyEndpoint;
      if (p.ready) return p;
    }
    return undefined;
  }

  private agent(p: ProxyEndpoint): Agent {
    const key = `${p.name}:${p.port}`;
    let a = this.agents.get(key);
    if (!a) this.agents.set(key, (a = new Agent({ keepAlive: true, maxSockets: 32, scheduling: 'fifo' })));
    return a;
  }

  private send(id: number): void {
    const route = routeFor(id);
    let credential = credentialFor(id);
    let token = this.o.token(credential, id);
    // No expired token is old enough yet (the first minute): send garbage in its place, labelled so.
    if (credential === 'expired' && token === undefined) token = this.o.token((credential = 'garbage'), id);
    const expected = expectedStatus(route, credential);
    const phase = this.o.phase();
    const atMs = this.now();
    const proxy = this.pickProxy();
    const done = (status: number, error?: string) => {
      if (!this.o.inFlight.delete(id)) return;
      this.o.onOutcome({
        atMs,
        id,
        proxy: proxy?.name ?? 'none',
        route,
        credential,
        expected,
        status,
        latencyMs: this.now() - atMs,
        phase,
        ...(error !== undefined ? { error } : {}),
      });
      if (this.o.inFlight.size === 0) this.drained?.();
    };
    this.o.inFlight.set(id, { expected });
    if (!proxy) {
      done(0, 'no ready proxy');
      return;
    }
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: proxy.port,
        path: '/soak',
        agent: this.agent(proxy),
        headers: {
          host: this.o.hostOf(route),
          'x-soak-id': String(id),
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        },
        timeout: this.o.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
        res.on('error', (err) => done(0, err.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done(0, err.message));
    req.end();
  }
}
