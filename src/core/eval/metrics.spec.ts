import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { topKOfRow as topK } from '../index/top-k.js';
import {
  catalogCoverageAtK,
  evaluateRanking,
  hitRateAtK,
  mae,
  mrr,
  nanMean,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  rmse,
} from './metrics.js';

/** One-row CSR over n items. */
function row(n: number, items: number[]): CsrMatrix {
  return csrFromTriples(
    1,
    n,
    items.map(() => 0),
    items,
  );
}

describe('topK', () => {
  const scores = Float32Array.from([0.1, 0.9, 0.3, 0.8, 0.5]);

  it('returns the best items, best first, skipping excluded ones', () => {
    expect(Array.from(topK(scores, 5, 0, 3))).toEqual([1, 3, 4]);
    expect(Array.from(topK(scores, 5, 0, 3, row(5, [1])))).toEqual([3, 4, 2]);
    expect(Array.from(topK(scores, 5, 0, 10, row(5, [1, 2])))).toEqual([3, 4, 0]);
    expect(topK(scores, 5, 0, 0).length).toBe(0);
  });

  it('breaks ties by the lower item index and ranks NaN last', () => {
    expect(Array.from(topK(Float32Array.from([1, 2, 2, 1, 2]), 5, 0, 4))).toEqual([1, 2, 4, 0]);
    expect(Array.from(topK(Float32Array.from([NaN, -Infinity, 0, NaN]), 4, 0, 4))).toEqual([2, 0, 1, 3]);
  });

  it('addresses rows of a row-major matrix', () => {
    const m = Float32Array.from([1, 2, 3, 3, 2, 1]);
    expect(Array.from(topK(m, 3, 1, 2))).toEqual([0, 1]);
    expect(() => topK(m, 3, 2, 1)).toThrow(RangeError);
  });

  it('equals a full sort on random data with ties', () => {
    const rng = new Random(9);
    const n = 300;
    const s = Float32Array.from({ length: n }, () => rng.int(40) / 4);
    const ex = Array.from(new Set(Array.from({ length: 30 }, () => rng.int(n)))).sort((a, b) => a - b);
    const exSet = new Set(ex);
    const ref = Array.from({ length: n }, (_, j) => j)
      .filter((j) => !exSet.has(j))
      .sort((a, b) => s[b] - s[a] || a - b);
    for (const k of [1, 7, 50, 299]) expect(Array.from(topK(s, n, 0, k, row(n, ex)))).toEqual(ref.slice(0, k));
  });
});

