import type { CsrMatrix } from '../data/csr.js';
import type { ItemScorer } from '../serving/similarity.js';
import type { Autoencoder } from './autoencoder.js';
import type { SampleUsersOptions, SyntheticUserSample } from './synthetic-users.js';

/** The kinds of collaborative models the core serves, spelled as the core spells them. */
export type ServableKind = 'vae' | 'dae' | 'autorec' | 'ease' | 'ensemble' | 'knn';

/** What a model's scores mean; reconstruction values are reported in this unit. */
export type ScoreUnit = 'probability' | 'rating' | 'score';

/**
 * What a batch's rankings are built from (one forward pass over its histories): EASE's scores of
 * every item, an ensemble's blend with each member's per-row mean and standard deviation (and its
 * autoencoder's queries), or an autoencoder's queries [h_u, 1] for the inner-product index.
 * Plain typed arrays, so that another thread holding the same weights can compute it.
 */
export type ScoreMaterial =
  /** Every item's score per row; `queries` for an autoencoder scored exactly (cold-start items use them). */
  | { kind: 'scores'; scores: Float32Array; queries?: Float32Array }
  | { kind: 'blend'; blend: Float32Array; mean: Float64Array[]; std: Float64Array[]; queries: Float32Array | null }
  | { kind: 'queries'; queries: Float32Array };

/**
 * An autoencoder's {@link ScoreMaterial}: its queries for the inner-product index, or with
 * `exact` every item's score too (queries · item vectorsᵀ, one matMul for the batch).
 */
export function queryMaterial(
  model: Pick<Autoencoder, 'userQueries' | 'scoreQueries'>,
  histories: CsrMatrix,
  exact: boolean,
): ScoreMaterial {
  const queries = model.userQueries(histories);
  return exact
    ? { kind: 'scores', scores: model.scoreQueries(queries, histories.numRows), queries }
    : { kind: 'queries', queries };
}

/** An item→item scorer that holds resources (blocked cosine buffers). */
export type DisposableItemScorer = ItemScorer & { dispose(): void };

/**
 * What a served model can do, implemented by each model kind (EASE, Mult-DAE / Mult-VAE, AutoRec,
 * an ensemble of them): `ServedModel` (src/core/serving/served-model.ts) serves any of them
 * through this interface alone, so adding a kind is one class implementing it plus its registry
 * entry (src/registry/model-kinds.ts).
 *
 * Reconstruction error (higher = more unusual), per kind:
 * - Mult-VAE / Mult-DAE: the mean negative log-likelihood of the history's items under the
 *   reconstructed multinomial, −Σ x_i log softmax(z)_i / Σ x_i;
 * - AutoRec: the RMSE of the reconstructed ratings over the rated items;
 * - EASE: the mean squared error ‖x − xB‖² / |x| over all items, per history item;
 * - an ensemble: its autoencoder member's (else its EASE member's).
 */
export interface ServableModel {
  readonly kind: ServableKind;
  readonly numItems: number;
  readonly scoreUnit: ScoreUnit;
  /** Hyperparameters as trained (with defaults filled in), for the model registry. */
  readonly hyperparameters: Record<string, unknown>;
  /**
   * The autoencoder behind user and item vectors (itself, an ensemble's autoencoder member), or
   * null for kinds without embeddings (EASE).
   */
  readonly factor: Autoencoder | null;

  /**
   * Every item's ranking score for each history [rows × numItems] (EASE: xB; autoencoders: their
   * reconstruction's logits or ratings; an ensemble: its blend): what offline evaluation ranks by.
   */
  score(histories: CsrMatrix): Float32Array;
  /**
   * The {@link ScoreMaterial} of a batch of histories (one row each): one forward pass. An
   * autoencoder's rows are its queries, searched in the item index, or with `exact` every item's
   * score too (one matMul for the batch: the exact scan of a catalog below
   * RECODER_EXACT_SEARCH_BELOW, done where the batch runs); the other kinds always score every item.
   */
  scoreMaterial(histories: CsrMatrix, exact?: boolean): ScoreMaterial;
  /**
   * Maps a raw user→item score (query · [W_i, b_i], e.g. of a cold-start item's predicted vector)
   * onto row `row`'s ranking scale; absent (the identity) unless the ranking is a blend.
   */
  rankingScoreOf?(material: ScoreMaterial, row: number): (raw: number) => number;

  /**
   * Each row's reconstruction error (NaN for an empty history). `trainingRows`: each row's
   * training user (-1: unknown), for kinds that keep trained users (AutoRec).
   */
  reconstructionErrors(histories: CsrMatrix, trainingRows?: ArrayLike<number>): Float64Array;
  /** One history's reconstructed value of every item in {@link scoreUnit}, and its error (NaN when empty). */
  reconstructInUnit(history: CsrMatrix): { values: Float32Array; error: number };

  /**
   * The item→item scorer of similar items (docs/similarity.md), mixing in the co-occurrence of
   * `interactions` when the kind does ({@link itemScorerUsesCooccurrence}); null: cosine of the
   * factor's item vectors.
   */
  itemScorer(interactions: CsrMatrix | null): DisposableItemScorer | null;
  /** Whether {@link itemScorer} mixes in the population's co-occurrence. */
  readonly itemScorerUsesCooccurrence: boolean;

  /** Serialized weights (the registry stores them; the kind's `fromBytes` reads them). */
  toBytes(): Uint8Array;
  /** Frees tensors (a no-op for kinds that hold none). The model is unusable afterwards. */
  dispose(): void;
}

/** A model that draws synthetic users through its decoder (Mult-VAE). */
export interface GenerativeModel {
  readonly generative: true;
  sampleUsers(count: number, itemsPerUser: number, seed: number, options?: SampleUsersOptions): SyntheticUserSample[];
}

/** Whether a model (or an ensemble's factor) is generative: {@link GenerativeModel.sampleUsers} works. */
export function isGenerative(model: object | null | undefined): model is GenerativeModel {
  return (model as Partial<GenerativeModel> | null | undefined)?.generative === true;
}

/** Numerically stable softmax of one row. */
export function softmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Per-row errors of a batch: `rowError(row)` for each non-empty row, NaN for empty ones. */
export function rowErrors(histories: CsrMatrix, rowError: (row: number) => number): Float64Array {
  const out = new Float64Array(histories.numRows).fill(Number.NaN);
  for (let r = 0; r < histories.numRows; r++) if (histories.indptr[r + 1] > histories.indptr[r]) out[r] = rowError(r);
  return out;
}

/**
 * ‖x − xW‖² / |x| for row `row` of the histories (NaN when empty), from its scores xW over all
 * items: the reconstruction error of the linear item-item kinds (EASE, item-kNN).
 */
export function squaredReconstructionError(histories: CsrMatrix, row: number, scores: Float32Array): number {
  const lo = histories.indptr[row];
  const hi = histories.indptr[row + 1];
  if (hi === lo) return Number.NaN;
  let se = 0;
  for (let i = 0; i < scores.length; i++) se += scores[i] * scores[i];
  for (let k = lo; k < hi; k++) {
    const s = scores[histories.indices[k]];
    const x = histories.values[k];
    se += (x - s) ** 2 - s * s;
  }
  return se / (hi - lo);
}

/** Drops the last column of a [rows × dim] row-major matrix (item vectors without the bias). */
export function dropLastColumn(m: Float32Array, dim: number): Float32Array {
  const rows = m.length / dim;
  const out = new Float32Array(rows * (dim - 1));
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * dim, r * dim + dim - 1), r * (dim - 1));
  return out;
}
