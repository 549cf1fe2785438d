/**
 * A key-deduplicating work queue (controller-runtime's shape): a key added while queued is not
 * added twice; a key added while being processed runs once more afterwards; a failed key is
 * retried after `retryDelayMs(attempt)`. Workers always read the latest state (level-based),
 * so a key carries no payload.
 */
/**
 * Keys started between two turns of the event loop. A key whose work finishes without I/O (a status
 * found unchanged) resolves in microtasks, so a long run of them would hold every socket up (a
 * config push to the proxies waited ~70 ms behind 2,000 status checks): after this many, the queue
 * lets the event loop run (setImmediate) before it goes on.
 */
const KEYS_PER_TURN = 64;

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private running = 0;
  private stopped = false;
  /** Keys started since the event loop last ran; true while a pump waits for the next turn. */
  private startedThisTurn = 0;
  private waitingForTurn = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly worker: (key: string) => Promise<void>,
    private readonly opts: {
      concurrency: number;
      retryDelayMs: (attempt: number) => number;
      onError?: (key: string, err: unknown, attempt: number) => void;
    },
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pump();
  }

  /** Keys waiting or being processed (a metric). */
  get depth(): number {
    return this.queued.size + this.processing.size + this.timers.size;
  }

  /** Resolves when nothing is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queued.clear();
  }

  private pump(): void {
    if (this.waitingForTurn) return;
    while (!this.stopped && this.running < this.opts.concurrency) {
      const key = this.queued.values().next().value as string | undefined;
      if (key === undefined) break;
      if (this.startedThisTurn++ >= KEYS_PER_TURN) {
        this.waitingForTurn = true;
        setImmediate(() => {
          this.waitingForTurn = false;
          this.startedThisTurn = 0;
          this.pump();
        });
        return;
      }
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      void this.worker(key)
        .then(
          () => {
            this.attempts.delete(key);
          },
          (err: unknown) => {
            const attempt = this.attempts.get(key) ?? 0;
            this.attempts.set(key, attempt + 1);
            this.opts.onError?.(key, err, attempt);
            if (this.stopped) return;
            const t = setTimeout(() => {
              this.timers.delete(key);
              this.add(key);
            }, this.opts.retryDelayMs(attempt));
            this.timers.set(key, t);
          },
        )
        .finally(() => {
          this.processing.delete(key);
          this.running--;
          if (this.dirty.delete(key)) this.add(key);
          this.pump();
          if (this.depth === 0) {
            const w = this.idleWaiters;
            this.idleWaiters = [];
            for (const f of w) f();
          }
        });
    }
  }
}
