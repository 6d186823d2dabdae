import type * as tfjs from '@tensorflow/tfjs';
import type { CsrMatrix } from '../data/csr.js';
import { easeFitJob, type EasePlan, type EasePlanOptions } from './ease-fit.js';
import {
  EaseFitCancelled,
  jsGemmExecutor,
  runSolverAsync,
  runSolverSync,
  TfGemmExecutor,
  type EasePhase,
  type SweepTiling,
} from './ease-solver.js';
import { EaseWorkers, sharedFloat32 } from './ease-workers.js';
import { itemSimilarityScorer } from '../serving/similarity.js';
import { hasMagic, magicOf, packWeights, readWeightArrays, readWeightsHeader } from './weights-file.js';
import {
  rowErrors,
  squaredReconstructionError,
  type DisposableItemScorer,
  type ScoreMaterial,
  type ServableModel,
} from './servable.js';

export { EaseFitCancelled, type EasePhase } from './ease-solver.js';
export { easeMemoryBytes, maxEaseItems, planEase, type EaseMethod, type EasePlan } from './ease-fit.js';

export interface EaseOptions {
  /** L2 regularisation λ added to the Gram matrix's diagonal (Steck 2019; 500 suits ML-1M). */
  lambda: number;
  /**
   * EDLAE's dropout p in [0, 1) (Steck 2020; default 0, plain EASE): p/(1 − p)·(XᵀX)_ii is added
   * to item i's diagonal besides λ, so popular items are regularised more (ML-1M: λ 250, p 0.5).
   */
  dropout?: number;
}

/** Options of {@link Ease.fitAsync}. */
export interface EaseFitOptions extends EaseOptions {
  /**
   * Progress in flop-equivalents of the whole fit (Gram matrix, inverse, weights): `done` is
   * monotone, reports come at most every 200 ms and at least every ~0.3 s of computation (≤ 0.6 s
   * of wall time measured on a loaded machine), and the last one has done = total.
   */
  onProgress?: (done: number, total: number, phase: EasePhase) => void;
  /** Checked before every product (≤ about 0.1 s apart): returning true stops the fit. */
  shouldStop?: () => boolean;
  /** Aborting it stops the fit like `shouldStop`. */
  signal?: AbortSignal;
  /**
   * Threads computing the products (default 1: only the calling thread). With 2, one worker
   * thread with its own tfjs backend shares the products (needs the compiled ease-worker.js next
   * to this module; without it, or when the worker fails to start, the fit runs on the calling
   * thread alone). It pays only when a core is free.
   */
  threads?: number;
  /** 'auto' (default): the dual (Woodbury) form when users ≤ items / 4, else the primal. */
  method?: EasePlanOptions['method'];
  /** Product tiling (tests and tuning). */
  tiling?: SweepTiling;
  /** Receives the plan before the work starts. */
  onPlan?: (plan: EasePlan) => void;
  /** The compiled worker entry (default: ease-worker.js next to this module). */
  workerUrl?: URL;
}

const EASE_MAGIC = 0x31534145; // "EAS1" little-endian: 12-byte header, dropout 0
const EASE2_MAGIC = 0x32534145; // "EAS2": 16-byte header with the dropout
const EASE_FILE_MAGIC = magicOf('EASW'); // the weights-file format (version 3 of EASE's file)
const EASE_FILE_VERSION = 3;

/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form linear
 * item-item autoencoder. B = I − P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹ and diag(B) = 0; scores
 * are X·B. The strong baseline every Recoder model is compared with.
 *
 * Cost (ease-fit.ts, ease-solver.ts): the Gram matrix is Σ_u |history_u|² additions; the inverse
 * is a blocked symmetric sweep whose n³ flops run as tfjs matMuls in {@link fitAsync} (about 48 s
 * of CPU for 10,000 items on one wasm thread), or the Woodbury form (n²·U flops) when there are at
 * most n/4 users. Memory: one n × n float32 matrix that becomes the weights, plus panels
 * ({@link easeMemoryBytes}).
 */
export class Ease implements ServableModel {
  readonly kind = 'ease' as const;
  readonly scoreUnit = 'score' as const;
  /** EASE has no user or item embeddings. */
  readonly factor = null;
  readonly itemScorerUsesCooccurrence = true;

  private constructor(
    readonly numItems: number,
    /** [numItems × numItems] row-major item-item weights, diagonal 0. */
    readonly weights: Float32Array,
    readonly lambda: number,
    /** EDLAE's dropout p (0: plain EASE). */
    readonly dropout = 0,
  ) {}

