import { csrFromTriples } from '../core/data/csr.js';
import { initBackend } from '../core/engine/backend.js';
import { MultDAE } from '../core/models/mult-dae.js';
import { createPrismaClient } from '../database/prisma.service.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import pg from 'pg';
import { activateModelVersion } from './activation.js';
import {
  activeModelVersionId,
  getModelVersion,
  listModelVersions,
  loadModelVersion,
  saveModelVersion,
} from './model-versions.queries.js';

describe('model registry (real Postgres)', () => {
  let prisma: PrismaClient;
  let pool: pg.Pool;

  beforeAll(async () => {
    const url = process.env.RECODER_TEST_DATABASE_URL;
    if (!url) throw new Error('RECODER_TEST_DATABASE_URL is unset: run through npm test');
    prisma = createPrismaClient(url, 2);
    pool = new pg.Pool({ connectionString: url, max: 1 });
    await prisma.activeModel.deleteMany(); // other test files may have left a version active
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await pool.end();
  });

  it('stores a trained version and loads it back into an identical model', async () => {
    const { tf } = await initBackend();
    const rows: number[] = [];
    const cols: number[] = [];
    for (let u = 0; u < 30; u++) {
      for (let k = 0; k < 4; k++) {
        rows.push(u);
        cols.push((u * 3 + k * 5) % 20);
      }
    }
    const train = csrFromTriples(30, 20, rows, cols);
    const model = await MultDAE.fit(tf, train, { epochs: 2, latentDim: 4, batchSize: 10, seed: 3 });
    const saved = await saveModelVersion(prisma, {
      name: 'tiny-dae',
      kind: 'DAE',
      hyperparameters: { ...model.hyperparameters },
      metrics: { validation: { 'ndcg@100': 0.5 } },
      interactionCount: rows.length,
      dataLatestAt: new Date('2024-01-01T00:00:00Z'),
      itemIds: Array.from({ length: 20 }, (_, i) => `item-${i}`),
      weights: model.toBytes(),
      trainingSeconds: 1.5,
    });
    expect(saved).toMatchObject({ name: 'tiny-dae', kind: 'DAE', interactionCount: 120, activatedAt: null });
    expect(saved.weightsBytes).toBe(model.toBytes().byteLength);

    const loaded = await loadModelVersion(pool, saved.id);
    expect(loaded!.itemIds[19]).toBe('item-19');
    expect(loaded!.metrics).toEqual({ validation: { 'ndcg@100': 0.5 } });
    const back = MultDAE.fromBytes(tf, loaded!.weights);
    expect(Array.from(back.toBytes())).toEqual(Array.from(model.toBytes())); // bit-identical round trip
    const history = csrFromTriples(2, 20, [0, 0, 1], [1, 6, 11]);
    expect(Array.from(back.reconstruct(history))).toEqual(Array.from(model.reconstruct(history)));
    back.dispose();
    model.dispose();

    expect((await listModelVersions(prisma)).map((v) => v.id)).toContain(saved.id);
    expect(await activeModelVersionId(prisma)).toBeNull();
    expect(await activateModelVersion(prisma, saved.id)).toBe(true);
    expect(await activeModelVersionId(prisma)).toBe(saved.id);
    expect(await activateModelVersion(prisma, 999_999)).toBe(false);
    expect(await loadModelVersion(pool, 999_999)).toBeNull();

    // The loader's row (plain pg) has the summary's shape and values, as the Prisma statements read them.
    const viaPg = await loadModelVersion(pool, saved.id);
    const summary = await getModelVersion(prisma, saved.id);
    const { itemIds, userIds, weights, ...rest } = viaPg!;
    expect(rest).toEqual(summary);
    expect({ itemIds, userIds, weights: Array.from(weights) }).toEqual({
      itemIds: loaded!.itemIds,
      userIds: null,
      weights: Array.from(loaded!.weights),
    });
  });

  it('reads the weights in slices (large versions exceed a V8 string as hex): the loader returns every byte', async () => {
    const weights = new Uint8Array(10_007);
    for (let i = 0; i < weights.length; i++) weights[i] = (i * 131 + 7) & 255;
    const version = (name: string) => ({
      name,
      kind: 'EASE' as const,
      hyperparameters: {},
      metrics: {},
      interactionCount: 1,
      dataLatestAt: null,
      itemIds: ['a'],
      weights,
      trainingSeconds: 0,
    });
    const saved = await saveModelVersion(prisma, version('sliced'));
    // Written in slices too (large versions exceed a V8 string as base64): one transaction, every byte.
    const sliced = await saveModelVersion(prisma, version('sliced-write'), 3000);
    expect(sliced.weightsBytes).toBe(10_007);
    expect(Buffer.from((await loadModelVersion(pool, sliced.id, 4096))!.weights).equals(Buffer.from(weights))).toBe(
      true,
    );
    for (const chunk of [1000, 4096, 10_007, 1 << 20]) {
      expect(Buffer.from((await loadModelVersion(pool, saved.id, chunk))!.weights).equals(Buffer.from(weights))).toBe(
        true,
      );
    }
  });
});
