/**
 * Item–item neighbour lists and user vectors from the candidate representations of each model
 * kind (issue 12, "Similarities that mean something"; the measures are in eval/similarity.ts and
 * the comparison in docs/similarity.md, `npm run bench:similarity`):
 *
 * - dense item vectors compared by cosine: the decoder's item vectors W_i without the bias
 *   ({@link withoutLastColumn}), the encoder's input-layer rows
 *   (`MultinomialAutoencoder.inputItemVectors`), or both ({@link concatenateNormalised});
 * - the model's own response to a one-item history against its response to an empty one
 *   ({@link responseLiftNeighbours}): which items the model predicts more once it has seen i;
 * - EASE's item–item weights B ({@link easeNeighbours}: its row, column, their mean or their
 *   geometric mean, which is the partial correlation);
 * - the reference: cosine (or a popularity-damped variant) over the raw interaction columns
 *   ({@link cooccurrenceNeighbours}).
 *
 * Each comes as an {@link ItemScorer} (one query item's scores over all items) and as neighbour
 * lists; {@link mixedScorer} mixes scorers after standardising each per row, and
 * {@link itemSimilarityScorer} is the mix chosen per model kind. For users: centring by the
 * population mean ({@link columnStats}, {@link centreRows}).
 *
 * Every function is pure: Float32Arrays and CSR matrices in, scores or neighbour lists out.
 * Costs for all lists: O(numItems² · dim) for dense vectors (5,697 items × 200: ≈ 10 s with
 * {@link jsRowProduct}, ≈ 2 s with {@link tfRowProduct} on wasm, loaded machine) and
 * O(Σ_u |history_u|² + numItems²) for co-occurrence (ML-1M: ≈ 2 s).
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { CsrMatrix } from '../data/csr.js';
import type { NativeGemm } from '../engine/native-gemm.js';
import { topK, type Exclusion } from '../index/top-k.js';

/** Per query item: neighbour columns best first and their scores (same length, ≤ k). */
export interface NeighbourLists {
  indices: Int32Array[];
  scores: Float32Array[];
}

/** Options shared by the neighbour functions. */
export interface NeighbourOptions {
  /** Query item columns (default every item); lists of other items are left empty. */
  queries?: ArrayLike<number>;
}

/**
 * Neighbour lists from a scoring function: for each query i, `fill(i, out)` writes a score for
 * every item into `out` (NaN = not a candidate); the k best other items are kept.
 * @param numItems items (length of `out`)
 */
export function neighboursFromScores(
  numItems: number,
  k: number,
  fill: (i: number, out: Float32Array) => void,
  options: NeighbourOptions = {},
): NeighbourLists {
  checkK('neighboursFromScores', k);
  const indices: Int32Array[] = Array.from({ length: numItems }, () => new Int32Array(0));
  const scores: Float32Array[] = Array.from({ length: numItems }, () => new Float32Array(0));
  const out = new Float32Array(numItems);
  const queries = options.queries ?? allItems(numItems);
  for (let q = 0; q < queries.length; q++) {
    const i = queries[q];
    if (!(Number.isInteger(i) && i >= 0 && i < numItems))
      throw new RangeError(`neighbours: query ${i} outside [0, ${numItems})`);
    out.fill(Number.NaN);
    fill(i, out);
    const top = topK(out, k, self(i));
    indices[i] = Int32Array.from(top, (n) => n.index);
    scores[i] = Float32Array.from(top, (n) => n.score);
  }
  return { indices, scores };
}

/**
 * Scores of some rows of a unit-row matrix against all of its rows: `prepare(unit, dim)` is called
 * once with the [rows × dim] unit rows and returns `scores(queries)` = unit[queries] · unitᵀ
 * [queries.length × rows] row-major. The default is plain JavaScript (blocked over queries); a
 * caller with tfjs can pass a matMul-backed one, e.g. 10× faster on wasm.
 */
