import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { excludeSet } from '../index/top-k.js';
import { AutoRec } from '../models/autorec.js';
import { Ease } from '../models/ease.js';
import { Ensemble } from '../models/ensemble.js';
import { MultDAE } from '../models/mult-dae.js';
import { MultVAE } from '../models/mult-vae.js';
import { ServedModel, type ServableModel } from './served-model.js';

/** 200 users with 5–60 items each over 120 items (four taste groups), plus an empty history. */
function histories(seed: number, ratings = false): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let u = 0; u < 200; u++) {
    const g = rng.int(4);
    const n = 5 + rng.int(56);
    for (let k = 0; k < n; k++) {
      rows.push(u);
      cols.push(rng.uniform() < 0.8 ? g * 30 + rng.int(30) : rng.int(120));
      vals.push(ratings ? 1 + rng.int(5) : 1);
    }
  }
  return csrFromTriples(201, 120, rows, cols, vals);
}

/**
 * The property micro-batching relies on: ranking many histories in one forward pass gives every
 * history exactly the ranking (items and scores, bit for bit) it gets alone, at every k, with
 * exclusions and candidate lists, and the same cold-start query and score mapping.
 */
async function expectBatchedEqualsAlone(model: ServableModel, data: CsrMatrix, exactBelow: number): Promise<void> {
  const served = await ServedModel.load(model, { histories: data }, { index: { exactBelow } });
  try {
    const candidates = [3, 33, 63, 93, 100, 101];
    const limits = [1, 20, 120];
    const seenOf = (r: number) => excludeSet(data.indices.subarray(data.indptr[r], data.indptr[r + 1]));
    // Each history ranked alone: items and scores at several k, among candidates, and its query.
    const alone = Array.from({ length: data.numRows }, (_, r) => {
      const rank = served.ranker(csrSelectRows(data, [r]));
      const seen = seenOf(r);
      return {
        lists: limits.map((k) => rank(k, seen)),
        among: rank(4, seen, candidates),
        query: rank.query,
        mapped: rank.toRankingScore(0.5),
      };
    });
    // Batches of several sizes, rows in a shuffled order (a batch mixes unrelated users).
    const rng = new Random(9);
    const order = alone.map((_, r) => r).sort(() => rng.uniform() - 0.5);
    for (const size of [7, data.numRows]) {
      for (let start = 0; start < order.length; start += size) {
        const rows = order.slice(start, start + size);
        const batch = served.rankers(csrSelectRows(data, rows));
        expect(batch).toHaveLength(rows.length);
        rows.forEach((r, k) => {
          const seen = seenOf(r);
          expect(limits.map((limit) => batch[k](limit, seen))).toEqual(alone[r].lists);
          expect(batch[k](4, seen, candidates)).toEqual(alone[r].among);
          expect(batch[k].query).toEqual(alone[r].query);
          expect(batch[k].toRankingScore(0.5)).toBe(alone[r].mapped);
        });
      }
    }
  } finally {
    served.dispose();
  }
}

beforeAll(async () => {
  await initBackend();
});

describe('ServedModel.rankers: batched ranking equals ranking alone', () => {
  const data = histories(1);

  it('EASE', async () => {
    await expectBatchedEqualsAlone(Ease.fit(data, { lambda: 10 }), data, 2000);
  });

  it('Mult-VAE, exact search and HNSW', async () => {
    const vae = await MultVAE.fit(tf, data, { hiddenUnits: [32], latentDim: 8, epochs: 5, batchSize: 50, seed: 3 });
    await expectBatchedEqualsAlone(vae, data, 2000);
    const again = await MultVAE.fit(tf, data, { hiddenUnits: [32], latentDim: 8, epochs: 5, batchSize: 50, seed: 3 });
    await expectBatchedEqualsAlone(again, data, 0);
  }, 60_000);

  it('Mult-DAE', async () => {
    const dae = await MultDAE.fit(tf, data, { latentDim: 8, epochs: 5, batchSize: 50, seed: 1 });
    await expectBatchedEqualsAlone(dae, data, 0);
  }, 60_000);

  it('Ensemble (EASE + Mult-DAE)', async () => {
    const dae = await MultDAE.fit(tf, data, { latentDim: 8, epochs: 5, batchSize: 50, seed: 1 });
    const ensemble = new Ensemble([
      { model: Ease.fit(data, { lambda: 10 }), weight: 0.6 },
      { model: dae, weight: 0.4 },
    ]);
    await expectBatchedEqualsAlone(ensemble, data, 2000);
  }, 60_000);

  it('AutoRec', async () => {
    const ratings = histories(2, true);
    const model = await AutoRec.fit(tf, ratings, { hidden: 16, epochs: 5, lambda: 1, seed: 2 });
    await expectBatchedEqualsAlone(model, ratings, 2000);
  }, 60_000);

  it('refuses several rows in ranker()', async () => {
    const served = await ServedModel.load(Ease.fit(data, { lambda: 10 }), { histories: data });
    expect(() => served.ranker(csrSelectRows(data, [0, 1]))).toThrow(/one history/);
    served.dispose();
  });
});
