import { csrSelectRows, type CsrMatrix } from '../data/csr.js';
import { topKOfRow } from '../index/top-k.js';

/*
 * Top-N ranking metrics of the strong-generalization protocol (Liang et al. 2018, "Variational
 * Autoencoders for Collaborative Filtering"; see docs/benchmarks.md), plus rating errors.
 *
 * Conventions shared by every ranking function:
 * - `scores` is [rows × numItems] row-major: higher = better. NaN ranks like −Infinity.
 * - Items of a row of `foldIn` (the exclude matrix) are removed from that row's ranking, which is
 *   what setting them to −Infinity does in the reference code.
 * - Ties are broken by the lower item index, so results are deterministic.
 * - Relevance is binary: an item is relevant iff it is stored in the row of `heldOut` (its value
 *   is ignored).
 * - Per-row functions return a Float64Array [rows] with NaN for rows whose held-out set is empty
 *   (the metric is undefined there); {@link nanMean} averages the others.
 */

/** Below every real score, including −Infinity (NaN is mapped to −Infinity before comparing). */
function key(s: number): number {
  return s === s ? s : -Infinity;
}

/** 1 / log2(rank + 1) for ranks 1 … n, as [n] (index = rank − 1). */
function discounts(n: number): Float64Array {
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = 1 / Math.log2(i + 2);
  return d;
}

function checkShapes(fn: string, scores: Float32Array, foldIn: CsrMatrix | null | undefined, heldOut: CsrMatrix): void {
  const { numRows, numCols } = heldOut;
  if (scores.length !== numRows * numCols) {
    throw new Error(`${fn}: scores has ${scores.length} values, expected heldOut's ${numRows} rows × ${numCols} items`);
  }
  if (foldIn && (foldIn.numRows !== numRows || foldIn.numCols !== numCols)) {
    throw new Error(`${fn}: foldIn is ${foldIn.numRows} × ${foldIn.numCols} but heldOut is ${numRows} × ${numCols}`);
  }
}

/** Marks row r of `m` in `mark` (set to 1); returns the row's size. */
function markRow(m: CsrMatrix, r: number, mark: Uint8Array, v: 0 | 1): number {
  for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) mark[m.indices[p]] = v;
  return m.indptr[r + 1] - m.indptr[r];
}

/** Hits of `ranked`'s first k items among the marked (relevant) ones. */
function hitsAt(ranked: Int32Array, k: number, relevant: Uint8Array): number {
  let h = 0;
  for (let i = 0, n = Math.min(k, ranked.length); i < n; i++) h += relevant[ranked[i]];
  return h;
}

/** Shared loop of the per-row top-K metrics. */
function perRow(
  fn: string,
  scores: Float32Array,
  foldIn: CsrMatrix | null,
  heldOut: CsrMatrix,
  k: number,
  metric: (ranked: Int32Array, relevant: Uint8Array, numRelevant: number) => number,
): Float64Array {
  checkShapes(fn, scores, foldIn, heldOut);
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`${fn}: k must be a positive integer, got ${k}`);
  const out = new Float64Array(heldOut.numRows);
  const relevant = new Uint8Array(heldOut.numCols);
  for (let r = 0; r < heldOut.numRows; r++) {
    const n = markRow(heldOut, r, relevant, 1);
    out[r] = n === 0 ? NaN : metric(topKOfRow(scores, heldOut.numCols, r, k, foldIn), relevant, n);
    markRow(heldOut, r, relevant, 0);
  }
  return out;
}

/**
 * NDCG@K per row, binary relevance (Liang et al.): DCG = Σ_{i<K, top_i relevant} 1/log2(i+2),
 * IDCG = Σ_{i<min(|heldOut_r|, K)} 1/log2(i+2).
 *
 * @param scores [rows × numItems] row-major
 * @param foldIn [rows × numItems] items excluded from the ranking, or null
 * @param heldOut [rows × numItems] relevant items
 * @returns [rows] NDCG@K in [0, 1]; NaN where the held-out row is empty
 */
export function ndcgAtK(scores: Float32Array, foldIn: CsrMatrix | null, heldOut: CsrMatrix, k: number): Float64Array {
  const d = discounts(k);
  return perRow('ndcgAtK', scores, foldIn, heldOut, k, (ranked, relevant, n) => ndcgOf(ranked, k, relevant, n, d));
}

