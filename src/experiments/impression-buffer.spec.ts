import { jest } from '@jest/globals';
import { ImpressionBuffer, type ImpressionRow } from './impression-buffer.js';

const row = (n: number): ImpressionRow => ({
  id: `id-${n}`,
  subject: `u${n}`,
  anonymous: false,
  versionId: 1,
  slot: 'default',
  experimentId: null,
  arm: null,
  itemIds: [1, 2, 3],
  fallback: false,
  createdAt: new Date(0),
});

describe('ImpressionBuffer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('writes a partial batch after flushMs, a full batch at once, in batches of batchSize', async () => {
    const writes: string[][] = [];
    const buffer = new ImpressionBuffer({
      capacity: 100,
      batchSize: 3,
      flushMs: 1000,
      sampleRate: 1,
      write: async (rows) => void writes.push(rows.map((r) => r.id)),
    });
    buffer.add(row(1));
    buffer.add(row(2));
    await jest.advanceTimersByTimeAsync(999);
    expect(writes).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([['id-1', 'id-2']]);
    for (let n = 3; n <= 9; n++) buffer.add(row(n));
    await jest.advanceTimersByTimeAsync(0);
    // 3, 4, 5 at once (a full batch); 6, 7, 8 by the running writer; 9 waits for the timer.
    expect(writes).toEqual([
      ['id-1', 'id-2'],
      ['id-3', 'id-4', 'id-5'],
      ['id-6', 'id-7', 'id-8'],
    ]);
    expect(buffer.buffered).toBe(1);
    await jest.advanceTimersByTimeAsync(1000);
    expect(writes[3]).toEqual(['id-9']);
    expect(buffer.counts).toMatchObject({ recorded: 9, written: 9, droppedFull: 0 });
  });

  it('drops and counts when full, and when a write fails; add never throws', async () => {
    let release!: () => void;
    const errors: number[] = [];
    let fail = false;
    const buffer = new ImpressionBuffer({
      capacity: 4,
      batchSize: 2,
      flushMs: 1000,
      sampleRate: 1,
      write: () => (fail ? Promise.reject(new Error('down')) : new Promise<void>((resolve) => (release = resolve))),
      onWriteError: (_e, n) => errors.push(n),
    });
    buffer.add(row(1));
    buffer.add(row(2)); // a full batch: the write starts and hangs
    for (let n = 3; n <= 8; n++) buffer.add(row(n));
    expect(buffer.buffered).toBe(4);
    expect(buffer.counts.droppedFull).toBe(2);
    fail = true;
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(buffer.counts.droppedWriteFailed).toBe(4);
    expect(errors).toEqual([2, 2]);
    expect(buffer.buffered).toBe(0);
  });

  it('samples, and drain writes everything then refuses more', async () => {
    const written: string[] = [];
    let r = 0;
    const draws = [0.1, 0.9, 0.3, 0.6, 0];
    const buffer = new ImpressionBuffer({
      capacity: 10,
      batchSize: 100,
      flushMs: 60_000,
      sampleRate: 0.5,
      random: () => draws[r++],
      write: async (rows) => void written.push(...rows.map((x) => x.id)),
    });
    for (let n = 1; n <= 4; n++) buffer.add(row(n));
    expect(buffer.counts).toMatchObject({ recorded: 2, sampledOut: 2 });
    await buffer.drain();
    expect(written).toEqual(['id-1', 'id-3']);
    buffer.add(row(5));
    expect(buffer.counts.droppedFull).toBe(1); // closed: counted as dropped
    expect(written).toHaveLength(2);
  });
});
