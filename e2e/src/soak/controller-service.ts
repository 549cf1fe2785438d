import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * What the controller's Service is in a cluster (kube-proxy): one address for the proxies' config
 * streams, each new connection sent to a replica that accepts it. Every replica serves config
 * (only the leader writes status), so when one dies its proxies reconnect here and reach another.
 */
export class ControllerService {
  private readonly server: Server;
  private next = 0;
  private readonly open = new Set<Socket>();

  private constructor(private readonly replicaPorts: readonly number[]) {
    this.server = createServer((client) => this.route(client));
  }

  static async start(replicaPorts: readonly number[]): Promise<ControllerService> {
    const s = new ControllerService(replicaPorts);
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    return s;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Tries the replicas in turn from the next one; a replica that refuses is skipped. */
  private route(client: Socket, tried = 0): void {
    if (tried === 0) client.on('error', () => client.destroy());
    if (tried >= this.replicaPorts.length) {
      client.destroy();
      return;
    }
    const port = this.replicaPorts[this.next++ % this.replicaPorts.length] as number;
    const upstream = connect(port, '127.0.0.1');
    const refused = () => this.route(client, tried + 1);
    upstream.once('error', refused);
    upstream.once('connect', () => {
      this.open.add(client);
      client.once('close', () => this.open.delete(client));
      upstream.off('error', refused);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', end).on('close', end);
      client.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
