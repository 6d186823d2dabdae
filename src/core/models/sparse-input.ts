import type * as tfjs from '@tensorflow/tfjs';
import type { CsrMatrix } from '../data/csr.js';

type Tf = typeof tfjs;
type Tensor2D = tfjs.Tensor2D;

/**
 * A mini-batch of sparse input rows (the first layer's input) held in both orders its products
 * need: by row for x·W (forward) and by column for xᵀ·D (the W gradient).
 *
 * Built once per mini-batch in JavaScript (normalisation, dropout) by {@link sparseRowsFromCsr};
 * the tensors it is turned into live only inside one step.
 */
export interface SparseRows {
  readonly numRows: number;
  readonly numCols: number;
  /** [nnz] row of each entry, non-decreasing. */
  readonly rowIds: Int32Array;
  /** [nnz] column of each entry. */
  readonly colIds: Int32Array;
  /** [nnz] value of each entry. */
  readonly values: Float32Array;
  /**
   * [numRows] the common value of each row's entries when every row's entries share one value
   * (binary input after L2 normalisation and dropout always does); undefined otherwise. Enables
   * the fast path: an unweighted segment sum of W's rows scaled per row.
   */
  readonly rowScale?: Float32Array;
}

/**
 * Input rows of `m` as the first layer sees them (Liang et al. 2018): each row L2-normalised
 * (x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize), then, when `dropout` > 0, each entry
 * kept with probability 1 − dropout and scaled by 1 / (1 − dropout) (inverted dropout, as
 * torch.nn.Dropout in training mode). Dropped entries are removed, so the result stays sparse.
 *
 * @param m source matrix (e.g. the training histories)
 * @param rowIds rows of `m` to take, in batch order (row b of the result is m's row rowIds[b])
 * @param dropout drop probability in [0, 1); 0 = evaluation mode
 * @param uniform uniform [0, 1) source for the dropout masks (one call per stored entry), required when dropout > 0
 */
export function sparseRowsFromCsr(
  m: CsrMatrix,
  rowIds: ArrayLike<number>,
  dropout = 0,
  uniform?: () => number,
): SparseRows {
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`sparseRowsFromCsr: dropout must be in [0, 1), got ${dropout}`);
  if (dropout > 0 && !uniform)
    throw new Error('sparseRowsFromCsr: a uniform random source is required when dropout > 0');
  const numRows = rowIds.length;
  let total = 0;
  for (let b = 0; b < numRows; b++) total += m.indptr[rowIds[b] + 1] - m.indptr[rowIds[b]];
  const rows = new Int32Array(total);
  const cols = new Int32Array(total);
  const vals = new Float32Array(total);
  const rowScale = new Float32Array(numRows);
  let uniformRows = true;
  const keepScale = 1 / (1 - dropout);
  let k = 0;
  for (let b = 0; b < numRows; b++) {
    const r = rowIds[b];
    const start = m.indptr[r];
    const end = m.indptr[r + 1];
    let sq = 0;
    for (let p = start; p < end; p++) sq += m.values[p] * m.values[p];
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    const first = start < end ? m.values[start] : 0;
    rowScale[b] = first * inv * keepScale;
    for (let p = start; p < end; p++) {
      const v = m.values[p];
      if (v !== first) uniformRows = false;
      if (dropout > 0 && uniform!() < dropout) continue;
      rows[k] = b;
      cols[k] = m.indices[p];
      vals[k] = v * inv * keepScale;
      k++;
    }
  }
  return {
    numRows,
    numCols: m.numCols,
    rowIds: rows.subarray(0, k),
    colIds: cols.subarray(0, k),
    values: vals.subarray(0, k),
    rowScale: uniformRows ? rowScale : undefined,
  };
}

/**
 * x·W for sparse rows x ("embedding bag"): row b is Σ over b's entries of value · W[col]. Costs
 * O(nnz · d) instead of the dense product's O(numRows · numCols · d): uses the backend's
 * SparseSegmentSum (native on wasm, tfjs-node and cpu), with a per-row scale on the fast path
 * and a gather of the weighted rows otherwise.
 *
 * @param x [numRows × numCols] sparse rows
 * @param w [≥ numCols × d] weights; rows beyond numCols (e.g. an appended bias row) are ignored
 * @returns [numRows × d]
 */
