import { csrFromTriples, type CsrMatrix } from './csr.js';
import { Random } from './random.js';
import { strongGeneralizationSplit } from './split.js';

function rowSet(m: CsrMatrix, r: number): number[] {
  return Array.from(m.indices.subarray(m.indptr[r], m.indptr[r + 1]));
}

function randomMatrix(users: number, items: number, seed: number): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const n = u % 7 === 0 ? 0 : 2 + rng.int(12); // some empty users, some with < 5 items
    for (let k = 0; k < n; k++) {
      rows.push(u);
      cols.push(rng.int(items));
    }
  }
  return csrFromTriples(users, items, rows, cols);
}

describe('strongGeneralizationSplit', () => {
  const m = randomMatrix(60, 25, 1);

  it('splits users disjointly and each validation user 80/20 over train-seen items', () => {
    const s = strongGeneralizationSplit(m, { heldOutUsers: 10, seed: 98765 });
    const train = new Set(s.trainRows);
    const val = Array.from(s.validationRows);
    expect(val.length + s.droppedRows.length).toBe(10);
    for (const r of val) expect(train.has(r)).toBe(false);
    // Every non-empty user is somewhere; empty users nowhere.
    for (let r = 0; r < m.numRows; r++) {
      const n = m.indptr[r + 1] - m.indptr[r];
      const where = Number(train.has(r)) + Number(val.includes(r)) + Number(s.droppedRows.includes(r));
      expect(where).toBe(n > 0 ? 1 : 0);
    }
    // Train rows are the full histories.
    s.trainRows.forEach((r, k) => expect(rowSet(s.train, k)).toEqual(rowSet(m, r)));
    const seen = new Set(s.train.indices);
    val.forEach((r, k) => {
      const fi = rowSet(s.validation.foldIn, k);
      const ho = rowSet(s.validation.heldOut, k);
      const kept = rowSet(m, r).filter((i) => seen.has(i));
      expect(kept.length).toBeGreaterThanOrEqual(5);
      expect([...fi, ...ho].sort((a, b) => a - b)).toEqual(kept);
      expect(ho.length).toBe(Math.max(1, Math.floor(0.2 * kept.length)));
      expect(fi.length).toBeGreaterThan(0);
    });
    expect(s.validation.foldIn.numCols).toBe(25);
    expect(s.train.numCols).toBe(25);
  });

  it('is deterministic per seed', () => {
    const a = strongGeneralizationSplit(m, { heldOutUsers: 8, seed: 3 });
    const b = strongGeneralizationSplit(m, { heldOutUsers: 8, seed: 3 });
    const c = strongGeneralizationSplit(m, { heldOutUsers: 8, seed: 4 });
    expect(Array.from(a.validationRows)).toEqual(Array.from(b.validationRows));
    expect(Array.from(a.validation.heldOut.indices)).toEqual(Array.from(b.validation.heldOut.indices));
    expect(Array.from(a.validationRows)).not.toEqual(Array.from(c.validationRows));
  });

  it('honours heldOutFraction and minItems', () => {
    const s = strongGeneralizationSplit(m, { heldOutUsers: 5, seed: 1, heldOutFraction: 0.5, minItems: 10 });
    s.validationRows.forEach((r, k) => {
      expect(m.indptr[r + 1] - m.indptr[r]).toBeGreaterThanOrEqual(10);
      const n = s.validation.heldOut.indptr[k + 1] - s.validation.heldOut.indptr[k];
      const f = s.validation.foldIn.indptr[k + 1] - s.validation.foldIn.indptr[k];
      expect(n).toBe(Math.floor(0.5 * (n + f)));
    });
  });

  it('drops validation users whose items no train user has', () => {
    // Only user 0 has ≥ 5 items, all of them unique to it.
    const x = csrFromTriples(3, 8, [0, 0, 0, 0, 0, 1, 2], [0, 1, 2, 3, 4, 5, 6]);
    const s = strongGeneralizationSplit(x, { heldOutUsers: 1, seed: 1 });
    expect(Array.from(s.droppedRows)).toEqual([0]);
    expect(s.validationRows.length).toBe(0);
    expect(Array.from(s.trainRows)).toEqual([1, 2]);
  });

  it('throws on impossible requests', () => {
    expect(() => strongGeneralizationSplit(m, { heldOutUsers: 1000, seed: 1 })).toThrow(/only/);
    expect(() => strongGeneralizationSplit(m, { heldOutUsers: 0, seed: 1 })).toThrow();
    const tiny = csrFromTriples(1, 5, [0, 0, 0, 0, 0], [0, 1, 2, 3, 4]);
    expect(() => strongGeneralizationSplit(tiny, { heldOutUsers: 1, seed: 1 })).toThrow(/no train users/);
  });

  it('uses fixed validation rows when given (eligible ones only), whatever heldOutUsers says', () => {
    const fixed = [1, 2, 3, 8, 14]; // 14 is empty (14 % 7 === 0)
    const s = strongGeneralizationSplit(m, { heldOutUsers: 1, seed: 5, validationRows: fixed });
    const eligible = fixed.filter((r) => m.indptr[r + 1] - m.indptr[r] >= 5);
    expect([...s.validationRows, ...s.droppedRows].sort((a, b) => a - b)).toEqual(eligible);
    for (const r of eligible) expect(Array.from(s.trainRows)).not.toContain(r);
    expect(Array.from(s.trainRows)).toContain(1); // listed but with < 5 items: stays a train user
    expect(() => strongGeneralizationSplit(m, { heldOutUsers: 1, seed: 5, validationRows: [0, 7] })).toThrow(/none of the 2 validation rows/);
    expect(() => strongGeneralizationSplit(m, { heldOutUsers: 1, seed: 5, validationRows: [600] })).toThrow(/not a row/);
  });
});
