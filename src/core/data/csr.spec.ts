import { csrFromRowRuns, csrFromTriples, csrNnz, csrSelectRows } from './csr.js';
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

describe('csrFromRowRuns', () => {
  it('builds the matrix csrFromTriples builds from the same rows: any order, last duplicate kept, empty rows', () => {
    const rng = new Random(5);
    const starts = [0];
    const cols: number[] = [];
    const vals: number[] = [];
    const rows: number[] = [];
    for (let r = 0; r < 40; r++) {
      const len = r % 7 === 3 ? 0 : rng.int(30);
      const sorted = r % 2 === 0;
      for (let j = 0; j < len; j++) {
        rows.push(r);
        cols.push(sorted ? j * 3 + (r % 3) : rng.int(50));
        vals.push(rng.int(5) + 1);
      }
      starts.push(cols.length);
    }
    // Both ways: a sort per row (many columns per entry), counting sorts (few).
    for (const numCols of [90, 100_000]) {
      const runs = csrFromRowRuns(numCols, starts, cols, vals);
      const triples = csrFromTriples(40, numCols, rows, cols, vals);
      expect(Array.from(runs.indptr)).toEqual(Array.from(triples.indptr));
      expect(Array.from(runs.indices)).toEqual(Array.from(triples.indices));
      expect(Array.from(runs.values)).toEqual(Array.from(triples.values));
      expect(runs.numCols).toBe(numCols);
      expect(csrNnz(runs)).toBeLessThan(cols.length); // the unsorted rows had duplicates
    }
  });

  it('refuses columns outside the matrix and starts that do not cover the entries', () => {
    expect(() => csrFromRowRuns(3, [0, 1], [3], [1])).toThrow(/outside/);
    expect(() => csrFromRowRuns(3, [0, 2], [1], [1])).toThrow(/starts/);
    expect(() => csrFromRowRuns(100, [0, 1], [100], [1])).toThrow(/outside/);
  });
});