function ndcgOf(ranked: Int32Array, k: number, relevant: Uint8Array, numRelevant: number, d: Float64Array): number {
  let dcg = 0;
  for (let i = 0, n = Math.min(k, ranked.length); i < n; i++) if (relevant[ranked[i]]) dcg += d[i];
  let idcg = 0;
  for (let i = 0, n = Math.min(k, numRelevant); i < n; i++) idcg += d[i];
  return dcg / idcg;
}

/**
 * Recall@K per row as in Liang et al.: hits in the top K / min(K, |heldOut_r|) (so 1 is reachable
 * when a user has more than K held-out items).
 *
 * @param scores [rows × numItems] row-major
 * @param foldIn [rows × numItems] items excluded from the ranking, or null
 * @param heldOut [rows × numItems] relevant items
 * @returns [rows] in [0, 1]; NaN where the held-out row is empty
 */
export function recallAtK(scores: Float32Array, foldIn: CsrMatrix | null, heldOut: CsrMatrix, k: number): Float64Array {
  return perRow(
    'recallAtK',
    scores,
    foldIn,
    heldOut,
    k,
    (ranked, relevant, n) => hitsAt(ranked, k, relevant) / Math.min(k, n),
  );
}

/**
 * Precision@K per row: hits in the top K / K.
 * @param scores [rows × numItems] row-major
 * @returns [rows] in [0, 1]; NaN where the held-out row is empty
 */
export function precisionAtK(
  scores: Float32Array,
  foldIn: CsrMatrix | null,
  heldOut: CsrMatrix,
  k: number,
): Float64Array {
  return perRow('precisionAtK', scores, foldIn, heldOut, k, (ranked, relevant) => hitsAt(ranked, k, relevant) / k);
}

/**
 * Hit rate@K per row: 1 when at least one held-out item is in the top K, else 0.
 * @param scores [rows × numItems] row-major
 * @returns [rows] 0 or 1; NaN where the held-out row is empty
 */
export function hitRateAtK(
  scores: Float32Array,
  foldIn: CsrMatrix | null,
  heldOut: CsrMatrix,
  k: number,
): Float64Array {
  return perRow('hitRateAtK', scores, foldIn, heldOut, k, (ranked, relevant) =>
    hitsAt(ranked, k, relevant) > 0 ? 1 : 0,
  );
}

/**
 * Reciprocal rank of the best-ranked held-out item in the FULL ranking of row r (fold-in items
 * excluded: marked in `excluded`), computed in O(numItems) without sorting: 1 / (1 + number of
 * candidate items ranked above it). 0 when every held-out item is excluded.
 */
function reciprocalRank(
  scores: Float32Array,
  numItems: number,
  r: number,
  heldOut: CsrMatrix,
  excluded: Uint8Array,
): number {
  const base = r * numItems;
  let best = -1;
  let bestKey = -Infinity;
  for (let p = heldOut.indptr[r]; p < heldOut.indptr[r + 1]; p++) {
    const j = heldOut.indices[p];
    if (excluded[j]) continue;
    const s = key(scores[base + j]);
    if (best < 0 || s > bestKey || (s === bestKey && j < best)) {
      best = j;
      bestKey = s;
    }
  }
  if (best < 0) return 0;
  let above = 0;
  for (let j = 0; j < numItems; j++) {
    if (excluded[j]) continue;
    const s = key(scores[base + j]);
    if (s > bestKey || (s === bestKey && j < best)) above++;
  }
  return 1 / (above + 1);
}

/**
 * Mean-reciprocal-rank terms per row: 1 / rank of the first relevant item in the full ranking
 * (fold-in items excluded; no cut-off).
 *
 * @param scores [rows × numItems] row-major
 * @param foldIn [rows × numItems] items excluded from the ranking, or null
 * @param heldOut [rows × numItems] relevant items
 * @returns [rows] in (0, 1]; NaN where the held-out row is empty
 */
