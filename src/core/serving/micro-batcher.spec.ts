import { jest } from '@jest/globals';
import {
  DeadlineExceededError,
  MicroBatcher,
  QueueFullError,
  type BatchOutcome,
  type MicroBatcherOptions,
} from './micro-batcher.js';

/** A batch runner the test releases by hand; records every batch it was given. */
function gatedRunner() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = async (batch: number[]): Promise<BatchOutcome<number>[]> => {
    batches.push(batch);
    await new Promise<void>((resolve) => gates.push(resolve));
    return batch.map((x) => (x < 0 ? { ok: false, error: new Error(`bad ${x}`) } : { ok: true, value: x * 10 }));
  };
  const release = () => gates.shift()?.();
  return { batches, run, release };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const options = (o: Partial<MicroBatcherOptions> = {}): MicroBatcherOptions => ({
  maxBatch: 4,
  windowMs: 0,
  maxInFlight: 1,
  maxQueue: 100,
  deadlineMs: 60_000,
  ...o,
});

describe('MicroBatcher', () => {
  it('runs requests of the same turn as one batch, and a lone request at the end of its turn', async () => {
    const r = gatedRunner();
    const b = new MicroBatcher(options(), r.run);
    const lone = b.submit(1);
    await turn();
    expect(r.batches).toEqual([[1]]);
    r.release();
    expect((await lone).value).toBe(10);
    const three = [b.submit(2), b.submit(3), b.submit(4)];
    await turn();
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    r.release();
    expect((await Promise.all(three)).map((x) => [x.value, x.info.batchSize])).toEqual([
      [20, 3],
      [30, 3],
      [40, 3],
    ]);
  });

  it('queues while a batch runs, then serves the queue in batches of at most maxBatch', async () => {
    const r = gatedRunner();
    const b = new MicroBatcher(options({ maxBatch: 3 }), r.run);
    const first = b.submit(0);
    await turn();
    const rest = Array.from({ length: 5 }, (_, k) => b.submit(k + 1));
    await turn();
    expect(r.batches).toEqual([[0]]);
    expect(b.queued).toBe(5);
    r.release();
    await first;
    await turn();
    expect(r.batches).toEqual([[0], [1, 2, 3]]);
    r.release();
    await turn();
    await turn();
    expect(r.batches).toEqual([[0], [1, 2, 3], [4, 5]]);
    r.release();
    expect((await Promise.all(rest)).map((x) => x.value)).toEqual([10, 20, 30, 40, 50]);
    expect(b.stats).toMatchObject({ batches: 3, requests: 6, largestBatch: 3 });
  });

  it('refuses at once when maxQueue requests wait (QueueFullError with a retry delay)', async () => {
    const r = gatedRunner();
    const b = new MicroBatcher(options({ maxBatch: 1, maxQueue: 2 }), r.run);
    const running = b.submit(1);
    await turn();
    const queued = [b.submit(2), b.submit(3)];
    const refused = b.submit(4);
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toMatchObject({ retryAfterSeconds: expect.any(Number) });
    expect(b.stats.refused).toBe(1);
    for (let k = 0; k < 3; k++) {
      r.release();
      await turn();
      await turn();
    }
    expect((await running).value).toBe(10);
    expect((await Promise.all(queued)).map((x) => x.value)).toEqual([20, 30]);
  });

  it('refuses requests that waited past their deadline before their batch started', async () => {
    let now = 0;
    const r = gatedRunner();
    const b = new MicroBatcher(options({ maxBatch: 1, deadlineMs: 100, now: () => now }), r.run);
    const running = b.submit(1);
    await turn();
    const late = b.submit(2);
    now = 101;
    r.release();
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    expect((await running).value).toBe(10);
    expect(b.stats.expired).toBe(1);
  });

  it('waits at most windowMs for a batch to fill while another batch runs', async () => {
    // Fake timers and clock: a loaded machine cannot make the 2 ms window expire early.
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      let now = 0;
      const r = gatedRunner();
      const b = new MicroBatcher(options({ maxBatch: 10, maxInFlight: 2, windowMs: 2, now: () => now }), r.run);
      void b.submit(1);
      await turn();
      expect(r.batches).toEqual([[1]]);
      const second = b.submit(2);
      await turn();
      now = 1;
      jest.advanceTimersByTime(1);
      await turn();
      expect(r.batches).toHaveLength(1); // a slot is free, but the window is open
      void b.submit(3);
      now = 2;
      jest.advanceTimersByTime(1);
      await turn();
      expect(r.batches).toEqual([[1], [2, 3]]);
      r.release();
      r.release();
      expect((await second).value).toBe(20);
    } finally {
      jest.useRealTimers();
    }
  });

  it('fails only the request a batch failed, and every request of a batch that threw', async () => {
    const r = gatedRunner();
    const b = new MicroBatcher(options(), r.run);
    const ok = b.submit(5);
    const bad = b.submit(-1);
    await turn();
    r.release();
    expect((await ok).value).toBe(50);
    await expect(bad).rejects.toThrow('bad -1');
    const throwing = new MicroBatcher<number, number>(options(), async () => {
      throw new Error('boom');
    });
    await expect(Promise.all([throwing.submit(1), throwing.submit(2)])).rejects.toThrow('boom');
  });
});
