import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp, gql, sql, truncateAll } from './helpers.js';

const UPSERT_ITEMS = `mutation($items: [UpsertItemInput!]!) {
  upsertItems(items: $items) { id title categories attributes hidden }
}`;
const RECORD = `mutation($interactions: [RecordInteractionInput!]!) {
  recordInteractions(interactions: $interactions) { duplicates createdUsers stored { id itemId } }
}`;

describe('catalog over GraphQL', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('upserts items and updates only the fields given', async () => {
    const created = await gql(app, UPSERT_ITEMS, {
      items: [
        { id: 'm1', title: 'Heat (1995)', categories: ['Action', 'Crime'], attributes: { year: 1995 } },
        { id: 'm2', title: 'Toy Story (1995)', categories: ['Animation'] },
      ],
    });
    expect(created.errors).toBeUndefined();
    expect(created.data!.upsertItems).toEqual([
      { id: 'm1', title: 'Heat (1995)', categories: ['Action', 'Crime'], attributes: { year: 1995 }, hidden: false },
      { id: 'm2', title: 'Toy Story (1995)', categories: ['Animation'], attributes: {}, hidden: false },
    ]);

    const updated = await gql(app, UPSERT_ITEMS, { items: [{ id: 'm1', hidden: true }] });
    expect(updated.data!.upsertItems).toEqual([
      { id: 'm1', title: 'Heat (1995)', categories: ['Action', 'Crime'], attributes: { year: 1995 }, hidden: true },
    ]);
    expect(await sql('SELECT count(*)::int AS n FROM items')).toEqual([{ n: 2 }]);
  });

  it('reads one item and reports NOT_FOUND with the field for an unknown id', async () => {
    const ok = await gql(app, `{ item(id: "m2") { id title } }`);
    expect(ok.data!.item).toEqual({ id: 'm2', title: 'Toy Story (1995)' });

    const missing = await gql(app, `{ item(id: "nope") { id } }`);
    expect(missing.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });

  it('pages through items with cursors and filters by category and hidden flag', async () => {
    await gql(app, UPSERT_ITEMS, {
      items: Array.from({ length: 25 }, (_, i) => ({
        id: `p${i}`,
        title: `P${i}`,
        categories: i % 2 ? ['Odd'] : ['Even'],
      })),
    });
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: any = await gql(
        app,
        `query($after: String) { items(first: 10, after: $after, filter: { category: "Odd" }) {
        nodes { id categories } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      seen.push(...res.data.items.nodes.map((n: { id: string }) => n.id));
      if (!res.data.items.pageInfo.hasNextPage) break;
      after = res.data.items.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
    expect(seen.every((id) => Number(id.slice(1)) % 2 === 1)).toBe(true);

    const hidden = await gql(app, `{ items(filter: { hidden: true }) { nodes { id } } }`);
    expect(hidden.data!.items.nodes).toEqual([{ id: 'm1' }]);
  });

  it('rejects a forged cursor, a zero or oversized page and an over-long title, naming the field', async () => {
    const cursor = await gql(app, `{ items(after: "garbage") { nodes { id } } }`);
    expect(cursor.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    const zero = await gql(app, `{ items(first: 0) { nodes { id } } }`);
    expect(zero.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const huge = await gql(app, `{ items(first: 101) { nodes { id } } }`);
    expect(huge.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const long = await gql(app, UPSERT_ITEMS, { items: [{ id: 'ok' }, { id: 'x', title: 'a'.repeat(1025) }] });
    expect(long.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'items[1].title' });
    expect(await sql(`SELECT 1 FROM items WHERE external_id IN ('ok', 'x')`)).toEqual([]);
  });

  it('rejects empty, duplicate-id and oversized item batches', async () => {
    const empty = await gql(app, UPSERT_ITEMS, { items: [] });
    expect(empty.errors![0].extensions).toMatchObject({ code: 'BATCH_EMPTY', field: 'items' });
    const dup = await gql(app, UPSERT_ITEMS, { items: [{ id: 'd' }, { id: 'd' }] });
    expect(dup.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'items[1].id' });
    const big = await gql(app, UPSERT_ITEMS, { items: Array.from({ length: 10_001 }, (_, i) => ({ id: `b${i}` })) });
    expect(big.errors![0].extensions).toMatchObject({ code: 'BATCH_TOO_LARGE', field: 'items' });
    expect(await sql(`SELECT count(*)::int AS n FROM items WHERE external_id LIKE 'b%' OR external_id = 'd'`)).toEqual([
      { n: 0 },
    ]);
  });

  it('hides items and excludes them from popularItems', async () => {
    await gql(app, RECORD, {
      interactions: [
        { userId: 'u1', itemId: 'm1' },
        { userId: 'u2', itemId: 'm1' },
        { userId: 'u3', itemId: 'm1' },
        { userId: 'u1', itemId: 'm2' },
        { userId: 'u2', itemId: 'm2' },
        { userId: 'u1', itemId: 'p1', kind: 'PURCHASE' },
      ],
    });
    const shown = await gql(app, `mutation { setItemHidden(itemId: "m1", hidden: false) { id hidden } }`);
    expect(shown.data!.setItemHidden).toEqual({ id: 'm1', hidden: false });
    const popular = await gql(app, `{ popularItems(limit: 3) { item { id title } score interactionCount } }`);
    expect(popular.data!.popularItems).toEqual([
      { item: { id: 'm1', title: 'Heat (1995)' }, score: 3, interactionCount: 3 },
      { item: { id: 'm2', title: 'Toy Story (1995)' }, score: 2, interactionCount: 2 },
      { item: { id: 'p1', title: 'P1' }, score: 1, interactionCount: 1 },
    ]);

    await gql(app, `mutation { setItemHidden(itemId: "m1", hidden: true) { id } }`);
    const after = await gql(app, `{ popularItems(limit: 3) { item { id } } }`);
    expect(after.data!.popularItems.map((p: any) => p.item.id)).toEqual(['m2', 'p1']);

    const weighted = await gql(
      app,
      `{ popularItems(limit: 2, kindWeights: [{ kind: PURCHASE, weight: 5 }, { kind: IMPLICIT, weight: 1 }]) {
      item { id } score } }`,
    );
    expect(weighted.data!.popularItems).toEqual([
      { item: { id: 'p1' }, score: 5 },
      { item: { id: 'm2' }, score: 2 },
    ]);
    const byCategory = await gql(app, `{ popularItems(category: "Animation") { item { id } } }`);
    expect(byCategory.data!.popularItems).toEqual([{ item: { id: 'm2' } }]);
    const future = await gql(app, `{ popularItems(since: "2999-01-01T00:00:00Z") { item { id } } }`);
    expect(future.data!.popularItems).toEqual([]);
    const negative = await gql(app, `{ popularItems(limit: -1) { item { id } } }`);
    expect(negative.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
  });

  it('deletes an item with its interactions, and a user with theirs (privacy deletion)', async () => {
    const delItem = await gql(app, `mutation { deleteItem(itemId: "m2") { id deletedInteractions } }`);
    expect(delItem.data!.deleteItem).toEqual({ id: 'm2', deletedInteractions: 2 });
    expect(await sql(`SELECT count(*)::int AS n FROM items WHERE external_id = 'm2'`)).toEqual([{ n: 0 }]);

    const delUser = await gql(app, `mutation { deleteUser(userId: "u1") { id deletedInteractions } }`);
    expect(delUser.data!.deleteUser).toEqual({ id: 'u1', deletedInteractions: 2 });
    expect(await sql(`SELECT count(*)::int AS n FROM users WHERE external_id = 'u1'`)).toEqual([{ n: 0 }]);
    expect(
      await sql(
        `SELECT count(*)::int AS n FROM interactions i JOIN users u ON u.id = i.user_id WHERE u.external_id = 'u1'`,
      ),
    ).toEqual([{ n: 0 }]);

    const again = await gql(app, `mutation { deleteUser(userId: "u1") { id } }`);
    expect(again.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'userId' });
  });

  it('upserts users with attributes and validates them', async () => {
    const res = await gql(
      app,
      `mutation { upsertUsers(users: [{ id: "alice", attributes: { plan: "pro" } }, { id: "bob" }]) { id attributes } }`,
    );
    expect(res.data!.upsertUsers).toEqual([
      { id: 'alice', attributes: { plan: 'pro' } },
      { id: 'bob', attributes: {} },
    ]);
    const keep = await gql(app, `mutation { upsertUsers(users: [{ id: "alice" }]) { id attributes } }`);
    expect(keep.data!.upsertUsers).toEqual([{ id: 'alice', attributes: { plan: 'pro' } }]);
    const blank = await gql(app, `mutation { upsertUsers(users: [{ id: "" }]) { id } }`);
    expect(blank.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'users[0].id' });
    const notObject = await gql(app, `mutation { upsertUsers(users: [{ id: "c", attributes: 3 }]) { id } }`);
    expect(notObject.errors![0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
