import type { CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { topK } from '../index/top-k.js';

/*
 * Measures of item–item and user–user similarities (issue 12, "Similarities that mean
 * something"): whether an item's neighbours share its genres, whether they are just the popular
 * items, and whether user vectors have collapsed onto one direction.
 *
 * Neighbour lists are one list per query item, indexed by the query's column: `neighbours[i]` holds
 * item columns, best first; negative entries (padding) are ignored.
 */

/**
 * Genre precision@k: for every query item with at least one genre, the share of its first k
 * neighbours that share at least one genre with it; averaged over those query items.
 *
 * A query whose list holds fewer than k neighbours is scored over the neighbours it has (a query
 * with none is skipped). Neighbours without genres never match.
 *
 * @param neighbours [numItems] neighbour columns per query item, best first
 * @param itemGenres [numItems] genres of each item column (e.g. MovieLens "Animation", "Comedy")
 * @param k neighbours considered per query (≥ 1)
 * @param queries optional query columns (default every item); e.g. only the items with enough users
 * @returns the mean share in [0, 1], NaN when no query item qualifies
 */
export function genrePrecisionAtK(
  neighbours: readonly ArrayLike<number>[],
  itemGenres: readonly (readonly string[])[],
  k: number,
  queries?: ArrayLike<number>,
): number {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`genrePrecisionAtK: k must be a positive integer, got ${k}`);
  if (neighbours.length !== itemGenres.length) {
    throw new Error(`genrePrecisionAtK: ${neighbours.length} neighbour lists for ${itemGenres.length} items`);
  }
  const sets = itemGenres.map((g) => new Set(g));
  const n = queries ? queries.length : neighbours.length;
  let total = 0;
  let counted = 0;
  for (let q = 0; q < n; q++) {
    const i = queries ? queries[q] : q;
    if (!(Number.isInteger(i) && i >= 0 && i < neighbours.length))
      throw new RangeError(`genrePrecisionAtK: query ${i} outside [0, ${neighbours.length})`);
    const own = sets[i];
    if (own.size === 0) continue;
    const list = neighbours[i];
    let seen = 0;
    let hits = 0;
    for (let p = 0; p < list.length && seen < k; p++) {
      const j = list[p];
      if (j < 0) continue;
      seen++;
      for (const g of sets[j]) {
        if (own.has(g)) {
          hits++;
          break;
        }
      }
    }
    if (seen === 0) continue;
    total += hits / seen;
    counted++;
  }
  return counted === 0 ? Number.NaN : total / counted;
}

/**
 * How popular the neighbours are: each item's popularity percentile (0–100, the share of items
 * with a count ≤ its own, so the most popular item is 100), averaged over the first k neighbours of
 * each query, then over the queries with at least one neighbour. About 50 for neighbours drawn
 * at random; near 100 when every list is the most popular items ("popularity in disguise").
 *
 * @param neighbours [numItems] neighbour columns per query item, best first
 * @param counts [numItems] popularity of each item (e.g. its number of training users)
 * @param k neighbours considered per query (≥ 1)
 * @returns the mean percentile, NaN when no list has a neighbour
 */
export function meanNeighbourPopularity(
  neighbours: readonly ArrayLike<number>[],
  counts: ArrayLike<number>,
  k: number,
): number {
  if (!(Number.isInteger(k) && k >= 1))
    throw new Error(`meanNeighbourPopularity: k must be a positive integer, got ${k}`);
  if (neighbours.length !== counts.length)
    throw new Error(`meanNeighbourPopularity: ${neighbours.length} neighbour lists for ${counts.length} items`);
  const n = counts.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => counts[a] - counts[b]);
  const percentile = new Float64Array(n);
  for (let s = 0; s < n;) {
    let e = s + 1;
    while (e < n && counts[order[e]] === counts[order[s]]) e++;
    for (let p = s; p < e; p++) percentile[order[p]] = (100 * e) / n; // share with a count ≤ this one
    s = e;
  }
  let total = 0;
  let counted = 0;
  for (const list of neighbours) {
    let sum = 0;
    let seen = 0;
    for (let p = 0; p < list.length && seen < k; p++) {
      if (list[p] < 0) continue;
      sum += percentile[list[p]];
      seen++;
    }
    if (seen === 0) continue;
    total += sum / seen;
    counted++;
  }
  return counted === 0 ? Number.NaN : total / counted;
}

