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

/**
 * The k highest scores, best first (ties: lower index first), skipping excluded rows and NaN.
 * O(n log k) with a binary min-heap; `candidates` restricts the scan to those rows.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>): Neighbor[] {
  if (k <= 0) return [];
  const heapIdx = new Int32Array(k);
  const heapVal = new Float64Array(k);
  let size = 0;
  // "a is worse than b": lower score, or equal score and higher index.
  const worse = (ia: number, va: number, ib: number, vb: number) => va < vb || (va === vb && ia > ib);
  const siftDown = (pos: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      const r = l + 1;
      let m = pos;
      if (l < size && worse(heapIdx[l], heapVal[l], heapIdx[m], heapVal[m])) m = l;
      if (r < size && worse(heapIdx[r], heapVal[r], heapIdx[m], heapVal[m])) m = r;
      if (m === pos) return;
      const ti = heapIdx[pos];
      const tv = heapVal[pos];
      heapIdx[pos] = heapIdx[m];
      heapVal[pos] = heapVal[m];
      heapIdx[m] = ti;
      heapVal[m] = tv;
      pos = m;
    }
  };
  const offer = (i: number) => {
    const v = scores[i];
    if (Number.isNaN(v)) return;
    // A row that would not enter the full heap is skipped before asking the exclusion (most rows).
    if (size === k && !worse(heapIdx[0], heapVal[0], i, v)) return;
    if (exclude.has(i)) return;
    if (size < k) {
      let pos = size++;
      heapIdx[pos] = i;
      heapVal[pos] = v;
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!worse(heapIdx[pos], heapVal[pos], heapIdx[parent], heapVal[parent])) break;
        const ti = heapIdx[pos];
        const tv = heapVal[pos];
        heapIdx[pos] = heapIdx[parent];
        heapVal[pos] = heapVal[parent];
        heapIdx[parent] = ti;
        heapVal[parent] = tv;
        pos = parent;
      }
    } else if (worse(heapIdx[0], heapVal[0], i, v)) {
      heapIdx[0] = i;
      heapVal[0] = v;
      siftDown(0);
    }
  };
  if (candidates) for (let c = 0; c < candidates.length; c++) offer(candidates[c]);
  else for (let i = 0; i < scores.length; i++) offer(i);
  const out: Neighbor[] = [];
  for (let j = 0; j < size; j++) out.push({ index: heapIdx[j], score: heapVal[j] });
  return out.sort((a, b) => b.score - a.score || a.index - b.index);
}