export function mrr(scores: Float32Array, foldIn: CsrMatrix | null, heldOut: CsrMatrix): Float64Array {
  checkShapes('mrr', scores, foldIn, heldOut);
  const out = new Float64Array(heldOut.numRows);
  const excluded = new Uint8Array(heldOut.numCols);
  for (let r = 0; r < heldOut.numRows; r++) {
    if (heldOut.indptr[r + 1] === heldOut.indptr[r]) {
      out[r] = NaN;
      continue;
    }
    if (foldIn) markRow(foldIn, r, excluded, 1);
    out[r] = reciprocalRank(scores, heldOut.numCols, r, heldOut, excluded);
    if (foldIn) markRow(foldIn, r, excluded, 0);
  }
  return out;
}

/**
 * Catalog coverage@K: the fraction of the numItems items that appear in at least one row's top K.
 *
 * @param scores [rows × numItems] row-major
 * @param numItems columns of `scores`
 * @param foldIn [rows × numItems] items excluded from the ranking, or null
 * @returns a number in [0, 1]
 */
export function catalogCoverageAtK(
  scores: Float32Array,
  numItems: number,
  foldIn: CsrMatrix | null,
  k: number,
): number {
  if (!(numItems >= 1 && scores.length % numItems === 0))
    throw new Error(`catalogCoverageAtK: scores length ${scores.length} is not a multiple of numItems ${numItems}`);
  const seen = new Uint8Array(numItems);
  const rows = scores.length / numItems;
  for (let r = 0; r < rows; r++) for (const j of topKOfRow(scores, numItems, r, k, foldIn)) seen[j] = 1;
  let n = 0;
  for (let j = 0; j < numItems; j++) n += seen[j];
  return n / numItems;
}

/** Mean of the non-NaN values (NaN when there are none). */
export function nanMean(values: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === v) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/** Options of {@link evaluateRanking}. */
export interface EvaluateRankingOptions {
  /** Cut-offs (default [20, 50, 100]). */
  ks?: readonly number[];
  /** Users scored per scoreFn call (default 500): bounds memory to batchSize × numItems floats. */
  batchSize?: number;
}

/**
 * Mean ranking metrics over users. Keys, for each k in ks: `ndcg@k`, `recall@k`, `precision@k`,
 * `hitrate@k`, `coverage@k`; plus `mrr` (full ranking) and `users` (rows evaluated: those with
 * a non-empty held-out row).
 */
export type RankingMetrics = Record<string, number>;

/**
 * Scores users batch by batch and averages the ranking metrics (strong generalization: the model
 * sees only fold-in items; fold-in items are excluded from the ranking; held-out items are
 * relevant). The full [users × numItems] score matrix is never allocated at once.
 *
 * @param scoreFn given a batch's fold-in [batch × numItems] CSR, returns its scores
 *   [batch × numItems] row-major (e.g. `(h) => model.reconstruct(h)`)
 * @param foldIn [users × numItems] items given to the model and excluded from its ranking
 * @param heldOut [users × numItems] items to predict
 * @returns mean metrics, e.g. `{'ndcg@100': 0.43, 'recall@20': 0.37, …, mrr, users}`; metrics
 *   are averaged over users with a non-empty held-out row, coverage is over all of them
 *
 * @example
 *   const m = evaluateRanking((h) => model.reconstruct(h), split.test.foldIn, split.test.heldOut);
 *   m['ndcg@100'];
 */