/** Options of {@link meanPairwiseCosine}. */
export interface PairwiseCosineOptions {
  /** Random pairs to average over (default 20,000); when the rows have fewer pairs, all pairs are used. */
  pairs?: number;
}

/**
 * Mean cosine similarity of pairs of distinct rows (the collapse check of user vectors: near 1 when
 * every vector points the same way, near 0 for unrelated directions). Pairs involving a zero row
 * are skipped (their cosine is undefined).
 *
 * @param vectors [rows × dim] row-major
 * @param dim values per row
 * @param sampleSeed seed of the random pairs (ignored when every pair is used)
 * @returns the mean cosine in [−1, 1], NaN with fewer than two non-zero rows
 */
export function meanPairwiseCosine(
  vectors: Float32Array,
  dim: number,
  sampleSeed: number,
  options: PairwiseCosineOptions = {},
): number {
  if (!(Number.isInteger(dim) && dim >= 1))
    throw new Error(`meanPairwiseCosine: dim must be a positive integer, got ${dim}`);
  if (vectors.length % dim !== 0)
    throw new Error(`meanPairwiseCosine: ${vectors.length} values are not rows of ${dim}`);
  const pairs = options.pairs ?? 20000;
  if (!(Number.isInteger(pairs) && pairs >= 1))
    throw new Error(`meanPairwiseCosine: pairs must be a positive integer, got ${pairs}`);
  const rows = vectors.length / dim;
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = r * dim; d < (r + 1) * dim; d++) s += vectors[d] * vectors[d];
    norms[r] = Math.sqrt(s);
  }
  let total = 0;
  let counted = 0;
  const add = (a: number, b: number) => {
    if (norms[a] === 0 || norms[b] === 0) return;
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += vectors[a * dim + d] * vectors[b * dim + d];
    total += dot / (norms[a] * norms[b]);
    counted++;
  };
  if ((rows * (rows - 1)) / 2 <= pairs) {
    for (let a = 0; a < rows; a++) for (let b = a + 1; b < rows; b++) add(a, b);
  } else {
    const rng = new Random(sampleSeed);
    for (let p = 0; p < pairs; p++) {
      const a = rng.int(rows);
      let b = rng.int(rows - 1);
      if (b >= a) b++;
      add(a, b);
    }
  }
  return counted === 0 ? Number.NaN : total / counted;
}

/**
 * User-kNN scores, to judge a user similarity by what it predicts: each query's k most similar
 * population users vote for their items with their similarity (score_j = Σ_v sim(u, v) · x_vj,
 * negative similarities ignored). Ranked with the fold-in excluded (metrics.ts `ndcgAtK`), a
 * similarity whose neighbours share the user's taste predicts the held-out items; a collapsed one
 * (every user ≈ every other) does not.
 *
 * @param similarities [queries × population.numRows] row-major
 * @param population [populationUsers × numItems] the population's histories (binary: a stored entry votes 1)
 * @param k neighbours per query (≥ 1)
 * @returns [queries × numItems] row-major scores
 */
export function userNeighbourScores(similarities: Float32Array, population: CsrMatrix, k: number): Float32Array {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`userNeighbourScores: k must be a positive integer, got ${k}`);
  const np = population.numRows;
  if (np === 0 || similarities.length % np !== 0)
    throw new Error(`userNeighbourScores: ${similarities.length} similarities are not rows of ${np} population users`);
  const nq = similarities.length / np;
  const n = population.numCols;
  const out = new Float32Array(nq * n);
  for (let a = 0; a < nq; a++) {
    for (const v of topK(similarities.subarray(a * np, (a + 1) * np), k)) {
      if (!(v.score > 0)) continue;
      for (let p = population.indptr[v.index]; p < population.indptr[v.index + 1]; p++)
        out[a * n + population.indices[p]] += v.score;
    }
  }
  return out;
}