describe('ranking metrics, hand-computed', () => {
  // 1 user, 5 items; item 1 is fold-in (excluded); items 3 and 0 are held out.
  // Ranking without item 1: 3 (0.8), 4 (0.5), 2 (0.3), 0 (0.1).
  const scores = Float32Array.from([0.1, 0.9, 0.3, 0.8, 0.5]);
  const foldIn = row(5, [1]);
  const heldOut = row(5, [0, 3]);
  const idcg2 = 1 + 1 / Math.log2(3);

  it('NDCG@K: binary relevance, IDCG over min(|heldOut|, K)', () => {
    expect(ndcgAtK(scores, foldIn, heldOut, 2)[0]).toBeCloseTo(1 / idcg2, 10); // hit at rank 1 only
    expect(ndcgAtK(scores, foldIn, heldOut, 4)[0]).toBeCloseTo((1 + 1 / Math.log2(5)) / idcg2, 10); // ranks 1 and 4
    expect(ndcgAtK(scores, foldIn, heldOut, 1)[0]).toBeCloseTo(1, 10); // IDCG over min(2, 1) = 1 position
    // Without exclusion, item 1 takes rank 1: hits at ranks 2 and 5.
    expect(ndcgAtK(scores, null, heldOut, 5)[0]).toBeCloseTo((1 / Math.log2(3) + 1 / Math.log2(6)) / idcg2, 10);
  });

  it('Recall@K = hits / min(K, |heldOut|); Precision@K = hits / K; HitRate@K', () => {
    expect(recallAtK(scores, foldIn, heldOut, 1)[0]).toBe(1); // 1 hit / min(1, 2)
    expect(recallAtK(scores, foldIn, heldOut, 2)[0]).toBe(0.5);
    expect(recallAtK(scores, foldIn, heldOut, 4)[0]).toBe(1);
    expect(precisionAtK(scores, foldIn, heldOut, 2)[0]).toBe(0.5);
    expect(precisionAtK(scores, foldIn, heldOut, 4)[0]).toBe(0.5);
    expect(hitRateAtK(scores, foldIn, heldOut, 1)[0]).toBe(1);
    expect(hitRateAtK(scores, foldIn, row(5, [0]), 3)[0]).toBe(0);
  });

  it('MRR over the full ranking', () => {
    expect(mrr(scores, foldIn, heldOut)[0]).toBe(1);
    expect(mrr(scores, foldIn, row(5, [2]))[0]).toBeCloseTo(1 / 3, 12);
    expect(mrr(scores, null, row(5, [0]))[0]).toBeCloseTo(1 / 5, 12);
    expect(mrr(scores, row(5, [0]), row(5, [0]))[0]).toBe(0); // the only relevant item is excluded
  });

  it('rows with an empty held-out set are NaN and skipped by nanMean', () => {
    const s = Float32Array.from([1, 0, 0, 1]);
    const ho = csrFromTriples(2, 2, [1], [1]);
    const v = ndcgAtK(s, null, ho, 1);
    expect(Number.isNaN(v[0])).toBe(true);
    expect(v[1]).toBe(1);
    expect(nanMean(v)).toBe(1);
    expect(Number.isNaN(nanMean([NaN]))).toBe(true);
  });

  it('catalog coverage@K', () => {
    const s = Float32Array.from([0, 0, 1, 0.5, 0, 0.2, 1, 0]); // 2 users × 4 items
    expect(catalogCoverageAtK(s, 4, null, 1)).toBe(0.25); // both pick item 2
    expect(catalogCoverageAtK(s, 4, null, 2)).toBe(0.75); // {2, 3} ∪ {2, 1}
    expect(catalogCoverageAtK(s, 4, csrFromTriples(2, 4, [0, 1], [2, 2]), 1)).toBe(0.5); // {3} ∪ {1}
  });

  it('checks shapes', () => {
    expect(() => ndcgAtK(new Float32Array(4), null, heldOut, 2)).toThrow(/expected/);
    expect(() => ndcgAtK(scores, csrFromTriples(2, 5, [], []), heldOut, 2)).toThrow(/foldIn/);
  });
});

/** Straightforward reference: full sort of non-excluded items, DCG/IDCG by definition. */
function referenceNdcg(
  scores: Float32Array,
  numItems: number,
  foldIn: CsrMatrix,
  heldOut: CsrMatrix,
  k: number,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < heldOut.numRows; r++) {
    const ex = new Set(foldIn.indices.subarray(foldIn.indptr[r], foldIn.indptr[r + 1]));
    const rel = new Set(heldOut.indices.subarray(heldOut.indptr[r], heldOut.indptr[r + 1]));
    if (rel.size === 0) {
      out.push(NaN);
      continue;
    }
    const ranked = [...Array(numItems).keys()]
      .filter((j) => !ex.has(j))
      .sort((a, b) => scores[r * numItems + b] - scores[r * numItems + a] || a - b);
    let dcg = 0;
    ranked.slice(0, k).forEach((j, i) => {
      if (rel.has(j)) dcg += 1 / Math.log2(i + 2);
    });
    let idcg = 0;
    for (let i = 0; i < Math.min(rel.size, k); i++) idcg += 1 / Math.log2(i + 2);
    out.push(dcg / idcg);
  }
  return out;
}

