import type { CsrMatrix } from '../data/csr.js';
import type { ServableModel } from './servable.js';

export type AutoencoderKind = 'vae' | 'dae' | 'autorec';

/** One line of training progress, reported once per epoch. */
export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  /** Validation metric (NDCG@100 for vae/dae, RMSE for autorec) when validation data was given. */
  validation?: number;
  /** Seconds this epoch took (training steps only, without validation). */
  seconds: number;
}

export interface FitOptions {
  /** Called after each epoch. */
  onEpoch?: (report: EpochReport) => void;
  /** Checked between steps; when it returns true training stops after the current step. */
  shouldStop?: () => boolean;
}

/**
 * The contract every Recoder autoencoder implements (a {@link ServableModel} with user and item
 * vectors: its own `factor`). Rows are users and columns items in the model's own dense index
 * space (IdMaps translate external ids; they are saved with the model). `users`: each row's
 * training user (-1: unknown), used by kinds that keep trained users (AutoRec), ignored by others.
 */
export interface Autoencoder extends ServableModel {
  readonly kind: AutoencoderKind;
  readonly numItems: number;
  /** Dimension of user vectors (encode: the encoder mean). */
  readonly latentDim: number;
  /** Dimension of item vectors and of user queries: the output layer's input size + 1 (bias). */
  readonly itemVectorDim: number;
  /** Hyperparameters as given (with defaults filled in), for the model registry. */
  readonly hyperparameters: Record<string, unknown>;

  /** Encodes histories to user vectors: returns [rows × latentDim] row-major (the encoder mean). */
  encode(histories: CsrMatrix, users?: ArrayLike<number>): Float32Array;
  /** Reconstructs histories: returns [rows × numItems] scores (logits for vae/dae, ratings for autorec). */
  reconstruct(histories: CsrMatrix, users?: ArrayLike<number>): Float32Array;
  /**
   * Item vectors [numItems × itemVectorDim] row-major: the output layer's weights with its bias
   * appended, so that reconstruct(u)[i] = userQueries(u) · itemVector_i exactly.
   */
  itemVectors(): Float32Array;
  /** User queries [rows × itemVectorDim]: the output layer's input [h_u, 1] for each history. */
  userQueries(histories: CsrMatrix, users?: ArrayLike<number>): Float32Array;
  /**
   * Scores of every item for `rows` queries from {@link userQueries}: [rows × numItems] =
   * queries · itemVectorsᵀ in one matMul (each row's scores are independent of the other rows).
   */
  scoreQueries(queries: Float32Array, rows: number): Float32Array;
  /** Serialized weights and hyperparameters. */
  toBytes(): Uint8Array;
  /** Frees tensors. The model is unusable afterwards. */
  dispose(): void;
}
