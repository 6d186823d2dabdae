import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ModelPool } from '../src/serving/model-pool.js';
import { RankingService } from '../src/serving/ranking.service.js';
import { RecommendationsService } from '../src/serving/recommendations.service.js';
import { bootApp, gql, truncateAll } from './helpers.js';
import { GROUPS, itemId, PER_GROUP, seedTasteGroups, trainTestVersion } from './training-data.js';

/**
 * The serving engine (issue 14): micro-batched recommendations give every request the ranking it
 * gets alone; the query cost counts list sizes; answers over the size limit and requests beyond
 * the model queue are refused with documented codes.
 */
const RECS = `query($userId: ID!, $limit: Int!) {
  recommendations(userId: $userId, limit: $limit) { source modelVersionId reason items { score source item { id } } }
}`;
const FOR_HISTORY = `query($itemIds: [ID!]!, $limit: Int!) {
  recommendationsForHistory(itemIds: $itemIds, limit: $limit) { source modelVersionId reason items { score source item { id } } }
}`;
const ACTIVATE = `mutation($id: Int!) { activateModelVersion(id: $id) { id } }`;

const post = (app: NestFastifyApplication, query: string, variables: Record<string, unknown> = {}) =>
  app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } });

describe('serving engine', () => {
  let app: NestFastifyApplication;
  let tight: NestFastifyApplication;
  const users = Array.from({ length: 40 }, (_, n) => `u${n}`);
  const histories = Array.from({ length: 10 }, (_, k) =>
    Array.from({ length: 5 + k }, (_, i) => itemId(k % GROUPS, (i * 7 + k) % PER_GROUP)),
  );

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    await seedTasteGroups(app);
    const version = await trainTestVersion();
    expect((await gql(app, ACTIVATE, { id: version })).errors).toBeUndefined();
    // A second API process on the same database with tight limits.
    tight = await bootApp({
      maxResponseBytes: 3000,
      modelWork: { maxBatch: 1, windowMs: 0, inFlight: 1, maxQueue: 2, deadlineMs: 50, threads: 0 },
    });
    await tight.get(RecommendationsService).recommendations('u0', 1, null); // loaded and serving
  }, 180_000);
  afterAll(async () => {
    await tight?.close();
    await app?.close();
  });

  it('serves concurrent requests in batches, each with exactly the ranking it gets alone', async () => {
    const alone = [];
    for (const userId of users) alone.push((await gql(app, RECS, { userId, limit: 10 })).data);
    const aloneHistories = [];
    for (const itemIds of histories) aloneHistories.push((await gql(app, FOR_HISTORY, { itemIds, limit: 10 })).data);
    const batcher = app.get(RankingService).batcher;
    const before = { ...batcher.stats };
    const [together, togetherHistories] = await Promise.all([
      Promise.all(users.map((userId) => gql(app, RECS, { userId, limit: 10 }))),
      Promise.all(histories.map((itemIds) => gql(app, FOR_HISTORY, { itemIds, limit: 10 }))),
    ]);
    expect(together.map((r) => r.errors)).toEqual(users.map(() => undefined));
    expect(together.map((r) => r.data)).toEqual(alone);
    expect(togetherHistories.map((r) => r.data)).toEqual(aloneHistories);
    expect(alone.every((d) => d!.recommendations.source === 'MODEL' && d!.recommendations.items.length === 10)).toBe(
      true,
    );
    expect(batcher.stats.requests - before.requests).toBe(users.length + histories.length);
    // The forward passes ran in the model threads (RECODER_MODEL_THREADS defaults to ≥ 1).
    expect(app.get(ModelPool).stats.scored).toBeGreaterThan(0);
    // Unknown users still get popular items from a batch that ranks known ones.
    const mixed = await Promise.all([
      gql(app, RECS, { userId: 'nobody', limit: 3 }),
      gql(app, RECS, { userId: 'u1', limit: 3 }),
    ]);
    expect(mixed[0].data!.recommendations).toMatchObject({
      source: 'POPULARITY',
      reason: 'the user is unknown: no interaction recorded yet',
    });
    expect(mixed[1].data!.recommendations.source).toBe('MODEL');
  });

  it('counts list sizes in the query cost, variables included (QUERY_TOO_COMPLEX, HTTP 400)', async () => {
    const fields = 'items { score item { id title categories attributes hidden createdAt updatedAt } }';
    const aliased = `query($l: Int!) { ${Array.from({ length: 30 }, (_, k) => `a${k}: recommendations(userId: "u${k}", limit: $l) { ${fields} }`).join(' ')} }`;
    const big = await post(app, aliased, { l: 100 });
    expect(big.statusCode).toBe(400);
    expect(big.json().errors[0]).toMatchObject({
      message: expect.stringMatching(/^Query Cost limit of 10000 exceeded, found \d+\.$/),
      extensions: { code: 'QUERY_TOO_COMPLEX' },
    });
    const small = await post(app, aliased, { l: 3 });
    expect(small.statusCode).toBe(200);
    expect(small.json().data.a29.items).toHaveLength(3);
    // count × itemsPerUser: refused before any model work (this version could not even sample).
    const sample = await post(
      app,
      'query($c: Int!, $k: Int!) { sampleSyntheticUsers(count: $c, itemsPerUser: $k) { items { id } } }',
      { c: 100, k: 1000 },
    );
    expect(sample.statusCode).toBe(400);
    expect(sample.json().errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('replaces an answer over RECODER_MAX_RESPONSE_BYTES with RESPONSE_TOO_LARGE', async () => {
    const query =
      'query($l: Int!) { recommendations(userId: "u2", limit: $l) { items { item { id title categories attributes createdAt updatedAt } } } }';
    const res = await post(tight, query, { l: 50 });
    expect(res.json()).toMatchObject({
      data: null,
      errors: [{ extensions: { code: 'RESPONSE_TOO_LARGE', limit: 3000 } }],
    });
    expect(res.json().errors[0].message).toMatch(/^The response is \d+ bytes, more than the limit of 3000/);
    const ok = await post(tight, query, { l: 2 });
    expect(ok.json().data.recommendations.items).toHaveLength(2);
  });

  it('refuses requests beyond the model queue and past their deadline with SERVICE_UNAVAILABLE, 503 and Retry-After; /health meanwhile', async () => {
    const serving = tight.get(RankingService) as unknown as { rankBatch: (batch: unknown[]) => Promise<unknown> };
    const original = serving.rankBatch.bind(serving);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    serving.rankBatch = async (batch) => {
      await gate; // the model is busy
      return original(batch);
    };
    try {
      const first = post(tight, RECS, { userId: 'u3', limit: 2 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      // One batch runs (held), two requests wait: the next ones are refused at once.
      const waiting = [post(tight, RECS, { userId: 'u4', limit: 2 }), post(tight, RECS, { userId: 'u5', limit: 2 })];
      await new Promise((resolve) => setTimeout(resolve, 20));
      const refused = await post(tight, RECS, { userId: 'u6', limit: 2 });
      expect(refused.statusCode).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.json().errors[0]).toMatchObject({
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: expect.any(Number) },
      });
      expect((await tight.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      // Past the 50 ms deadline: the waiting ones are refused when the model frees up.
      await new Promise((resolve) => setTimeout(resolve, 100));
      release();
      expect((await first).json().data.recommendations.items).toHaveLength(2);
      for (const w of await Promise.all(waiting)) {
        expect(w.statusCode).toBe(503);
        expect(w.json().errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
        expect(w.json().errors[0].message).toMatch(/deadline/);
      }
    } finally {
      release();
      serving.rankBatch = original;
    }
  });
});
