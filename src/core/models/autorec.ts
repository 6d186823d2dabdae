import type * as tfjs from '@tensorflow/tfjs';
import type { CsrMatrix } from '../data/csr.js';
import { activeNativeGemm } from '../engine/backend.js';
import type { FixedRightGemm } from '../engine/native-gemm.js';
import { Random } from '../data/random.js';
import { mae, rmse } from '../eval/metrics.js';
import { Adam } from './adam.js';
import type { Autoencoder, FitOptions } from './autoencoder.js';
import { queryMaterial, rowErrors, type ScoreMaterial } from './servable.js';
import { readAutoRecFile, writeAutoRecFile, type AutoRecState } from './autorec-file.js';
import { autorecLossAndGrads, PARAM_NAMES, type AutoRecParams, type ParamName } from './autorec-loss.js';
import { choleskySolve, transpose } from './autorec-solver.js';

/** The tfjs namespace the model runs on (from the engine's backend selection). */
export type Tf = typeof tfjs;
export { autorecLossAndGrads, type AutoRecParams } from './autorec-loss.js';
type Tensor = tfjs.Tensor;
type Tensor2D = tfjs.Tensor2D;

export interface AutoRecHyperparameters {
  /** Hidden units (sigmoid). Default 500. */
  hidden: number;
  /** L2 weight on both weight matrices: loss += λ/2 (‖W‖² + ‖V‖²) per mini-batch. Default 30. */
  lambda: number;
  /** Passes over the items. Default 100. */
  epochs: number;
  /** Adam step size (β = 0.9, 0.999, ε = 1e-8). Default 1e-3. */
  learningRate: number;
  /** Items per mini-batch. Default 256. */
  batchSize: number;
  /** Seed of the initialisation and of the per-epoch item shuffles. Default 1. */
  seed: number;
  /**
   * After training, replace each training user's decoder row [W_u, b_u] by the closed-form ridge
   * fit used for fold-in (see the class doc) on the final item codes. Not in the reference
   * (which keeps the Adam-trained rows); default false.
   */
  refitDecoder: boolean;
}

export const AUTOREC_DEFAULTS: Readonly<AutoRecHyperparameters> = Object.freeze({
  hidden: 500,
  lambda: 30,
  epochs: 100,
  learningRate: 1e-3,
  batchSize: 256,
  seed: 1,
  refitDecoder: false,
});

/** Ratings as (user, item, rating) triples in the model's dense index space; -1 = unknown. */
export interface RatingTriples {
  readonly users: ArrayLike<number>;
  readonly items: ArrayLike<number>;
  readonly ratings: ArrayLike<number>;
}

/** The score of the held-out ratings after one epoch (see {@link AutoRecFitOptions.onValidation}). */
export interface AutoRecValidationReport {
  /** 1-based epoch after which the model was scored. */
  epoch: number;
  /** RMSE of {@link AutoRec.predict} (clipped, global-mean fallback) on the validation ratings. */
  rmse: number;
  /** MAE of the same predictions. */
  mae: number;
}

export interface AutoRecFitOptions extends FitOptions {
  /**
   * Held-out ratings, scored as the model would be if training stopped after that epoch
   * (predictions clipped, global-mean fallback, and — with `refitDecoder` — after the decoder
   * refit); the RMSE is `EpochReport.validation`, RMSE and MAE go to `onValidation`.
   */
  validation?: RatingTriples;
  /** Validate every this many epochs (and always after the last). Default 1. */
  validateEvery?: number;
  /**
   * Called after every validated epoch (see `validation`, `validateEvery`) with the validation
   * RMSE and MAE, e.g. to pick the number of epochs on held-out ratings.
   */
  onValidation?: (report: AutoRecValidationReport) => void;
}

/** Clips a predicted rating to the rating scale [1, 5]. */
export function clipRating(x: number, min = 1, max = 5): number {
  return x < min ? min : x > max ? max : x;
}