export type RowProduct = (
  unit: Float32Array,
  dim: number,
) => { scores(queries: Int32Array): Float32Array; dispose?(): void };

/** Options of {@link cosineScorer}. */
export interface CosineScorerOptions {
  /** How the dot products are computed (default {@link jsRowProduct}). */
  product?: RowProduct;
  /** Items per product call (default 64): item i's scores come with those of its block. */
  blockSize?: number;
}

/** Scores of every item for query item i, written into `out` (NaN = not a candidate). */
export type ItemScorer = (i: number, out: Float32Array) => void;

/**
 * Cosine of item i's row with every row of `vectors` (zero rows: NaN, nobody's neighbour),
 * computed a block of consecutive items at a time (queries in ascending order compute each block
 * once). Call `dispose` when done (frees a tfjs product's tensor).
 * @param vectors [numItems × dim] row-major item vectors
 */
export function cosineScorer(
  vectors: Float32Array,
  dim: number,
  options: CosineScorerOptions = {},
): ItemScorer & { dispose(): void } {
  const n = rowsOf('cosineScorer', vectors, dim);
  const block = options.blockSize ?? 64;
  if (!(Number.isInteger(block) && block >= 1))
    throw new Error(`cosineScorer: blockSize must be a positive integer, got ${block}`);
  const unit = normalisedRows(vectors, dim);
  const zero = new Uint8Array(n);
  for (let r = 0; r < n; r++) zero[r] = isZeroRow(unit, r, dim) ? 1 : 0;
  const product = (options.product ?? jsRowProduct)(unit, dim);
  let first = -1;
  let scores: Float32Array = new Float32Array(0);
  const scorer = (i: number, out: Float32Array) => {
    if (zero[i]) return void out.fill(Number.NaN);
    if (first < 0 || i < first || i >= first + block) {
      first = i - (i % block);
      scores = product.scores(allItems(Math.min(block, n - first), first));
    }
    out.set(scores.subarray((i - first) * n, (i - first + 1) * n));
    for (let j = 0; j < n; j++) if (zero[j]) out[j] = Number.NaN;
  };
  return Object.assign(scorer, { dispose: () => product.dispose?.() });
}

/**
 * The k nearest items of each item by cosine of its row in `vectors` ({@link cosineScorer}).
 * Zero rows have no neighbours and are nobody's neighbour.
 * @param vectors [numItems × dim] row-major item vectors
 */
export function cosineNeighbours(
  vectors: Float32Array,
  dim: number,
  k: number,
  options: CosineScorerOptions & NeighbourOptions = {},
): NeighbourLists {
  const scorer = cosineScorer(vectors, dim, options);
  try {
    return neighboursFromScores(vectors.length / dim, k, scorer, options);
  } finally {
    scorer.dispose();
  }
}

/**
 * The default {@link RowProduct}: each unit row is read once per block of queries (the block's
 * rows stay in cache), four accumulators per dot product.
 */
export const jsRowProduct: RowProduct = (unit, dim) => ({
  scores(queries) {
    const n = unit.length / dim;
    const b = queries.length;
    const out = new Float32Array(b * n);
    for (let j = 0; j < n; j++) {
      const o = j * dim;
      for (let a = 0; a < b; a++) {
        const q = queries[a] * dim;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let d = 0;
        for (; d + 3 < dim; d += 4) {
          s0 += unit[q + d] * unit[o + d];
          s1 += unit[q + d + 1] * unit[o + d + 1];
          s2 += unit[q + d + 2] * unit[o + d + 2];
          s3 += unit[q + d + 3] * unit[o + d + 3];
        }
        for (; d < dim; d++) s0 += unit[q + d] * unit[o + d];
        out[a * n + j] = s0 + s1 + s2 + s3;
      }
    }
    return out;
  },
});

/**
 * A {@link RowProduct} on tfjs: unitᵀ [dim × rows] is kept as one tensor and each block is one
 * non-transposed matMul (the form the wasm backend hands to XNNPACK; docs/platform-notes.md "tfjs").
 * @param tf the tfjs namespace of an initialised backend
 */
