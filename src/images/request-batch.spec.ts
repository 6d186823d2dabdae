import { RequestBatch, RequestBatches } from './request-batch.js';

describe('RequestBatch', () => {
  it('loads the keys asked for in one resolver wave with one call, then starts a new batch', async () => {
    const calls: number[][] = [];
    const batch = new RequestBatch<number, string>(async (keys) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k !== 3).map((k) => [k, `v${k}`]));
    });
    // Loads spread over a few promise hops, as Nest's resolver wrappers spread them.
    const loads = [1, 2, 3, 2].map(async (k, i) => {
      for (let hop = 0; hop < i * 3; hop++) await Promise.resolve();
      return batch.load(k);
    });
    expect(await Promise.all(loads)).toEqual(['v1', 'v2', undefined, 'v2']);
    expect(calls).toEqual([[1, 2, 3]]);
    expect(await batch.load(4)).toBe('v4');
    expect(calls).toEqual([[1, 2, 3], [4]]);
  });

  it('keeps batches per request context and rejects every waiter when the load fails', async () => {
    const batches = new RequestBatches();
    const a = {};
    const b = {};
    const load = async (keys: string[]) => new Map(keys.map((k) => [k, k.length]));
    expect(batches.get(a, 'x', load)).toBe(batches.get(a, 'x', load));
    expect(batches.get(a, 'x', load)).not.toBe(batches.get(b, 'x', load));
    const failing = new RequestBatch<string, number>(async () => {
      throw new Error('db down');
    });
    await expect(Promise.all([failing.load('a'), failing.load('b')])).rejects.toThrow('db down');
  });
});