/**
 * Item-based AutoRec (I-AutoRec, Sedhain et al. 2015), trained as `scripts/reference/autorec.py` does.
 *
 * Each ITEM i is an input vector r_i ∈ R^numUsers of its ratings (0 where unobserved);
 * h_i = sigmoid(V r_i + mu), r̂_i = W h_i + b (identity output). The objective per mini-batch of
 * items is Σ over OBSERVED entries (r − r̂)² + λ/2 (‖W‖² + ‖V‖²) (biases unregularised), minimised
 * with Adam; initialisation is PyTorch's `nn.Linear` default (U(±1/√fan_in) for weights and biases),
 * items are reshuffled every epoch. Gradients are written out by hand ({@link autorecLossAndGrads},
 * transposed products via `matMulFast`); the master weights and Adam (torch's exact update) live
 * in Float32Arrays.
 *
 * The predicted rating of (u, i) is r̂_i[u] = W[u]·h_i + b[u], clipped by {@link predict} to the
 * training ratings' range (the rating scale, e.g. [1, 5]); users or items with no training rating
 * get the global training mean.
 *
 * Interface mapping (rows of `histories` are USERS, columns items, values ratings):
 * - `itemVectors()` = [h_i, 1] (dim hidden + 1) for every item;
 * - `userQueries()` = [W_u, b_u] for a training user u (the decoder's row for u);
 * - `reconstruct()` = userQueries · itemVectorsᵀ, the raw (unclipped) r̂, so that an inner-product
 *   index over itemVectors ranks exactly like reconstruct; clipping is monotone and keeps the order;
 * - `encode()` = W_u (dim hidden = latentDim).
 * Which user a history row is: pass `users` (training user index per row, -1 for a user not in
 * training). Rows of unknown users, and all rows when `users` is omitted, are FOLDED IN: their
 * query q = [w, b] is the ridge/MAP fit of their history's ratings on the item codes,
 * argmin Σ_{i rated} (r_ui − q·[h_i, 1])² + (λ·B/2)‖q − q̄‖², where q̄ is the mean query of the
 * training users and B the mini-batches per epoch (the weight the L2 term had per pass in
 * training). An empty history gets q̄ (the "average user"). Encoder and item codes stay fixed.
 * With `refitDecoder`, training users' rows are replaced by this same fit of their training
 * ratings once training ends (chosen on a validation slice of ML-100K u1.base with
 * `npm run evaluate -- --ratings … --grid refitDecoder=false,true`).
 *
 * @example
 *   const { tf } = await initBackend({ prefer: 'wasm' });
 *   const model = await AutoRec.fit(tf, usersByItemsRatings, { lambda: 30, epochs: 100 });
 *   model.predict([u], [i]);                 // clipped rating, global mean for unknowns
 *   const bytes = model.toBytes();           // AutoRec.fromBytes(tf, bytes) restores it
 */
export class AutoRec implements Autoencoder {
  readonly kind = 'autorec' as const;
  readonly scoreUnit = 'rating' as const;
  readonly itemScorerUsesCooccurrence = false;
  readonly numUsers: number;
  readonly numItems: number;
  readonly latentDim: number;
  readonly itemVectorDim: number;
  readonly hyperparameters: Record<string, unknown>;
  /** Mean training rating (the prediction for unknown users and items). */
  readonly globalMean: number;
  /** [min, max] training rating: {@link predict} clips to it. */
  readonly ratingRange: readonly [number, number];

  private readonly tf: Tf;
  private readonly s: AutoRecState;
  private meanQuery?: Float32Array;
  private itemVectorsT?: Float32Array;
  private itemVectorProduct?: FixedRightGemm;
  private disposed = false;

  private constructor(tf: Tf, state: AutoRecState) {
    this.tf = tf;
    this.s = state;
    this.numUsers = state.numUsers;
    this.numItems = state.numItems;
    this.latentDim = state.hyper.hidden;
    this.itemVectorDim = state.hyper.hidden + 1;
    this.hyperparameters = { ...state.hyper };
    this.globalMean = state.globalMean;
    this.ratingRange = state.ratingRange;
  }

