import { Random } from '../data/random.js';
import { excludeSet, selectTopK, topK } from './top-k.js';

/** selectTopK by sorting everything: best first, ties → lower index, NaN skipped or last. */
function bySorting(
  scores: ArrayLike<number>,
  k: number,
  o: { first: number; count: number; skip?: (i: number) => boolean; candidates?: number[]; nan: 'skip' | 'last' },
): { indices: number[]; scores: number[] } {
  const items = (o.candidates ?? Array.from({ length: o.count }, (_, j) => j))
    .filter((j) => !o.skip?.(j))
    .map((j) => ({ j, s: scores[o.first + j] }))
    .filter(({ s }) => o.nan === 'last' || !Number.isNaN(s))
    .map(({ j, s }) => ({ j, s: Number.isNaN(s) ? -Infinity : s }))
    .sort((a, b) => b.s - a.s || a.j - b.j || 0)
    .slice(0, Math.max(0, k));
  return { indices: items.map((x) => x.j), scores: items.map((x) => x.s) };
}

describe('selectTopK', () => {
  it('agrees with a full sort on random scores with ties, NaN, -Infinity, skips, candidates and offsets', () => {
    const rng = new Random(5);
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + rng.int(300);
      // Few distinct values, so that ties are common; some NaN and -Infinity.
      const scores = Float32Array.from({ length: n }, () => {
        const u = rng.int(20);
        return u === 0 ? NaN : u === 1 ? -Infinity : rng.int(8) / 8;
      });
      const first = rng.int(Math.min(n, 10));
      const count = n - first - rng.int(Math.max(1, n - first));
      const skipped = new Set(Array.from({ length: rng.int(count + 1) }, () => rng.int(Math.max(1, count))));
      const skip = trial % 3 === 0 ? undefined : (i: number) => skipped.has(i);
      const candidates =
        trial % 4 === 0
          ? [...new Set(Array.from({ length: rng.int(count + 1) }, () => rng.int(Math.max(1, count))))]
          : undefined;
      const nan = trial % 2 === 0 ? 'skip' : 'last';
      const k = rng.int(count + 5);
      const got = selectTopK(scores, k, { first, count, skip, candidates, nan });
      const want = bySorting(scores, k, { first, count, skip, candidates, nan });
      expect(Array.from(got.indices)).toEqual(want.indices);
      expect(Array.from(got.scores)).toEqual(want.scores);
    }
  });

  it('agrees with a full sort from one call to the next at any k: scratch heaps grown, reused, and beyond their size', () => {
    const rng = new Random(8);
    const scores = Float32Array.from({ length: 6000 }, () => rng.int(500) / 7);
    for (const k of [3, 100, 5000, 70, 4096, 4097, 1, 2000]) {
      const want = bySorting(scores, k, { first: 0, count: scores.length, nan: 'skip' });
      const got = selectTopK(scores, k);
      expect(Array.from(got.indices)).toEqual(want.indices);
      // topK pops the same heap into neighbours.
      const skip = excludeSet([want.indices[0]]);
      const wantSkip = bySorting(scores, k, { first: 0, count: scores.length, skip: (i) => skip.has(i), nan: 'skip' });
      expect(topK(scores, k, skip)).toEqual(wantSkip.indices.map((index, j) => ({ index, score: wantSkip.scores[j] })));
    }
  });

  it('returns nothing for k ≤ 0 and asks skip only of items that would enter a full heap', () => {
    expect(selectTopK([3, 2, 1], 0).indices.length).toBe(0);
    const asked: number[] = [];
    const top = selectTopK([5, 4, 3, 2, 1, 9], 2, { skip: (i) => (asked.push(i), false) });
    expect(Array.from(top.indices)).toEqual([5, 0]);
    // 0 and 1 fill the heap; 2, 3, 4 are below its worst; 5 beats it.
    expect(asked).toEqual([0, 1, 5]);
  });
});
