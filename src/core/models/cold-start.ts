import { RidgeMap } from './ridge-map.js';

/** Ridge penalty of the visual → collaborative map, per mapped item (so it scales with the data). */
export const COLD_START_LAMBDA_PER_ITEM = 0.05;

/**
 * Cold start from images: fits a ridge map from visual embeddings to collaborative item vectors on
 * the items that have both, and predicts the collaborative vectors of items that only have an
 * image. Returns null when fewer than max(10, p + 2) items have both (too few to fit p + 1 weights).
 *
 * @param warmEmbeddings [n × p] visual embeddings of the items that have both
 * @param warmVectors [n × q] their collaborative item vectors
 * @param coldEmbeddings [m × p] visual embeddings of the items to predict
 * @returns [m × q] predicted collaborative vectors
 */
export function predictColdVectors(
  warmEmbeddings: Float32Array,
  warmVectors: Float32Array,
  coldEmbeddings: Float32Array,
  p: number,
  q: number,
  lambdaPerItem = COLD_START_LAMBDA_PER_ITEM,
): Float32Array | null {
  const n = warmEmbeddings.length / p;
  const m = coldEmbeddings.length / p;
  if (!Number.isInteger(n) || !Number.isInteger(m) || warmVectors.length !== n * q)
    throw new Error('predictColdVectors: shapes do not match p and q');
  if (n < Math.max(10, p + 2)) return null;
  return RidgeMap.fit(warmEmbeddings, warmVectors, n, p, q, lambdaPerItem * n).apply(coldEmbeddings, m);
}