  /**
   * Trains I-AutoRec on `ratings` (rows = users, columns = items, values = ratings; every stored
   * entry is an observation). Internally the matrix is transposed to dense items × users.
   */
  static async fit(
    tf: Tf,
    ratings: CsrMatrix,
    hyperparameters: Partial<AutoRecHyperparameters> = {},
    options: AutoRecFitOptions = {},
  ): Promise<AutoRec> {
    const hyper: AutoRecHyperparameters = { ...AUTOREC_DEFAULTS };
    for (const [k, v] of Object.entries(hyperparameters))
      if (v !== undefined) (hyper as unknown as Record<string, unknown>)[k] = v;
    validateHyper(hyper);
    const numUsers = ratings.numRows;
    const numItems = ratings.numCols;
    const H = hyper.hidden;
    if (numUsers === 0 || numItems === 0) throw new Error('AutoRec.fit: empty ratings matrix');

    // Dense items × users ratings and observation mask.
    const R = new Float32Array(numItems * numUsers);
    const M = new Float32Array(numItems * numUsers);
    const userCounts = new Int32Array(numUsers);
    const itemCounts = new Int32Array(numItems);
    let sum = 0;
    let nnz = 0;
    const ratingRange: [number, number] = [Infinity, -Infinity];
    for (let u = 0; u < numUsers; u++) {
      for (let p = ratings.indptr[u]; p < ratings.indptr[u + 1]; p++) {
        const i = ratings.indices[p];
        const r = ratings.values[p];
        R[i * numUsers + u] = r;
        M[i * numUsers + u] = 1;
        userCounts[u]++;
        itemCounts[i]++;
        sum += r;
        nnz++;
        if (r < ratingRange[0]) ratingRange[0] = r;
        if (r > ratingRange[1]) ratingRange[1] = r;
      }
    }
    if (nnz === 0) throw new Error('AutoRec.fit: no ratings');
    const globalMean = sum / nnz;

    // PyTorch nn.Linear initialisation: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    const rng = new Random(hyper.seed);
    const uniform = (n: number, bound: number) => rng.fillUniform(new Float32Array(n), -bound, bound);
    const encBound = 1 / Math.sqrt(numUsers);
    const decBound = 1 / Math.sqrt(H);
    const init = {
      V: uniform(numUsers * H, encBound),
      mu: uniform(H, encBound),
      W: uniform(H * numUsers, decBound),
      b: uniform(numUsers, decBound),
    };

    const Rt = tf.tensor2d(R, [numItems, numUsers]);
    const Mt = tf.tensor2d(M, [numItems, numUsers]);
    // Master weights live on the JS side; ./adam.ts (torch.optim.Adam's exact update)
    // updates them in place from the downloaded gradients once per step.
    const p: Record<ParamName, Float32Array> = init;
    const adam = new Adam(
      PARAM_NAMES.map((name) => p[name].length),
      { learningRate: hyper.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    );
    const { lambda, batchSize } = hyper;
    const batchesPerEpoch = Math.ceil(numItems / batchSize);
    const validateEvery = Math.max(1, Math.floor(options.validateEvery ?? 1));
    const perm = Int32Array.from({ length: numItems }, (_, k) => k);
    const meta = { numUsers, numItems, hyper, globalMean, ratingRange, batchesPerEpoch, userCounts, itemCounts };
    let stopped = false;

    const trainStep = (idx: Int32Array): number =>
      tf.tidy(() => {
        const params: AutoRecParams = {
          V: tf.tensor2d(p.V, [numUsers, H]),
          mu: tf.tensor1d(p.mu),
          W: tf.tensor2d(p.W, [H, numUsers]),
          b: tf.tensor1d(p.b),
        };
        const idxT = tf.tensor1d(idx, 'int32');
        const x = tf.gather(Rt, idxT) as Tensor2D;
        const m = tf.gather(Mt, idxT) as Tensor2D;
        const { loss, grads } = autorecLossAndGrads(tf, x, m, params, lambda);
        adam.nextStep();
        PARAM_NAMES.forEach((name, k) => adam.update(k, p[name], grads[name].dataSync() as Float32Array));
        return loss.dataSync()[0];
      });

    try {
      for (let epoch = 1; epoch <= hyper.epochs && !stopped; epoch++) {
        const t0 = performance.now();
        rng.shuffle(perm);
        let loss = 0;
        for (let start = 0; start < numItems; start += batchSize) {
          loss += trainStep(perm.subarray(start, Math.min(numItems, start + batchSize)));
          if (options.shouldStop?.()) {
            stopped = true;
            break;
          }
        }
        const seconds = (performance.now() - t0) / 1000;
        let validation: number | undefined;
        if (options.validation && (epoch % validateEvery === 0 || epoch === hyper.epochs || stopped)) {
          const v = options.validation;
          const current = AutoRec.snapshot(tf, Rt, p, meta);
          if (hyper.refitDecoder) current.refitDecoderRows(ratings);
          const predicted = current.predict(v.users, v.items);
          validation = rmse(predicted, v.ratings);
          options.onValidation?.({ epoch, rmse: validation, mae: mae(predicted, v.ratings) });
        }
        options.onEpoch?.({ epoch, epochs: hyper.epochs, loss, validation, seconds });
        await new Promise<void>((resolve) => setTimeout(resolve, 0));
      }
      const model = AutoRec.snapshot(tf, Rt, p, meta);
      if (hyper.refitDecoder) model.refitDecoderRows(ratings);
      return model;
    } finally {
      Rt.dispose();
      Mt.dispose();
    }
  }

  /** Copies the current weights and computes the item codes h_i = σ(r_i V + mu). */
  private static snapshot(
    tf: Tf,
    Rt: Tensor,
    p: Record<ParamName, Float32Array>,
    meta: Pick<
      AutoRecState,
      'numUsers' | 'numItems' | 'hyper' | 'globalMean' | 'ratingRange' | 'batchesPerEpoch' | 'userCounts' | 'itemCounts'
    >,
  ): AutoRec {
    const codesT = tf.tidy(() =>
      tf.sigmoid(
        tf.add(tf.matMul(Rt as Tensor2D, tf.tensor2d(p.V, [meta.numUsers, meta.hyper.hidden])), tf.tensor1d(p.mu)),
      ),
    );
    const codes = Float32Array.from(codesT.dataSync() as Float32Array);
    codesT.dispose();
    return new AutoRec(tf, { ...meta, V: p.V.slice(), mu: p.mu.slice(), W: p.W.slice(), b: p.b.slice(), codes });
  }

  /**
   * Predicted ratings of (users[k], items[k]) in the training index space, clipped to
   * {@link ratingRange}. A user or item index that is -1, out of range, or had no training rating
   * gets the global mean.
   */
  predict(users: ArrayLike<number>, items: ArrayLike<number>): Float32Array {
    this.assertLive();
    const { numUsers, numItems, codes, W, b, userCounts, itemCounts } = this.s;
    const H = this.latentDim;
    const n = users.length;
    if (items.length !== n) throw new Error('AutoRec.predict: users and items differ in length');
    const [lo, hi] = this.ratingRange;
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const u = users[k];
      const i = items[k];
      if (!(u >= 0 && u < numUsers && i >= 0 && i < numItems) || userCounts[u] === 0 || itemCounts[i] === 0) {
        out[k] = clipRating(this.globalMean, lo, hi);
        continue;
      }
      let dot = b[u];
      const base = i * H;
      for (let h = 0; h < H; h++) dot += W[h * numUsers + u] * codes[base + h];
      out[k] = clipRating(dot, lo, hi);
    }
    return out;
  }

