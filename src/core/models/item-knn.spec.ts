import { csrFromTriples, csrSelectRows } from '../data/csr.js';
import { Random } from '../data/random.js';
import { ServedModel } from '../serving/served-model.js';
import { ItemKnn } from './item-knn.js';

/** 60 users over 12 items in two taste groups (items 0–5 and 6–11). */
function data() {
  const rng = new Random(7);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 60; u++) {
    const base = u % 2 === 0 ? 0 : 6;
    const items = new Set<number>();
    while (items.size < 3) items.add(base + rng.int(6));
    for (const i of items) {
      rows.push(u);
      cols.push(i);
    }
  }
  return csrFromTriples(60, 12, rows, cols);
}

describe('ItemKnn', () => {
  const train = data();

  it('scores a history by the cosine of co-occurrence (shrunk), over each item’s kept neighbours', () => {
    const knn = ItemKnn.fit(train, { neighbours: 11, shrink: 2 });
    // Brute force: c = XᵀX, s_ij = c_ij / (√(c_ii c_jj) + 2), score_j = Σ_{i ∈ h} s_ij.
    const c = Array.from({ length: 12 }, () => new Float64Array(12));
    for (let u = 0; u < train.numRows; u++) {
      const items = Array.from(train.indices.subarray(train.indptr[u], train.indptr[u + 1]));
      for (const i of items) for (const j of items) c[i][j] += 1;
    }
    const history = csrFromTriples(1, 12, [0, 0], [1, 3]);
    const scores = knn.score(history);
    for (let j = 0; j < 12; j++) {
      let expected = 0;
      for (const i of [1, 3]) if (i !== j) expected += c[i][j] / (Math.sqrt(c[i][i] * c[j][j]) + 2);
      expect(scores[j]).toBeCloseTo(expected, 5);
    }
  });

  it('keeps only the `neighbours` most similar items of each item', () => {
    const knn = ItemKnn.fit(train, { neighbours: 2 });
    const out = new Float32Array(12);
    knn.itemScorer()(4, out);
    expect(Array.from(out).filter((s) => s > 0)).toHaveLength(2);
    expect(Array.from(out).findIndex((s) => s > 0)).toBeLessThan(6); // its own taste group
  });

  it('is served by ServedModel as it is (recommendations, similar items, anomaly errors) and round-trips through bytes', async () => {
    const knn = ItemKnn.fit(train, { neighbours: 5 });
    const served = await ServedModel.load(knn, { histories: train }, { index: {} });
    const history = csrSelectRows(train, [0]); // an even user: items 0–5
    const recs = served.recommend(history, 3);
    expect(recs.every((r) => r.index < 6)).toBe(true);
    expect(served.similarItems(7, 3).every((n) => n.index >= 6 && n.index !== 7)).toBe(true);
    expect(served.percentile(served.reconstructionError(history))).toBeGreaterThan(0);
    expect(served.hasEmbeddings).toBe(false);
    const back = ItemKnn.fromBytes(knn.toBytes());
    expect(Array.from(back.score(history))).toEqual(Array.from(knn.score(history)));
    expect(back.hyperparameters).toEqual({ neighbours: 5, shrink: 0 });
    expect(() => ItemKnn.fromBytes(new Uint8Array(16))).toThrow(/not an item-kNN model/);
    served.dispose();
  });
});
