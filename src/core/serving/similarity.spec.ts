import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { loadNativeGemm } from '../engine/native-gemm.js';
import { Ease, invertSpdInPlace } from '../models/ease.js';
import {
  centreRows,
  columnStats,
  concatenateNormalised,
  cooccurrenceNeighbours,
  cooccurrenceScorer,
  cosineScorer,
  cosineNeighbours,
  cosineSimilarities,
  easeNeighbours,
  historyCosineSimilarities,
  itemSimilarityScorer,
  autoencoderSimilarityVectors,
  gemmRowProduct,
  jsRowProduct,
  mixedScorer,
  neighboursFromScores,
  responseLiftNeighbours,
  tfRowProduct,
  withoutLastColumn,
} from './similarity.js';

const lists = (l: { indices: Int32Array[] }) => l.indices.map((x) => Array.from(x));

/** Users × items from per-user item lists. */
function histories(numItems: number, users: number[][]): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  users.forEach((items, u) => items.forEach((i) => (rows.push(u), cols.push(i))));
  return csrFromTriples(users.length, numItems, rows, cols);
}

describe('cosineNeighbours', () => {
  it('ranks the other items by cosine (scale-free), skipping the item itself and zero rows', () => {
    // item 0 (1, 0), item 1 (10, 1): nearly item 0's direction, item 2 (0, 1), item 3 zero, item 4 (1, 1)
    const v = new Float32Array([1, 0, 10, 1, 0, 1, 0, 0, 1, 1]);
    const nn = cosineNeighbours(v, 2, 3);
    expect(lists(nn)).toEqual([[1, 4, 2], [0, 4, 2], [4, 1, 0], [], [1, 0, 2]]);
    expect(nn.scores[0][0]).toBeCloseTo(10 / Math.sqrt(101), 6);
    expect(nn.scores[0][1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(nn.scores[0][2]).toBeCloseTo(0, 6);
  });

  it('computes only the given queries and handles dims that are not a multiple of 4', () => {
    const dim = 7;
    const v = new Float32Array(4 * dim);
    v.set([1, 2, 3, 4, 5, 6, 7], 0);
    v.set([1, 2, 3, 4, 5, 6, 8], dim); // nearly item 0
    v.set([-1, -2, -3, -4, -5, -6, -7], 2 * dim); // opposite
    v.set([7, 0, 0, 0, 0, 0, 0], 3 * dim);
    const nn = cosineNeighbours(v, dim, 10, { queries: [0] });
    expect(lists(nn)).toEqual([[1, 3, 2], [], [], []]);
    expect(nn.scores[0][2]).toBeCloseTo(-1, 6);
  });

  it('gives the same lists whatever the block size and with the tfjs product', async () => {
    await initBackend();
    const rng = new Random(3);
    const dim = 9;
    const v = rng.fillNormal(new Float32Array(40 * dim));
    v.fill(0, 5 * dim, 6 * dim); // a zero row
    const expected = cosineNeighbours(v, dim, 6);
    expect(expected.indices[5].length).toBe(0);
    expect(expected.indices.every((l, i) => !Array.from(l).includes(5) && !Array.from(l).includes(i))).toBe(true);
    const queries = [39, 0, 5, 17, 18, 2];
    for (const options of [{ blockSize: 1 }, { blockSize: 7, queries }, { product: jsRowProduct, blockSize: 4 }]) {
      const got = cosineNeighbours(v, dim, 6, options);
      for (const i of options.queries ?? Array.from({ length: 40 }, (_, i) => i))
        expect(Array.from(got.indices[i])).toEqual(Array.from(expected.indices[i]));
    }
    const before = tf.memory().numTensors;
    const viaTf = cosineNeighbours(v, dim, 6, { product: tfRowProduct(tf), blockSize: 16 });
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < 40; i++) {
      expect(Array.from(viaTf.indices[i])).toEqual(Array.from(expected.indices[i]));
      viaTf.scores[i].forEach((s, r) => expect(s).toBeCloseTo(expected.scores[i][r], 5));
    }
    // On the native GEMM (its operand packed once, released by dispose).
    let disposed = 0;
    const gemm = loadNativeGemm();
    const counting = {
      withFixedRight: (...args: Parameters<typeof gemm.withFixedRight>) => {
        const fixed = gemm.withFixedRight(...args);
        return { run: fixed.run, dispose: () => (disposed++, fixed.dispose()) };
      },
    };
    const viaGemm = cosineNeighbours(v, dim, 6, { product: gemmRowProduct(counting), blockSize: 16 });
    expect(disposed).toBe(1);
    for (let i = 0; i < 40; i++) {
      expect(Array.from(viaGemm.indices[i])).toEqual(Array.from(expected.indices[i]));
      viaGemm.scores[i].forEach((s, r) => expect(s).toBeCloseTo(expected.scores[i][r], 5));
    }
  });

  it('rejects bad shapes and k', () => {
    expect(() => cosineNeighbours(new Float32Array(5), 2, 1)).toThrow('not rows of 2');
    expect(() => cosineNeighbours(new Float32Array(4), 2, 0)).toThrow('k must be a positive integer');
    expect(() => cosineNeighbours(new Float32Array(4), 2, 1, { queries: [2] })).toThrow('query 2 outside');
  });
});

describe('easeNeighbours', () => {
  const B = new Float32Array([
    0,
    0.5,
    0.1, //
    0.2,
    0,
    -0.4,
    0.3,
    -0.1,
    0,
  ]);

  it('reads the row, the column, their mean or their geometric mean', () => {
    expect(lists(easeNeighbours(B, 3, 2, 'row'))).toEqual([
      [1, 2],
      [0, 2],
      [0, 1],
    ]);
    expect(lists(easeNeighbours(B, 3, 2, 'column'))).toEqual([
      [2, 1],
      [0, 2],
      [0, 1],
    ]);
    const sym = easeNeighbours(B, 3, 1, 'symmetric');
    expect(lists(sym)).toEqual([[1], [0], [0]]);
    expect(sym.scores[0][0]).toBeCloseTo(0.35, 6);
    const geo = easeNeighbours(B, 3, 2, 'geometric');
    expect(geo.scores[0][0]).toBeCloseTo(Math.sqrt(0.5 * 0.2), 6);
    expect(lists(geo)).toEqual([
      [1, 2],
      [0, 2],
      [0, 1],
    ]);
    expect(geo.scores[1][1]).toBeCloseTo(-0.2, 6); // −√(0.4 · 0.1)
    expect(() => easeNeighbours(B, 2, 1, 'row')).toThrow('easeScorer: 9 weights for 2 × 2 items');
  });

  it("'geometric' is the partial correlation −P_ij / √(P_ii P_jj) of a fitted EASE", () => {
    const train = histories(5, [
      [0, 1, 2],
      [0, 1],
      [1, 2, 3],
      [3, 4],
      [2, 3, 4],
      [0, 4],
      [1, 3],
    ]);
    const lambda = 0.7;
    const ease = Ease.fit(train, { lambda });
    const n = 5;
    const p = new Float64Array(n * n);
    for (let u = 0; u < train.numRows; u++) {
      for (let a = train.indptr[u]; a < train.indptr[u + 1]; a++) {
        for (let b = train.indptr[u]; b < train.indptr[u + 1]; b++) p[train.indices[a] * n + train.indices[b]]++;
      }
    }
    for (let i = 0; i < n; i++) p[i * n + i] += lambda;
    invertSpdInPlace(p, n);
    const geo = easeNeighbours(ease.weights, n, n - 1, 'geometric');
    for (let i = 0; i < n; i++) {
      geo.indices[i].forEach((j, r) =>
        expect(geo.scores[i][r]).toBeCloseTo(-p[i * n + j] / Math.sqrt(p[i * n + i] * p[j * n + j]), 5),
      );
    }
  });
});

describe('cooccurrenceNeighbours', () => {
  // item 0: users 0, 1, 2; item 1: users 0, 1; item 2: users 0, 1, 2, 3, 4, 5 (popular); item 3: user 6 only
  const train = histories(4, [[0, 1, 2], [0, 1, 2], [0, 2], [2], [2], [2], [3]]);

  it('is the cosine of the binary interaction columns by default', () => {
    const nn = cooccurrenceNeighbours(train, 3);
    // cos(0, 1) = 2 / √(3·2), cos(0, 2) = 3 / √(3·6); item 3 shares no user with anyone
    expect(lists(nn)).toEqual([[1, 2], [0, 2], [0, 1], []]);
    expect(nn.scores[0][0]).toBeCloseTo(2 / Math.sqrt(6), 6);
    expect(nn.scores[0][1]).toBeCloseTo(3 / Math.sqrt(18), 6);
  });

  it('α = 0 is P(j | i), which prefers the popular item; α = 1 damps it', () => {
    const p = cooccurrenceNeighbours(train, 2, { popularityExponent: 0 });
    expect(lists(p)[0]).toEqual([2, 1]); // P(2 | 0) = 1 > P(1 | 0) = 2/3
    expect(p.scores[0][0]).toBeCloseTo(1, 6);
    const damped = cooccurrenceNeighbours(train, 2, { popularityExponent: 1 });
    expect(lists(damped)[0]).toEqual([1, 2]); // 2/2 > 3/6
    expect(() => cooccurrenceNeighbours(train, 2, { popularityExponent: 2 })).toThrow('popularityExponent');
  });

  it('counts a stored entry once whatever its value', () => {
    const weighted = csrFromTriples(2, 2, [0, 0, 1], [0, 1, 1], [5, 3, 2]);
    expect(cooccurrenceNeighbours(weighted, 1).scores[0][0]).toBeCloseTo(1 / Math.sqrt(2), 6);
  });
});

describe('mixedScorer', () => {
  it('sums weighted parts, a NaN part counting 0, and keeps NaN where every part is NaN', () => {
    // items 0–2 co-occur, item 3 co-occurs with nobody; vectors make item 3 close to item 0
    const train = histories(4, [[0, 1], [0, 2], [1, 2], [3]]);
    const vectors = new Float32Array([1, 0, 0, 1, 1, 1, 1, 0.1]);
    const cos = cosineScorer(vectors, 2);
    const co = cooccurrenceScorer(train);
    const mixed = mixedScorer(
      4,
      [
        { scorer: cos, weight: 0.5 },
        { scorer: co, weight: 0.5 },
      ],
      { standardise: false },
    );
    const out = new Float32Array(4);
    mixed(0, out);
    const c = new Float32Array(4);
    cos(0, c);
    expect(out[1]).toBeCloseTo(0.5 * c[1] + 0.5 * 0.5, 6); // co-occurrence cosine(0, 1) = 1 / √(2·2)
    expect(out[3]).toBeCloseTo(0.5 * c[3], 6); // no co-occurrence: that part counts 0
    const onlyCo = mixedScorer(4, [{ scorer: co, weight: 1 }], { standardise: false });
    onlyCo(3, out);
    expect(Array.from(out)).toEqual([0, 0, 0, Number.NaN]); // co-occurs with nobody: cosine 0; itself: NaN
    expect(lists(neighboursFromScores(4, 1, mixed))[3]).toEqual([0]);
    cos.dispose();
    expect(() => mixedScorer(4, [])).toThrow('no parts');
  });

  it("standardises each part (NaN = the row's lowest score), so the scale of a part does not matter", () => {
    const a: (i: number, out: Float32Array) => void = (_i, out) => out.set([0, 1, 2, 3]); // z: −1.342, −0.447, 0.447, 1.342
    const b: (i: number, out: Float32Array) => void = (_i, out) => out.set([300, 200, Number.NaN, 0]); // NaN → 0; z (300, 200, 0, 0)
    const mixed = mixedScorer(4, [
      { scorer: a, weight: 1 },
      { scorer: (i, out) => (b(i, out), out.forEach((v, j) => (out[j] = v / 100))), weight: 1 },
    ]);
    const same = mixedScorer(4, [
      { scorer: a, weight: 1 },
      { scorer: b, weight: 1 },
    ]);
    const x = new Float32Array(4);
    const y = new Float32Array(4);
    mixed(0, x);
    same(0, y);
    [1, 2, 3].forEach((j) => expect(x[j]).toBeCloseTo(y[j], 5));
    // the query (item 0) is left out of the statistics and of the result
    const z = (v: number[]) => {
      const m = v.reduce((s, x) => s + x, 0) / v.length;
      const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
      return v.map((x) => (x - m) / sd);
    };
    const za = z([1, 2, 3]);
    const zb = z([200, 0, 0]); // NaN → the lowest score, 0
    expect(x[0]).toBeNaN();
    [1, 2, 3].forEach((j) => expect(x[j]).toBeCloseTo(za[j - 1] + zb[j - 1], 5));
    const constant = mixedScorer(3, [{ scorer: (_i, out) => out.set([5, 5, 5]), weight: 1 }]);
    constant(0, x.subarray(0, 3));
    expect(Array.from(x.subarray(0, 3))).toEqual([Number.NaN, 0, 0]);
  });
});

describe('responseLiftNeighbours', () => {
  it('ranks by logits({i}) − logits(∅), so an output bias (popularity) does not decide', () => {
    const n = 4;
    const bias = [0, 0, 0, 10]; // item 3 is "popular": top of every raw answer
    const affinity = [
      [0, 2, 1, 0.5],
      [2, 0, 0.1, 0.5],
      [1, 0.1, 0, 3],
      [0.5, 0.5, 3, 0],
    ];
    const calls: number[] = [];
    const reconstruct = (h: CsrMatrix) => {
      calls.push(h.numRows);
      const out = new Float32Array(h.numRows * n);
      for (let r = 0; r < h.numRows; r++) {
        for (let j = 0; j < n; j++) {
          out[r * n + j] = bias[j];
          for (let p = h.indptr[r]; p < h.indptr[r + 1]; p++) out[r * n + j] += affinity[h.indices[p]][j];
        }
      }
      return out;
    };
    const nn = responseLiftNeighbours(reconstruct, n, 2, { batchSize: 3 });
    expect(lists(nn)).toEqual([
      [1, 2],
      [0, 3],
      [3, 0],
      [2, 0],
    ]);
    expect(nn.scores[0][0]).toBeCloseTo(2, 6);
    expect(calls).toEqual([1, 3, 1]); // the empty history, then the items 3 at a time
    expect(lists(responseLiftNeighbours(reconstruct, n, 1, { queries: [2] }))).toEqual([[], [], [3], []]);
  });
});

describe('concatenateNormalised and withoutLastColumn', () => {
  it('gives cos = w·cos_a + (1 − w)·cos_b', () => {
    const a = new Float32Array([1, 0, 1, 1]); // cos_a(0, 1) = 1/√2
    const b = new Float32Array([2, 0, 0, 0, -3, 0]); // cos_b(0, 1) = 0
    const c = concatenateNormalised(a, 2, b, 3, 0.25);
    const dot = c.slice(0, 5).reduce((s, x, d) => s + x * c[5 + d], 0);
    expect(dot).toBeCloseTo(0.25 * Math.SQRT1_2, 6);
    expect(Math.hypot(...c.slice(0, 5))).toBeCloseTo(1, 6);
    expect(() => concatenateNormalised(a, 2, b, 2)).toThrow('2 rows against 3');
  });

  it('drops the bias column of [W_i, b_i]', () => {
    expect(Array.from(withoutLastColumn(new Float32Array([1, 2, 9, 3, 4, 9]), 3))).toEqual([1, 2, 3, 4]);
  });
});

describe('itemSimilarityScorer', () => {
  const n = 4;
  // decoder [W_i, b_i] with a large bias column (must not matter) and encoder rows
  const itemVectors = new Float32Array([1, 0, 50, 0.9, 0.1, -50, 0, 1, 50, 0.1, 0.9, -50]);
  const input = { vectors: new Float32Array([1, 0, 0, 1, 0, 1, 1, 0]), dim: 2 };
  const autoencoder = { itemVectors, itemVectorDim: 3, inputItemVectors: input };

  it('autoencoderSimilarityVectors: cosine = mean of the encoder-row and decoder-W_i cosines', () => {
    const { vectors, dim } = autoencoderSimilarityVectors(autoencoder);
    expect(dim).toBe(4);
    const cos = (a: Float32Array, b: Float32Array) =>
      a.reduce((s, x, d) => s + x * b[d], 0) / (Math.hypot(...a) * Math.hypot(...b));
    const row = (m: Float32Array, d: number, i: number) => m.slice(i * d, (i + 1) * d);
    const w = (i: number) => row(itemVectors, 3, i).slice(0, 2);
    for (const [i, j] of [
      [0, 1],
      [0, 2],
      [1, 3],
    ]) {
      expect(cos(row(vectors, 4, i), row(vectors, 4, j))).toBeCloseTo(
        (cos(row(input.vectors, 2, i), row(input.vectors, 2, j)) + cos(w(i), w(j))) / 2,
        5,
      );
    }
  });

  it('mixes the parts given with equal weights; a single part ranks like that part alone', () => {
    const ease = new Float32Array(n * n);
    ease[3 * n + 0] = 1; // B[3, 0]: column 0 points at item 3
    ease[2 * n + 0] = 0.5;
    const onlyEase = itemSimilarityScorer({ numItems: n, easeWeights: ease });
    expect(lists(neighboursFromScores(n, 2, onlyEase))[0]).toEqual([3, 2]);
    const onlyAe = itemSimilarityScorer({ numItems: n, autoencoder });
    const viaCosine = autoencoderSimilarityVectors(autoencoder);
    expect(lists(neighboursFromScores(n, 3, onlyAe))).toEqual(
      lists(cosineNeighbours(viaCosine.vectors, viaCosine.dim, 3)),
    );
    onlyAe.dispose();
    const train = histories(n, [
      [0, 1],
      [0, 1],
      [2, 3],
    ]);
    const both = itemSimilarityScorer({ numItems: n, easeWeights: ease, interactions: train });
    const out = new Float32Array(n);
    both(0, out);
    // item 1 co-occurs with 0 (z high in that part), item 3 wins the EASE part: both beat item 2
    expect(out[1]).toBeGreaterThan(out[2]);
    expect(out[3]).toBeGreaterThan(out[2]);
    expect(() => itemSimilarityScorer({ numItems: n })).toThrow('no source');
    expect(() => itemSimilarityScorer({ numItems: 5, interactions: train })).toThrow('4 columns, expected 5');
  });
});

describe('user vectors', () => {
  it('columnStats and centreRows remove the shared direction (and scale per column)', () => {
    const v = new Float32Array([10, 1, 10, -1, 10, 3, 10, -3]); // every user shares the first coordinate
    const { mean, std } = columnStats(v, 2);
    expect(Array.from(mean)).toEqual([10, 0]);
    expect(std[0]).toBe(0);
    expect(std[1]).toBeCloseTo(Math.sqrt(5), 6);
    const before = cosineSimilarities(v.subarray(0, 2), v.subarray(2, 4), 2)[0];
    expect(before).toBeGreaterThan(0.98);
    const centred = centreRows(v, 2, mean);
    expect(Array.from(centred)).toEqual([0, 1, 0, -1, 0, 3, 0, -3]);
    expect(cosineSimilarities(centred.subarray(0, 2), centred.subarray(2, 4), 2)[0]).toBeCloseTo(-1, 6);
    const scaled = centreRows(v, 2, mean, std);
    expect(scaled[0]).toBe(0); // zero spread: no information, not a division by zero
    expect(scaled[5]).toBeCloseTo(3 / Math.sqrt(5), 6);
  });

  it('cosineSimilarities is [queries × population]', () => {
    const s = cosineSimilarities(new Float32Array([1, 0, 0, 0]), new Float32Array([2, 0, 1, 1, 0, 5]), 2);
    expect(Array.from(s, (x) => Math.round(x * 1e6) / 1e6)).toEqual([
      1,
      Math.round(Math.SQRT1_2 * 1e6) / 1e6,
      0,
      0,
      0,
      0,
    ]);
  });

  it('historyCosineSimilarities is the cosine of the binary histories', () => {
    const population = histories(5, [[0, 1, 2], [3, 4], [0, 3], []]);
    const queries = histories(5, [[0, 1], []]);
    const s = historyCosineSimilarities(queries, population);
    expect(s.length).toBe(8);
    expect(s[0]).toBeCloseTo(2 / Math.sqrt(6), 6);
    expect(s[1]).toBe(0);
    expect(s[2]).toBeCloseTo(1 / 2, 6);
    expect(s[3]).toBe(0);
    expect(Array.from(s.subarray(4))).toEqual([0, 0, 0, 0]);
  });
});
