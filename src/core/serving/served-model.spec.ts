import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { excludeSet } from '../index/top-k.js';
import { AutoRec } from '../models/autorec.js';
import { Ease } from '../models/ease.js';
import { Ensemble } from '../models/ensemble.js';
import { rowStats } from '../models/ensemble.js';
import { MultDAE } from '../models/mult-dae.js';
import { MultVAE } from '../models/mult-vae.js';
import { centreRows, ServedModel, softmax } from './served-model.js';
import { itemSimilarityScorer } from './similarity.js';

/** 300 users in 4 taste groups of 40 items (160 items), plus `bots` users with random histories. */
function tasteData(seed: number, bots: number): { histories: CsrMatrix; group: number[] } {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const group: number[] = [];
  const users = 300 + bots;
  for (let u = 0; u < users; u++) {
    const isBot = u >= 300;
    const g = isBot ? -1 : rng.int(4);
    group.push(g);
    const n = isBot ? 40 : 15;
    for (let k = 0; k < n; k++) {
      rows.push(u);
      cols.push(isBot ? rng.int(160) : g * 40 + Math.floor(40 * rng.uniform() ** 1.5));
    }
  }
  return { histories: csrFromTriples(users, 160, rows, cols), group };
}

const row = (m: CsrMatrix, r: number) => csrSelectRows(m, [r]);
const seenOf = (m: CsrMatrix, r: number) => excludeSet(m.indices.subarray(m.indptr[r], m.indptr[r + 1]));

beforeAll(async () => {
  await initBackend();
});

describe('ServedModel (Mult-VAE)', () => {
  let served: ServedModel;
  let data: ReturnType<typeof tasteData>;
  beforeAll(async () => {
    data = tasteData(1, 10);
    const vae = await MultVAE.fit(tf, data.histories, {
      hiddenUnits: [32],
      latentDim: 8,
      epochs: 60,
      batchSize: 50,
      learningRate: 5e-3,
      seed: 3,
    });
    served = await ServedModel.load(vae, { histories: data.histories }, { index: { exactBelow: 0 }, batchSize: 64 });
  }, 120_000);
  afterAll(() => served.dispose());

  it('recommends unseen items of the user’s own taste group, best first, with the decoder’s logits', () => {
    const u = 0;
    const g = data.group[u];
    const history = row(data.histories, u);
    const recs = served.recommend(history, 10, seenOf(data.histories, u));
    expect(recs).toHaveLength(10);
    const seen = seenOf(data.histories, u);
    for (const r of recs) expect(seen.has(r.index)).toBe(false);
    expect(recs.filter((r) => Math.floor(r.index / 40) === g).length).toBeGreaterThanOrEqual(8);
    for (let k = 1; k < recs.length; k++) expect(recs[k - 1].score).toBeGreaterThanOrEqual(recs[k].score);
    const probs = served.reconstruct(history);
    expect(probs.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 4);
    expect(probs[recs[0].index]).toBeGreaterThan(probs[recs[9].index]);
  });

  it('restricts recommendations to candidates when given', () => {
    const recs = served.recommend(row(data.histories, 0), 5, seenOf(data.histories, 0), [150, 151, 152]);
    const seen = seenOf(data.histories, 0);
    expect(recs).toHaveLength([150, 151, 152].filter((i) => !seen.has(i)).length);
    for (const r of recs) expect([150, 151, 152]).toContain(r.index);
  });

  it('finds similar items in the same group and similar users with the same taste', () => {
    const similar = served.similarItems(5, 10);
    expect(similar.map((n) => n.index)).not.toContain(5);
    expect(similar.filter((n) => Math.floor(n.index / 40) === 0).length).toBeGreaterThanOrEqual(8);
    const users = served.similarUsers(row(data.histories, 0), 10, 0);
    expect(users.map((n) => n.index)).not.toContain(0);
    expect(users.filter((n) => data.group[n.index] === data.group[0]).length).toBeGreaterThanOrEqual(9);
  });

  it('ranks the random-history users as the most anomalous, with percentiles', () => {
    const top = served.anomalies(10);
    expect(top.filter((a) => a.row >= 300).length).toBeGreaterThanOrEqual(8);
    expect(top[0].percentile).toBe(100);
    expect(served.populationSize).toBe(310);
    const err = served.reconstructionError(row(data.histories, 305));
    expect(err).toBeCloseTo(served.errors[305], 4);
    expect(served.percentile(err)).toBeGreaterThan(90);
    expect(served.percentile(-1)).toBe(0);
    expect(Number.isNaN(served.reconstructionError(csrFromTriples(1, 160, [], [])))).toBe(true);
  });

  it('exports embeddings of the served dimensions', () => {
    expect(served.userEmbedding(row(data.histories, 0))).toHaveLength(8);
    expect(served.itemEmbedding(3)).toHaveLength(32);
    expect(() => served.itemEmbedding(160)).toThrow(RangeError);
  });
});

