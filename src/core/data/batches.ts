import type { CsrMatrix } from './csr.js';
import type { Random } from './random.js';

/**
 * Mini-batches of row ids for one epoch: a random permutation of 0 … numRows−1 (from `rng`) cut
 * into consecutive chunks of `batchSize`; the last batch holds the remainder (may be smaller).
 * Pair with `csrSelectRows(matrix, batch)` or {@link csrRowsToDense}.
 *
 * @param numRows rows to cover (each appears in exactly one batch)
 * @param batchSize ≥ 1
 * @param rng seeded generator (the same seed gives the same batches)
 * @returns ceil(numRows / batchSize) arrays of row ids, each [≤ batchSize]
 */
export function shuffledBatches(numRows: number, batchSize: number, rng: Random): Int32Array[] {
  if (!(Number.isInteger(numRows) && numRows >= 0)) throw new Error(`shuffledBatches: numRows must be a non-negative integer, got ${numRows}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`shuffledBatches: batchSize must be a positive integer, got ${batchSize}`);
  const perm = rng.permutation(numRows);
  const batches: Int32Array[] = [];
  for (let start = 0; start < numRows; start += batchSize) batches.push(perm.slice(start, Math.min(start + batchSize, numRows)));
  return batches;
}

/**
 * Consecutive row-id batches 0 … numRows−1 in order (for evaluation / inference).
 * @returns ceil(numRows / batchSize) arrays of row ids, each [≤ batchSize]
 */
export function sequentialBatches(numRows: number, batchSize: number): Int32Array[] {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`sequentialBatches: batchSize must be a positive integer, got ${batchSize}`);
  const batches: Int32Array[] = [];
  for (let start = 0; start < numRows; start += batchSize) {
    const end = Math.min(start + batchSize, numRows);
    const b = new Int32Array(end - start);
    for (let k = 0; k < b.length; k++) b[k] = start + k;
    batches.push(b);
  }
  return batches;
}

/**
 * Dense copy of a CSR matrix (for small matrices, mini-batches and tests).
 * @returns [numRows × numCols] row-major; absent entries are 0
 */
export function csrToDense(m: CsrMatrix): Float32Array {
  const out = new Float32Array(m.numRows * m.numCols);
  for (let r = 0; r < m.numRows; r++) {
    const base = r * m.numCols;
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) out[base + m.indices[p]] = m.values[p];
  }
  return out;
}

/**
 * Dense copy of rows `rowIds` of `m`, without building an intermediate CSR batch: the dense
 * input of a mini-batch. Writes into `out` when given (it is zeroed first; length must be at least
 * rowIds.length × numCols) so a training loop can reuse one buffer.
 * @returns [rowIds.length × numCols] row-major
 */
export function csrRowsToDense(m: CsrMatrix, rowIds: ArrayLike<number>, out?: Float32Array): Float32Array {
  const size = rowIds.length * m.numCols;
  let dense: Float32Array;
  if (out) {
    if (out.length < size) throw new Error(`csrRowsToDense: out has ${out.length} elements, need ${size}`);
    dense = out.length === size ? out : out.subarray(0, size);
    dense.fill(0);
  } else {
    dense = new Float32Array(size);
  }
  for (let k = 0; k < rowIds.length; k++) {
    const r = rowIds[k];
    if (!(r >= 0 && r < m.numRows)) throw new RangeError(`csrRowsToDense: row ${r} outside 0 … ${m.numRows - 1}`);
    const base = k * m.numCols;
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) dense[base + m.indices[p]] = m.values[p];
  }
  return dense;
}