  /**
   * Fits on this thread with the JavaScript kernel (about 1 GFLOP/s: fine for a few thousand
   * items; use {@link fitAsync} for more).
   * @param train [users × items] implicit feedback in {0, 1}
   */
  static fit(train: CsrMatrix, opts: EaseOptions & { method?: EasePlanOptions['method']; tiling?: SweepTiling }): Ease {
    const job = easeFitJob(train, opts.lambda, { method: opts.method, tiling: opts.tiling, dropout: opts.dropout });
    runSolverSync(job.steps, jsGemmExecutor);
    return new Ease(train.numCols, job.weights, opts.lambda, opts.dropout ?? 0);
  }

  /**
   * Fits with tfjs matMuls (XNNPACK on wasm), reporting progress and honouring cancellation
   * between products, yielding to the event loop at least every 50 ms.
   *
   * @param train [users × items] implicit feedback in {0, 1}
   * @throws {@link EaseFitCancelled} when `shouldStop` returned true or `signal` was aborted
   *   (nothing is kept: no tensors, no workers)
   * @example
   *   const ease = await Ease.fitAsync(tf, train, { lambda: 100, onProgress: (d, t) => log(d / t) });
   */
  static async fitAsync(tf: typeof tfjs, train: CsrMatrix, opts: EaseFitOptions): Promise<Ease> {
    const threads = Math.max(1, Math.floor(opts.threads ?? 1));
    if (opts.signal?.aborted || opts.shouldStop?.()) throw new EaseFitCancelled();
    // The workers start (each loads its tfjs backend) while this thread builds the Gram matrix.
    const starting = threads > 1 ? EaseWorkers.start(tf, threads - 1, opts.workerUrl) : undefined;
    try {
      const alloc = starting ? sharedFloat32 : (len: number) => new Float32Array(len);
      const job = easeFitJob(
        train,
        opts.lambda,
        { method: opts.method, tiling: opts.tiling, threads, dropout: opts.dropout },
        alloc,
      );
      opts.onPlan?.(job.plan);
      const executor = tf.getBackend() === 'cpu' ? jsGemmExecutor : new TfGemmExecutor(tf);
      await runSolverAsync(job.steps, executor, {
        total: job.plan.totalFlops,
        onProgress: opts.onProgress,
        shouldStop: opts.shouldStop,
        signal: opts.signal,
        workers: starting?.catch(() => undefined),
      });
      return new Ease(train.numCols, job.weights, opts.lambda, opts.dropout ?? 0);
    } finally {
      await (await starting?.catch(() => undefined))?.close();
    }
  }

  /**
   * Serialized form: the model file of weights-file.ts (magic "EASW", version 3, header
   * { numItems, lambda, dropout }, then the n × n float32 weights). {@link fromBytes} also reads
   * the layouts of earlier versions: "EAS2" (16-byte header: magic, numItems, λ and dropout as
   * float32) and "EAS1" (12 bytes, dropout 0).
   */
  toBytes(): Uint8Array {
    return packWeights(
      EASE_FILE_MAGIC,
      EASE_FILE_VERSION,
      { numItems: this.numItems, lambda: this.lambda, dropout: this.dropout },
      [this.weights],
    );
  }

