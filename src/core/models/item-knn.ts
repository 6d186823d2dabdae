import type { CsrMatrix } from '../data/csr.js';
import { selectTopK } from '../index/top-k.js';
import {
  rowErrors,
  squaredReconstructionError,
  type DisposableItemScorer,
  type ScoreMaterial,
  type ServableModel,
} from './servable.js';
import { hasMagic, magicOf, packWeights, readArrays, readWeightsHeader } from './weights-file.js';

export interface ItemKnnOptions {
  /** Neighbours kept per item (default 100). */
  neighbours?: number;
  /** Shrinkage of the cosine: c_ij / (√(c_ii c_jj) + shrink), damping pairs seen together rarely (default 0). */
  shrink?: number;
}

const MAGIC = magicOf('KNN1');
const FORMAT_VERSION = 1;

/**
 * Item-kNN over co-occurrence, the classic neighbourhood baseline: the similarity of items i and j
 * is the cosine of their interaction columns, c_ij / (√(c_ii c_jj) + shrink) with c = XᵀX; each
 * item keeps its `neighbours` most similar items; a history's score of item j is
 * Σ_{i ∈ history} x_i · s_ij over the kept lists. Sparse: memory n · neighbours; the fit costs
 * Σ_u |history_u|² additions (like EASE's Gram matrix, without EASE's n³ inverse or n² memory).
 *
 * Served like EASE (every item scored, exact scan, no embeddings); reconstruction error is
 * ‖x − xS‖² / |x|; similar items are the kept lists. One file of the weights-file format
 * ("KNN1", version 1).
 */
export class ItemKnn implements ServableModel {
  readonly kind = 'knn' as const;
  readonly scoreUnit = 'score' as const;
  readonly factor = null;
  readonly itemScorerUsesCooccurrence = false;

  private constructor(
    readonly numItems: number,
    readonly neighbours: number,
    readonly shrink: number,
    /** [numItems × neighbours] neighbour columns, best first; -1 past an item's last neighbour. */
    private readonly neighbourCols: Int32Array,
    /** [numItems × neighbours] their similarities. */
    private readonly similarities: Float32Array,
  ) {}

  /** @param train [users × items] implicit feedback (values are counted as given, usually 1) */
  static fit(train: CsrMatrix, options: ItemKnnOptions = {}): ItemKnn {
    const k = options.neighbours ?? 100;
    const shrink = options.shrink ?? 0;
    if (!(Number.isInteger(k) && k >= 1)) throw new Error(`ItemKnn: neighbours must be a positive integer, got ${k}`);
    if (!(shrink >= 0)) throw new Error(`ItemKnn: shrink must be ≥ 0, got ${shrink}`);
    const n = train.numCols;
    // Users of each item (the transpose's structure), then each item's co-occurrence row.
    const userPtr = new Int32Array(n + 1);
    for (let p = 0; p < train.indptr[train.numRows]; p++) userPtr[train.indices[p] + 1]++;
    for (let i = 0; i < n; i++) userPtr[i + 1] += userPtr[i];
    const users = new Int32Array(userPtr[n]);
    const userValues = new Float32Array(userPtr[n]);
    const fill = userPtr.slice(0, n);
    for (let u = 0; u < train.numRows; u++) {
      for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) {
        const at = fill[train.indices[p]]++;
        users[at] = u;
        userValues[at] = train.values[p];
      }
    }
    const norms = new Float64Array(n);
    for (let u = 0; u < train.numRows; u++)
      for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) norms[train.indices[p]] += train.values[p] ** 2;
    const neighbourCols = new Int32Array(n * k).fill(-1);
    const similarities = new Float32Array(n * k);
    const row = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      row.fill(0);
      for (let q = userPtr[i]; q < userPtr[i + 1]; q++) {
        const u = users[q];
        const xi = userValues[q];
        for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) row[train.indices[p]] += xi * train.values[p];
      }
      row[i] = 0;
      const ni = Math.sqrt(norms[i]);
      for (let j = 0; j < n; j++) if (row[j] !== 0) row[j] /= ni * Math.sqrt(norms[j]) + shrink;
      const top = selectTopK(row, k, { skip: (j) => row[j] <= 0 });
      neighbourCols.set(top.indices, i * k);
      for (let t = 0; t < top.indices.length; t++) similarities[i * k + t] = top.scores[t];
    }
    return new ItemKnn(n, k, shrink, neighbourCols, similarities);
  }

  get hyperparameters(): Record<string, unknown> {
    return { neighbours: this.neighbours, shrink: this.shrink };
  }

  /** @returns [rows × numItems] Σ_{i ∈ history} x_i · s_ij */
  score(histories: CsrMatrix): Float32Array {
    const n = this.numItems;
    const k = this.neighbours;
    const out = new Float32Array(histories.numRows * n);
    for (let r = 0; r < histories.numRows; r++) {
      const o = r * n;
      for (let p = histories.indptr[r]; p < histories.indptr[r + 1]; p++) {
        const i = histories.indices[p];
        const x = histories.values[p];
        for (let t = i * k; t < (i + 1) * k && this.neighbourCols[t] >= 0; t++)
          out[o + this.neighbourCols[t]] += x * this.similarities[t];
      }
    }
    return out;
  }

  scoreMaterial(histories: CsrMatrix): ScoreMaterial {
    return { kind: 'scores', scores: this.score(histories) };
  }

  reconstructionErrors(histories: CsrMatrix): Float64Array {
    const scores = this.score(histories);
    const n = this.numItems;
    return rowErrors(histories, (r) => squaredReconstructionError(histories, r, scores.subarray(r * n, (r + 1) * n)));
  }

  reconstructInUnit(history: CsrMatrix): { values: Float32Array; error: number } {
    const values = this.score(history);
    return { values, error: squaredReconstructionError(history, 0, values) };
  }

  /** An item's kept neighbours with their similarities (0 elsewhere). */
  itemScorer(): DisposableItemScorer {
    const k = this.neighbours;
    return Object.assign(
      (i: number, out: Float32Array) => {
        out.fill(0);
        for (let t = i * k; t < (i + 1) * k && this.neighbourCols[t] >= 0; t++)
          out[this.neighbourCols[t]] = this.similarities[t];
      },
      { dispose: () => undefined },
    );
  }

  toBytes(): Uint8Array {
    return packWeights(
      MAGIC,
      FORMAT_VERSION,
      { numItems: this.numItems, neighbours: this.neighbours, shrink: this.shrink },
      [this.neighbourCols, this.similarities],
    );
  }

  static fromBytes(bytes: Uint8Array): ItemKnn {
    const what = 'ItemKnn.fromBytes';
    if (!hasMagic(bytes, MAGIC)) throw new Error(`${what}: not an item-kNN model`);
    const { header, dataOffset } = readWeightsHeader<{ numItems: number; neighbours: number; shrink: number }>(
      bytes,
      MAGIC,
      FORMAT_VERSION,
      what,
    );
    const size = header.numItems * header.neighbours;
    const [cols, sims] = readArrays(
      bytes,
      dataOffset,
      [
        { type: 'i32', length: size },
        { type: 'f32', length: size },
      ],
      what,
    );
    return new ItemKnn(header.numItems, header.neighbours, header.shrink, cols as Int32Array, sims as Float32Array);
  }

  /** Holds no tensors. */
  dispose(): void {}
}