export function tfRowProduct(tf: typeof tfjs): RowProduct {
  return (unit, dim) => {
    const n = unit.length / dim;
    const unitT = tf.tidy(() => tf.transpose(tf.tensor2d(unit, [n, dim])));
    return {
      scores(queries) {
        const rows = new Float32Array(queries.length * dim);
        queries.forEach((i, a) => rows.set(unit.subarray(i * dim, (i + 1) * dim), a * dim));
        const product = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [queries.length, dim]), unitT));
        try {
          return product.dataSync() as Float32Array;
        } finally {
          product.dispose();
        }
      },
      dispose: () => unitT.dispose(),
    };
  };
}

/**
 * A {@link RowProduct} on a native GEMM (src/core/engine/native-gemm.ts): the unit rows are packed
 * once as the fixed right operand and each block is one product, queries · unitᵀ. About 20× the
 * plain JavaScript product's speed (docs/platform-notes.md, "Native GEMM").
 */
export function gemmRowProduct(gemm: Pick<NativeGemm, 'withFixedRight'>): RowProduct {
  return (unit, dim) => {
    const n = unit.length / dim;
    const fixed = gemm.withFixedRight(unit, dim, n, true);
    return {
      scores(queries) {
        const rows = new Float32Array(queries.length * dim);
        for (let a = 0; a < queries.length; a++)
          rows.set(unit.subarray(queries[a] * dim, (queries[a] + 1) * dim), a * dim);
        return fixed.run(rows, queries.length);
      },
      dispose: () => fixed.dispose(),
    };
  };
}

/** How {@link easeNeighbours} reads EASE's weights. */
export type EaseNeighbourMode = 'row' | 'column' | 'symmetric' | 'geometric';

/**
 * EASE item–item weights as scores for query item i (B = I − P·diag(1/diag P), P the inverse
 * of the regularised Gram matrix, so B[i, j] = −P_ij / P_jj):
 * - 'row': B[i, j], how much having i raises j's score (what X·B recommends after i alone); the
 *   division by P_jj favours popular j;
 * - 'column': B[j, i] = −P_ij / P_ii, ranked like −P_ij (how much j raises i's score);
 * - 'symmetric': (B[i, j] + B[j, i]) / 2;
 * - 'geometric': sign · √(B[i, j] · B[j, i]) = −P_ij / √(P_ii P_jj), the partial correlation of
 *   i and j (the two weights always share a sign).
 * @param weights [numItems × numItems] row-major B (Ease.weights)
 */
export function easeScorer(weights: Float32Array, numItems: number, mode: EaseNeighbourMode): ItemScorer {
  const n = numItems;
  if (weights.length !== n * n) throw new Error(`easeScorer: ${weights.length} weights for ${n} × ${n} items`);
  const B = weights;
  const fills: Record<EaseNeighbourMode, ItemScorer> = {
    row: (i, out) => out.set(B.subarray(i * n, (i + 1) * n)),
    column: (i, out) => {
      for (let j = 0; j < n; j++) out[j] = B[j * n + i];
    },
    symmetric: (i, out) => {
      for (let j = 0; j < n; j++) out[j] = (B[i * n + j] + B[j * n + i]) / 2;
    },
    geometric: (i, out) => {
      for (let j = 0; j < n; j++) {
        const a = B[i * n + j];
        const b = B[j * n + i];
        const g = Math.sqrt(Math.max(0, a * b));
        out[j] = a + b < 0 ? -g : g;
      }
    },
  };
  if (!fills[mode]) throw new Error(`easeScorer: unknown mode ${JSON.stringify(mode)}`);
  return fills[mode];
}

/** The k best items of each item by {@link easeScorer}. */
export function easeNeighbours(
  weights: Float32Array,
  numItems: number,
  k: number,
  mode: EaseNeighbourMode,
  options: NeighbourOptions = {},
): NeighbourLists {
  return neighboursFromScores(numItems, k, easeScorer(weights, numItems, mode), options);
}

