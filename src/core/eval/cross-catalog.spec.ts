import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { crossCatalogScorer } from './cross-catalog.js';
import { evaluateRanking } from './metrics.js';

describe('crossCatalogScorer', () => {
  // A "model" over items [a, b, c, d] that scores each item by (column + 1) × (sum of the input).
  const modelIds = ['a', 'b', 'c', 'd'];
  const inputs: CsrMatrix[] = [];
  const model = (h: CsrMatrix) => {
    inputs.push(h);
    const out = new Float32Array(h.numRows * 4);
    for (let r = 0; r < h.numRows; r++) {
      let s = 0;
      for (let p = h.indptr[r]; p < h.indptr[r + 1]; p++) s += h.values[p];
      for (let c = 0; c < 4; c++) out[r * 4 + c] = (c + 1) * s;
    }
    return out;
  };

  it('maps fold-in items into the model columns, scores back, and ranks unknown items last', () => {
    const target = ['d', 'x', 'b', 'a']; // x is unknown to the model; c is unknown to the target
    const scorer = crossCatalogScorer(model, modelIds, target);
    const h = csrFromTriples(2, 4, [0, 0, 1], [0, 1, 2], [1, 1, 2]); // row 0: d, x; row 1: b (value 2)
    const s = scorer(h);
    const fed = inputs.at(-1)!;
    expect(Array.from(fed.indices.subarray(fed.indptr[0], fed.indptr[1]))).toEqual([3]); // x dropped
    expect(Array.from(fed.indices.subarray(fed.indptr[1], fed.indptr[2]))).toEqual([1]);
    expect(Array.from(s.subarray(0, 4))).toEqual([4, -Infinity, 2, 1]);
    expect(Array.from(s.subarray(4, 8))).toEqual([8, -Infinity, 4, 2]);
    expect(() => scorer(csrFromTriples(1, 3, [], []))).toThrow(/3 columns, expected 4/);
  });

  it('gives evaluateRanking the same metrics as the model on an identical catalog', () => {
    const foldIn = csrFromTriples(3, 4, [0, 1, 2], [0, 1, 0]);
    const heldOut = csrFromTriples(3, 4, [0, 1, 2], [3, 2, 1]);
    const direct = evaluateRanking(model, foldIn, heldOut, { ks: [1, 2] });
    const permuted = ['c', 'a', 'd', 'b'];
    const perm = (m: CsrMatrix) => {
      const rows: number[] = [];
      const cols: number[] = [];
      for (let r = 0; r < m.numRows; r++)
        for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
          rows.push(r);
          cols.push(permuted.indexOf(modelIds[m.indices[p]]));
        }
      return csrFromTriples(m.numRows, 4, rows, cols);
    };
    const via = evaluateRanking(crossCatalogScorer(model, modelIds, permuted), perm(foldIn), perm(heldOut), {
      ks: [1, 2],
    });
    expect(via['ndcg@2']).toBeCloseTo(direct['ndcg@2'], 10);
    expect(via['recall@1']).toBeCloseTo(direct['recall@1'], 10);
  });
});
