/**
 * The per-process history cache of the recommendation hot path (src/catalog/history-cache.service.ts)
 * against a real PostgreSQL: hits after the first read, this process's writes seen at once, other
 * writers' (another connection, as another process or psql would write) through the triggers'
 * notices, the memory bound, and no stale history cached by a read that overlapped a change.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { HistoryCache } from '../src/catalog/history-cache.service.js';
import { bootApp, gql, sql, truncateAll } from './helpers.js';

const RECORD = `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { createdUsers } }`;
const RECS = `query($userId: ID!) { recommendations(userId: $userId, limit: 10) { source items { item { id } } } }`;
const VIEW = { ratings: false, minRating: 4 };

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A fresh app on emptied tables with these items and interactions (VIEW unless a kind is given),
 * once the setup write's notice has arrived: the write invalidates in process, then again when its
 * notice arrives, and a late notice would empty the cache a test fills (seen on a loaded machine).
 */
async function bootSeeded(
  env: Parameters<typeof bootApp>[0],
  itemIds: string[],
  interactions: { userId: string; itemId: string; kind?: string; value?: number }[],
): Promise<NestFastifyApplication> {
  await truncateAll();
  const app = await bootApp(env);
  const items = itemIds.map((id) => ({ id, title: `Item ${id}` }));
  await gql(app, `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, { items });
  const cache = app.get(HistoryCache);
  const res = await gql(app, RECORD, { interactions: interactions.map((e) => ({ kind: 'VIEW', ...e })) });
  expect(res.errors).toBeUndefined();
  await until(async () => cache.stats.invalidations >= 2, 'the notice of the setup write to arrive');
  return app;
}

describe('history cache', () => {
  let app: NestFastifyApplication;
  let cache: HistoryCache;
  const itemIds = new Map<string, number>();

  const record = async (events: { userId: string; itemId: string; kind?: string; value?: number }[]) => {
    const res = await gql(app, RECORD, {
      interactions: events.map((e) => ({ kind: 'VIEW', ...e })),
    });
    expect(res.errors).toBeUndefined();
  };
  const itemsOf = async (userId: string) => {
    const h = (await cache.read([userId], VIEW)).get(userId);
    return h ? Array.from(h.items) : null;
  };

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    cache = app.get(HistoryCache);
    const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, title: `Item ${id}` }));
    expect(
      (await gql(app, `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, { items })).errors,
    ).toBeUndefined();
    for (const r of await sql<{ id: number; external_id: string }>('SELECT id, external_id FROM items'))
      itemIds.set(r.external_id, r.id);
    await record([
      { userId: 'u1', itemId: 'a' },
      { userId: 'u1', itemId: 'b' },
      { userId: 'u2', itemId: 'c' },
      { userId: 'u2', itemId: 'd', kind: 'RATING', value: 2 },
    ]);
  }, 60_000);
  afterAll(async () => {
    await app.close();
  });

  /** Waits until every notice sent so far has arrived (they arrive in commit order: a marker's arrival says so). */
  const settle = async () => {
    const seen = cache.stats.invalidations;
    await sql(`SELECT pg_notify('recoder_histories_changed', '0')`);
    await until(async () => cache.stats.invalidations > seen, 'the notices to arrive');
  };

  it('reads a history once, then answers from memory with the same values', async () => {
    await settle();
    cache.invalidate('*');
    const before = { ...cache.stats };
    const first = await cache.read(['u1', 'u2', 'nobody'], VIEW);
    expect([...first.keys()].sort()).toEqual(['u1', 'u2']);
    expect(Array.from(first.get('u1')!.items)).toEqual([itemIds.get('a'), itemIds.get('b')]);
    // The low rating does not count as a positive: NaN.
    expect(Array.from(first.get('u2')!.values)).toEqual([1, NaN]);
    expect(cache.stats.misses - before.misses).toBe(3);
    const second = await cache.read(['u1', 'u2'], VIEW);
    expect(cache.stats.hits - before.hits).toBe(2);
    expect(second.get('u1')).toBe(first.get('u1'));
    // Another view (a rating model's) is cached apart: the rating itself.
    const ratings = await cache.read(['u2'], { ratings: true, minRating: 4 });
    expect(Array.from(ratings.get('u2')!.values)).toEqual([NaN, 2]);
    expect(cache.size).toBe(6);
  });

  it("sees this process's recordInteractions at once", async () => {
    await itemsOf('u1');
    await record([{ userId: 'u1', itemId: 'c' }]);
    expect(await itemsOf('u1')).toEqual([itemIds.get('a'), itemIds.get('b'), itemIds.get('c')]);
    // And a recommendation excludes what was just recorded, even answered from the cache.
    await record([{ userId: 'u1', itemId: 'd' }]);
    const ids = async (userId: string) => {
      const recs = await gql<{ recommendations: { items: { item: { id: string } }[] } }>(app, RECS, { userId });
      expect(recs.errors).toBeUndefined();
      return recs.data!.recommendations.items.map((r) => r.item.id);
    };
    expect(await ids('someone-new')).toContain('d'); // popular: d would be recommended if not seen
    expect(await ids('u1')).not.toContain('d');
  });

  it("sees another writer's inserts, deletes and deleted users through the triggers' notices", async () => {
    await settle();
    expect(await itemsOf('u2')).toEqual([itemIds.get('c'), itemIds.get('d')]);
    const hitsBefore = cache.stats.hits;
    expect(await itemsOf('u2')).toHaveLength(2);
    expect(cache.stats.hits).toBe(hitsBefore + 1); // cached: only a notice can change it now
    await sql(
      `INSERT INTO interactions (user_id, item_id, kind) SELECT id, $1, 'VIEW' FROM users WHERE external_id = 'u2'`,
      [itemIds.get('e')],
    );
    await until(async () => (await itemsOf('u2'))?.length === 3, 'the insert to reach the cache');
    await sql(`DELETE FROM interactions WHERE item_id = $1`, [itemIds.get('c')]);
    await until(async () => !(await itemsOf('u2'))!.includes(itemIds.get('c')!), 'the delete to reach the cache');
    await sql(`DELETE FROM users WHERE external_id = 'u2'`);
    await until(async () => (await itemsOf('u2')) === null, 'the deleted user to leave the cache');
  });

  it('forgets a user deleted through the API at once', async () => {
    await record([{ userId: 'gone', itemId: 'a' }]);
    expect(await itemsOf('gone')).toEqual([itemIds.get('a')]);
    expect((await gql(app, `mutation { deleteUser(userId: "gone") { id } }`)).errors).toBeUndefined();
    expect(await itemsOf('gone')).toBeNull();
  });

  it('does not keep a history read while its user changed', async () => {
    const [{ id: u1 }] = await sql<{ id: number }>(`SELECT id FROM users WHERE external_id = 'u1'`);
    cache.invalidate('*');
    let reading = cache.read(['u1'], VIEW);
    cache.invalidate([u1 + 1000]); // another user's change while the statement runs: kept
    expect((await reading).get('u1')).toBeDefined();
    expect(cache.size).toBeGreaterThan(0);
    cache.invalidate('*');
    reading = cache.read(['u1'], VIEW);
    cache.invalidate([u1]); // u1's change while the statement runs: answered, not kept
    expect((await reading).get('u1')).toBeDefined();
    expect(cache.size).toBe(0);
    reading = cache.read(['u1'], VIEW);
    cache.invalidate('*');
    await reading;
    expect(cache.size).toBe(0);
  });
});

