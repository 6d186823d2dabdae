import { csrRowsToDense, csrToDense, sequentialBatches, shuffledBatches } from './batches.js';
import { csrFromTriples } from './csr.js';
import { Random } from './random.js';

describe('batches', () => {
  it('shuffledBatches covers every row once, in batches of batchSize (last smaller)', () => {
    const batches = shuffledBatches(10, 4, new Random(1));
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    const all = batches.flatMap((b) => Array.from(b)).sort((a, b) => a - b);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = shuffledBatches(10, 4, new Random(1));
    expect(again.map((b) => Array.from(b))).toEqual(batches.map((b) => Array.from(b)));
    expect(shuffledBatches(0, 4, new Random(1))).toEqual([]);
    expect(() => shuffledBatches(5, 0, new Random(1))).toThrow();
  });

  it('sequentialBatches is in order', () => {
    expect(sequentialBatches(5, 2).map((b) => Array.from(b))).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('csrToDense and csrRowsToDense', () => {
    const m = csrFromTriples(2, 3, [0, 1, 1], [2, 0, 1], [5, 6, 7]);
    expect(Array.from(csrToDense(m))).toEqual([0, 0, 5, 6, 7, 0]);
    const buf = new Float32Array(9).fill(9);
    const d = csrRowsToDense(m, [1, 1], buf);
    expect(Array.from(d)).toEqual([6, 7, 0, 6, 7, 0]);
    expect(buf[8]).toBe(9);
    expect(() => csrRowsToDense(m, [2])).toThrow(RangeError);
  });
});
