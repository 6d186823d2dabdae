import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp, gql, sql, truncateAll } from './helpers.js';

const RECORD = `mutation($interactions: [RecordInteractionInput!]!) {
  recordInteractions(interactions: $interactions) {
    duplicates createdUsers createdItems
    stored { id userId itemId kind value occurredAt eventId item { id title } }
  }
}`;
const count = async (table: string) => (await sql(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

describe('recordInteractions and user history over GraphQL', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    const res = await gql(
      app,
      `mutation { upsertItems(items: [
      { id: "i1", title: "One" }, { id: "i2", title: "Two" }, { id: "i3", title: "Three" }]) { id } }`,
    );
    expect(res.errors).toBeUndefined();
  });
  afterAll(async () => {
    await app.close();
  });

  it('stores a batch in input order, creating unknown users', async () => {
    const res = await gql(app, RECORD, {
      interactions: [
        {
          userId: 'u1',
          itemId: 'i2',
          kind: 'RATING',
          value: 4.5,
          occurredAt: '2024-01-02T03:04:05.000Z',
          eventId: 'e1',
        },
        { userId: 'u1', itemId: 'i1', kind: 'VIEW', occurredAt: '2024-01-03T00:00:00.000Z' },
        { userId: 'u2', itemId: 'i3' },
      ],
    });
    expect(res.errors).toBeUndefined();
    const out = res.data!.recordInteractions;
    expect(out).toMatchObject({ duplicates: 0, createdUsers: 2, createdItems: 0 });
    expect(out.stored.map((s: any) => [s.userId, s.itemId, s.kind, s.value, s.eventId])).toEqual([
      ['u1', 'i2', 'RATING', 4.5, 'e1'],
      ['u1', 'i1', 'VIEW', 1, null],
      ['u2', 'i3', 'IMPLICIT', 1, null],
    ]);
    expect(out.stored[0].occurredAt).toBe('2024-01-02T03:04:05.000Z');
    expect(out.stored[0].item).toEqual({ id: 'i2', title: 'Two' });
    expect(Math.abs(Date.parse(out.stored[2].occurredAt) - Date.now())).toBeLessThan(60_000);
    expect(await count('interactions')).toBe(3);
  });

  it('stores a retried event once (same eventId, also within one batch)', async () => {
    const retry = await gql(app, RECORD, {
      interactions: [
        { userId: 'u1', itemId: 'i2', kind: 'RATING', value: 4.5, eventId: 'e1' },
        { userId: 'u3', itemId: 'i1', eventId: 'e2' },
        { userId: 'u3', itemId: 'i1', eventId: 'e2' },
      ],
    });
    expect(retry.errors).toBeUndefined();
    expect(retry.data!.recordInteractions.duplicates).toBe(2);
    expect(retry.data!.recordInteractions.stored.map((s: any) => s.eventId)).toEqual(['e2']);
    expect(await count('interactions')).toBe(4);
  });

  it('rejects unknown items naming them, and writes nothing of the batch', async () => {
    const before = [await count('interactions'), await count('users')];
    const res = await gql(app, RECORD, {
      interactions: [
        { userId: 'new-user', itemId: 'i1' },
        { userId: 'new-user', itemId: 'ghost-1' },
        { userId: 'new-user', itemId: 'ghost-2' },
      ],
    });
    expect(res.data).toBeNull();
    expect(res.errors![0].extensions).toMatchObject({
      code: 'UNKNOWN_ITEMS',
      field: 'interactions[1].itemId',
      ids: ['ghost-1', 'ghost-2'],
    });
    expect(res.errors![0].message).toContain('"ghost-1"');
    expect([await count('interactions'), await count('users')]).toEqual(before);
  });

  it('creates unknown items when the server allows it', async () => {
    const lenient = await bootApp({ createUnknownItems: true });
    try {
      const res = await gql(lenient, RECORD, { interactions: [{ userId: 'u9', itemId: 'brand-new' }] });
      expect(res.errors).toBeUndefined();
      expect(res.data!.recordInteractions).toMatchObject({ createdItems: 1, createdUsers: 1 });
      expect(await sql(`SELECT title, hidden FROM items WHERE external_id = 'brand-new'`)).toEqual([
        { title: null, hidden: false },
      ]);
    } finally {
      await lenient.close();
    }
  });

  it.each([
    ['an empty batch', [], 'BATCH_EMPTY', 'interactions'],
    ['an empty user id', [{ userId: '', itemId: 'i1' }], 'BAD_USER_INPUT', 'interactions[0].userId'],
    ['an over-long item id', [{ userId: 'u1', itemId: 'x'.repeat(257) }], 'BAD_USER_INPUT', 'interactions[0].itemId'],
    [
      'a rating without value',
      [{ userId: 'u1', itemId: 'i1', kind: 'RATING' }],
      'BAD_USER_INPUT',
      'interactions[0].value',
    ],
    ['a huge value', [{ userId: 'u1', itemId: 'i1', value: 1e300 }], 'BAD_USER_INPUT', 'interactions[0].value'],
    [
      'a year-10000 date',
      [{ userId: 'u1', itemId: 'i1', occurredAt: '+010000-01-01T00:00:00Z' }],
      'BAD_USER_INPUT',
      undefined,
    ],
    [
      'an over-long event id',
      [{ userId: 'u1', itemId: 'i1', eventId: 'e'.repeat(257) }],
      'BAD_USER_INPUT',
      'interactions[0].eventId',
    ],
    [
      'a pre-1970 date',
      [{ userId: 'u1', itemId: 'i1', occurredAt: '1969-12-31T23:59:59Z' }],
      'BAD_USER_INPUT',
      'interactions[0].occurredAt',
    ],
  ])('rejects %s with %s', async (_name, interactions, code, field) => {
    const before = await count('interactions');
    const res = await gql(app, RECORD, { interactions });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].extensions.code).toBe(code);
    if (field) expect(res.errors![0].extensions.field).toBe(field);
    expect(await count('interactions')).toBe(before);
  });

  it('rejects malformed variables naming the path inside them', async () => {
    const badDate = await gql(app, RECORD, { interactions: [{ userId: 'u1', itemId: 'i1', occurredAt: 'yesterday' }] });
    expect(badDate.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'interactions[0].occurredAt',
    });
    const badKind = await gql(app, RECORD, { interactions: [{ userId: 'u1', itemId: 'i1', kind: 'STARE' }] });
    expect(badKind.status).toBe(400);
    expect(badKind.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'interactions[0].kind' });
    const missing = await gql(app, RECORD, { interactions: [{ userId: 'u1' }] });
    expect(missing.status).toBe(400);
    expect(missing.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'interactions[0]' });
    const badInt = await gql(app, `{ items(first: "x") { nodes { id } } }`);
    expect(badInt.status).toBe(400);
    expect(badInt.errors![0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('rejects a batch over the cap', async () => {
    const interactions = Array.from({ length: 10_001 }, (_, i) => ({ userId: `bulk${i}`, itemId: 'i1' }));
    const res = await gql(app, RECORD, { interactions });
    expect(res.errors![0].extensions).toMatchObject({ code: 'BATCH_TOO_LARGE', field: 'interactions', max: 10_000 });
  });

  it('accepts a full batch of 10,000 in one transaction', async () => {
    const before = await count('interactions');
    const interactions = Array.from({ length: 10_000 }, (_, i) => ({
      userId: `bulk${i % 500}`,
      itemId: `i${(i % 3) + 1}`,
      eventId: `bulk-${i}`,
    }));
    const res = await gql(
      app,
      `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { duplicates createdUsers } }`,
      { interactions },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.recordInteractions).toEqual({ duplicates: 0, createdUsers: 500 });
    expect(await count('interactions')).toBe(before + 10_000);
  });

  it('keeps concurrent retries of the same events to one copy', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => ({ userId: `c${i % 5}`, itemId: 'i1', eventId: `conc-${i}` }));
    const results = await Promise.all(Array.from({ length: 4 }, () => gql(app, RECORD, { interactions: batch })));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    const stored = results.reduce((sum, r) => sum + r.data!.recordInteractions.stored.length, 0);
    expect(stored).toBe(50);
    expect((await sql(`SELECT count(*)::int AS n FROM interactions WHERE event_id LIKE 'conc-%'`))[0].n).toBe(50);
  });

  it("pages through a user's history newest first", async () => {
    await gql(app, RECORD, {
      interactions: Array.from({ length: 7 }, (_, i) => ({
        userId: 'h',
        itemId: `i${(i % 3) + 1}`,
        occurredAt: new Date(Date.UTC(2024, 0, 1 + (i % 4))).toISOString(),
        eventId: `h-${i}`,
      })),
    });
    const ids: string[] = [];
    const times: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      const res: any = await gql(
        app,
        `query($after: String) { user(id: "h") { id interactions(first: 3, after: $after) {
        nodes { eventId occurredAt item { id } } pageInfo { hasNextPage endCursor } } } }`,
        { after },
      );
      expect(res.errors).toBeUndefined();
      const conn = res.data.user.interactions;
      ids.push(...conn.nodes.map((n: any) => n.eventId));
      times.push(...conn.nodes.map((n: any) => n.occurredAt));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('answers unknown users and malformed queries with errors, not crashes', async () => {
    const syntax = await gql(app, `{ user(id: "h") { id `);
    expect(syntax.status).toBe(400);
    expect(syntax.errors![0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const unknownField = await gql(app, `{ user(id: "h") { password } }`);
    expect(unknownField.errors![0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const unknownUser = await gql(app, `{ user(id: "nobody") { id } }`);
    expect(unknownUser.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });
});
