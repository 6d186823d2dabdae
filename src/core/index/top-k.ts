import type { CsrMatrix } from '../data/csr.js';

/** One search result: a row of the indexed matrix and its score (higher is better). */
export interface Neighbor {
  index: number;
  score: number;
}

/** Rows a search must skip (seen items, the query item itself, …). */
export interface Exclusion {
  has(index: number): boolean;
  /** How many rows are excluded (an upper bound is fine): searches over-fetch by this much. */
  readonly size: number;
}

export const NO_EXCLUSION: Exclusion = Object.freeze({ has: () => false, size: 0 });

/** Wraps a set of row indices as an {@link Exclusion}. */
export function excludeSet(indices: Iterable<number>): Exclusion {
  const set = indices instanceof Set ? (indices as Set<number>) : new Set(indices);
  return { has: (i) => set.has(i), size: set.size };
}

/** Combines exclusions: a row is skipped when any of them has it. */
export function excludeAny(...parts: Exclusion[]): Exclusion {
  const live = parts.filter((p) => p.size > 0);
  if (live.length === 0) return NO_EXCLUSION;
  if (live.length === 1) return live[0];
  return { has: (i) => live.some((p) => p.has(i)), size: live.reduce((s, p) => s + p.size, 0) };
}

/** Options of {@link selectTopK}. */
export interface SelectOptions {
  first?: number;
  count?: number;
  skip?: (item: number) => boolean;
  candidates?: ArrayLike<number>;
  nan?: 'skip' | 'last';
}

/**
 * The one bounded heap behind every top-k in Recoder: the `k` best of the items `first`, …,
 * `first + count − 1` of `scores` (or of `candidates`), best first, ties → lower index. `skip`
 * drops items (visited in increasing order when there are no candidates); NaN scores are skipped
 * (`nan: 'skip'`) or rank like −Infinity (`'last'`). O(n log k), no full sort.
 * @returns item indices relative to `first`, and their scores (NaN as −Infinity)
 */
export function selectTopK(
  scores: ArrayLike<number>,
  k: number,
  options: SelectOptions = {},
): { indices: Int32Array; scores: Float64Array } {
  const { heapKey, heapIdx, size } = heapTopK(scores, k, options);
  // Pop the worst repeatedly, filling the output from the back.
  const indices = new Int32Array(size);
  const out = new Float64Array(size);
  for (let n = size; n > 0; n--) {
    indices[n - 1] = heapIdx[0];
    out[n - 1] = heapKey[0];
    if (n > 1) siftDown(heapKey, heapIdx, n - 1, heapKey[n - 1], heapIdx[n - 1]);
  }
  return { indices, scores: out };
}

/** A filled min-heap of {@link heapTopK}: its `size` best items, the worst at the root. */
interface Heap {
  heapKey: Float64Array;
  heapIdx: Int32Array;
  size: number;
}

/**
 * Heaps of up to SCRATCH_K items are this thread's scratch arrays, reused by every selection (one
 * runs at a time, and is popped before the next starts): a typed array over 64 bytes costs 1–3 µs
 * to allocate and more to collect, several per request on the serving path.
 */
const SCRATCH_K = 4096;
let scratchKey = new Float64Array(64);
let scratchIdx = new Int32Array(64);

function heapOf(k: number): { heapKey: Float64Array; heapIdx: Int32Array } {
  const n = Math.max(0, k);
  if (n > SCRATCH_K) return { heapKey: new Float64Array(n), heapIdx: new Int32Array(n) };
  if (n > scratchKey.length) {
    const grown = Math.min(SCRATCH_K, Math.max(n, 2 * scratchKey.length));
    scratchKey = new Float64Array(grown);
    scratchIdx = new Int32Array(grown);
  }
  return { heapKey: scratchKey, heapIdx: scratchIdx };
}

/** The heap of {@link selectTopK}, not yet popped. */
function heapTopK(scores: ArrayLike<number>, k: number, options: SelectOptions): Heap {
  const first = options.first ?? 0;
  const count = options.count ?? scores.length - first;
  const { skip, candidates } = options;
  const nanLast = options.nan === 'last';
  const { heapIdx, heapKey } = heapOf(k);
  let size = 0;
  // The worst kept item, in locals: any item enters while the heap is not full (every score is
  // above −Infinity or, as −Infinity with nan 'last', ahead of index 2³¹). The scan is written out
  // in both loops (through a closure and the heap's first slots, 3,706 items took 22–36 µs in a
  // micro-benchmark; 16–20 µs this way; one loop choosing `candidates[c]` or `c` per item, 18–24).
  let rootKey = -Infinity;
  let rootIdx = 2 ** 31;
  if (k > 0 && candidates) {
    for (let c = 0; c < candidates.length; c++) {
      const j = candidates[c];
      let s = scores[first + j];
      if (s !== s) {
        if (!nanLast) continue;
        s = -Infinity;
      }
      // A full heap turns most items away on their score alone: `skip` is asked only of those that would enter.
      if (!(s > rootKey || (s === rootKey && j < rootIdx))) continue;
      if (skip !== undefined && skip(j)) continue;
      size = heapOffer(heapKey, heapIdx, size, k, s, j);
      if (size === k) {
        rootKey = heapKey[0];
        rootIdx = heapIdx[0];
      }
    }
  } else if (k > 0) {
    for (let j = 0; j < count; j++) {
      let s = scores[first + j];
      if (s !== s) {
        if (!nanLast) continue;
        s = -Infinity;
      }
      if (!(s > rootKey || (s === rootKey && j < rootIdx))) continue;
      if (skip !== undefined && skip(j)) continue;
      size = heapOffer(heapKey, heapIdx, size, k, s, j);
      if (size === k) {
        rootKey = heapKey[0];
        rootIdx = heapIdx[0];
      }
    }
  }
  return { heapKey, heapIdx, size };
}

