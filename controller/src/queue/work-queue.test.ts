import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

/** A worker whose calls are recorded and released by the test, one by one (no clock). */
function gatedWorker() {
  const calls: string[] = [];
  const gates: Array<{ key: string; release: (err?: Error) => void }> = [];
  const worker = (key: string) =>
    new Promise<void>((resolve, reject) => {
      calls.push(key);
      gates.push({ key, release: (err) => (err ? reject(err) : resolve()) });
    });
  const settle = () => new Promise((r) => setImmediate(r));
  /** Waits until the worker has been called `n` times (a retry runs from a timer: its turn is not a fixed number of ticks). */
  const calledTimes = async (n: number) => {
    for (let i = 0; i < 1000 && calls.length < n; i++) await new Promise((r) => setTimeout(r, 1));
  };
  return { calls, gates, worker, settle, calledTimes };
}

describe('WorkQueue (controller-runtime semantics)', () => {
  it('deduplicates a key added while queued', async () => {
    const w = gatedWorker();
    const q = new WorkQueue(w.worker, { concurrency: 1, retryDelayMs: () => 0 });
    q.add('a');
    q.add('b');
    q.add('c');
    q.add('b');
    q.add('c');
    expect(w.calls).toEqual(['a']);
    expect(q.depth).toBe(3);
    w.gates[0]?.release();
    await w.settle();
    expect(w.calls).toEqual(['a', 'b']);
    w.gates[1]?.release();
    await w.settle();
    w.gates[2]?.release();
    await q.idle();
    expect(w.calls).toEqual(['a', 'b', 'c']);
    expect(q.depth).toBe(0);
  });

  it('a key added while being processed runs once more afterwards (never twice at once)', async () => {
    const w = gatedWorker();
    const q = new WorkQueue(w.worker, { concurrency: 4, retryDelayMs: () => 0 });
    q.add('a');
    q.add('a');
    q.add('a');
    expect(w.calls).toEqual(['a']);
    w.gates[0]?.release();
    await w.settle();
    expect(w.calls).toEqual(['a', 'a']);
    w.gates[1]?.release();
    await q.idle();
    expect(w.calls).toEqual(['a', 'a']);
  });

  it('runs up to `concurrency` keys at once', () => {
    const w = gatedWorker();
    const q = new WorkQueue(w.worker, { concurrency: 2, retryDelayMs: () => 0 });
    for (const k of ['a', 'b', 'c']) q.add(k);
    expect(w.calls).toEqual(['a', 'b']);
    expect(q.depth).toBe(3);
  });

  it('retries a failed key with the delay for its attempt, reports each failure, and resets after a success', async () => {
    const w = gatedWorker();
    const errors: Array<[string, number]> = [];
    const delays: number[] = [];
    const q = new WorkQueue(w.worker, {
      concurrency: 1,
      retryDelayMs: (a) => {
        delays.push(a);
        return 0;
      },
      onError: (k, _e, a) => errors.push([k, a]),
    });
    q.add('a');
    w.gates[0]?.release(new Error('conflict'));
    await w.calledTimes(2);
    expect(w.calls).toEqual(['a', 'a']);
    w.gates[1]?.release(new Error('conflict'));
    await w.calledTimes(3);
    expect(w.calls).toEqual(['a', 'a', 'a']);
    w.gates[2]?.release();
    await q.idle();
    expect(errors).toEqual([
      ['a', 0],
      ['a', 1],
    ]);
    expect(delays).toEqual([0, 1]);
    q.add('a');
    w.gates[3]?.release(new Error('again'));
    await w.settle();
    expect(errors.at(-1)).toEqual(['a', 0]);
    q.stop();
  });

  it('stop drops what is queued and pending retries', async () => {
    const w = gatedWorker();
    const q = new WorkQueue(w.worker, { concurrency: 1, retryDelayMs: () => 60_000 });
    q.add('a');
    q.add('b');
    w.gates[0]?.release(new Error('x'));
    await w.settle();
    q.stop();
    q.add('c');
    await w.settle();
    expect(w.calls).toEqual(['a', 'b']);
  });

  it('lets the event loop run between long runs of keys that finish without I/O', async () => {
    let done = 0;
    const q = new WorkQueue(async () => void done++, { concurrency: 4, retryDelayMs: () => 0 });
    for (let i = 0; i < 1000; i++) q.add(`k${i}`);
    // An I/O callback's turn: it comes while keys remain, not after all 1,000.
    const atNextTurn = await new Promise<number>((r) => setImmediate(() => r(done)));
    expect(atNextTurn).toBeGreaterThan(0);
    expect(atNextTurn).toBeLessThan(1000);
    await q.idle();
    expect(done).toBe(1000);
  });
});