  /** Queries [rows × (hidden + 1)]: [W_u, b_u] for training users, the fold-in fit otherwise (see class doc). */
  userQueries(histories: CsrMatrix, users?: ArrayLike<number>): Float32Array {
    this.assertLive();
    this.checkHistories(histories, users);
    const { numUsers, W, b, userCounts } = this.s;
    const H = this.latentDim;
    const D = H + 1;
    const out = new Float32Array(histories.numRows * D);
    for (let r = 0; r < histories.numRows; r++) {
      const u = users ? users[r] : -1;
      if (u >= 0 && u < numUsers && userCounts[u] > 0) {
        for (let h = 0; h < H; h++) out[r * D + h] = W[h * numUsers + u];
        out[r * D + H] = b[u];
      } else {
        const lo = histories.indptr[r];
        const hi = histories.indptr[r + 1];
        out.set(this.foldIn(histories.indices.subarray(lo, hi), histories.values.subarray(lo, hi)), r * D);
      }
    }
    return out;
  }

  /** User vectors [rows × hidden]: W_u (the decoder row) for training users, the fold-in w otherwise. */
  encode(histories: CsrMatrix, users?: ArrayLike<number>): Float32Array {
    const q = this.userQueries(histories, users);
    const H = this.latentDim;
    const out = new Float32Array(histories.numRows * H);
    for (let r = 0; r < histories.numRows; r++) out.set(q.subarray(r * (H + 1), r * (H + 1) + H), r * H);
    return out;
  }