/**
 * Adds (s, j) to the min-heap [0, size) of capacity k (the root is the worst kept item: lowest
 * score, on ties the highest index), or replaces the root when the heap is full and (s, j) beats
 * it. Returns the new size.
 */
function heapOffer(heapKey: Float64Array, heapIdx: Int32Array, size: number, k: number, s: number, j: number): number {
  if (size < k) {
    // Sift up.
    let c = size;
    while (c > 0) {
      const parent = (c - 1) >> 1;
      const ps = heapKey[parent];
      if (ps < s || (ps === s && heapIdx[parent] > j)) break; // parent is worse: stop
      heapKey[c] = ps;
      heapIdx[c] = heapIdx[parent];
      c = parent;
    }
    heapKey[c] = s;
    heapIdx[c] = j;
    return size + 1;
  }
  if (s > heapKey[0] || (s === heapKey[0] && j < heapIdx[0])) siftDown(heapKey, heapIdx, size, s, j); // j beats the worst kept item
  return size;
}

/** Places (s, j) at the root of the min-heap [0, size) and sifts it down. */
function siftDown(heapKey: Float64Array, heapIdx: Int32Array, size: number, s: number, j: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    let w = l; // the worse child
    const r = l + 1;
    if (r < size && (heapKey[r] < heapKey[l] || (heapKey[r] === heapKey[l] && heapIdx[r] > heapIdx[l]))) w = r;
    const ws = heapKey[w];
    if (s < ws || (s === ws && j > heapIdx[w])) break; // (s, j) is worse than both children
    heapKey[c] = ws;
    heapIdx[c] = heapIdx[w];
    c = w;
  }
  heapKey[c] = s;
  heapIdx[c] = j;
}

/**
 * The k highest scores, best first (ties: lower index first), skipping excluded rows and NaN.
 * O(n log k) with a binary min-heap; `candidates` restricts the scan to those rows.
 */
export function topK(
  scores: ArrayLike<number>,
  k: number,
  exclude: Exclusion = NO_EXCLUSION,
  candidates?: ArrayLike<number>,
): Neighbor[] {
  if (k <= 0) return [];
  const { heapKey, heapIdx, size } = heapTopK(scores, k, {
    skip: exclude.size > 0 ? (i) => exclude.has(i) : undefined,
    candidates,
    nan: 'skip',
  });
  // Popped straight into the answer (selectTopK's pop, without its typed arrays).
  const out = new Array<Neighbor>(size);
  for (let n = size; n > 0; n--) {
    out[n - 1] = { index: heapIdx[0], score: heapKey[0] };
    if (n > 1) siftDown(heapKey, heapIdx, n - 1, heapKey[n - 1], heapIdx[n - 1]);
  }
  return out;
}

/**
 * The `k` best-ranked items of one row of a score matrix, best first (the ranking metrics'
 * convention: NaN ranks like −Infinity, ties → lower index). Returns fewer than k items when fewer
 * than k are not excluded.
 *
 * @param scores [rows × numItems] row-major
 * @param numItems columns of `scores`
 * @param row which row of `scores` to rank
 * @param k how many items to return (≥ 0)
 * @param exclude optional [rows × numItems] CSR (fold-in): its row `row` is not ranked
 * @returns [min(k, candidates)] item indices, descending score, ties → lower index first
 */
export function topKOfRow(
  scores: ArrayLike<number>,
  numItems: number,
  row: number,
  k: number,
  exclude?: CsrMatrix | null,
): Int32Array {
  if (!(Number.isInteger(k) && k >= 0)) throw new Error(`topK: k must be a non-negative integer, got ${k}`);
  if (!(row >= 0 && (row + 1) * numItems <= scores.length))
    throw new RangeError(`topK: row ${row} outside the ${Math.floor(scores.length / numItems)} rows of scores`);
  if (exclude && (exclude.numCols !== numItems || row >= exclude.numRows)) {
    throw new Error(
      `topK: exclude is ${exclude.numRows} × ${exclude.numCols}, cannot exclude row ${row} of ${numItems} items`,
    );
  }
  let skip: ((j: number) => boolean) | undefined;
  if (exclude && exclude.indptr[row + 1] > exclude.indptr[row]) {
    // Items are visited in increasing order: walk the row's sorted indices alongside.
    let p = exclude.indptr[row];
    const pEnd = exclude.indptr[row + 1];
    const ex = exclude.indices;
    skip = (j) => {
      while (p < pEnd && ex[p] < j) p++;
      return p < pEnd && ex[p] === j;
    };
  }
  return selectTopK(scores, k, { first: row * numItems, count: numItems, skip, nan: 'last' }).indices;
}