  static fromBytes(bytes: Uint8Array): Ease {
    if (hasMagic(bytes, EASE_FILE_MAGIC)) {
      const what = 'Ease.fromBytes';
      const { header, dataOffset } = readWeightsHeader<{ numItems: number; lambda: number; dropout: number }>(
        bytes,
        EASE_FILE_MAGIC,
        EASE_FILE_VERSION,
        what,
      );
      const n = header.numItems;
      const [weights] = readWeightArrays(bytes, dataOffset, [n * n], what);
      return new Ease(n, weights, header.lambda, header.dropout);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = bytes.byteLength >= 12 ? view.getUint32(0, true) : 0;
    if (magic !== EASE_MAGIC && magic !== EASE2_MAGIC) throw new Error('Ease.fromBytes: not an EASE model');
    const header = magic === EASE2_MAGIC ? 16 : 12;
    const n = view.getUint32(4, true);
    if (bytes.byteLength !== header + n * n * 4)
      throw new Error(`Ease.fromBytes: expected ${header + n * n * 4} bytes, got ${bytes.byteLength}`);
    const weights = new Float32Array(n * n);
    new Uint8Array(weights.buffer).set(bytes.subarray(header));
    return new Ease(n, weights, view.getFloat32(8, true), magic === EASE2_MAGIC ? view.getFloat32(12, true) : 0);
  }

  /** λ, and EDLAE's dropout when it has one. */
  get hyperparameters(): Record<string, unknown> {
    return { lambda: this.lambda, ...(this.dropout ? { dropout: this.dropout } : {}) };
  }

  /** Every item's score X·B (a batch is ranked by an exact scan). */
  scoreMaterial(histories: CsrMatrix): ScoreMaterial {
    return { kind: 'scores', scores: this.score(histories) };
  }

  /** ‖x − xB‖² / |x| over all items for each history. */
  reconstructionErrors(histories: CsrMatrix): Float64Array {
    const scores = this.score(histories);
    const n = this.numItems;
    return rowErrors(histories, (r) => squaredReconstructionError(histories, r, scores.subarray(r * n, (r + 1) * n)));
  }

  /** xB and the history's error. */
  reconstructInUnit(history: CsrMatrix): { values: Float32Array; error: number } {
    const values = this.score(history);
    return { values, error: squaredReconstructionError(history, 0, values) };
  }

  /**
   * ½ column B[·, i] + ½ co-occurrence cosine (docs/similarity.md: 1.007× genre precision on ML-1M;
   * its row B[i, ·] alone: 0.947×); B alone without `interactions`.
   */
  itemScorer(interactions: CsrMatrix | null): DisposableItemScorer | null {
    return itemSimilarityScorer(
      { numItems: this.numItems, easeWeights: this.weights, interactions: interactions ?? undefined },
      { blockSize: 16 },
    );
  }

  /** EASE holds no tensors: nothing to free. */
  dispose(): void {}

  /** @returns [rows × numItems] scores X·B for the given histories. */
  score(histories: CsrMatrix): Float32Array {
    const n = this.numItems;
    const w = this.weights;
    const { indptr, indices, values } = histories;
    const out = new Float32Array(histories.numRows * n);
    for (let u = 0; u < histories.numRows; u++) {
      const o = u * n;
      const end = indptr[u + 1];
      let k = indptr[u];
      // Four history items per pass over the output row: a quarter of the output reads and writes
      // (the loop is memory-bound), 2–3× faster than one item at a time on ML-1M.
      for (; k + 4 <= end; k += 4) {
        const r0 = indices[k] * n;
        const r1 = indices[k + 1] * n;
        const r2 = indices[k + 2] * n;
        const r3 = indices[k + 3] * n;
        const v0 = values[k];
        const v1 = values[k + 1];
        const v2 = values[k + 2];
        const v3 = values[k + 3];
        for (let j = 0; j < n; j++) out[o + j] += v0 * w[r0 + j] + v1 * w[r1 + j] + v2 * w[r2 + j] + v3 * w[r3 + j];
      }
      for (; k < end; k++) {
        const row = indices[k] * n;
        const v = values[k];
        for (let j = 0; j < n; j++) out[o + j] += v * w[row + j];
      }
    }
    return out;
  }
}

/**
 * EASE's weights the direct way, in float64: the dense Gram matrix XᵀX + λI (EDLAE: plus
 * p/(1 − p)·diag(XᵀX)), the scalar
 * Gauss-Jordan inverse P ({@link invertSpdInPlace}), B = −P·diag(1/diag P) with diag(B) = 0.
 * 2·n³ flops: the reference the fast fits are checked against (tests, `npm run bench:ease`).
 * @param train [users × items] implicit feedback
 * @returns [items × items] row-major B
 */
export function easeWeightsFloat64(train: CsrMatrix, lambda: number, dropout = 0): Float64Array {
  const n = train.numCols;
  const g = new Float64Array(n * n);
  for (let u = 0; u < train.numRows; u++) {
    for (let a = train.indptr[u]; a < train.indptr[u + 1]; a++) {
      const row = train.indices[a] * n;
      for (let b = train.indptr[u]; b < train.indptr[u + 1]; b++)
        g[row + train.indices[b]] += train.values[a] * train.values[b];
    }
  }
  const rho = dropout / (1 - dropout);
  for (let i = 0; i < n; i++) g[i * n + i] += lambda + rho * g[i * n + i];
  invertSpdInPlace(g, n);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) w[i * n + j] = -g[i * n + j] / g[j * n + j];
  return w;
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