/** Options of {@link cooccurrenceNeighbours}. */
export interface CooccurrenceOptions extends NeighbourOptions {
  /**
   * α of the score C_ij / (n_i^(1−α) · n_j^α) (the asymmetric cosine of Aiolli 2013), with C_ij the
   * number of users who have both i and j and n_i the users of i. 0.5 (default) = cosine of the
   * binary interaction columns; 0 = P(j | i), which favours popular j; above 0.5 popular
   * neighbours are damped further.
   */
  popularityExponent?: number;
}

/**
 * The reference item–item similarity: co-occurrence of the raw interaction columns (binary: a
 * stored entry counts once whatever its value), C_ij / (n_i^(1−α) · n_j^α): 0 for items no user
 * shares with i; an item without users scores NaN everywhere (nothing is known about it).
 * Cost: O(Σ_u |history_u|²) over all queries, plus O(numItems) per query.
 * @param interactions [users × numItems] histories (training data, or a served population)
 */
export function cooccurrenceScorer(
  interactions: CsrMatrix,
  options: Omit<CooccurrenceOptions, 'queries'> = {},
): ItemScorer {
  const alpha = options.popularityExponent ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1))
    throw new Error(`cooccurrenceScorer: popularityExponent must be in [0, 1], got ${alpha}`);
  const n = interactions.numCols;
  const byItem = usersByItem(interactions);
  const right = new Float64Array(n);
  for (let i = 0; i < n; i++) right[i] = Math.pow(byItem.indptr[i + 1] - byItem.indptr[i], alpha);
  const co = new Float64Array(n);
  const { indptr, indices } = interactions;
  return (i, out) => {
    const count = byItem.indptr[i + 1] - byItem.indptr[i];
    if (count === 0) return void out.fill(Number.NaN);
    out.fill(0);
    co.fill(0);
    for (let p = byItem.indptr[i]; p < byItem.indptr[i + 1]; p++) {
      const u = byItem.users[p];
      for (let q = indptr[u]; q < indptr[u + 1]; q++) co[indices[q]]++;
    }
    const left = Math.pow(count, 1 - alpha);
    for (let j = 0; j < n; j++) if (co[j] > 0) out[j] = co[j] / (left * right[j]);
  };
}

/**
 * The k best items of each item by {@link cooccurrenceScorer} (α = 0.5: cosine, the reference).
 * Only items that share a user with i are neighbours, so a rare item's list may be shorter than k.
 */
export function cooccurrenceNeighbours(
  interactions: CsrMatrix,
  k: number,
  options: CooccurrenceOptions = {},
): NeighbourLists {
  const scorer = cooccurrenceScorer(interactions, options);
  return neighboursFromScores(
    interactions.numCols,
    k,
    (i, out) => {
      scorer(i, out);
      for (let j = 0; j < out.length; j++) if (out[j] === 0) out[j] = Number.NaN;
    },
    options,
  );
}

/** Options of {@link mixedScorer}. */
export interface MixedScorerOptions {
  /**
   * Standardise each part's row before weighting (default true): z = (v − mean) / std over the
   * row without the query item itself, after NaN entries take the row's lowest score (e.g. items that co-occur with nobody get
   * the lowest cosine), so parts on different scales (cosines, EASE's partial correlations) weigh
   * as their weights say. false: raw values, a NaN part counting 0.
   */
  standardise?: boolean;
}

/**
 * A weighted sum of scorers' rows (e.g. ½ model cosine + ½ co-occurrence cosine). An item that is
 * NaN in every part stays NaN (not a candidate).
 */
