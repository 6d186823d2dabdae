import { csrFromTriples, csrNnz, csrSelectRows } from './csr.js';
import { Random } from './random.js';

describe('csrFromTriples', () => {
  it('sorts columns within rows and keeps the last duplicate', () => {
    const m = csrFromTriples(3, 4, [2, 0, 0, 2, 0], [1, 3, 0, 1, 3], [5, 6, 7, 8, 9]);
    expect(Array.from(m.indptr)).toEqual([0, 2, 2, 3]);
    expect(Array.from(m.indices)).toEqual([0, 3, 1]);
    expect(Array.from(m.values)).toEqual([7, 9, 8]);
    expect(csrNnz(m)).toBe(3);
  });

  it('defaults values to 1 and rejects out-of-range entries', () => {
    expect(Array.from(csrFromTriples(1, 2, [0], [1]).values)).toEqual([1]);
    expect(() => csrFromTriples(1, 2, [0], [2])).toThrow(/outside/);
    expect(() => csrFromTriples(1, 2, [0.5], [0])).toThrow(/outside/);
    expect(() => csrFromTriples(1, 2, [0], [0, 1])).toThrow(/same length/);
  });

  it('matches a naive reference on random triples with duplicates', () => {
    const rng = new Random(11);
    const R = 30;
    const C = 20;
    const n = 2000;
    const rows = Array.from({ length: n }, () => rng.int(R));
    const cols = Array.from({ length: n }, () => rng.int(C));
    const vals = Array.from({ length: n }, () => rng.int(100));
    const ref = new Map<string, number>();
    for (let k = 0; k < n; k++) ref.set(`${rows[k]},${cols[k]}`, vals[k]);
    const m = csrFromTriples(R, C, Int32Array.from(rows), cols, vals);
    const got = new Map<string, number>();
    for (let r = 0; r < R; r++) {
      for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
        if (p > m.indptr[r]) expect(m.indices[p]).toBeGreaterThan(m.indices[p - 1]);
        got.set(`${r},${m.indices[p]}`, m.values[p]);
      }
    }
    expect(got).toEqual(ref);
  });

  it('csrSelectRows picks rows', () => {
    const m = csrFromTriples(3, 3, [0, 1, 2, 2], [0, 1, 0, 2]);
    const s = csrSelectRows(m, [2, 0]);
    expect(Array.from(s.indptr)).toEqual([0, 2, 3]);
    expect(Array.from(s.indices)).toEqual([0, 2, 0]);
  });
});