  /**
   * Raw predicted ratings [rows × numItems] = userQueries · itemVectorsᵀ (not clipped; items
   * without training ratings are not replaced by the global mean: use {@link predict} for ratings).
   */
  reconstruct(histories: CsrMatrix, users?: ArrayLike<number>): Float32Array {
    return this.scoreQueries(this.userQueries(histories, users), histories.numRows);
  }

  scoreQueries(queries: Float32Array, rows: number): Float32Array {
    this.assertLive();
    const tf = this.tf;
    const D = this.itemVectorDim;
    if (queries.length !== rows * D)
      throw new Error(`scoreQueries: ${queries.length} values for ${rows} queries of dimension ${D}`);
    const gemm = tf.getBackend() === 'wasm' ? activeNativeGemm() : undefined;
    if (gemm) {
      // Native GEMM (backend.ts) against the item vectors packed once.
      this.itemVectorProduct ??= gemm.withFixedRight(this.itemVectors(), D, this.numItems, true);
      return this.itemVectorProduct.run(queries, rows);
    }
    this.itemVectorsT ??= transpose(this.itemVectors(), this.numItems, D);
    const itemsT = this.itemVectorsT;
    const t = tf.tidy(() => tf.matMul(tf.tensor2d(queries, [rows, D]), tf.tensor2d(itemsT, [D, this.numItems])));
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return Float32Array.from(out);
  }

  /** Item vectors [numItems × (hidden + 1)]: [h_i, 1] with h_i the hidden code of item i's training ratings. */
  itemVectors(): Float32Array {
    this.assertLive();
    const H = this.latentDim;
    const D = H + 1;
    const out = new Float32Array(this.numItems * D);
    for (let i = 0; i < this.numItems; i++) {
      out.set(this.s.codes.subarray(i * H, (i + 1) * H), i * D);
      out[i * D + H] = 1;
    }
    return out;
  }

  /** Replaces every training user's [W_u, b_u] by the fold-in fit of their training ratings. */
  private refitDecoderRows(ratings: CsrMatrix): void {
    const { numUsers, W, b, userCounts } = this.s;
    const H = this.latentDim;
    const rows: Float32Array[] = [];
    const gram = this.itemGram();
    // All fits use the prior of the Adam-trained rows; the rows are written afterwards.
    for (let u = 0; u < numUsers; u++) {
      const lo = ratings.indptr[u];
      const hi = ratings.indptr[u + 1];
      rows.push(
        userCounts[u] > 0
          ? this.foldIn(ratings.indices.subarray(lo, hi), ratings.values.subarray(lo, hi), gram)
          : new Float32Array(0),
      );
    }
    for (let u = 0; u < numUsers; u++) {
      if (rows[u].length === 0) continue;
      for (let h = 0; h < H; h++) W[h * numUsers + u] = rows[u][h];
      b[u] = rows[u][H];
    }
    this.meanQuery = undefined; // fold-in's prior: the mean of the rows as stored (as after fromBytes)
  }

