import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../core/data/csr.js';
import { Random } from '../core/data/random.js';
import { initBackend } from '../core/engine/backend.js';
import { excludeSet } from '../core/index/top-k.js';
import { Ease } from '../core/models/ease.js';
import { Ensemble } from '../core/models/ensemble.js';
import { MultDAE } from '../core/models/mult-dae.js';
import { populationModelWork, ServedModel } from '../core/serving/served-model.js';
import { ModelPool } from './model-pool.js';

/** 120 users over 80 items in four taste groups. */
function histories(): CsrMatrix {
  const rng = new Random(5);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 120; u++) {
    const g = rng.int(4);
    for (let k = 0; k < 4 + rng.int(20); k++) {
      rows.push(u);
      cols.push(rng.uniform() < 0.8 ? g * 20 + rng.int(20) : rng.int(80));
    }
  }
  return csrFromTriples(120, 80, rows, cols);
}

/** Every row's top 30 (and the ranking query): from the pool's material vs ranked in this thread. */
async function expectPoolEqualsInline(
  pool: ModelPool,
  id: number,
  served: ServedModel,
  data: CsrMatrix,
): Promise<void> {
  const rows = Array.from({ length: data.numRows }, (_, r) => r);
  const batch = csrSelectRows(data, rows);
  const here = served.rankers(batch);
  const there = served.rankersFrom(await pool.score(id, batch, served.exactScoring), rows.length);
  rows.forEach((r) => {
    const seen = excludeSet(data.indices.subarray(data.indptr[r], data.indptr[r + 1]));
    expect(there[r](30, seen)).toEqual(here[r](30, seen));
    expect(there[r].query).toEqual(here[r].query);
    expect(there[r].toRankingScore(0.25)).toBe(here[r].toRankingScore(0.25));
  });
}

describe('ModelPool (serving model threads)', () => {
  const data = histories();
  let pool: ModelPool;

  beforeAll(async () => {
    await initBackend();
    pool = new ModelPool({ threads: 2, backend: 'auto', deadlineMs: 60_000 });
  });
  afterAll(() => pool.onApplicationShutdown());

  it('scores batches in its threads exactly as the event loop does: EASE, Mult-DAE, ensemble', async () => {
    const ease = Ease.fit(data, { lambda: 10 });
    const dae = await MultDAE.fit(tf, data, { latentDim: 8, epochs: 3, batchSize: 40, seed: 1 });
    const ensemble = new Ensemble([
      { model: Ease.fit(data, { lambda: 20 }), weight: 0.5 },
      { model: await MultDAE.fit(tf, data, { latentDim: 8, epochs: 3, batchSize: 40, seed: 2 }), weight: 0.5 },
    ]);
    // [id, kind, model, exactBelow]: the DAE both through its HNSW graph and scored exactly.
    const versions: [number, string, Ease | MultDAE | Ensemble, number][] = [
      [1, 'EASE', ease, 0],
      [2, 'DAE', dae, 0],
      [3, 'ENSEMBLE', ensemble, 0],
      [4, 'DAE', await MultDAE.fit(tf, data, { latentDim: 8, epochs: 3, batchSize: 40, seed: 1 }), 1000],
    ];
    for (const [id, kind, model, exactBelow] of versions) {
      await pool.load(id, kind, model.toBytes());
      expect(pool.serves(id)).toBe(true);
      const served = await ServedModel.load(model, { histories: data }, { index: { exactBelow } });
      expect(served.exactScoring).toBe(kind !== 'DAE' || exactBelow > 0);
      await expectPoolEqualsInline(pool, id, served, data);
      served.dispose();
    }
    expect(pool.stats.scored).toBe(4);
  }, 120_000);

  it('unloads versions, and replaces a thread that died with one holding every served version', async () => {
    const ease = Ease.fit(data, { lambda: 10 });
    await pool.load(7, 'EASE', ease.toBytes());
    pool.unload(1);
    expect(pool.serves(1)).toBe(false);
    await expect(pool.score(1, csrSelectRows(data, [0]))).rejects.toThrow(/not loaded/);
    const slots = (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    await Promise.all(slots.map((s) => s.worker.terminate()));
    const served = await ServedModel.load(ease, { histories: data });
    await expectPoolEqualsInline(pool, 7, served, data);
    expect(pool.stats.replaced).toBeGreaterThanOrEqual(2);
    served.dispose();
  }, 60_000);

  it("computes a population's errors and vectors and the similar-item lists in a thread exactly as the event loop does", async () => {
    const dae = await MultDAE.fit(tf, data, { latentDim: 8, epochs: 3, batchSize: 40, seed: 3 });
    const ease = Ease.fit(data, { lambda: 10 });
    for (const [id, kind, model] of [
      [11, 'DAE', dae],
      [12, 'EASE', ease],
    ] as const) {
      await pool.load(id, kind, model.toBytes());
      const rows = Int32Array.from({ length: data.numRows }, (_, r) => r).filter(
        (r) => data.indptr[r + 1] > data.indptr[r],
      );
      // Chunks of 50 rows: the parts are stitched back in order.
      const there = await pool.population(id, { histories: data }, rows, 50);
      const here = populationModelWork(model, { histories: data }, rows);
      expect(there.errors).toEqual(here.errors);
      expect(there.vectors).toEqual(here.vectors);
      const served = await ServedModel.load(model, { histories: data }, { index: {} });
      const deleted = Int32Array.from([5, 17]);
      const lists = (await pool.similarLists(id, 10, 30, 12, deleted))!;
      expect(served.similarItemsFinal && served.similarItemsByScorer).toBe(true);
      for (let c = 10; c < 30; c++) {
        const want = served.similarItems(c, 12, excludeSet(deleted));
        const got = Array.from(lists.indices.subarray((c - 10) * 12, (c - 9) * 12)).filter((i) => i >= 0);
        expect(got).toEqual(want.map((n) => n.index));
        expect(Array.from(lists.scores.subarray((c - 10) * 12, (c - 10) * 12 + got.length))).toEqual(
          want.map((n) => Math.fround(n.score)),
        );
        expect(got).not.toContain(c);
        expect(got).not.toContain(5);
      }
      served.dispose();
      pool.unload(id);
      await expect(pool.similarLists(id, 0, 1, 5, deleted)).rejects.toThrow(/population/);
    }
  }, 120_000);

  it('refuses a version it was never given', async () => {
    expect(pool.serves(99)).toBe(false);
    await expect(pool.score(99, csrSelectRows(data, [0]))).rejects.toThrow(/not loaded/);
  });
});
