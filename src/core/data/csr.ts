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

/**
 * Builds a CSR matrix from (row, col, value) triples; duplicate (row, col) pairs keep the last value.
 * Values default to 1 (implicit feedback). Runs in O(nnz + numRows + numCols) (two stable counting
 * sorts), about 0.1 s for a million triples; plain `number[]` and typed arrays are both accepted.
 *
 * @param rows [nnz] row indices in [0, numRows)
 * @param cols [nnz] column indices in [0, numCols)
 * @param values [nnz] optional values (default all 1)
 */
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
  const rowStart = new Int32Array(numRows + 1);
  const colStart = new Int32Array(numCols + 1);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    const c = cols[i];
    if (!(r >= 0 && r < numRows) || !(c >= 0 && c < numCols) || !Number.isInteger(r) || !Number.isInteger(c)) {
      throw new Error(`csrFromTriples: entry ${i} (${r}, ${c}) is outside ${numRows} × ${numCols}`);
    }
    rowStart[r + 1]++;
    colStart[c + 1]++;
  }
  for (let c = 0; c < numCols; c++) colStart[c + 1] += colStart[c];
  for (let r = 0; r < numRows; r++) rowStart[r + 1] += rowStart[r];
  // Order by (row, col, insertion order) so that the last duplicate wins: a stable counting sort
  // by column, then a stable counting sort of that order by row. Rows and columns travel along
  // with the permutation so that every pass reads sequentially.
  const byCol = new Int32Array(n);
  const rowOfByCol = new Int32Array(n);
  const colFill = colStart.slice(0, numCols);
  for (let i = 0; i < n; i++) {
    const p = colFill[cols[i]]++;
    byCol[p] = i;
    rowOfByCol[p] = rows[i];
  }
  const order = new Int32Array(n);
  const colOfOrder = new Int32Array(n);
  const rowFill = rowStart.slice(0, numRows);
  for (let c = 0; c < numCols; c++) {
    for (let p = colStart[c], end = colStart[c + 1]; p < end; p++) {
      const q = rowFill[rowOfByCol[p]]++;
      order[q] = byCol[p];
      colOfOrder[q] = c;
    }
  }
  const indptr = new Int32Array(numRows + 1);
  const indices = new Int32Array(n);
  const vals = new Float32Array(n);
  let nnz = 0;
  for (let r = 0; r < numRows; r++) {
    for (let q = rowStart[r], end = rowStart[r + 1]; q < end; q++) {
      const c = colOfOrder[q];
      if (q + 1 < end && colOfOrder[q + 1] === c) continue; // a later duplicate follows
      indices[nnz] = c;
      vals[nnz] = values ? values[order[q]] : 1;
      nnz++;
    }
    indptr[r + 1] = nnz;
  }
  return withEntries(numRows, numCols, indptr, indices, vals, nnz);
}

/** csrFromRowRuns' sort key: column × this + position in the row (exact in a double below 2³¹ columns). */
const ROW_RUN_SPAN = 2 ** 21;

/**
 * A CSR matrix from rows given one after another: row r's entries are `cols`/`values`
 * [starts[r], starts[r + 1]), in any order; duplicates keep the last value, as in
 * {@link csrFromTriples}. A serving batch of a few histories over a large catalog makes no pass over
 * the columns: O(nnz) when each row comes sorted, O(nnz log(row length)) otherwise; with fewer than
 * 4 columns per entry, csrFromTriples' counting sorts do it.
 */
export function csrFromRowRuns(
  numCols: number,
  starts: ArrayLike<number>,
  cols: ArrayLike<number>,
  values: ArrayLike<number>,
): CsrMatrix {
  const numRows = starts.length - 1;
  const n = cols.length;
  if (numRows < 0 || starts[0] !== 0 || starts[numRows] !== n || values.length !== n) {
    throw new Error(`csrFromRowRuns: starts must run from 0 to ${n} (the entries), with a value per entry`);
  }
  if (numCols <= 4 * n) {
    // Columns are few next to the entries: csrFromTriples' counting sorts are faster than a sort per row.
    const rows = new Int32Array(n);
    for (let r = 0; r < numRows; r++) {
      if (!(starts[r + 1] >= starts[r])) throw new Error(`csrFromRowRuns: row ${r} ends before it starts`);
      rows.fill(r, starts[r], starts[r + 1]);
    }
    return csrFromTriples(numRows, numCols, rows, cols, values);
  }
  const indptr = new Int32Array(numRows + 1);
  const indices = new Int32Array(n);
  const vals = new Float32Array(n);
  // One buffer of sort keys for every unsorted row (a typed array costs microseconds to allocate).
  let scratch: Float64Array | undefined;
  let nnz = 0;
  for (let r = 0; r < numRows; r++) {
    const from = starts[r];
    const to = starts[r + 1];
    if (!(to >= from) || to - from >= ROW_RUN_SPAN) {
      throw new Error(`csrFromRowRuns: row ${r} ends before it starts or has ${ROW_RUN_SPAN} entries or more`);
    }
    let sorted = true;
    for (let p = from; p < to; p++) {
      const c = cols[p];
      if (!(c >= 0 && c < numCols) || !Number.isInteger(c)) {
        throw new Error(`csrFromRowRuns: entry ${p} (row ${r}, column ${c}) is outside ${numRows} × ${numCols}`);
      }
      if (p > from && c <= cols[p - 1]) sorted = false;
    }
    if (sorted) {
      for (let p = from; p < to; p++) {
        indices[nnz] = cols[p];
        vals[nnz++] = values[p];
      }
    } else {
      // By column, then position (one number per entry, sorted natively): the last of equal
      // columns is the one kept.
      scratch ??= new Float64Array(maxRunLength(starts));
      const keys = scratch.subarray(0, to - from);
      for (let j = 0; j < keys.length; j++) keys[j] = cols[from + j] * ROW_RUN_SPAN + j;
      keys.sort();
      for (let j = 0; j < keys.length; j++) {
        const c = Math.floor(keys[j] / ROW_RUN_SPAN);
        if (j + 1 < keys.length && Math.floor(keys[j + 1] / ROW_RUN_SPAN) === c) continue;
        indices[nnz] = c;
        vals[nnz++] = values[from + (keys[j] - c * ROW_RUN_SPAN)];
      }
    }
    indptr[r + 1] = nnz;
  }
  return withEntries(numRows, numCols, indptr, indices, vals, nnz);
}

/** The longest row of {@link csrFromRowRuns}' `starts`. */
function maxRunLength(starts: ArrayLike<number>): number {
  let max = 0;
  for (let r = 0; r + 1 < starts.length; r++) max = Math.max(max, starts[r + 1] - starts[r]);
  return max;
}

/** A CSR matrix of the first `nnz` entries of `indices`/`values` (duplicates dropped while filling them). */
function withEntries(
  numRows: number,
  numCols: number,
  indptr: Int32Array,
  indices: Int32Array,
  values: Float32Array,
  nnz: number,
): CsrMatrix {
  const whole = nnz === indices.length;
  return {
    numRows,
    numCols,
    indptr,
    indices: whole ? indices : indices.slice(0, nnz),
    values: whole ? values : values.slice(0, nnz),
  };
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

/** Number of stored entries. */
export function csrNnz(m: CsrMatrix): number {
  return m.indptr[m.numRows];
}