export function mixedScorer(
  numItems: number,
  parts: readonly { scorer: ItemScorer; weight: number }[],
  options: MixedScorerOptions = {},
): ItemScorer {
  if (parts.length === 0) throw new Error('mixedScorer: no parts');
  const standardise = options.standardise ?? true;
  const tmp = new Float32Array(numItems);
  const defined = new Uint8Array(numItems);
  return (i, out) => {
    out.fill(0);
    defined.fill(0);
    for (const { scorer, weight } of parts) {
      tmp.fill(Number.NaN);
      scorer(i, tmp);
      let shift = 0;
      let scale = 1;
      let low = Infinity;
      if (standardise) {
        let sum = 0;
        let count = 0;
        for (let j = 0; j < numItems; j++) {
          const v = tmp[j];
          if (v === v && j !== i) {
            sum += v;
            count++;
            if (v < low) low = v;
          }
        }
        if (count === 0) continue;
        const others = numItems - 1;
        const fill = others - count;
        const mean = (sum + fill * low) / others;
        let sq = fill * (low - mean) ** 2;
        for (let j = 0; j < numItems; j++) if (tmp[j] === tmp[j] && j !== i) sq += (tmp[j] - mean) ** 2;
        const std = Math.sqrt(sq / others);
        shift = mean;
        scale = std > 0 ? 1 / std : 0;
      }
      for (let j = 0; j < numItems; j++) {
        const v = tmp[j];
        if (v === v) {
          out[j] += weight * (v - shift) * scale;
          defined[j] = 1;
        } else if (standardise) {
          out[j] += weight * (low - shift) * scale;
        }
      }
    }
    for (let j = 0; j < numItems; j++) if (!defined[j]) out[j] = Number.NaN;
    out[i] = Number.NaN; // never its own neighbour
  };
}

/** Options of {@link responseLiftNeighbours}. */
export interface ResponseLiftOptions extends NeighbourOptions {
  /** One-item histories per `reconstruct` call (default 256). */
  batchSize?: number;
}

/**
 * Neighbours by the model's own response: for item i, logits(history {i}) − logits(empty history),
 * i.e. log of how much more likely the model finds j once it has seen i (for a softmax output,
 * up to a constant per i). Removes the popularity that the output bias adds to every answer.
 * @param reconstruct histories [rows × numItems] (values 1) → logits [rows × numItems] row-major
 *   (e.g. `(h) => model.reconstruct(h)` of a Mult-VAE/DAE)
 */
export function responseLiftNeighbours(
  reconstruct: (histories: CsrMatrix) => Float32Array,
  numItems: number,
  k: number,
  options: ResponseLiftOptions = {},
): NeighbourLists {
  const n = numItems;
  const batch = options.batchSize ?? 256;
  if (!(Number.isInteger(batch) && batch >= 1))
    throw new Error(`responseLiftNeighbours: batchSize must be a positive integer, got ${batch}`);
  const empty: CsrMatrix = {
    numRows: 1,
    numCols: n,
    indptr: new Int32Array(2),
    indices: new Int32Array(0),
    values: new Float32Array(0),
  };
  const base = reconstruct(empty);
  if (base.length !== n)
    throw new Error(`responseLiftNeighbours: reconstruct returned ${base.length} values for one row of ${n} items`);
  const queries = Array.from(options.queries ?? allItems(n));
  const rowOf = new Map<number, number>();
  queries.forEach((i, q) => rowOf.set(i, q));
  let logits: Float32Array = new Float32Array(0);
  let first = -1;
  return neighboursFromScores(
    n,
    k,
    (i, out) => {
      const q = rowOf.get(i)!;
      if (first < 0 || q < first || q >= first + batch) {
        first = q - (q % batch);
        const cols = queries.slice(first, first + batch);
        logits = reconstruct(oneItemRows(n, cols));
      }
      const r = (q - first) * n;
      for (let j = 0; j < n; j++) out[j] = logits[r + j] - base[j];
    },
    { queries },
  );
}

/**
 * Rows of `a` [numItems × dimA] and `b` [numItems × dimB] each scaled to unit length, times
 * √weightA and √(1 − weightA), side by side: the cosine of two such rows is
 * weightA · cos_a + (1 − weightA) · cos_b (a zero part contributes 0).
 * @returns [numItems × (dimA + dimB)] row-major
 */