export function sparseMatMul(tf: Tf, x: SparseRows, w: Tensor2D): Tensor2D {
  const d = w.shape[1];
  if (w.shape[0] < x.numCols)
    throw new Error(`sparseMatMul: weights have ${w.shape[0]} rows, the input ${x.numCols} columns`);
  return tf.tidy(() => {
    const nnz = x.rowIds.length;
    let sums: Tensor2D;
    if (nnz === 0) return tf.zeros([x.numRows, d]) as Tensor2D;
    const segments = tf.tensor1d(x.rowIds, 'int32');
    if (x.rowScale) {
      sums = tf.sparse.sparseSegmentSum(w, tf.tensor1d(x.colIds, 'int32'), segments) as Tensor2D;
    } else {
      const weighted = tf.mul(tf.gather(w, tf.tensor1d(x.colIds, 'int32')), tf.tensor2d(x.values, [nnz, 1]));
      sums = tf.sparse.sparseSegmentSum(weighted, tf.range(0, nnz, 1, 'int32'), segments) as Tensor2D;
    }
    // Rows after the last row with an entry are absent from a segment sum's output.
    if (sums.shape[0] < x.numRows)
      sums = tf.pad(sums, [
        [0, x.numRows - sums.shape[0]],
        [0, 0],
      ]);
    return x.rowScale ? tf.mul(sums, tf.tensor2d(x.rowScale, [x.numRows, 1])) : sums;
  });
}

/**
 * xᵀ·D for sparse rows x, with D's column sums appended as a last row: the gradient of the
 * first layer's augmented weights [W; b] (x·W + b) given D = d loss / d (x·W + b). Row `col` is
 * Σ over the entries (b, col) of value · D[b]; the dense product would cost O(numRows ·
 * numCols · d), this costs O(nnz · d) and one O(nnz + numCols) counting sort in JavaScript.
 *
 * @param x [numRows × numCols] sparse rows
 * @param dOut [numRows × d]
 * @returns [(numCols + 1) × d]: rows 0 … numCols−1 = xᵀ·D, row numCols = Σ_b D[b]
 */
export function sparseTransposeMatMulWithColumnSums(tf: Tf, x: SparseRows, dOut: Tensor2D): Tensor2D {
  const { numRows, numCols } = x;
  if (dOut.shape[0] !== numRows)
    throw new Error(`sparseTransposeMatMulWithColumnSums: D has ${dOut.shape[0]} rows, x ${numRows}`);
  if (numRows === 0) throw new Error('sparseTransposeMatMulWithColumnSums: no rows');
  const nnz = x.rowIds.length;
  // Entries ordered by column (counting sort, stable), then numRows extra entries that sum all of
  // D's rows into segment numCols (the bias row). Segment ids must be non-decreasing.
  const start = new Int32Array(numCols + 1);
  for (let k = 0; k < nnz; k++) start[x.colIds[k] + 1]++;
  for (let c = 0; c < numCols; c++) start[c + 1] += start[c];
  const indices = new Int32Array(nnz + numRows);
  const segments = new Int32Array(nnz + numRows);
  const order = x.rowScale ? undefined : new Int32Array(nnz);
  for (let k = 0; k < nnz; k++) {
    const p = start[x.colIds[k]]++;
    segments[p] = x.colIds[k];
    if (order) order[p] = k;
    else indices[p] = x.rowIds[k];
  }
  for (let b = 0; b < numRows; b++) {
    segments[nnz + b] = numCols;
  }
  return tf.tidy(() => {
    let data: tfjs.Tensor2D;
    if (x.rowScale) {
      // data = [D ⊙ scale; D]: entry (b, col) reads scaled row b, the bias entries row numRows + b.
      for (let b = 0; b < numRows; b++) indices[nnz + b] = numRows + b;
      data = tf.concat([tf.mul(dOut, tf.tensor2d(x.rowScale, [numRows, 1])), dOut], 0);
    } else {
      // data = [value_k · D[row_k] for entries in column order; D].
      const rowsByCol = new Int32Array(nnz);
      const valuesByCol = new Float32Array(nnz);
      for (let p = 0; p < nnz; p++) {
        rowsByCol[p] = x.rowIds[order![p]];
        valuesByCol[p] = x.values[order![p]];
      }
      for (let p = 0; p < nnz + numRows; p++) indices[p] = p;
      const parts: tfjs.Tensor2D[] = [];
      if (nnz > 0)
        parts.push(tf.mul(tf.gather(dOut, tf.tensor1d(rowsByCol, 'int32')), tf.tensor2d(valuesByCol, [nnz, 1])));
      parts.push(dOut);
      data = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    }
    // numRows ≥ 1 puts segment numCols last, so the output always has numCols + 1 rows.
    return tf.sparse.sparseSegmentSum(data, tf.tensor1d(indices, 'int32'), tf.tensor1d(segments, 'int32')) as Tensor2D;
  });
}
