import { execFileSync } from 'node:child_process';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { HistoryCache } from '../src/catalog/history-cache.service.js';
import { bootApp, bootAppOn, gql, sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { itemId, seedTasteGroups, trainModel, trainingRun, waitFor } from './training-data.js';

const RECS =
  'query($u: ID!) { recommendations(userId: $u, limit: 10) { source modelVersionId items { item { id } } } }';

/** Share of the recommended items that belong to taste group g (item ids m<g>-<i>). */
const shareOfGroup = (items: { item: { id: string } }[], g: number) =>
  items.filter((i) => i.item.id.startsWith(`m${g}-`)).length / items.length;

/**
 * DATABASE_READ_URL: the hot read paths (a recommendation batch's histories, the population read
 * at activation, popularity) go to the read connection; writes and the catalog stay on the
 * primary. The "replica" here is a copy of the test database in which user u1's history differs
 * (a streaming replica would hold the same rows, later): the answers show which one was read.
 */
describe('DATABASE_READ_URL (a read replica for the hot read paths)', () => {
  const primaryUrl = () => testDatabaseUrl();
  let replicaUrl: string;
  let replicaName: string;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    const seeder = await bootApp({ trainingWorker: 'thread' });
    await seedTasteGroups(seeder);
    const run = await trainModel(seeder, { kind: 'EASE', lambda: 50, activate: 'ALWAYS' });
    await waitFor(
      () => trainingRun(seeder, run),
      (r) => r.status === 'SUCCEEDED',
      120_000,
    );
    await seeder.close();

    // The copy: same ids, but u1 (taste group 1) now only has group 3's items.
    const url = new URL(primaryUrl());
    replicaName = `${url.pathname.slice(1)}_replica`;
    const admin = new pg.Client({ connectionString: primaryUrl() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${replicaName}`);
    await admin.query(`CREATE DATABASE ${replicaName}`);
    await admin.end();
    url.pathname = `/${replicaName}`;
    replicaUrl = url.toString();
    const dump = execFileSync('pg_dump', ['--no-owner', '--dbname', primaryUrl()], { maxBuffer: 1 << 28 });
    execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', '--dbname', replicaUrl], {
      input: dump,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const replica = new pg.Client({ connectionString: replicaUrl });
    await replica.connect();
    await replica.query(`DELETE FROM interactions WHERE user_id = (SELECT id FROM users WHERE external_id = 'u1')`);
    await replica.query(
      `INSERT INTO interactions (user_id, item_id) SELECT u.id, i.id FROM users u, items i
       WHERE u.external_id = 'u1' AND i.external_id = ANY($1::text[])`,
      [Array.from({ length: 12 }, (_, k) => itemId(3, k))],
    );
    await replica.end();

    app = await bootAppOn(primaryUrl(), { databaseReadUrl: replicaUrl });
    await waitFor(
      async () => (await gql(app, '{ servingStatus { modelVersion { id } warm } }')).data!.servingStatus,
      (s) => s.warm === true,
      60_000,
    );
  }, 240_000);

  afterAll(async () => {
    await app?.close();
    const admin = new pg.Client({ connectionString: primaryUrl() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${replicaName} WITH (FORCE)`);
    await admin.end();
  });

  it('ranks from the history the read connection holds; the primary keeps its own', async () => {
    // Serving the active version read the users' histories ahead, from the read connection too.
    const cache = app.get(HistoryCache);
    expect(cache.stats.prefetched).toBeGreaterThan(0);
    const misses = cache.stats.misses;
    const fromReplica = (await gql(app, RECS, { u: 'u1' })).data!.recommendations;
    expect(fromReplica.source).toBe('MODEL');
    // The replica's u1 has seen group 3's first 12 items: the model fills in the rest of group 3.
    expect(shareOfGroup(fromReplica.items, 3)).toBeGreaterThanOrEqual(0.7);
    expect(fromReplica.items.map((i: { item: { id: string } }) => i.item.id)).not.toContain(itemId(3, 0));
    expect(cache.stats.misses).toBe(misses); // answered from the histories read ahead

    // The same server on the primary alone sees u1 as a group-1 user.
    const primaryOnly = await bootApp();
    try {
      const fromPrimary = (await gql(primaryOnly, RECS, { u: 'u1' })).data!.recommendations;
      expect(shareOfGroup(fromPrimary.items, 1)).toBeGreaterThanOrEqual(0.7);
    } finally {
      await primaryOnly.close();
    }
  });

  it('writes go to the primary only', async () => {
    const count = async (url: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM interactions')).rows[0].n);
      } finally {
        await client.end();
      }
    };
    const [primaryBefore, replicaBefore] = [await count(primaryUrl()), await count(replicaUrl)];
    const res = await gql(
      app,
      'mutation($i: [RecordInteractionInput!]!) { recordInteractions(interactions: $i) { stored { id } } }',
      {
        i: [{ userId: 'u2', itemId: itemId(2, 29), eventId: 'read-replica-write' }],
      },
    );
    expect(res.errors).toBeUndefined();
    expect(await count(primaryUrl())).toBe(primaryBefore + 1);
    expect(await count(replicaUrl)).toBe(replicaBefore);
    expect(await sql(`SELECT 1 FROM interactions WHERE event_id = 'read-replica-write'`)).toHaveLength(1);
  });
});