export function concatenateNormalised(
  a: Float32Array,
  dimA: number,
  b: Float32Array,
  dimB: number,
  weightA = 0.5,
): Float32Array {
  const n = rowsOf('concatenateNormalised', a, dimA);
  if (rowsOf('concatenateNormalised', b, dimB) !== n)
    throw new Error(`concatenateNormalised: ${n} rows against ${b.length / dimB}`);
  if (!(weightA >= 0 && weightA <= 1))
    throw new Error(`concatenateNormalised: weightA must be in [0, 1], got ${weightA}`);
  const ua = normalisedRows(a, dimA);
  const ub = normalisedRows(b, dimB);
  const wa = Math.sqrt(weightA);
  const wb = Math.sqrt(1 - weightA);
  const dim = dimA + dimB;
  const out = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < dimA; d++) out[r * dim + d] = wa * ua[r * dimA + d];
    for (let d = 0; d < dimB; d++) out[r * dim + dimA + d] = wb * ub[r * dimB + d];
  }
  return out;
}

/** `m` [rows × dim] without its last column (e.g. the decoder's item vectors [W_i, b_i] → W_i). */
export function withoutLastColumn(m: Float32Array, dim: number): Float32Array {
  const rows = rowsOf('withoutLastColumn', m, dim);
  const out = new Float32Array(rows * (dim - 1));
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * dim, r * dim + dim - 1), r * (dim - 1));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The recommended item–item similarity per model kind

/** A Mult-VAE/DAE's item-side weights (the model's itemVectors(), itemVectorDim, inputItemVectors()). */
export interface AutoencoderItemWeights {
  /** [numItems × itemVectorDim] decoder item vectors [W_i, b_i]. */
  itemVectors: Float32Array;
  itemVectorDim: number;
  /** The encoder's input-layer rows [numItems × dim]. */
  inputItemVectors: { vectors: Float32Array; dim: number };
}

/**
 * An autoencoder's item vectors for similarity: the encoder's input row and the decoder's W_i
 * (without its bias), each scaled to unit length and to √½, side by side; their cosine is the
 * mean of the two cosines. On ML-1M (Mult-DAE, 200 epochs) it beat either half alone
 * (docs/similarity.md).
 * @returns [numItems × (inputDim + itemVectorDim − 1)] row-major
 */
export function autoencoderSimilarityVectors(weights: AutoencoderItemWeights): { vectors: Float32Array; dim: number } {
  const { itemVectors, itemVectorDim, inputItemVectors: input } = weights;
  const decoder = withoutLastColumn(itemVectors, itemVectorDim);
  return {
    vectors: concatenateNormalised(input.vectors, input.dim, decoder, itemVectorDim - 1),
    dim: input.dim + itemVectorDim - 1,
  };
}

/** What a version's item–item similarity is made of; every part given weighs the same. */
export interface ItemSimilaritySources {
  numItems: number;
  /** Mult-VAE/DAE (or an ensemble's autoencoder member): cosine of {@link autoencoderSimilarityVectors}. */
  autoencoder?: AutoencoderItemWeights;
  /** EASE (or an ensemble's EASE member): B [numItems × numItems]; its column B[·, i] is used. */
  easeWeights?: Float32Array;
  /** Histories for the co-occurrence cosine (the served population or the training data). */
  interactions?: CsrMatrix;
}

/**
 * The item–item similarity chosen on evidence (`npm run bench:similarity`, docs/similarity.md):
 * an equal-weight, per-row standardised mix ({@link mixedScorer}) of the parts given:
 * - Mult-VAE / Mult-DAE: autoencoder + interactions;
 * - EASE: easeWeights + interactions;
 * - an EASE + autoencoder ensemble: easeWeights + autoencoder (+ interactions).
 * Each of those reached at least the genre precision@10 of the co-occurrence cosine alone on ML-1M
 * and on ml-latest-small, where the model's own vectors alone fell short (Mult-VAE; any
 * undertrained model). Call `dispose` when done.
 */
