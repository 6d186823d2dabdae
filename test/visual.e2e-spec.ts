import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PNG } from 'pngjs';
import { Random } from '../src/core/data/random.js';
import { bootApp, gql, truncateAll } from './helpers.js';
import { trainingRun, trainModel, waitFor } from './training-data.js';

const SIZE = 16;
const CLASSES = 3;
const PER_CLASS = 24;
/** The last NEW_PER_CLASS items of each class get an image but no interactions (cold start). */
const NEW_PER_CLASS = 4;
const id = (c: number, i: number) => `s${c}-${i}`;
const classOf = (itemId: string) => Number(itemId.slice(1, itemId.indexOf('-')));

/** A 16×16 grayscale PNG of class c: horizontal bars, vertical bars or a centred square, with noise. */
function shapePng(c: number, rng: Random): string {
  const png = new PNG({ width: SIZE, height: SIZE });
  const phase = rng.int(4);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const on =
        c === 0
          ? (y + phase) % 4 < 2
          : c === 1
            ? (x + phase) % 4 < 2
            : Math.abs(x - 7.5) < 4 + (phase % 2) && Math.abs(y - 7.5) < 4 + (phase % 2);
      const v = Math.max(0, Math.min(255, (on ? 220 : 30) + Math.round((rng.uniform() - 0.5) * 60)));
      const o = (y * SIZE + x) * 4;
      png.data[o] = png.data[o + 1] = png.data[o + 2] = v;
      png.data[o + 3] = 255;
    }
  return PNG.sync.write(png).toString('base64');
}

/**
 * The convolutional item autoencoder end to end: images set over GraphQL, a CONV_AE run trained by
 * the worker thread and activated, visual similarity, reconstructed thumbnails, and cold start
 * (new items with an image and no interactions recommended through predicted vectors).
 */