function randomCase(users: number, items: number, seed: number) {
  const rng = new Random(seed);
  const scores = Float32Array.from({ length: users * items }, () => rng.uniform());
  const fr: number[] = [];
  const fc: number[] = [];
  const hr: number[] = [];
  const hc: number[] = [];
  for (let u = 0; u < users; u++) {
    for (let j = 0; j < items; j++) {
      const x = rng.uniform();
      if (x < 0.15) {
        fr.push(u);
        fc.push(j);
      } else if (x < 0.25 && u !== 3) {
        hr.push(u);
        hc.push(j);
      }
    }
  }
  return { scores, foldIn: csrFromTriples(users, items, fr, fc), heldOut: csrFromTriples(users, items, hr, hc) };
}

describe('cross-check on a random 20 × 50 case', () => {
  const { scores, foldIn, heldOut } = randomCase(20, 50, 2024);

  it('ndcgAtK equals a full-sort reference', () => {
    for (const k of [1, 5, 10, 50]) {
      const got = Array.from(ndcgAtK(scores, foldIn, heldOut, k));
      const want = referenceNdcg(scores, 50, foldIn, heldOut, k);
      expect(got.length).toBe(20);
      got.forEach((g, r) => (Number.isNaN(want[r]) ? expect(g).toBeNaN() : expect(g).toBeCloseTo(want[r], 12)));
    }
  });

  it('evaluateRanking averages the per-row metrics, independent of batch size', () => {
    const batches: number[] = [];
    const scoreFn = (fi: CsrMatrix) => {
      // Scores are looked up by a row tag: the batch's rows are consecutive, find them via batches.
      const start = batches.reduce((a, b) => a + b, 0);
      batches.push(fi.numRows);
      return scores.slice(start * 50, (start + fi.numRows) * 50);
    };
    const ks = [5, 10];
    const m = evaluateRanking(scoreFn, foldIn, heldOut, { ks, batchSize: 6 });
    expect(batches).toEqual([6, 6, 6, 2]);
    expect(m.users).toBe(19); // user 3 has no held-out items
    for (const k of ks) {
      expect(m[`ndcg@${k}`]).toBeCloseTo(nanMean(ndcgAtK(scores, foldIn, heldOut, k)), 12);
      expect(m[`recall@${k}`]).toBeCloseTo(nanMean(recallAtK(scores, foldIn, heldOut, k)), 12);
      expect(m[`precision@${k}`]).toBeCloseTo(nanMean(precisionAtK(scores, foldIn, heldOut, k)), 12);
      expect(m[`hitrate@${k}`]).toBeCloseTo(nanMean(hitRateAtK(scores, foldIn, heldOut, k)), 12);
      expect(m[`coverage@${k}`]).toBeCloseTo(catalogCoverageAtK(scores, 50, foldIn, k), 12);
    }
    expect(m.mrr).toBeCloseTo(nanMean(mrr(scores, foldIn, heldOut)), 12);
    batches.length = 0;
    const whole = evaluateRanking(scoreFn, foldIn, heldOut, { ks, batchSize: 500 });
    expect(batches).toEqual([20]);
    expect(whole).toEqual(m);
  });

  it('default keys and a bad scoreFn', () => {
    const m = evaluateRanking(() => scores, foldIn, heldOut);
    expect(Object.keys(m).sort()).toEqual(
      [
        'mrr',
        'users',
        ...[20, 50, 100].flatMap((k) => [
          `ndcg@${k}`,
          `recall@${k}`,
          `precision@${k}`,
          `hitrate@${k}`,
          `coverage@${k}`,
        ]),
      ].sort(),
    );
    expect(() => evaluateRanking(() => new Float32Array(3), foldIn, heldOut)).toThrow(/scoreFn returned 3/);
  });
});

describe('rating errors', () => {
  it('rmse and mae', () => {
    expect(rmse([1, 2, 3], [1, 3, 5])).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(mae([1, 2, 3], [1, 3, 5])).toBe(1);
    expect(rmse([0, 6], [1, 5], { clip: [1, 5] })).toBe(0);
    expect(Number.isNaN(mae([], []))).toBe(true);
    expect(() => rmse([1], [1, 2])).toThrow();
  });
});
