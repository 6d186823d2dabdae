import pg from 'pg';
import { initBackend } from '../src/core/engine/backend.js';
import type { Tf } from '../src/core/models/autorec.js';
import { loadModelVersion } from '../src/registry/model-versions.queries.js';
import { modelFromArtifact } from '../src/registry/model-artifact.js';
import {
  buildVersionPopulation,
  computePopulation,
  internalItemColumns,
  loadPopulation,
  PopulationStopped,
  readPopulationHistories,
} from '../src/registry/population.js';
import { PopulationThreads } from '../src/registry/population-threads.js';
import { loadVersion, type LoadedVersion } from '../src/serving/loaded-version.js';
import { userWithHistory } from '../src/serving/serving.queries.js';
import { testDatabaseUrl, truncateAll } from './helpers.js';
import { GROUPS, itemId, PER_GROUP, tasteInteractions, trainTestVersion } from './training-data.js';

/**
 * A version's population computed once and stored (src/registry/population.ts) serves exactly the
 * answers of the population each API process used to compute at activation: same rows, errors,
 * percentiles, anomalies, similar users (through the HNSW user index, built or loaded from its
 * stored graph) and similar items.
 */
/** Same length, every value within `tolerance` (NaN where the other is NaN). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let k = 0; k < want.length; k++) {
    if (Number.isNaN(want[k])) expect(got[k]).toBeNaN();
    else worst = Math.max(worst, Math.abs(got[k] - want[k]));
  }
  expect(worst).toBeLessThan(tolerance);
}

describe('stored population (real Postgres)', () => {
  let pool: pg.Pool;
  let tf: Tf;
  const loaded: LoadedVersion[] = [];

  beforeAll(async () => {
    await truncateAll();
    tf = (await initBackend()).tf;
    pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
    const items: string[] = [];
    for (let g = 0; g < GROUPS; g++) for (let i = 0; i < PER_GROUP; i++) items.push(itemId(g, i));
    await pool.query(`INSERT INTO items (external_id, title) SELECT x, x FROM unnest($1::text[]) AS x`, [items]);
    const events = tasteInteractions(160, 7);
    await pool.query(`INSERT INTO users (external_id) SELECT DISTINCT x FROM unnest($1::text[]) AS x`, [
      events.map((e) => e.userId),
    ]);
    await pool.query(
      `INSERT INTO interactions (user_id, item_id, kind)
       SELECT u.id, i.id, 'VIEW' FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(uid, iid, n)
       JOIN users u ON u.external_id = e.uid JOIN items i ON i.external_id = e.iid ORDER BY e.n`,
      [events.map((e) => e.userId), events.map((e) => e.itemId)],
    );
  });

  afterAll(async () => {
    for (const v of loaded) v.dispose();
    await pool.end();
  });

  /** The serving index options of these tests: HNSW above 50 vectors, so the user index is a graph. */
  const INDEX = { exactBelow: 50, hnsw: { m: 8, efConstruction: 64, ef: 64, seed: 100 } };

  /** Loads a version as an API process does. */
  async function load(id: number, computePopulation: boolean): Promise<LoadedVersion> {
    const artifact = await loadModelVersion(pool, id);
    const v = await loadVersion(pool, artifact!, {
      tf,
      computePopulation,
      served: {
        index: INDEX,
        deferPopulation: true,
      },
    });
    loaded.push(v);
    await v.served.populationReady();
    await v.warmSimilarItems(() => Promise.resolve());
    return v;
  }

  function expectSameAnswers(stored: LoadedVersion, computed: LoadedVersion): void {
    expect(stored.populationSource).toBe('stored');
    expect(computed.populationSource).toBe('computed');
    expect(stored.userOfRow).toEqual(computed.userOfRow);
    expect(stored.served.populationSize).toBe(160);
    expect(stored.served.errors).toEqual(computed.served.errors);
    expect(stored.served.anomalies(20)).toEqual(computed.served.anomalies(20));
    for (const error of [0, computed.served.errors[5], computed.served.errors[77], 1e9])
      expect(stored.served.percentile(error)).toBe(computed.served.percentile(error));
    for (const user of [0, 1, 42, 99, 159]) expect(stored.rowOf(stored.userOfRow[user])).toBe(user);
    for (let col = 0; col < stored.served.numItems; col++)
      expect(stored.similarItems(col, 30)).toEqual(computed.similarItems(col, 30));
  }

  it('Mult-VAE: similar users, anomaly scores and similar items are the ones computed at activation', async () => {
    const id = await trainTestVersion({ kind: 'vae', epochs: 5 });
    expect(await loadPopulation(pool, id, GROUPS * PER_GROUP)).toBeNull();
    const computed = await load(id, true);

    const built = await buildVersionPopulation(tf, pool, id, { index: INDEX });
    expect(built).toMatchObject({ users: 160, lists: true });
    expect(await buildVersionPopulation(tf, pool, id, { index: INDEX })).toBeNull(); // once per version
    // The user graph of the stored vectors is stored with them: processes load it, none builds it.
    const graph = async () =>
      (
        await pool.query(`SELECT params, created_at AS "at" FROM model_indexes WHERE version_id = $1 AND name = $2`, [
          id,
          'users-cosine',
        ])
      ).rows[0];
    const before = await graph();
    expect(before.params).toMatchObject({ metric: 'cosine', size: 160, m: 8, key: expect.stringMatching(`^${id}@`) });
    const stored = await load(id, false);
    expectSameAnswers(stored, computed);
    expect(stored.served.populationLatent).toEqual(computed.served.populationLatent);
    const again = await load(id, false);
    expect((await graph()).at).toEqual(before.at); // loaded, not rebuilt and stored again
    for (const user of ['u0', 'u3', 'u80', 'u158']) {
      const { userId, history: entries } = (await userWithHistory(pool, user))!;
      const history = stored.historyRow(entries);
      const expected = computed.served.similarUsers(history, 10, computed.rowOf(userId));
      expect(expected).toHaveLength(10);
      expect(stored.served.similarUsers(history, 10, stored.rowOf(userId))).toEqual(expected);
      expect(again.served.similarUsers(history, 10, again.rowOf(userId))).toEqual(expected);
      const error = computed.served.reconstructionError(history);
      expect(stored.served.percentile(stored.served.reconstructionError(history))).toBe(
        computed.served.percentile(error),
      );
    }
  });

  it('the item graphs are stored with the population, so an API process loads them instead of building them', async () => {
    const id = await trainTestVersion({ kind: 'dae', epochs: 2 });
    const graphs = async () =>
      (
        await pool.query<{ name: string; params: { size: number; metric: string }; at: Date }>(
          `SELECT name, params, created_at AS "at" FROM model_indexes WHERE version_id = $1 AND name LIKE 'items-%' ORDER BY name`,
          [id],
        )
      ).rows;
    expect(await graphs()).toEqual([]);
    await buildVersionPopulation(tf, pool, id, { index: INDEX });
    const stored = await graphs();
    const items = GROUPS * PER_GROUP;
    expect(stored).toEqual([
      {
        name: 'items-cosine',
        params: expect.objectContaining({ metric: 'cosine', size: items, m: 8 }),
        at: expect.any(Date),
      },
      { name: 'items-ip', params: expect.objectContaining({ metric: 'ip', size: items, m: 8 }), at: expect.any(Date) },
    ]);
    const served = await load(id, false);
    expect(await graphs()).toEqual(stored); // loaded as stored, not rebuilt
    expect(served.served.exactScoring).toBe(false); // the catalog is above INDEX.exactBelow: HNSW
    const similar = served.similarItems(0, 5);
    expect(similar).toHaveLength(5);
  });

  it('spread over worker threads, the population is the one computed on one thread (to float rounding)', async () => {
    const id = await trainTestVersion({ kind: 'dae', epochs: 2 });
    const artifact = (await loadModelVersion(pool, id))!;
    const model = modelFromArtifact(tf, artifact);
    try {
      const itemOfColumn = await internalItemColumns(pool, artifact.itemIds);
      const population = await readPopulationHistories(pool, { itemOfColumn, ratings: false, minRating: 3.5 });
      const deleted = new Int32Array(0);
      const serial = await computePopulation(model, population, deleted, { batchSize: 32 });
      const threads = await PopulationThreads.start(2, {
        backend: 'wasm',
        native: 'auto',
        kind: artifact.kind,
        weights: artifact.weights,
        histories: population.histories,
      });
      try {
        const spread = await computePopulation(model, population, deleted, { batchSize: 32, threads });
        // The threads' products round like this thread's to about 10⁻⁸ (not bit for bit).
        expectClose(spread.errors, serial.errors, 1e-6);
        expectClose(spread.vectors!, serial.vectors!, 1e-5);
        expectClose(spread.lists!.scores, serial.lists!.scores, 1e-5);
        expect(serial.lists!.indices.length).toBe(GROUPS * PER_GROUP * 150);
        let same = 0;
        for (let c = 0; c < GROUPS * PER_GROUP; c++) {
          const top = (l: { indices: Int32Array }) => Array.from(l.indices.subarray(c * 150, c * 150 + 10)).sort();
          if (top(spread.lists!).join() === top(serial.lists!).join()) same++;
        }
        expect(same).toBeGreaterThanOrEqual(GROUPS * PER_GROUP - 2);
        // A stop request ends the spread work as it ends the serial one.
        await expect(
          computePopulation(model, population, deleted, { threads, shouldStop: () => true }),
        ).rejects.toThrow(PopulationStopped);
      } finally {
        await threads.close();
      }
      // buildVersionPopulation with threads stores those lists.
      const built = await buildVersionPopulation(tf, pool, id, { index: INDEX, threads: 2, threadsFrom: 0 });
      expect(built).toMatchObject({ users: 160, lists: true });
      const stored = (await loadPopulation(pool, id, GROUPS * PER_GROUP))!;
      expectClose(stored.errors, serial.errors, 1e-6);
      expectClose(stored.lists!.scores, serial.lists!.scores, 1e-5);
    } finally {
      model.dispose();
    }
  });

  it('EASE: anomaly scores and similar items (co-occurrence included) are the ones computed at activation', async () => {
    const id = await trainTestVersion({ kind: 'ease', lambda: 50 });
    const computed = await load(id, true);
    expect(await buildVersionPopulation(tf, pool, id)).toMatchObject({ users: 160, lists: true });
    const stored = await load(id, false);
    expectSameAnswers(stored, computed);
  });
});