describe('item images → visual model over GraphQL', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp({ trainingWorker: 'thread', images: { size: SIZE, channels: 1, maxBytes: 1 << 20 } });
    const rng = new Random(7);
    const items = [];
    for (let c = 0; c < CLASSES; c++)
      for (let i = 0; i < PER_CLASS; i++) items.push({ id: id(c, i), title: `Shape ${c}/${i}`, categories: [`c${c}`] });
    expect(
      (await gql(app, 'mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }', { items })).errors,
    ).toBeUndefined();
    for (const item of items) {
      const res = await gql(
        app,
        'mutation($id: ID!, $image: String!) { setItemImage(itemId: $id, image: $image) { size } }',
        { id: item.id, image: shapePng(classOf(item.id), rng) },
      );
      expect(res.errors).toBeUndefined();
    }
    // Users like 8 old items of one class; new items get no interactions.
    const interactions = [];
    for (let u = 0; u < 90; u++) {
      const c = u % CLASSES;
      const picked = new Set<number>();
      while (picked.size < 8) picked.add(rng.int(PER_CLASS - NEW_PER_CLASS));
      for (const i of picked) interactions.push({ userId: `u${u}`, itemId: id(c, i) });
    }
    expect(
      (
        await gql(
          app,
          'mutation($i: [RecordInteractionInput!]!) { recordInteractions(interactions: $i) { createdUsers } }',
          { i: interactions },
        )
      ).errors,
    ).toBeUndefined();
  }, 60_000);
  afterAll(async () => app?.close());

  it('visual queries need an active visual model', async () => {
    const res = await gql(app, '{ similarItems(itemId: "s0-0", by: VISUAL) { score } }');
    expect(res.errors![0].extensions.code).toBe('NO_ACTIVE_MODEL');
  });

  let daeVersion: number;
  it('trains a collaborative DAE and a CONV_AE through trainModel; both serve', async () => {
    const dae = await trainModel(app, {
      kind: 'DAE',
      epochs: 40,
      activate: 'ALWAYS',
      hyperparameters: { latentDim: 8, batchSize: 16, learningRate: 5e-3 },
    });
    const daeRun = await waitFor(
      () => trainingRun(app, dae),
      (r) => ['SUCCEEDED', 'FAILED'].includes(r.status),
      90_000,
    );
    expect(daeRun).toMatchObject({ status: 'SUCCEEDED', activated: true });
    daeVersion = daeRun.versionId;
    const conv = await trainModel(app, {
      kind: 'CONV_AE',
      epochs: 25,
      activate: 'IF_BETTER',
      hyperparameters: { latentDim: 8, filters: [8, 16], batchSize: 16, learningRate: 5e-3 },
    });
    const run = await waitFor(
      () => trainingRun(app, conv),
      (r) => ['SUCCEEDED', 'FAILED'].includes(r.status),
      120_000,
    );
    expect(run).toMatchObject({ status: 'SUCCEEDED', activated: true, comparison: { metric: 'mse', active: null } });
    expect(run.history).toHaveLength(25);
    expect(run.history.at(-1).validation).toBeLessThan(run.history[0].validation);
    expect(run.modelVersion.metrics.validation.mse).toBeGreaterThan(0);
    await waitFor(
      () => gql(app, '{ modelVersions { id kind active } servingStatus { modelVersion { id } } }'),
      (r) =>
        r.data!.servingStatus.modelVersion?.id === daeVersion &&
        r.data!.modelVersions.every((v: { active: boolean }) => v.active),
      30_000,
    );
  }, 240_000);

  it('similarItems(by: VISUAL) returns items of the same shape', async () => {
    let same = 0;
    let total = 0;
    for (const q of [id(0, 1), id(1, 2), id(2, 3), id(0, 22), id(1, 23)]) {
      const res = await gql(app, '{ similarItems(itemId: "' + q + '", limit: 10, by: VISUAL) { score item { id } } }');
      expect(res.errors).toBeUndefined();
      const found = res.data!.similarItems as { score: number; item: { id: string } }[];
      expect(found).toHaveLength(10);
      expect(found.map((f) => f.item.id)).not.toContain(q);
      same += found.filter((f) => classOf(f.item.id) === classOf(q)).length;
      total += found.length;
    }
    expect(same / total).toBeGreaterThanOrEqual(0.8);
    const none = await gql(app, 'mutation { upsertItems(items: [{ id: "no-image" }]) { id } }');
    expect(none.errors).toBeUndefined();
    const missing = await gql(app, '{ similarItems(itemId: "no-image", by: VISUAL) { score } }');
    expect(missing.errors![0].extensions).toMatchObject({ code: 'NOT_IN_MODEL', field: 'itemId' });
  });

  it('reconstructImage returns a decodable thumbnail with its error and percentile', async () => {
    const res = await gql(app, '{ reconstructImage(itemId: "s1-4") { modelVersionId png error percentile } }');
    expect(res.errors).toBeUndefined();
    const r = res.data!.reconstructImage;
    const png = PNG.sync.read(Buffer.from(r.png, 'base64'));
    expect([png.width, png.height]).toEqual([SIZE, SIZE]);
    expect(r.error).toBeGreaterThan(0);
    expect(r.error).toBeLessThan(0.1);
    expect(r.percentile).toBeGreaterThan(0);
    expect(r.percentile).toBeLessThanOrEqual(100);
  });

  it('recommends new items (an image, no interactions) to users of their look, marked COLD_START', async () => {
    const cold: string[] = [];
    let matching = 0;
    for (const u of ['u0', 'u1', 'u2', 'u3', 'u4', 'u5']) {
      const res = await gql(
        app,
        '{ recommendations(userId: "' + u + '", limit: 20) { modelVersionId items { source score item { id } } } }',
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.recommendations.modelVersionId).toBe(daeVersion);
      for (const it of res.data!.recommendations.items as { source: string; item: { id: string } }[]) {
        if (it.source !== 'COLD_START') continue;
        cold.push(it.item.id);
        if (classOf(it.item.id) === Number(u.slice(1)) % CLASSES) matching++;
        expect(Number(it.item.id.split('-')[1])).toBeGreaterThanOrEqual(PER_CLASS - NEW_PER_CLASS);
      }
    }
    expect(cold.length).toBeGreaterThan(0);
    expect(matching / cold.length).toBeGreaterThanOrEqual(0.7);
  });
});
