import type { CsrMatrix } from '../data/csr.js';

export interface EaseOptions {
  /** L2 regularisation λ added to the Gram matrix's diagonal (Steck 2019; 500 suits ML-1M). */
  lambda: number;
}

const EASE_MAGIC = 0x31534145; // "EAS1" little-endian

/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form linear
 * item-item autoencoder. B = I − P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹ and diag(B) = 0; scores
 * are X·B. The strong baseline every Recoder model is compared with.
 *
 * Cost: the Gram matrix is Σ_u |history_u|² additions; the inverse is Gauss-Jordan in float64,
 * numItems³ multiply-adds (≈ 5·10¹⁰ for 3,700 items: tens of seconds in JS). Memory: two dense
 * numItems² float64 matrices.
 */
export class Ease {
  private constructor(
    readonly numItems: number,
    /** [numItems × numItems] row-major item-item weights, diagonal 0. */
    readonly weights: Float32Array,
    readonly lambda: number,
  ) {}

  /** @param train [users × items] implicit feedback in {0, 1} */
  static fit(train: CsrMatrix, opts: EaseOptions): Ease {
    const n = train.numCols;
    const g = new Float64Array(n * n);
    for (let u = 0; u < train.numRows; u++) {
      const start = train.indptr[u];
      const end = train.indptr[u + 1];
      for (let a = start; a < end; a++) {
        const row = train.indices[a] * n;
        const va = train.values[a];
        for (let b = start; b < end; b++) g[row + train.indices[b]] += va * train.values[b];
      }
    }
    for (let i = 0; i < n; i++) g[i * n + i] += opts.lambda;
    invertSpdInPlace(g, n);
    const weights = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        // B[i][j] = −P[i][j] / P[j][j] off the diagonal.
        if (i !== j) weights[i * n + j] = -g[i * n + j] / g[j * n + j];
      }
    }
    return new Ease(n, weights, opts.lambda);
  }

  /** Serialized form: a 12-byte header (magic "EAS1", numItems, λ as float32) then the weights. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(12 + this.weights.byteLength);
    const view = new DataView(out.buffer);
    view.setUint32(0, EASE_MAGIC, true);
    view.setUint32(4, this.numItems, true);
    view.setFloat32(8, this.lambda, true);
    out.set(new Uint8Array(this.weights.buffer, this.weights.byteOffset, this.weights.byteLength), 12);
    return out;
  }

  static fromBytes(bytes: Uint8Array): Ease {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 12 || view.getUint32(0, true) !== EASE_MAGIC) throw new Error('Ease.fromBytes: not an EASE model');
    const n = view.getUint32(4, true);
    if (bytes.byteLength !== 12 + n * n * 4) throw new Error(`Ease.fromBytes: expected ${12 + n * n * 4} bytes, got ${bytes.byteLength}`);
    const weights = new Float32Array(n * n);
    new Uint8Array(weights.buffer).set(bytes.subarray(12));
    return new Ease(n, weights, view.getFloat32(8, true));
  }

  /** @returns [rows × numItems] scores X·B for the given histories. */
  score(histories: CsrMatrix): Float32Array {
    const n = this.numItems;
    const out = new Float32Array(histories.numRows * n);
    for (let u = 0; u < histories.numRows; u++) {
      const o = u * n;
      for (let k = histories.indptr[u]; k < histories.indptr[u + 1]; k++) {
        const row = histories.indices[k] * n;
        const v = histories.values[k];
        for (let j = 0; j < n; j++) out[o + j] += v * this.weights[row + j];
      }
    }
    return out;
  }
}

/**
 * Inverts a symmetric positive-definite n × n matrix in place (Gauss-Jordan without pivoting,
 * which is stable for SPD matrices). @param a [n × n] row-major float64
 */
export function invertSpdInPlace(a: Float64Array, n: number): void {
  for (let k = 0; k < n; k++) {
    const kk = k * n;
    const pivot = a[kk + k];
    if (!(pivot > 0)) throw new Error(`invertSpdInPlace: matrix is not positive definite (pivot ${k} = ${pivot})`);
    const inv = 1 / pivot;
    // Row k ← row k / pivot, with column k becoming the inverse's column.
    for (let j = 0; j < n; j++) a[kk + j] *= inv;
    a[kk + k] = inv;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const ii = i * n;
      const f = a[ii + k];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) a[ii + j] -= f * a[kk + j];
      a[ii + k] = -f * inv;
    }
  }
}

/** Popularity: every user gets the items ranked by their number of training users. */
export class Popularity {
  private constructor(
    readonly numItems: number,
    /** [numItems] training-user counts. */
    readonly counts: Float32Array,
  ) {}

  /** @param train [users × items] implicit feedback */
  static fit(train: CsrMatrix): Popularity {
    const counts = new Float32Array(train.numCols);
    for (let k = 0; k < train.indptr[train.numRows]; k++) counts[train.indices[k]] += 1;
    return new Popularity(train.numCols, counts);
  }

  /** @returns [rows × numItems] the same popularity row for every history */
  score(histories: CsrMatrix): Float32Array {
    const out = new Float32Array(histories.numRows * this.numItems);
    for (let u = 0; u < histories.numRows; u++) out.set(this.counts, u * this.numItems);
    return out;
  }
}