export function itemSimilarityScorer(
  sources: ItemSimilaritySources,
  options: CosineScorerOptions = {},
): ItemScorer & { dispose(): void } {
  const n = sources.numItems;
  const parts: ItemScorer[] = [];
  const disposers: (() => void)[] = [];
  if (sources.autoencoder) {
    const { vectors, dim } = autoencoderSimilarityVectors(sources.autoencoder);
    if (vectors.length !== n * dim)
      throw new Error(`itemSimilarityScorer: autoencoder vectors for ${vectors.length / dim} items, expected ${n}`);
    const cos = cosineScorer(vectors, dim, options);
    disposers.push(cos.dispose);
    parts.push(cos);
  }
  if (sources.easeWeights) parts.push(easeScorer(sources.easeWeights, n, 'column'));
  if (sources.interactions) {
    if (sources.interactions.numCols !== n)
      throw new Error(`itemSimilarityScorer: interactions have ${sources.interactions.numCols} columns, expected ${n}`);
    parts.push(cooccurrenceScorer(sources.interactions));
  }
  if (parts.length === 0) throw new Error('itemSimilarityScorer: no source (autoencoder, easeWeights or interactions)');
  const mixed = mixedScorer(
    n,
    parts.map((scorer) => ({ scorer, weight: 1 / parts.length })),
  );
  return Object.assign(mixed, { dispose: () => disposers.forEach((d) => d()) });
}

// ---------------------------------------------------------------------------------------------
// User vectors

/** Per-dimension mean and standard deviation of a population's vectors. */
export interface ColumnStats {
  mean: Float32Array;
  std: Float32Array;
}

/** Mean and (population) standard deviation of each column of `vectors` [rows × dim]. */
export function columnStats(vectors: Float32Array, dim: number): ColumnStats {
  const rows = rowsOf('columnStats', vectors, dim);
  const sum = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) {
      const x = vectors[r * dim + d];
      sum[d] += x;
      sq[d] += x * x;
    }
  }
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    const m = rows > 0 ? sum[d] / rows : 0;
    mean[d] = m;
    std[d] = rows > 0 ? Math.sqrt(Math.max(0, sq[d] / rows - m * m)) : 0;
  }
  return { mean, std };
}

/**
 * (x − mean) per row, divided by `scale` per column when given (columns whose scale is ≤ `minScale`
 * become 0: they carry no information and dividing would amplify rounding noise).
 * Centring by the population mean removes the direction every user shares (the popular taste),
 * so that the cosine of two users compares what sets them apart.
 * @returns a new [rows × dim] array
 */
export function centreRows(
  vectors: Float32Array,
  dim: number,
  mean: Float32Array,
  scale?: Float32Array,
  minScale = 1e-6,
): Float32Array {
  const rows = rowsOf('centreRows', vectors, dim);
  if (mean.length !== dim || (scale && scale.length !== dim))
    throw new Error(`centreRows: mean and scale must have ${dim} values`);
  const out = new Float32Array(vectors.length);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) {
      const c = vectors[r * dim + d] - mean[d];
      out[r * dim + d] = scale ? (scale[d] > minScale ? c / scale[d] : 0) : c;
    }
  }
  return out;
}

/**
 * Cosine of every row of `queries` with every row of `population` (zero rows: 0).
 * @returns [queryRows × populationRows] row-major
 */
export function cosineSimilarities(queries: Float32Array, population: Float32Array, dim: number): Float32Array {
  const nq = rowsOf('cosineSimilarities', queries, dim);
  const np = rowsOf('cosineSimilarities', population, dim);
  const uq = normalisedRows(queries, dim);
  const up = normalisedRows(population, dim);
  const out = new Float32Array(nq * np);
  for (let a = 0; a < nq; a++) {
    for (let b = 0; b < np; b++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += uq[a * dim + d] * up[b * dim + d];
      out[a * np + b] = s;
    }
  }
  return out;
}

