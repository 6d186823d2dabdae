/**
 * A sparse user × item matrix in compressed sparse row (CSR) form: row u's items are
 * `indices[indptr[u] .. indptr[u+1])` (sorted ascending, no duplicates) with `values` alongside
 * (1 for implicit feedback, the rating for explicit feedback).
 */
export interface CsrMatrix {
  readonly numRows: number;
  readonly numCols: number;
  /** [numRows + 1] row offsets into indices/values. */
  readonly indptr: Int32Array;
  /** [nnz] column (item) indices, ascending within a row. */
  readonly indices: Int32Array;
  /** [nnz] values. */
  readonly values: Float32Array;
}

/** Builds a CSR matrix from (row, col, value) triples; duplicate (row, col) pairs keep the last value. */
export function csrFromTriples(
  numRows: number,
  numCols: number,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
  values?: ArrayLike<number>,
): CsrMatrix {
  const n = rows.length;
  if (cols.length !== n || (values && values.length !== n)) {
    throw new Error(`csrFromTriples: rows, cols and values must have the same length (got ${n}, ${cols.length}, ${values?.length ?? n})`);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    const c = cols[i];
    if (!(r >= 0 && r < numRows) || !(c >= 0 && c < numCols) || !Number.isInteger(r) || !Number.isInteger(c)) {
      throw new Error(`csrFromTriples: entry ${i} (${r}, ${c}) is outside ${numRows} × ${numCols}`);
    }
    order[i] = i;
  }
  // Sort by (row, col, insertion order) so the last duplicate wins.
  order.sort((a, b) => rows[a] - rows[b] || cols[a] - cols[b] || a - b);
  const indptr = new Int32Array(numRows + 1);
  const indices: number[] = [];
  const vals: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = order[k];
    const next = k + 1 < n ? order[k + 1] : -1;
    if (next >= 0 && rows[next] === rows[i] && cols[next] === cols[i]) continue;
    indices.push(cols[i]);
    vals.push(values ? values[i] : 1);
    indptr[rows[i] + 1]++;
  }
  for (let r = 0; r < numRows; r++) indptr[r + 1] += indptr[r];
  return { numRows, numCols, indptr, indices: Int32Array.from(indices), values: Float32Array.from(vals) };
}

/** Rows `rowIds` of `m` as a new CSR matrix (used for mini-batches and user subsets). */
export function csrSelectRows(m: CsrMatrix, rowIds: ArrayLike<number>): CsrMatrix {
  const indptr = new Int32Array(rowIds.length + 1);
  for (let k = 0; k < rowIds.length; k++) {
    const r = rowIds[k];
    indptr[k + 1] = indptr[k] + (m.indptr[r + 1] - m.indptr[r]);
  }
  const indices = new Int32Array(indptr[rowIds.length]);
  const values = new Float32Array(indptr[rowIds.length]);
  for (let k = 0; k < rowIds.length; k++) {
    const r = rowIds[k];
    indices.set(m.indices.subarray(m.indptr[r], m.indptr[r + 1]), indptr[k]);
    values.set(m.values.subarray(m.indptr[r], m.indptr[r + 1]), indptr[k]);
  }
  return { numRows: rowIds.length, numCols: m.numCols, indptr, indices, values };
}

export function csrNnz(m: CsrMatrix): number {
  return m.indptr[m.numRows];
}