  /**
   * The item vectors' Gram matrix [numItems × numItems] (float64): G[i][j] = [h_i, 1]·[h_j, 1],
   * summed in the order {@link foldIn} sums it, so fold-ins that look entries up give the same
   * bits. Worth it when fitting many users at once (the decoder refit): the dual systems' kernel
   * entries become look-ups instead of hidden-size dot products.
   */
  private itemGram(): Float64Array {
    const { codes } = this.s;
    const H = this.latentDim;
    const I = this.numItems;
    const G = new Float64Array(I * I);
    for (let i = 0; i < I; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let h = 0; h < H; h++) s += codes[i * H + h] * codes[j * H + h];
        s += 1;
        G[i * I + j] = s;
        G[j * I + i] = s;
      }
    }
    return G;
  }

  /**
   * Ridge/MAP fold-in of one history (see the class doc): returns q = [w, b].
   * @param gram optional {@link itemGram} (same result, faster for many histories)
   */
  private foldIn(items: Int32Array, ratings: Float32Array, gram?: Float64Array): Float32Array {
    const { numUsers, W, b, userCounts, codes, hyper, batchesPerEpoch } = this.s;
    const H = this.latentDim;
    const D = H + 1;
    if (!this.meanQuery) {
      const q = new Float64Array(D);
      let n = 0;
      for (let u = 0; u < numUsers; u++) {
        if (userCounts[u] === 0) continue;
        for (let h = 0; h < H; h++) q[h] += W[h * numUsers + u];
        q[H] += b[u];
        n++;
      }
      this.meanQuery = Float32Array.from(q, (x) => (n > 0 ? x / n : 0));
      if (n === 0) this.meanQuery[H] = this.globalMean;
    }
    const prior = this.meanQuery;
    const rows: number[] = [];
    for (let k = 0; k < items.length; k++) if (items[k] >= 0 && items[k] < this.numItems) rows.push(k);
    const n = rows.length;
    if (n === 0) return Float32Array.from(prior);
    // X: [n × D] rows [h_i, 1]; residual y = r − X q̄.
    const X = new Float64Array(n * D);
    const y = new Float64Array(n);
    for (let a = 0; a < n; a++) {
      const i = items[rows[a]];
      let dot = prior[H];
      for (let h = 0; h < H; h++) {
        const x = codes[i * H + h];
        X[a * D + h] = x;
        dot += x * prior[h];
      }
      X[a * D + H] = 1;
      y[a] = ratings[rows[a]] - dot;
    }
    const alpha = (hyper.lambda * batchesPerEpoch) / 2;
    // q = q̄ + Xᵀ (X Xᵀ + αI)⁻¹ y (dual form, n × n) — equal to (XᵀX + αI)⁻¹ Xᵀ y (primal, D × D).
    const delta = new Float64Array(D);
    if (n <= D) {
      const K = new Float64Array(n * n);
      const I = this.numItems;
      for (let a = 0; a < n; a++) {
        const ia = items[rows[a]];
        for (let c = 0; c <= a; c++) {
          let s = 0;
          if (gram) s = gram[ia * I + items[rows[c]]];
          else for (let d = 0; d < D; d++) s += X[a * D + d] * X[c * D + d];
          K[a * n + c] = s;
          K[c * n + a] = s;
        }
        K[a * n + a] += alpha;
      }
      const z = choleskySolve(K, y, n);
      for (let a = 0; a < n; a++) for (let d = 0; d < D; d++) delta[d] += X[a * D + d] * z[a];
    } else {
      const G = new Float64Array(D * D);
      const rhs = new Float64Array(D);
      for (let a = 0; a < n; a++) {
        const off = a * D;
        for (let d = 0; d < D; d++) {
          const xd = X[off + d];
          rhs[d] += xd * y[a];
          for (let e = 0; e <= d; e++) G[d * D + e] += xd * X[off + e];
        }
      }
      for (let d = 0; d < D; d++) {
        for (let e = 0; e < d; e++) G[e * D + d] = G[d * D + e];
        G[d * D + d] += alpha;
      }
      delta.set(choleskySolve(G, rhs, D));
    }
    const q = new Float32Array(D);
    for (let d = 0; d < D; d++) q[d] = prior[d] + delta[d];
    return q;
  }

  /** The model file (autorec-file.ts: "ARC1", the weights-file format). */
  toBytes(): Uint8Array {
    this.assertLive();
    return writeAutoRecFile(this.s);
  }

  /** Restores a model written by {@link toBytes}. */
  static fromBytes(tf: Tf, bytes: Uint8Array): AutoRec {
    const state = readAutoRecFile(bytes);
    return new AutoRec(tf, { ...state, hyper: { ...AUTOREC_DEFAULTS, ...state.hyper } });
  }

  /** The model gives its own user and item vectors. */
  get factor(): this {
    return this;
  }

  /** The raw predicted ratings (see {@link reconstruct}). */
  score(histories: CsrMatrix): Float32Array {
    return this.reconstruct(histories);
  }

  /** Queries [W_u, b_u] (known users) or the fold-in fit, for the inner-product index; with `exact`, every item's score too ({@link queryMaterial}). */
  scoreMaterial(histories: CsrMatrix, exact = false): ScoreMaterial {
    return queryMaterial(this, histories, exact);
  }

  /** RMSE of each history's reconstructed ratings (clipped to [1, 5]) over its rated items. */
  reconstructionErrors(histories: CsrMatrix, trainingRows?: ArrayLike<number>): Float64Array {
    const recon = this.reconstruct(histories, trainingRows);
    const n = this.numItems;
    return rowErrors(histories, (r) => ratingRmse(histories, r, recon.subarray(r * n, (r + 1) * n)));
  }

  /** Predicted ratings clipped to [1, 5] and the history's error. */
  reconstructInUnit(history: CsrMatrix): { values: Float32Array; error: number } {
    const raw = this.reconstruct(history);
    const empty = history.indptr[1] === history.indptr[0];
    return { values: raw.map((x) => clipRating(x)), error: empty ? Number.NaN : ratingRmse(history, 0, raw) };
  }

  /** None: similar items are the cosine of the item vectors W_i (docs/similarity.md). */
  itemScorer(): null {
    return null;
  }

  /** The model holds no tensors between calls; this drops its arrays (and native product) and makes it unusable. */
  dispose(): void {
    this.disposed = true;
    this.meanQuery = undefined;
    this.itemVectorsT = undefined;
    this.itemVectorProduct?.dispose();
    this.itemVectorProduct = undefined;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('AutoRec: model was disposed');
  }

  private checkHistories(histories: CsrMatrix, users?: ArrayLike<number>): void {
    if (histories.numCols !== this.numItems) {
      throw new Error(`AutoRec: histories have ${histories.numCols} columns, the model ${this.numItems} items`);
    }
    if (users && users.length !== histories.numRows) {
      throw new Error(`AutoRec: ${users.length} user indices for ${histories.numRows} history rows`);
    }
  }
}

