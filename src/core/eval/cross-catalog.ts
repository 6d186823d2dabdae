import { csrFromTriples, type CsrMatrix } from '../data/csr.js';

/**
 * Lets a model trained on one item catalog be scored on another's column space, so that two
 * versions trained on different snapshots are evaluated on the same held-out users.
 *
 * Fold-in items the model does not know are dropped from its input; items it does not know get
 * score −∞ (ranked last).
 *
 * @param score the model's scoring function over its own columns ([batch × modelItemIds.length])
 * @param modelItemIds external item id of each of the model's columns
 * @param targetItemIds external item id of each column of the matrices to be scored
 * @returns a scoring function over target columns, for {@link evaluateRanking}
 */
export function crossCatalogScorer(
  score: (histories: CsrMatrix) => Float32Array,
  modelItemIds: readonly string[],
  targetItemIds: readonly string[],
): (histories: CsrMatrix) => Float32Array {
  const modelColumn = new Map<string, number>();
  modelItemIds.forEach((id, c) => modelColumn.set(id, c));
  const toModel = Int32Array.from(targetItemIds, (id) => modelColumn.get(id) ?? -1);
  const modelItems = modelItemIds.length;
  const targetItems = targetItemIds.length;
  return (histories) => {
    if (histories.numCols !== targetItems)
      throw new Error(`crossCatalogScorer: histories have ${histories.numCols} columns, expected ${targetItems}`);
    const rows: number[] = [];
    const cols: number[] = [];
    const values: number[] = [];
    for (let r = 0; r < histories.numRows; r++) {
      for (let p = histories.indptr[r]; p < histories.indptr[r + 1]; p++) {
        const c = toModel[histories.indices[p]];
        if (c < 0) continue;
        rows.push(r);
        cols.push(c);
        values.push(histories.values[p]);
      }
    }
    const modelScores = score(csrFromTriples(histories.numRows, modelItems, rows, cols, values));
    const out = new Float32Array(histories.numRows * targetItems).fill(-Infinity);
    for (let r = 0; r < histories.numRows; r++) {
      const src = r * modelItems;
      const dst = r * targetItems;
      for (let t = 0; t < targetItems; t++) {
        const c = toModel[t];
        if (c >= 0) out[dst + t] = modelScores[src + c];
      }
    }
    return out;
  };
}