describe('history cache read-ahead', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await bootSeeded(
      {},
      ['a', 'b', 'c'],
      [
        { userId: 'p', itemId: 'a' },
        { userId: 'q', itemId: 'b' },
        { userId: 'q', itemId: 'c', kind: 'RATING', value: 1 },
        { userId: 'p', itemId: 'c' },
      ],
    );
  }, 60_000);
  afterAll(async () => {
    await app.close();
  });

  it('reads the most recently active users ahead, once per view, as a request would read them', async () => {
    const cache = app.get(HistoryCache);
    const fresh = await cache.read(['p', 'q'], VIEW);
    cache.invalidate('*');
    const before = { ...cache.stats };
    let pauses = 0;
    expect(await cache.prefetch(VIEW, async () => void pauses++)).toBe(2);
    expect(pauses).toBe(1); // one statement for both
    expect(cache.stats.misses).toBe(before.misses); // not a request's miss
    expect(cache.stats.prefetched - before.prefetched).toBe(2);
    const held = await cache.read(['p', 'q'], VIEW);
    expect(cache.stats.hits - before.hits).toBe(2);
    expect(cache.stats.misses).toBe(before.misses);
    for (const id of ['p', 'q']) {
      expect(Array.from(held.get(id)!.items)).toEqual(Array.from(fresh.get(id)!.items));
      expect(Array.from(held.get(id)!.values)).toEqual(Array.from(fresh.get(id)!.values));
    }
    expect(Array.from(held.get('q')!.values)).toEqual([1, NaN]); // the low rating does not count
    // Once per view; another view reads again, unless told to stop.
    expect(await cache.prefetch(VIEW, async () => {})).toBe(0);
    expect(
      await cache.prefetch(
        { ratings: true, minRating: 4 },
        async () => {},
        () => true,
      ),
    ).toBe(0);
  });

  it('stops at its bound with the most recently active users held', async () => {
    const small = await bootApp({ historyCacheInteractions: 2 });
    try {
      const cache = small.get(HistoryCache);
      // p's last interaction is the latest: it is read last and kept; q (2 interactions) is evicted.
      expect(await cache.prefetch(VIEW, async () => {})).toBe(2);
      expect(cache.size).toBe(2);
      const misses = cache.stats.misses;
      await cache.read(['p'], VIEW);
      expect(cache.stats.misses).toBe(misses);
      await cache.read(['q'], VIEW);
      expect(cache.stats.misses).toBe(misses + 1);
    } finally {
      await small.close();
    }
  });
});

describe('history cache bound', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await bootSeeded(
      { historyCacheInteractions: 3 },
      ['a', 'b'],
      ['x', 'y', 'z'].flatMap((userId) => ['a', 'b'].map((itemId) => ({ userId, itemId }))),
    );
  }, 60_000);
  afterAll(async () => {
    await app.close();
  });

  it('holds at most RECODER_HISTORY_CACHE interactions, least recently used out first', async () => {
    const cache = app.get(HistoryCache);
    await cache.read(['x'], VIEW);
    await cache.read(['y'], VIEW); // 4 > 3: x goes
    expect(cache.size).toBe(2);
    const misses = cache.stats.misses;
    await cache.read(['y'], VIEW);
    expect(cache.stats.misses).toBe(misses);
    await cache.read(['x'], VIEW);
    expect(cache.stats.misses).toBe(misses + 1);
    expect(cache.size).toBe(2);
  });
});