function validateHyper(h: AutoRecHyperparameters): void {
  if (typeof h.refitDecoder !== 'boolean')
    throw new Error(`AutoRec: refitDecoder must be a boolean, got ${String(h.refitDecoder)}`);
  const posInt = (k: 'hidden' | 'epochs' | 'batchSize') => {
    if (!(Number.isInteger(h[k]) && h[k] > 0)) throw new Error(`AutoRec: ${k} must be a positive integer, got ${h[k]}`);
  };
  posInt('hidden');
  posInt('epochs');
  posInt('batchSize');
  if (!Number.isInteger(h.seed)) throw new Error(`AutoRec: seed must be an integer, got ${h.seed}`);
  if (!(h.lambda >= 0)) throw new Error(`AutoRec: lambda must be ≥ 0, got ${h.lambda}`);
  if (!(h.learningRate > 0)) throw new Error(`AutoRec: learningRate must be > 0, got ${h.learningRate}`);
}

/** RMSE of row `row`'s ratings against its reconstruction (clipped to [1, 5]) over the rated items. */
function ratingRmse(histories: CsrMatrix, row: number, recon: Float32Array): number {
  const lo = histories.indptr[row];
  const hi = histories.indptr[row + 1];
  if (hi === lo) return Number.NaN;
  let se = 0;
  for (let k = lo; k < hi; k++) se += (clipRating(recon[histories.indices[k]]) - histories.values[k]) ** 2;
  return Math.sqrt(se / (hi - lo));
}
