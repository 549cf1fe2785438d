import { createServer, type Server } from 'node:http';

/**
 * The soak's backend: answers 200 at once, and checks each request it receives against the load's
 * registry of requests in flight (header x-soak-id): a request whose expected answer was a
 * rejection has reached the backend — the one failure a gateway must never have — and is counted.
 */
export class RecordingUpstream {
  received = 0;
  /** Requests that the gateway should have rejected but forwarded (ids, the first 100 kept). */
  readonly leaked: number[] = [];
  leakedCount = 0;
  private readonly server: Server;

  private constructor(mustNotReach: (id: number) => boolean) {
    this.server = createServer((req, res) => {
      this.received++;
      const id = Number(req.headers['x-soak-id']);
      if (Number.isInteger(id) && mustNotReach(id)) {
        this.leakedCount++;
        if (this.leaked.length < 100) this.leaked.push(id);
      }
      req.resume();
      req.on('end', () => res.end('ok\n'));
    });
    this.server.keepAliveTimeout = 75_000;
  }

  static async start(mustNotReach: (id: number) => boolean): Promise<RecordingUpstream> {
    const u = new RecordingUpstream(mustNotReach);
    await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
    return u;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
