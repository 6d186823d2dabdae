import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { PROJECT_ROOT } from '../src/config/env.js';
import { importInteractions } from '../src/interactions/import/index.js';
import { bootApp, gql, testDatabaseUrl, truncateAll } from './helpers.js';
import { servedVersion, trainModel, waitFor } from './training-data.js';

/** Toy Story, A Bug's Life, Toy Story 2, Monsters Inc., Finding Nemo, The Incredibles, The Lion King, Aladdin. */
const PIXAR_DISNEY = ['1', '2355', '3114', '4886', '6377', '8961', '364', '588'];
const FAMILY = (categories: string[]) => categories.includes('Animation') || categories.includes('Children');
const ended = (r: Record<string, any>) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status);

/**
 * The demo's first answers, as a person who knows the films would judge them: on the shipped
 * MovieLens latest-small data, the model an AUTO run keeps must find family films for family films.
 * (The run is the demo's AUTO with caps that keep the suite short: one EASE λ, the one the demo's
 * own search picks, and at most 12 epochs of autoencoders with a 64-unit code.)
 */
describe('the demo data (MovieLens latest-small) served by an AUTO version', () => {
  let app: NestFastifyApplication;
  let run: Record<string, any>;

  beforeAll(async () => {
    await truncateAll();
    const client = new pg.Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      await importInteractions(client, {
        path: path.join(PROJECT_ROOT, 'data', 'ml-latest-small'),
        format: 'movielens-latest',
      });
    } finally {
      await client.end();
    }
    app = await bootApp({ trainingWorker: 'thread' });
    const id = await trainModel(app, {
      kind: 'AUTO',
      activate: 'ALWAYS',
      lambda: 125,
      epochs: 12,
      hyperparameters: { latentDim: 64, hiddenUnits: [] },
    });
    const read = async () =>
      (
        await gql(
          app,
          `query($id: Int!) { trainingRun(id: $id) { status error versionId candidates { name ndcg chosen } modelVersion { kind } } }`,
          { id },
        )
      ).data!.trainingRun;
    run = await waitFor(read, ended, 540_000, 1000);
    if (run.status !== 'SUCCEEDED') throw new Error(`AUTO run ${run.status}: ${run.error}`);
    await waitFor(
      () => servedVersion(app),
      (v) => v === run.versionId,
      120_000,
      500,
    );
  }, 720_000);
  afterAll(async () => {
    await app?.close();
  });

  it('keeps the best candidate of the search, an ENSEMBLE of EASE and one or both autoencoders', () => {
    expect(run.modelVersion.kind).toBe('ENSEMBLE');
    const chosen = run.candidates.find((c: { chosen: boolean }) => c.chosen);
    expect(chosen.name).toMatch(/^EASE λ=125 \+ Mult-(DAE|VAE)( \+ Mult-(DAE|VAE))?$/);
    const best = Math.max(...run.candidates.map((c: { ndcg: number | null }) => c.ndcg ?? -1));
    expect(chosen.ndcg).toBe(best);
  });

  it('similarItems for Toy Story (1995): at least 5 of 10 neighbours are Animation or Children', async () => {
    const res = await gql(app, `{ similarItems(itemId: "1", limit: 10) { score item { title categories } } }`);
    expect(res.errors).toBeUndefined();
    const titles = res.data!.similarItems.map((s: { item: { title: string } }) => s.item.title);
    const family = res.data!.similarItems.filter((s: { item: { categories: string[] } }) => FAMILY(s.item.categories));
    console.log(`[demo] similarItems(Toy Story): ${titles.join('; ')} — ${family.length}/10 Animation or Children`);
    expect(family.length).toBeGreaterThanOrEqual(5);
  });

  it('a new user who likes eight Pixar/Disney films gets at least 5 Animation or Children titles in the top 10', async () => {
    const interactions = PIXAR_DISNEY.map((itemId) => ({ userId: 'pixar-fan', itemId, kind: 'LIKE' }));
    const rec = await gql(
      app,
      `mutation($i: [RecordInteractionInput!]!) { recordInteractions(interactions: $i) { createdUsers } }`,
      { i: interactions },
    );
    expect(rec.errors).toBeUndefined();
    const res = await gql(
      app,
      `{ recommendations(userId: "pixar-fan", limit: 10) { source items { item { id title categories } } } }`,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.recommendations.source).toBe('MODEL');
    const items = res.data!.recommendations.items as { item: { id: string; title: string; categories: string[] } }[];
    expect(items.some((r) => PIXAR_DISNEY.includes(r.item.id))).toBe(false);
    const family = items.filter((r) => FAMILY(r.item.categories));
    console.log(
      `[demo] recommendations(pixar-fan): ${items.map((r) => r.item.title).join('; ')} — ${family.length}/10 Animation or Children`,
    );
    expect(family.length).toBeGreaterThanOrEqual(5);
  });

  it('similar users are not all the same: the 100th nearest of 610 users scores well below the nearest', async () => {
    // Raw encoder means scored every pair of users ≈ 0.9999 (a collapsed space); centred on the
    // population's mean, nearness means something again.
    const res = await waitFor(
      () => gql(app, `{ similarUsers(userId: "1", limit: 100) { score user { id } } }`),
      (r) => !r.errors,
      120_000,
      500,
    );
    const scores = res.data!.similarUsers.map((s: { score: number }) => s.score);
    expect(scores).toHaveLength(100);
    console.log(
      `[demo] similarUsers(1): nearest ${scores[0].toFixed(3)}, 10th ${scores[9].toFixed(3)}, 100th ${scores[99].toFixed(3)}`,
    );
    expect(scores[99]).toBeLessThan(0.95);
    expect(scores[0] - scores[99]).toBeGreaterThan(0.05);
  });
});