describe('ServedModel loading', () => {
  it('stores item graphs once and loads them afterwards; defers the population when asked', async () => {
    const data = tasteData(4, 5);
    const dae = await MultDAE.fit(tf, data.histories, { latentDim: 8, epochs: 5, batchSize: 50, seed: 1 });
    const stored = new Map<string, Uint8Array>();
    const calls: string[] = [];
    const store = {
      get: async (name: string, params: Record<string, unknown>) => {
        calls.push(`get ${name}`);
        return stored.get(name + JSON.stringify(params)) ?? null;
      },
      put: async (name: string, params: Record<string, unknown>, bytes: Uint8Array) => {
        calls.push(`put ${name}`);
        stored.set(name + JSON.stringify(params), bytes);
      },
    };
    const options = { index: { exactBelow: 0 }, indexStore: store };
    const first = await ServedModel.load(dae, { histories: data.histories }, options);
    expect(calls).toEqual(['get items-ip', 'put items-ip', 'get items-cosine', 'put items-cosine']);
    const history = row(data.histories, 0);
    const expected = first.recommend(history, 10);
    calls.length = 0;
    const second = await ServedModel.load(dae, { histories: data.histories }, { ...options, deferPopulation: true });
    expect(calls).toEqual(['get items-ip', 'get items-cosine']);
    expect(second.recommend(history, 10)).toEqual(expected);
    expect(() => second.anomalies(3)).toThrow(/not ready/);
    await second.populationReady();
    expect(second.populationSize).toBe(305);
    expect(second.anomalies(3)).toEqual(first.anomalies(3));
    second.dispose();
  });
});

