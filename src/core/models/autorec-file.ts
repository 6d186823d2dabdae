import type { AutoRecHyperparameters } from './autorec.js';
import { packWeights, readArrays, readWeightsHeader } from './weights-file.js';

/**
 * AutoRec's model file: the weights-file format (weights-file.ts) with magic "ARC1", version 1:
 * a JSON header (numUsers, numItems, hyperparameters, globalMean, ratingRange, batchesPerEpoch),
 * then little-endian float32 V, mu, W, b, codes and int32 userCounts, itemCounts.
 */
const MAGIC = 0x31435241; // "ARC1" little-endian
const FORMAT_VERSION = 1;

/** Everything an AutoRec model is: its weights, the data's scale and the training counts. */
export interface AutoRecState {
  numUsers: number;
  numItems: number;
  hyper: AutoRecHyperparameters;
  globalMean: number;
  /**
   * Rating scale [min, max] that predictions are clipped to: the smallest and largest training
   * rating (e.g. [1, 5] on MovieLens, [0.5, 5] on ml-latest); [1, 5] for models saved without it.
   */
  ratingRange: [number, number];
  /** Mini-batches per epoch in training: the L2 term was applied this often per pass over the data. */
  batchesPerEpoch: number;
  /** Encoder weights, stored transposed: [numUsers × hidden] (h = σ(r·V + mu)). */
  V: Float32Array;
  mu: Float32Array;
  /** Decoder weights [hidden × numUsers] (r̂ = h·W + b): column u is user u's query. */
  W: Float32Array;
  b: Float32Array;
  /** Hidden codes of the training item vectors [numItems × hidden]. */
  codes: Float32Array;
  /** Training ratings per user / per item (0 → the model falls back to the global mean). */
  userCounts: Int32Array;
  itemCounts: Int32Array;
}

export function writeAutoRecFile(s: AutoRecState): Uint8Array {
  const header = {
    numUsers: s.numUsers,
    numItems: s.numItems,
    hyperparameters: s.hyper,
    globalMean: s.globalMean,
    ratingRange: s.ratingRange,
    batchesPerEpoch: s.batchesPerEpoch,
  };
  return packWeights(MAGIC, FORMAT_VERSION, header, [s.V, s.mu, s.W, s.b, s.codes, s.userCounts, s.itemCounts]);
}

/** The state in a file of {@link writeAutoRecFile} (hyperparameters as stored: the caller fills defaults). */
export function readAutoRecFile(bytes: Uint8Array): AutoRecState {
  const what = 'AutoRec.fromBytes';
  const { header, dataOffset } = readWeightsHeader<{
    numUsers: number;
    numItems: number;
    hyperparameters: AutoRecHyperparameters;
    globalMean: number;
    ratingRange?: [number, number];
    batchesPerEpoch: number;
  }>(bytes, MAGIC, FORMAT_VERSION, what, 'not an AutoRec model');
  const { numUsers: U, numItems: I } = header;
  const H = header.hyperparameters.hidden;
  const f32 = (length: number) => ({ type: 'f32' as const, length });
  const i32 = (length: number) => ({ type: 'i32' as const, length });
  const [V, mu, W, b, codes, userCounts, itemCounts] = readArrays(
    bytes,
    dataOffset,
    [f32(U * H), f32(H), f32(H * U), f32(U), f32(I * H), i32(U), i32(I)],
    what,
  );
  return {
    numUsers: U,
    numItems: I,
    hyper: header.hyperparameters,
    globalMean: header.globalMean,
    ratingRange: header.ratingRange ?? [1, 5],
    batchesPerEpoch: header.batchesPerEpoch,
    V: V as Float32Array,
    mu: mu as Float32Array,
    W: W as Float32Array,
    b: b as Float32Array,
    codes: codes as Float32Array,
    userCounts: userCounts as Int32Array,
    itemCounts: itemCounts as Int32Array,
  };
}