/**
 * Cosine of the binary histories (a stored entry counts as 1): |h_a ∩ h_b| / √(|h_a|·|h_b|), the
 * raw-interaction reference for user similarity (empty histories: 0).
 * @returns [queries.numRows × population.numRows] row-major
 */
export function historyCosineSimilarities(queries: CsrMatrix, population: CsrMatrix): Float32Array {
  if (queries.numCols !== population.numCols)
    throw new Error(`historyCosineSimilarities: ${queries.numCols} against ${population.numCols} columns`);
  const np = population.numRows;
  const byItem = usersByItem(population);
  const out = new Float32Array(queries.numRows * np);
  const overlap = new Float64Array(np);
  for (let a = 0; a < queries.numRows; a++) {
    overlap.fill(0);
    const na = queries.indptr[a + 1] - queries.indptr[a];
    if (na === 0) continue;
    for (let p = queries.indptr[a]; p < queries.indptr[a + 1]; p++) {
      const i = queries.indices[p];
      for (let q = byItem.indptr[i]; q < byItem.indptr[i + 1]; q++) overlap[byItem.users[q]]++;
    }
    for (let b = 0; b < np; b++) {
      const nb = population.indptr[b + 1] - population.indptr[b];
      if (overlap[b] > 0) out[a * np + b] = overlap[b] / Math.sqrt(na * nb);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function checkK(name: string, k: number): void {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`${name}: k must be a positive integer, got ${k}`);
}

function rowsOf(name: string, m: Float32Array, dim: number): number {
  if (!(Number.isInteger(dim) && dim >= 1)) throw new Error(`${name}: dim must be a positive integer, got ${dim}`);
  if (m.length % dim !== 0) throw new Error(`${name}: ${m.length} values are not rows of ${dim}`);
  return m.length / dim;
}

/** first, first + 1, …, first + n − 1. */
function allItems(n: number, first = 0): Int32Array {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = first + i;
  return all;
}

function self(i: number): Exclusion {
  return { has: (j) => j === i, size: 1 };
}

function isZeroRow(m: Float32Array, r: number, dim: number): boolean {
  for (let d = r * dim; d < (r + 1) * dim; d++) if (m[d] !== 0) return false;
  return true;
}

/** Rows scaled to unit L2 norm (zero rows stay zero). */
function normalisedRows(m: Float32Array, dim: number): Float32Array {
  const rows = m.length / dim;
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = r * dim; d < (r + 1) * dim; d++) s += m[d] * m[d];
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let d = r * dim; d < (r + 1) * dim; d++) out[d] = m[d] * inv;
  }
  return out;
}

/** One-item histories (value 1) over `numItems` columns, one row per entry of `cols`. */
function oneItemRows(numItems: number, cols: ArrayLike<number>): CsrMatrix {
  const indptr = new Int32Array(cols.length + 1);
  for (let r = 0; r < cols.length; r++) indptr[r + 1] = r + 1;
  return {
    numRows: cols.length,
    numCols: numItems,
    indptr,
    indices: Int32Array.from(cols),
    values: new Float32Array(cols.length).fill(1),
  };
}

/** The transpose's structure: for each item the rows (users) that have it. */
function usersByItem(m: CsrMatrix): { indptr: Int32Array; users: Int32Array } {
  const n = m.numCols;
  const nnz = m.indptr[m.numRows];
  const indptr = new Int32Array(n + 1);
  for (let p = 0; p < nnz; p++) indptr[m.indices[p] + 1]++;
  for (let i = 0; i < n; i++) indptr[i + 1] += indptr[i];
  const fill = indptr.slice(0, n);
  const users = new Int32Array(nnz);
  for (let u = 0; u < m.numRows; u++)
    for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) users[fill[m.indices[p]]++] = u;
  return { indptr, users };
}