export function evaluateRanking(
  scoreFn: (foldIn: CsrMatrix) => Float32Array,
  foldIn: CsrMatrix,
  heldOut: CsrMatrix,
  options: EvaluateRankingOptions = {},
): RankingMetrics {
  const ks = [...(options.ks ?? [20, 50, 100])];
  const batchSize = options.batchSize ?? 500;
  if (ks.length === 0 || ks.some((k) => !(Number.isInteger(k) && k >= 1)))
    throw new Error(`evaluateRanking: ks must be positive integers, got ${JSON.stringify(ks)}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`evaluateRanking: batchSize must be a positive integer, got ${batchSize}`);
  if (foldIn.numRows !== heldOut.numRows || foldIn.numCols !== heldOut.numCols) {
    throw new Error(
      `evaluateRanking: foldIn is ${foldIn.numRows} × ${foldIn.numCols} but heldOut is ${heldOut.numRows} × ${heldOut.numCols}`,
    );
  }
  const numItems = heldOut.numCols;
  const maxK = Math.max(...ks);
  const d = discounts(maxK);
  const sums = {
    ndcg: new Float64Array(ks.length),
    recall: new Float64Array(ks.length),
    precision: new Float64Array(ks.length),
    hitrate: new Float64Array(ks.length),
  };
  const covered = ks.map(() => new Uint8Array(numItems));
  let mrrSum = 0;
  let users = 0;
  const relevant = new Uint8Array(numItems);
  const excluded = new Uint8Array(numItems);

  for (let start = 0; start < heldOut.numRows; start += batchSize) {
    const rowIds = new Int32Array(Math.min(batchSize, heldOut.numRows - start));
    for (let k = 0; k < rowIds.length; k++) rowIds[k] = start + k;
    const fi = csrSelectRows(foldIn, rowIds);
    const ho = csrSelectRows(heldOut, rowIds);
    const scores = scoreFn(fi);
    if (!(scores instanceof Float32Array) || scores.length !== rowIds.length * numItems) {
      throw new Error(
        `evaluateRanking: scoreFn returned ${scores?.length} values for a batch of ${rowIds.length} users × ${numItems} items`,
      );
    }
    for (let r = 0; r < rowIds.length; r++) {
      const ranked = topKOfRow(scores, numItems, r, maxK, fi);
      for (let t = 0; t < ks.length; t++)
        for (let i = 0, n = Math.min(ks[t], ranked.length); i < n; i++) covered[t][ranked[i]] = 1;
      const n = markRow(ho, r, relevant, 1);
      if (n > 0) {
        users++;
        for (let t = 0; t < ks.length; t++) {
          const k = ks[t];
          const hits = hitsAt(ranked, k, relevant);
          sums.ndcg[t] += ndcgOf(ranked, k, relevant, n, d);
          sums.recall[t] += hits / Math.min(k, n);
          sums.precision[t] += hits / k;
          sums.hitrate[t] += hits > 0 ? 1 : 0;
        }
        markRow(fi, r, excluded, 1);
        mrrSum += reciprocalRank(scores, numItems, r, ho, excluded);
        markRow(fi, r, excluded, 0);
      }
      markRow(ho, r, relevant, 0);
    }
  }
  const out: RankingMetrics = {};
  for (let t = 0; t < ks.length; t++) {
    const k = ks[t];
    out[`ndcg@${k}`] = sums.ndcg[t] / users;
    out[`recall@${k}`] = sums.recall[t] / users;
    out[`precision@${k}`] = sums.precision[t] / users;
    out[`hitrate@${k}`] = sums.hitrate[t] / users;
    let c = 0;
    for (let j = 0; j < numItems; j++) c += covered[t][j];
    out[`coverage@${k}`] = c / numItems;
  }
  out.mrr = mrrSum / users;
  out.users = users;
  return out;
}

/** Options of {@link rmse} / {@link mae}. */
export interface RatingErrorOptions {
  /** Clip predictions to [min, max] first (e.g. [1, 5] for MovieLens, as docs/benchmarks.md does). */
  clip?: readonly [number, number];
}

function ratingErrors(
  fn: string,
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  clip: RatingErrorOptions['clip'],
  f: (e: number) => number,
): number {
  if (pred.length !== truth.length) throw new Error(`${fn}: ${pred.length} predictions for ${truth.length} ratings`);
  if (pred.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < pred.length; i++) {
    let p = pred[i];
    if (clip) p = Math.min(clip[1], Math.max(clip[0], p));
    s += f(p - truth[i]);
  }
  return s / pred.length;
}

/**
 * Root-mean-square error over all ratings.
 * @param pred [n] predicted ratings
 * @param truth [n] true ratings
 * @returns sqrt(mean((pred − truth)²)); NaN when n = 0
 */
export function rmse(pred: ArrayLike<number>, truth: ArrayLike<number>, options: RatingErrorOptions = {}): number {
  return Math.sqrt(ratingErrors('rmse', pred, truth, options.clip, (e) => e * e));
}

/**
 * Mean absolute error over all ratings.
 * @param pred [n] predicted ratings
 * @param truth [n] true ratings
 * @returns mean(|pred − truth|); NaN when n = 0
 */
export function mae(pred: ArrayLike<number>, truth: ArrayLike<number>, options: RatingErrorOptions = {}): number {
  return ratingErrors('mae', pred, truth, options.clip, Math.abs);
}
