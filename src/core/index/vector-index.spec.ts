import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { MultDAE } from '../models/mult-dae.js';
import { excludeAny, excludeSet, NO_EXCLUSION, topK } from './top-k.js';
import {
  buildVectorIndex,
  ExactIndex,
  HnswIndex,
  hnswParamsFor,
  normalizeRows,
  recallAtK,
  resolveHnsw,
} from './vector-index.js';

beforeAll(async () => {
  await initBackend();
});

function randomMatrix(rng: Random, rows: number, dim: number): Float32Array {
  return Float32Array.from({ length: rows * dim }, () => rng.normal());
}

describe('topK', () => {
  it('returns the k largest scores best first, ties broken by lower index', () => {
    const scores = [0.5, 2, -1, 2, 7, 0.5];
    expect(topK(scores, 3)).toEqual([
      { index: 4, score: 7 },
      { index: 1, score: 2 },
      { index: 3, score: 2 },
    ]);
    expect(topK(scores, 10).map((n) => n.index)).toEqual([4, 1, 3, 0, 5, 2]);
    expect(topK(scores, 0)).toEqual([]);
  });

  it('skips excluded rows and NaN, and can scan only candidates', () => {
    const scores = [9, 8, Number.NaN, 6, 5];
    expect(topK(scores, 2, excludeSet([0])).map((n) => n.index)).toEqual([1, 3]);
    expect(topK(scores, 5, excludeAny(excludeSet([1]), excludeSet([4]))).map((n) => n.index)).toEqual([0, 3]);
    expect(topK(scores, 5, NO_EXCLUSION, [4, 3, 2]).map((n) => n.index)).toEqual([3, 4]);
  });

  it('agrees with a full sort on random data', () => {
    const rng = new Random(3);
    const scores = Float32Array.from({ length: 1000 }, () => rng.uniform());
    const expected = Array.from(scores, (score, index) => ({ index, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 25);
    expect(topK(scores, 25)).toEqual(expected);
  });
});

describe('ExactIndex', () => {
  it('ranks by inner product or by cosine', () => {
    const vectors = Float32Array.from([1, 0, 10, 10, 0, 2, -1, 0]);
    const ip = new ExactIndex('ip', 2, vectors);
    expect(ip.search(Float32Array.from([1, 0]), 4).map((n) => n.index)).toEqual([1, 0, 2, 3]);
    expect(ip.search(Float32Array.from([1, 0]), 1)[0].score).toBe(10);
    const cos = new ExactIndex('cosine', 2, vectors);
    const ranked = cos.search(Float32Array.from([1, 0]), 4);
    expect(ranked.map((n) => n.index)).toEqual([0, 1, 2, 3]);
    expect(ranked[0].score).toBeCloseTo(1);
    expect(ranked[1].score).toBeCloseTo(Math.SQRT1_2);
    expect(ranked[3].score).toBeCloseTo(-1);
  });

  it('searchAmong scores only the candidates', () => {
    const ip = new ExactIndex('ip', 1, Float32Array.from([5, 4, 3, 2, 1]));
    expect(ip.searchAmong(Float32Array.from([1]), 2, [4, 2, 3]).map((n) => n.index)).toEqual([2, 3]);
    expect(ip.searchAmong(Float32Array.from([1]), 2, [4, 2, 3], excludeSet([2])).map((n) => n.index)).toEqual([3, 4]);
  });

  it('scores large matrices with the tfjs backend exactly like the JS loop', () => {
    const rng = new Random(9);
    const v = randomMatrix(rng, 3000, 40); // 120,000 values: the matMul path
    const index = new ExactIndex('ip', 40, v);
    const q = randomMatrix(rng, 1, 40);
    const scores = index.scoreAll(q);
    for (const i of [0, 1234, 2999]) {
      let dot = 0;
      for (let d = 0; d < 40; d++) dot += q[d] * v[i * 40 + d];
      expect(scores[i]).toBeCloseTo(dot, 3);
    }
    index.dispose();
  });

  it('rejects queries of the wrong dimension', () => {
    expect(() => new ExactIndex('ip', 3, new Float32Array(6)).search(new Float32Array(2), 1)).toThrow(/dim is 3/);
  });
});

describe('HnswIndex', () => {
  it('builds below/above the threshold as configured', async () => {
    const rng = new Random(1);
    const v = randomMatrix(rng, 50, 8);
    expect((await buildVectorIndex('ip', 8, v, { exactBelow: 100 })).kind).toBe('exact');
    expect((await buildVectorIndex('ip', 8, v, { exactBelow: 10 })).kind).toBe('hnsw');
  });

  it('returns exact scores, honours exclusions and over-fetches past them', async () => {
    const rng = new Random(2);
    const v = randomMatrix(rng, 300, 16);
    const hnsw = await HnswIndex.build('ip', 16, v);
    const exact = new ExactIndex('ip', 16, v);
    const q = randomMatrix(rng, 1, 16);
    const truth = exact.search(q, 10);
    const skip = excludeSet(truth.slice(0, 5).map((n) => n.index));
    const got = hnsw.search(q, 10, skip);
    expect(got).toHaveLength(10);
    for (const n of got) {
      expect(skip.has(n.index)).toBe(false);
      expect(n.score).toBeCloseTo(exact.scoreAll(q)[n.index], 4);
    }
    expect(hnsw.search(q, 1000)).toHaveLength(300); // k beyond size: every row, no throw
  });

  it('takes its parameters by index size unless given: larger indexes search longer candidate lists', () => {
    expect(hnswParamsFor(20_000)).toEqual({ m: 16, efConstruction: 200, ef: 100 });
    expect(hnswParamsFor(100_000)).toEqual({ m: 16, efConstruction: 200, ef: 100 });
    expect(hnswParamsFor(500_000)).toEqual({ m: 16, efConstruction: 200, ef: 200 });
    // Given values win; undefined ones (an unset RECODER_HNSW_*) fall back to the size's.
    expect(resolveHnsw(500_000, { m: 8, ef: undefined })).toEqual({ m: 8, efConstruction: 200, ef: 200, seed: 100 });
    expect(resolveHnsw(10, { seed: 7, ef: 64 })).toEqual({ m: 16, efConstruction: 200, ef: 64, seed: 7 });
  });

  it('round-trips through bytes (the stored graph answers like the built one)', async () => {
    const rng = new Random(5);
    const v = randomMatrix(rng, 400, 12);
    const built = await HnswIndex.build('ip', 12, v);
    const restored = HnswIndex.fromBytes('ip', 12, v, built.toBytes());
    expect(restored.kind).toBe('hnsw');
    for (let k = 0; k < 20; k++) {
      const q = randomMatrix(rng, 1, 12);
      expect(restored.search(q, 10)).toEqual(built.search(q, 10));
    }
    expect(() => HnswIndex.fromBytes('ip', 12, v.subarray(0, 120), built.toBytes())).toThrow(
      /400 vectors, expected 10/,
    );
  });

  it('cosine search on random vectors reaches recall@10 ≥ 0.99', async () => {
    const rng = new Random(4);
    const v = randomMatrix(rng, 3000, 24);
    const hnsw = await HnswIndex.build('cosine', 24, v);
    const exact = new ExactIndex('cosine', 24, v);
    const queries = Array.from({ length: 200 }, () => randomMatrix(rng, 1, 24));
    const recall = recallAtK(
      queries.map((q) => hnsw.search(q, 10)),
      queries.map((q) => exact.search(q, 10)),
    );
    expect(recall).toBeGreaterThanOrEqual(0.99);
  });

  describe('on the vectors a trained Mult-DAE serves', () => {
    let dae: MultDAE;
    let histories: CsrMatrix;
    beforeAll(async () => {
      // 600 users over 2,400 items in 12 taste groups, with a long-tailed popularity.
      const rng = new Random(11);
      const numItems = 2400;
      const rows: number[] = [];
      const cols: number[] = [];
      for (let u = 0; u < 600; u++) {
        const g = rng.int(12);
        for (let n = 0; n < 30; n++) {
          rows.push(u);
          const inGroup = rng.uniform() < 0.8;
          const i = Math.floor(200 * rng.uniform() ** 2);
          cols.push(inGroup ? g * 200 + i : rng.int(numItems));
        }
      }
      histories = csrFromTriples(600, numItems, rows, cols);
      dae = await MultDAE.fit(tf, histories, {
        latentDim: 32,
        epochs: 15,
        seed: 5,
        learningRate: 5e-3,
        batchSize: 100,
      });
    }, 120_000);
    afterAll(() => dae.dispose());

    it('user→item (inner product over [W_i, b_i]): HNSW recall@10 ≥ 0.99 against exact, seen items excluded', async () => {
      const items = dae.itemVectors();
      const D = dae.itemVectorDim;
      const hnsw = await buildVectorIndex('ip', D, items, { exactBelow: 0 });
      expect(hnsw.kind).toBe('hnsw');
      const exact = new ExactIndex('ip', D, items);
      const queries = dae.userQueries(histories);
      const approx = [];
      const truth = [];
      for (let u = 0; u < histories.numRows; u++) {
        const q = queries.subarray(u * D, (u + 1) * D);
        const seen = excludeSet(histories.indices.subarray(histories.indptr[u], histories.indptr[u + 1]));
        approx.push(hnsw.search(q, 10, seen));
        truth.push(exact.search(q, 10, seen));
      }
      // exact inner products are the decoder's logits: the index returns the model's own top-10
      const logits = dae.reconstruct(histories);
      const u0 = topK(
        logits.subarray(0, items.length / D),
        10,
        excludeSet(histories.indices.subarray(histories.indptr[0], histories.indptr[1])),
      );
      expect(truth[0].map((n) => n.index)).toEqual(u0.map((n) => n.index));
      expect(recallAtK(approx, truth)).toBeGreaterThanOrEqual(0.99);
    });

    it('item→item (cosine over W_i): HNSW recall@10 ≥ 0.99 against exact', async () => {
      const D = dae.itemVectorDim;
      const all = dae.itemVectors();
      const w = new Float32Array((all.length / D) * (D - 1));
      for (let i = 0; i < all.length / D; i++) w.set(all.subarray(i * D, i * D + D - 1), i * (D - 1));
      const hnsw = await buildVectorIndex('cosine', D - 1, w, { exactBelow: 0 });
      const exact = new ExactIndex('cosine', D - 1, w);
      const normalized = normalizeRows(w, D - 1);
      const probes = Array.from({ length: 300 }, (_, k) => k * 8);
      const q = (i: number) => normalized.subarray(i * (D - 1), (i + 1) * (D - 1));
      expect(
        recallAtK(
          probes.map((i) => hnsw.search(q(i), 10)),
          probes.map((i) => exact.search(q(i), 10)),
        ),
      ).toBeGreaterThanOrEqual(0.99);
    });
  });
});
