import { createApiKey } from '../src/auth/api-keys.queries.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import {
  RecoderClient,
  RecoderBadUserInputError,
  RecoderForbiddenError,
  RecoderNetworkError,
  RecoderNotFoundError,
  RecoderRateLimitedError,
  RecoderTimeoutError,
  RecoderUnauthenticatedError,
  RecoderUnknownItemsError,
  RecoderValidationError,
  RecoderBatchEmptyError,
  RecoderNoActiveModelError,
  type TrackStats,
} from '../clients/typescript/src/index.js';
import { sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { RecoderServer } from './recoder-server.js';
import { GROUPS, PER_GROUP, itemId, tasteInteractions } from './training-data.js';

/**
 * @recoder/client against a real Recoder process over HTTP (DATABASE_URL PostgreSQL): every typed
 * method a product backend uses, the typed errors the server answers with, rate limiting, and the
 * caller-side fallback while the server does not answer.
 */

const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';

describe('@recoder/client against a real server', () => {
  let server: RecoderServer;
  let client: RecoderClient;

  beforeAll(async () => {
    await truncateAll();
    server = await RecoderServer.start({ RECODER_TRAINING_WORKER: 'thread' });
    client = new RecoderClient({ url: server.url, timeoutMs: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    if (server) {
      server.process.child.kill('SIGCONT');
      await server.stop();
    }
    await truncateAll();
  });

  it('ingests: upsertItems, upsertUsers, recordInteractions (eventIds filled in, retries counted as duplicates), setItemHidden, setItemImage', async () => {
    const items = [];
    for (let g = 0; g < GROUPS; g++)
      for (let i = 0; i < PER_GROUP; i++)
        items.push({ id: itemId(g, i), title: `Item ${g}/${i}`, categories: [`g${g}`] });
    const upserted = await client.upsertItems(items);
    expect(upserted).toHaveLength(items.length);
    expect(upserted[0]).toMatchObject({
      id: 'm0-0',
      title: 'Item 0/0',
      categories: ['g0'],
      hidden: false,
      attributes: {},
    });

    const users = await client.upsertUsers([{ id: 'u0', attributes: { plan: 'pro' } }]);
    expect(users).toEqual([expect.objectContaining({ id: 'u0', attributes: { plan: 'pro' } })]);

    const events = tasteInteractions().map((e) => ({ ...e, kind: 'VIEW' as const }));
    const first = await client.recordInteractions(events.slice(0, 1000));
    expect(first.duplicates).toBe(0);
    expect(first.stored).toHaveLength(1000);
    // Every event got an eventId from the client: resending the same events stores nothing twice.
    expect(first.stored.every((s) => typeof s.eventId === 'string' && s.eventId.length > 0)).toBe(true);
    const withIds = first.stored.map((s) => ({ userId: s.userId, itemId: s.itemId, kind: s.kind, eventId: s.eventId }));
    const again = await client.recordInteractions(withIds.slice(0, 10));
    expect(again).toMatchObject({ duplicates: 10, stored: [] });
    const rest = await client.recordInteractions(events.slice(1000));
    expect(rest.stored).toHaveLength(events.length - 1000);
    expect((await sql(`SELECT count(*)::int AS n FROM interactions`))[0].n).toBe(events.length);

    const hidden = await client.setItemHidden('m3-29', true);
    expect(hidden).toMatchObject({ id: 'm3-29', hidden: true });
    expect((await client.setItemHidden('m3-29', false)).hidden).toBe(false);

    const image = await client.setItemImage('m0-1', Buffer.from(PNG_1x1, 'base64'));
    expect(image).toMatchObject({ sourceType: 'png', sourceBytes: Buffer.from(PNG_1x1, 'base64').length });
    expect(image.size).toBeGreaterThan(0);
  });

  it('operates: trainModel, waitForTrainingRun / trainingRun, modelVersions, activateModelVersion (swap and rollback), similarUsers', async () => {
    const queued = await client.trainModel({ kind: 'EASE', lambda: 50, activate: 'ALWAYS' });
    expect(queued).toMatchObject({ kind: 'EASE', activation: 'ALWAYS' });
    expect(['QUEUED', 'RUNNING']).toContain(queued.status);
    const run = await client.waitForTrainingRun(queued.id, { pollMs: 200, waitMs: 120_000 });
    expect(run).toMatchObject({ id: queued.id, status: 'SUCCEEDED', activated: true });
    expect(run.modelVersion).toMatchObject({ kind: 'EASE', active: true });

    const versions = await client.modelVersions({ first: 5 });
    expect(versions[0]).toMatchObject({ id: run.versionId, kind: 'EASE', active: true });
    expect(typeof versions[0].metrics).toBe('object');

    // A Mult-DAE version stored without activation; activating it swaps serving, activating EASE again rolls back.
    const dae = await client.waitForTrainingRun(
      (await client.trainModel({ kind: 'DAE', epochs: 5, activate: 'NEVER' })).id,
      { pollMs: 200, waitMs: 120_000 },
    );
    expect(dae).toMatchObject({ status: 'SUCCEEDED', activated: false, history: expect.any(Array) });
    expect(dae.history.length).toBeGreaterThan(0);
    expect((await client.activateModelVersion(dae.versionId!)).active).toBe(true);
    const similarUsers = await client.similarUsers({ userId: 'u0', limit: 3 });
    expect(similarUsers).toHaveLength(3);
    expect(similarUsers.every((u) => typeof u.score === 'number' && u.user.id !== 'u0')).toBe(true);
    const activated = await client.activateModelVersion(run.versionId!);
    expect(activated).toMatchObject({ id: run.versionId, kind: 'EASE', active: true });
    expect((await client.modelVersions()).filter((v) => v.active).map((v) => v.id)).toEqual([run.versionId]);
  }, 240_000);

  it('serves: recommendations, recommendationsForHistory, similarItems, popularItems, reconstruction, anomalyScore, the same for a history', async () => {
    const recs = await client.recommendations({ userId: 'u1', limit: 10 });
    expect(recs.source).toBe('MODEL');
    expect(recs.modelVersionId).toEqual(expect.any(Number));
    expect(recs.items).toHaveLength(10);
    // u1 is in taste group 1: the model ranks its group's items first.
    expect(recs.items.filter((r) => r.item.categories.includes('g1')).length).toBeGreaterThanOrEqual(8);

    const filtered = await client.recommendations({
      userId: 'u1',
      limit: 5,
      filter: { categories: ['g2'], excludeItemIds: ['m2-0'] },
    });
    expect(filtered.items.every((r) => r.item.categories.includes('g2') && r.item.id !== 'm2-0')).toBe(true);

    const session = await client.recommendationsForHistory({ itemIds: ['m3-0', 'm3-1', 'm3-2'], limit: 5 });
    expect(session.source).toBe('MODEL');
    expect(session.items.filter((r) => r.item.categories.includes('g3')).length).toBeGreaterThanOrEqual(4);

    const similar = await client.similarItems({ itemId: 'm0-0', limit: 5 });
    expect(similar).toHaveLength(5);
    expect(similar.filter((s) => s.item.categories.includes('g0')).length).toBeGreaterThanOrEqual(4);

    await expect(client.similarUsers({ userId: 'u0' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_BY_MODEL',
      name: 'RecoderUnsupportedByModelError',
    });

    const popular = await client.popularItems({ limit: 3, kindWeights: [{ kind: 'VIEW', weight: 2 }] });
    expect(popular).toHaveLength(3);
    expect(popular[0].interactionCount).toBeGreaterThan(0);
    expect(popular[0].score).toBe(2 * popular[0].interactionCount);

    const reconstruction = await client.reconstruction({ userId: 'u1', itemIds: ['m1-0', 'm2-0'] });
    expect(reconstruction.items.map((i) => i.item.id)).toEqual(['m1-0', 'm2-0']);
    expect(reconstruction.unit).toBe('SCORE');

    const anomaly = await client.anomalyScore('u1');
    expect(anomaly).toMatchObject({ modelVersionId: recs.modelVersionId });
    expect(anomaly!.percentile).toBeGreaterThanOrEqual(0);

    const sessionReconstruction = await client.reconstructionForHistory({
      itemIds: ['m3-0', 'm3-1', 'm3-0'],
      valuesFor: ['m3-2', 'm0-0'],
    });
    expect(sessionReconstruction.items.map((i) => i.item.id)).toEqual(['m3-2', 'm0-0']);
    expect(sessionReconstruction.items[0].value).toBeGreaterThan(sessionReconstruction.items[1].value);
    const sessionAnomaly = await client.anomalyScoreForHistory(['m3-0', 'm3-1']);
    expect(sessionAnomaly).toMatchObject({ modelVersionId: recs.modelVersionId, error: sessionReconstruction.error });
    await expect(client.anomalyScoreForHistory(['m3-0', 'nope'])).rejects.toMatchObject({
      code: 'UNKNOWN_ITEMS',
      field: 'itemIds',
    });
  });

  it('deleteUser removes the user and their interactions', async () => {
    const before = (
      await sql(
        `SELECT count(*)::int AS n FROM interactions i JOIN users u ON u.id = i.user_id WHERE u.external_id = 'u5'`,
      )
    )[0].n;
    expect(before).toBeGreaterThan(0);
    expect(await client.deleteUser('u5')).toEqual({ id: 'u5', deletedInteractions: before });
    await expect(client.deleteUser('u5')).rejects.toBeInstanceOf(RecoderNotFoundError);
  });

  it('raises typed errors carrying the server fields', async () => {
    const notFound = await client.trainingRun(987_654).catch((e) => e);
    expect(notFound).toBeInstanceOf(RecoderNotFoundError);
    expect(notFound).toMatchObject({
      code: 'NOT_FOUND',
      field: 'id',
      id: '987654',
      operation: 'TrainingRun',
      status: 200,
    });

    const unknown = await client
      .recordInteractions([
        { userId: 'u1', itemId: 'm0-0' },
        { userId: 'u1', itemId: 'nope' },
      ])
      .catch((e) => e);
    expect(unknown).toBeInstanceOf(RecoderUnknownItemsError);
    expect(unknown).toMatchObject({ code: 'UNKNOWN_ITEMS', ids: ['nope'], field: 'interactions[1].itemId' });

    const bad = await client.recordInteractions([{ userId: 'u1', itemId: 'm0-0', kind: 'RATING' }]).catch((e) => e);
    expect(bad).toBeInstanceOf(RecoderBadUserInputError);
    expect(bad.field).toBe('interactions[0].value');

    await expect(client.upsertItems([])).rejects.toBeInstanceOf(RecoderBatchEmptyError);
    await expect(client.trainingRun(1, { retries: 0 }).then(() => 'ok')).resolves.toBe('ok');

    // A document that does not match the schema: request() sends any document; validation fails before execution.
    const invalid = await client.request<{ nope: string }>('query Nope { nope }').catch((e) => e);
    expect(invalid).toBeInstanceOf(RecoderValidationError);
    expect(invalid).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect([200, 400]).toContain(invalid.status);
  });

  it('falls back to cached popular items when the server does not answer in time, and only then', async () => {
    const withFallback = new RecoderClient({
      url: server.url,
      timeoutMs: 30_000,
      fallback: { timeoutMs: 300, popularLimit: 20 },
    });
    try {
      await withFallback.warmFallback();
      const live = await withFallback.recommendations({ userId: 'u1', limit: 5 });
      expect(live.source).toBe('MODEL');
      expect(live.clientFallback).toBeUndefined();

      server.process.child.kill('SIGSTOP'); // the process is there but does not answer
      try {
        const slow = await withFallback.recommendations({
          userId: 'u1',
          limit: 5,
          filter: { categories: ['g0'], excludeItemIds: ['m0-0'] },
        });
        expect(slow).toMatchObject({ source: 'POPULARITY', modelVersionId: null, clientFallback: 'TIMEOUT' });
        expect(slow.reason).toMatch(/^client fallback .*300 ms/);
        expect(slow.items.length).toBeGreaterThan(0);
        expect(
          slow.items.every(
            (r) => r.item.categories.includes('g0') && r.item.id !== 'm0-0' && r.source === 'POPULARITY',
          ),
        ).toBe(true);
        const session = await withFallback.recommendationsForHistory({ itemIds: ['m1-0'], limit: 3 });
        expect(session.clientFallback).toBe('TIMEOUT');
        expect(session.items.map((r) => r.item.id)).not.toContain('m1-0');
        // Without the option, the same call waits and times out with the client's own timeout.
        const plain = new RecoderClient({ url: server.url, timeoutMs: 500, retries: 0 });
        await expect(plain.recommendations({ userId: 'u1' })).rejects.toBeInstanceOf(RecoderTimeoutError);
      } finally {
        server.process.child.kill('SIGCONT');
      }
      const back = await withFallback.recommendations({ userId: 'u1', limit: 5 });
      expect(back.source).toBe('MODEL');
    } finally {
      await withFallback.close();
    }
  }, 60_000);

  it('a stopped server is a RecoderNetworkError (after the retries); a restarted one answers again', async () => {
    await server.stop('SIGTERM');
    const down = new RecoderClient({ url: server.url, retries: 2, retryBaseDelayMs: 10 });
    const error = await down.popularItems().catch((e) => e);
    expect(error).toBeInstanceOf(RecoderNetworkError);
    expect(error.extensions).toMatchObject({ connected: false, errno: 'ECONNREFUSED' });
    await server.boot();
    expect(await down.popularItems({ limit: 1 })).toHaveLength(1);
  }, 120_000);
});

describe('@recoder/client: API keys and rate limits', () => {
  let server: RecoderServer;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    await truncateAll();
    const prisma = createPrismaClient(testDatabaseUrl());
    for (const role of ['READER', 'WRITER'] as const)
      keys[role] = (await createApiKey(prisma, { name: `client ${role}`, role })).key;
    await prisma.$disconnect();
    server = await RecoderServer.start({ RECODER_AUTH: 'required', RECODER_RATE_LIMIT_PER_MINUTE: '4' });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await sql('DELETE FROM api_keys');
    await truncateAll();
  });

  it('UNAUTHENTICATED without a key, FORBIDDEN with a weak one, RATE_LIMITED with retryAfter past the limit; track() reports what it could not store', async () => {
    const anonymous = new RecoderClient({ url: server.url, retries: 0 });
    const unauthenticated = await anonymous.popularItems().catch((e) => e);
    expect(unauthenticated).toBeInstanceOf(RecoderUnauthenticatedError);

    const reader = new RecoderClient({ url: server.url, apiKey: keys.READER, retries: 0 });
    const forbidden = await reader.upsertItems([{ id: 'x' }]).catch((e) => e);
    expect(forbidden).toBeInstanceOf(RecoderForbiddenError);
    expect(forbidden).toMatchObject({ code: 'FORBIDDEN', required: 'WRITER', role: 'READER' });

    // A reader's events are refused as a whole: counted as rejected, reported, never retried.
    const errors: unknown[] = [];
    const tracker = new RecoderClient({
      url: server.url,
      apiKey: keys.READER,
      track: { onError: (e) => errors.push(e) },
    });
    tracker.track({ userId: 'u', itemId: 'i' });
    const stats: TrackStats = await tracker.close();
    expect(stats).toMatchObject({ tracked: 1, stored: 0, rejected: 1, retries: 0, buffered: 0 });
    expect(errors[0]).toBeInstanceOf(RecoderForbiddenError);

    // The limit (4 a minute per key) is spent by now for the reader's key: the next call is HTTP 429.
    let limited: unknown;
    for (let i = 0; i < 6 && !limited; i++)
      limited = await reader.popularItems().then(
        () => undefined,
        (e) => e,
      );
    expect(limited).toBeInstanceOf(RecoderRateLimitedError);
    const rl = limited as RecoderRateLimitedError;
    expect(rl.status).toBe(429);
    expect(rl.retryAfter).toBeGreaterThan(0);
    expect(rl.retryAfter).toBeLessThanOrEqual(60);
    // With retries, a Retry-After over maxRetryAfterMs is not slept on: the error comes at once.
    const patient = new RecoderClient({ url: server.url, apiKey: keys.READER, retries: 3, maxRetryAfterMs: 100 });
    const t0 = Date.now();
    await expect(patient.popularItems()).rejects.toBeInstanceOf(RecoderRateLimitedError);
    expect(Date.now() - t0).toBeLessThan(rl.retryAfter! * 1000);
    // A writer has its own bucket and its own permissions.
    const writer = new RecoderClient({ url: server.url, apiKey: keys.WRITER, retries: 0 });
    await expect(writer.recommendations({ userId: 'nobody' })).resolves.toMatchObject({ source: 'POPULARITY' });
    await writer.upsertItems([{ id: 'x' }]);
    await expect(writer.similarItems({ itemId: 'x' })).rejects.toBeInstanceOf(RecoderNoActiveModelError);
  }, 60_000);
});