describe('ServedModel (other kinds)', () => {
  it('Mult-DAE: softmax reconstructions and an exact index below the threshold', async () => {
    const data = tasteData(2, 0);
    const dae = await MultDAE.fit(tf, data.histories, {
      latentDim: 8,
      epochs: 20,
      batchSize: 50,
      learningRate: 5e-3,
      seed: 1,
    });
    const served = await ServedModel.load(dae, { histories: data.histories });
    expect(served.searchKind).toBe('exact');
    expect(served.scoreUnit).toBe('probability');
    const logits = dae.reconstruct(row(data.histories, 1));
    expect(Array.from(served.reconstruct(row(data.histories, 1)))).toEqual(Array.from(softmax(logits)));
    served.dispose();
  });

  it('AutoRec: ratings clipped to [1, 5], RMSE as the error, predictRatings for chosen items', async () => {
    const rng = new Random(5);
    const rows: number[] = [];
    const cols: number[] = [];
    const vals: number[] = [];
    for (let u = 0; u < 60; u++) {
      for (let i = 0; i < 30; i++) {
        if (rng.uniform() < 0.4) {
          rows.push(u);
          cols.push(i);
          vals.push(1 + ((u + i) % 5));
        }
      }
    }
    const ratings = csrFromTriples(60, 30, rows, cols, vals);
    const model = await AutoRec.fit(tf, ratings, { hidden: 16, epochs: 30, lambda: 1, seed: 2 });
    const served = await ServedModel.load(model, {
      histories: ratings,
      trainingRows: Int32Array.from({ length: 60 }, (_, u) => u),
    });
    expect(served.scoreUnit).toBe('rating');
    const history = row(ratings, 3);
    const recon = served.reconstruct(history);
    for (const x of recon) expect(x >= 1 && x <= 5).toBe(true);
    const predicted = served.predictRatings(history, [0, 7]);
    expect(predicted[0]).toBeCloseTo(recon[0], 4);
    expect(predicted[1]).toBeCloseTo(recon[7], 4);
    const e = served.reconstructionError(history);
    expect(e).toBeGreaterThan(0);
    expect(e).toBeLessThan(2.5);
    served.dispose();
  });

  it('EASE: exact scores, item–item weights for similar items, no embeddings', async () => {
    const data = tasteData(3, 0);
    const ease = Ease.fit(data.histories, { lambda: 10 });
    const served = await ServedModel.load(ease, { histories: data.histories });
    const history = row(data.histories, 0);
    const recs = served.recommend(history, 5, seenOf(data.histories, 0));
    const scores = ease.score(history);
    expect(recs[0].score).toBeCloseTo(
      Math.max(...Array.from(scores).filter((_, i) => !seenOf(data.histories, 0).has(i))),
      5,
    );
    expect(served.similarItems(0, 5).every((n) => n.index < 40)).toBe(true);
    expect(served.hasEmbeddings).toBe(false);
    expect(() => served.userEmbedding(history)).toThrow(/EASE/);
    expect(served.anomalies(3)).toHaveLength(3);
  });

  it("similar items: the per-kind recipe, the population's co-occurrence mixed in once it is read", async () => {
    const data = tasteData(5, 0);
    const ease = Ease.fit(data.histories, { lambda: 10 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const served = await ServedModel.load(
      ease,
      async () => {
        await gate;
        return { histories: data.histories };
      },
      { index: {}, deferPopulation: true },
    );
    const expected = (interactions?: CsrMatrix) => {
      const scorer = itemSimilarityScorer({ numItems: ease.numItems, easeWeights: ease.weights, interactions });
      const out = new Float32Array(ease.numItems);
      scorer(7, out);
      out[7] = Number.NaN;
      return Array.from(out.keys())
        .filter((j) => out[j] === out[j])
        .sort((a, b) => out[b] - out[a] || a - b)
        .slice(0, 10);
    };
    // Before the population is read: EASE's column B[·, i] alone.
    expect(served.similarItemsFinal).toBe(false);
    expect(served.similarItems(7, 10).map((n) => n.index)).toEqual(expected());
    release();
    await served.populationReady();
    expect(served.similarItemsFinal).toBe(true);
    const withPopulation = expected(data.histories);
    expect(withPopulation).not.toEqual(expected());
    expect(served.similarItems(7, 10).map((n) => n.index)).toEqual(withPopulation);
    expect(served.similarItems(7, 10).every((n) => n.index < 40)).toBe(true);
    served.dispose();
  });

  it('Ensemble: ranks by the blend AUTO evaluated, embeddings and reconstructions from its autoencoder', async () => {
    const data = tasteData(4, 0);
    const ease = Ease.fit(data.histories, { lambda: 10 });
    const dae = await MultDAE.fit(tf, data.histories, {
      latentDim: 8,
      epochs: 10,
      batchSize: 50,
      learningRate: 5e-3,
      seed: 1,
    });
    const ensemble = new Ensemble([
      { model: ease, weight: 0.7 },
      { model: dae, weight: 0.3 },
    ]);
    const served = await ServedModel.load(ensemble, { histories: data.histories });
    expect(served.kind).toBe('ensemble');
    expect(served.hasEmbeddings).toBe(true);
    expect(served.userDim).toBe(8);
    for (const u of [0, 1, 2]) {
      const history = row(data.histories, u);
      const seen = seenOf(data.histories, u);
      // The served ranking is the top of Ensemble.score, the function the AUTO search scored.
      const blend = ensemble.score(history);
      const expected = Array.from(blend.keys())
        .filter((i) => !seen.has(i))
        .sort((a, b) => blend[b] - blend[a] || a - b)
        .slice(0, 10);
      expect(served.recommend(history, 10, seen).map((n) => n.index)).toEqual(expected);
    }
    const history = row(data.histories, 0);
    expect(Array.from(served.reconstruct(history))).toEqual(Array.from(softmax(dae.reconstruct(history))));
    expect(Array.from(served.userEmbedding(history))).toEqual(Array.from(dae.encode(history)));
    expect(served.similarItems(0, 5)).toHaveLength(5);
    expect(served.similarUsers(history, 3, 0)).toHaveLength(3);
    expect(served.anomalies(2)).toHaveLength(2);
    // A raw autoencoder score lands on the blend's scale as an item EASE knows nothing of (score 0).
    const rank = served.ranker(history);
    const [me, se] = rowStats(ease.score(history), 0, 160);
    const [md, sd] = rowStats(dae.reconstruct(history), 0, 160);
    expect(rank.toRankingScore(2.5)).toBeCloseTo((0.7 * (0 - me)) / se + (0.3 * (2.5 - md)) / sd, 5);
    expect(Array.from(rank.query!)).toEqual(Array.from(dae.userQueries(history)));
    served.dispose();
  });
});

describe('centreRows', () => {
  it('subtracts the column means in place and returns them', () => {
    const m = Float32Array.from([1, 10, 3, 14, 5, 12]);
    const mean = centreRows(m, 2);
    expect(Array.from(mean)).toEqual([3, 12]);
    expect(Array.from(m)).toEqual([-2, -2, 0, 2, 2, 0]);
    expect(Array.from(centreRows(new Float32Array(0), 3))).toEqual([0, 0, 0]);
  });
});
