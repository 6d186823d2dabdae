import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApiKey } from '../src/auth/api-keys.queries.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { DASHBOARD_CSP } from '../src/dashboard/serve-dashboard.js';
import { bootApp, gql, sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { GROUPS, itemId, PER_GROUP, seedTasteGroups, tasteInteractions, trainTestVersion } from './training-data.js';

const FOR_HISTORY = `query($h: [ID!]!, $v: [ID!]) {
  reconstructionForHistory(itemIds: $h, valuesFor: $v) { modelVersionId unit error percentile items { value observed item { id } } }
  anomalyScoreForHistory(itemIds: $h) { error percentile modelVersionId } }`;

/** The items of taste-group user uN, in the order they were recorded. */
const historyOf = (user: string) =>
  tasteInteractions()
    .filter((i) => i.userId === user)
    .map((i) => i.itemId);

const MAP = `query($of: LatentMapOf!, $limit: Int!) { latentMap(of: $of, limit: $limit) {
  modelVersionId of method explainedVariance total ids x y labels categories category anomalyPercentile } }`;

/** Mean distance between points of the same group and of different groups. */
function separation(x: number[], y: number[], group: string[]): { within: number; between: number } {
  let within = 0,
    nw = 0,
    between = 0,
    nb = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const d = Math.hypot(x[i] - x[j], y[i] - y[j]);
      if (group[i] === group[j]) {
        within += d;
        nw++;
      } else {
        between += d;
        nb++;
      }
    }
  }
  return { within: within / nw, between: between / nb };
}

/** The GraphQL pieces the dashboard needs beyond the core API, and the /dashboard route. */
describe('dashboard API', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    await seedTasteGroups(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await truncateAll();
  });

  it('catalogStats counts users, items and interactions', async () => {
    const res = await gql(app, '{ catalogStats { users items interactions } }');
    expect(res.errors).toBeUndefined();
    expect(res.data!.catalogStats).toEqual({ users: 160, items: GROUPS * PER_GROUP, interactions: 160 * 12 });
  });

  it('ingestRate buckets stored interactions per hour, empty hours included, and bounds the window', async () => {
    // Two events stored 3 hours ago, the rest in this hour (created_at is the storage time; occurred_at is not used).
    const [{ base }] = await sql<{ base: Date }>(`SELECT date_trunc('hour', now()) - interval '3 hours' AS base`);
    await sql(
      `UPDATE interactions SET created_at = $1::timestamptz + interval '5 minutes', occurred_at = '2001-01-01' WHERE id IN (1, 2)`,
      [base],
    );
    await sql(`UPDATE interactions SET created_at = $1::timestamptz + interval '3 hours 1 second' WHERE id > 2`, [
      base,
    ]);
    const res = await gql(app, '{ ingestRate(hours: 5) { hour interactions } }');
    expect(res.errors).toBeUndefined();
    const buckets = res.data!.ingestRate as { hour: string; interactions: number }[];
    expect(buckets).toHaveLength(5);
    const hours = buckets.map((b) => Date.parse(b.hour));
    hours.slice(1).forEach((h, k) => expect(h - hours[k]).toBe(3_600_000));
    expect(Date.now() - hours[4]).toBeGreaterThanOrEqual(0);
    expect(Date.now() - hours[4]).toBeLessThan(3_600_000);
    // (Should the hour have turned since `base`, every bucket is one to the left: compare by hour.)
    const at = (ms: number) => buckets.find((b) => Date.parse(b.hour) === ms)?.interactions;
    expect(at(base.getTime())).toBe(2);
    expect(at(base.getTime() + 3 * 3_600_000)).toBe(160 * 12 - 2);
    expect(buckets.reduce((sum, b) => sum + b.interactions, 0)).toBe(160 * 12);
    expect((await gql(app, '{ ingestRate { hour } }')).data!.ingestRate).toHaveLength(24);
    const bad = await gql(app, '{ ingestRate(hours: 169) { hour } }');
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'hours' });
  });

  it('searchItems finds an id first, then titles containing the text, case-insensitively', async () => {
    const res = await gql(
      app,
      '{ a: searchItems(query: "item 2/1", limit: 5) { id title } b: searchItems(query: "m3-7") { id } c: searchItems(query: "%") { id } d: searchItems(query: "  ") { id } }',
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.a.map((i: { title: string }) => i.title)).toEqual([
      'Item 2/1',
      'Item 2/10',
      'Item 2/11',
      'Item 2/12',
      'Item 2/13',
    ]);
    expect(res.data!.b).toEqual([{ id: 'm3-7' }]);
    expect(res.data!.c).toEqual([]); // % is a character here, not a wildcard
    expect(res.data!.d).toEqual([]);
    const bad = await gql(app, '{ searchItems(query: "x", limit: 1000) { id } }');
    expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
  });

  it('latentMap needs an active version', async () => {
    const res = await gql(app, MAP, { of: 'ITEMS', limit: 100 });
    expect(res.errors![0].extensions.code).toBe('NO_ACTIVE_MODEL');
  });

  it('an anonymous history needs an active version to be reconstructed or scored', async () => {
    const h = historyOf('u0');
    for (const q of [
      'reconstructionForHistory(itemIds: $h) { error }',
      'anomalyScoreForHistory(itemIds: $h) { error }',
    ]) {
      const res = await gql(app, `query($h: [ID!]!) { ${q} }`, { h });
      expect(res.errors![0].extensions.code).toBe('NO_ACTIVE_MODEL');
    }
  });

  describe('with a Mult-DAE version active', () => {
    let version: number;
    beforeAll(async () => {
      version = await trainTestVersion({
        epochs: 30,
        hyperparameters: { latentDim: 8, hiddenUnits: [16], batchSize: 32, learningRate: 1e-2 },
      });
      expect(
        (await gql(app, 'mutation($id: Int!) { activateModelVersion(id: $id) { id } }', { id: version })).errors,
      ).toBeUndefined();
    }, 120_000);

    it('maps the items on two axes, titled and coloured by category, with the groups apart', async () => {
      const res = await gql(app, MAP, { of: 'ITEMS', limit: 20_000 });
      expect(res.errors).toBeUndefined();
      const m = res.data!.latentMap;
      expect(m).toMatchObject({ modelVersionId: version, of: 'ITEMS', method: 'PCA', anomalyPercentile: [] });
      expect(m.total).toBe(m.ids.length);
      expect(m.ids.length).toBeGreaterThan(100); // items nobody picked have no column
      expect(m.x).toHaveLength(m.ids.length);
      expect(m.y).toHaveLength(m.ids.length);
      expect(m.labels[m.ids.indexOf('m1-0')]).toBe('Item 1/0');
      expect([...m.categories].sort()).toEqual(['g0', 'g1', 'g2', 'g3']);
      m.ids.forEach((id: string, k: number) => expect(m.categories[m.category[k]]).toBe(`g${id[1]}`));
      expect(m.explainedVariance[0]).toBeGreaterThanOrEqual(m.explainedVariance[1]);
      expect(m.explainedVariance[0] + m.explainedVariance[1]).toBeLessThanOrEqual(1.0000001);
      // The model learned the taste groups: same-group items lie closer together than others.
      const s = separation(
        m.x,
        m.y,
        m.ids.map((id: string) => id[1]),
      );
      expect(s.within).toBeLessThan(0.75 * s.between);
    });

    it('samples evenly down to the limit, and caches the map per version', async () => {
      const small = (await gql(app, MAP, { of: 'ITEMS', limit: 10 })).data!.latentMap;
      expect(small.ids).toHaveLength(10);
      expect(small.total).toBeGreaterThan(100);
      const again = (await gql(app, MAP, { of: 'ITEMS', limit: 10 })).data!.latentMap;
      expect(again).toEqual(small);
      for (const limit of [0, 50_001]) {
        const bad = await gql(app, MAP, { of: 'ITEMS', limit });
        expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
      }
    });

    it('maps the users, coloured by their anomaly percentile', async () => {
      const res = await gql(app, MAP, { of: 'USERS', limit: 20_000 });
      expect(res.errors).toBeUndefined();
      const m = res.data!.latentMap;
      expect(m).toMatchObject({ of: 'USERS', modelVersionId: version, labels: [], categories: [], category: [] });
      expect(m.ids).toHaveLength(160);
      expect(m.anomalyPercentile).toHaveLength(160);
      for (const p of m.anomalyPercentile) expect(p >= 0 && p <= 100).toBe(true);
      expect(Math.max(...m.anomalyPercentile)).toBe(100);
      // user uN likes group N mod 4: the map separates them too.
      const s = separation(
        m.x,
        m.y,
        m.ids.map((id: string) => String(Number(id.slice(1)) % GROUPS)),
      );
      expect(s.within).toBeLessThan(0.75 * s.between);
      const top = (await gql(app, '{ anomalousUsers(limit: 1) { user { id } percentile } }')).data!.anomalousUsers[0];
      expect(m.anomalyPercentile[m.ids.indexOf(top.user.id)]).toBe(100);
    });

    it('reconstructs and scores an anonymous history exactly as a user with the same items', async () => {
      const h = historyOf('u0');
      expect(h).toHaveLength(12);
      const res = await gql(app, FOR_HISTORY, { h });
      expect(res.errors).toBeUndefined();
      const r = res.data!.reconstructionForHistory;
      expect(r).toMatchObject({ modelVersionId: version, unit: 'PROBABILITY' });
      // A value per history item, in the order given, each observed.
      expect(r.items.map((x: { item: { id: string } }) => x.item.id)).toEqual(h);
      for (const x of r.items) {
        expect(x.observed).toBe(true);
        expect(x.value > 0 && x.value < 1).toBe(true);
      }
      const user = await gql(
        app,
        '{ reconstruction(userId: "u0") { error percentile items { value item { id } } } user(id: "u0") { anomalyScore { error percentile modelVersionId } } }',
      );
      expect(user.errors).toBeUndefined();
      expect(r.error).toBeCloseTo(user.data!.reconstruction.error, 6);
      expect(r.percentile).toBe(user.data!.reconstruction.percentile);
      const byId = new Map(
        user.data!.reconstruction.items.map((x: { value: number; item: { id: string } }) => [x.item.id, x.value]),
      );
      for (const x of r.items) expect(x.value).toBeCloseTo(byId.get(x.item.id) as number, 6);
      const score = res.data!.anomalyScoreForHistory;
      expect(score.modelVersionId).toBe(version);
      expect(score.error).toBeCloseTo(user.data!.user.anomalyScore.error, 6);
      expect(score.percentile).toBe(user.data!.user.anomalyScore.percentile);
      expect(score.error).toBeCloseTo(r.error, 6);
      // Repeating an item changes nothing (a history is a set of positives).
      const twice = (await gql(app, FOR_HISTORY, { h: [...h, h[0], h[1]] })).data!;
      expect(twice.anomalyScoreForHistory.error).toBeCloseTo(score.error, 6);
      expect(twice.reconstructionForHistory.items).toHaveLength(12);
    });

    it('scores a history spread over every taste group as more anomalous than any one-group history', async () => {
      const coherent = (await gql(app, FOR_HISTORY, { h: historyOf('u1') })).data!.anomalyScoreForHistory;
      const spread = Array.from({ length: 12 }, (_, k) => itemId(k % GROUPS, 20 + Math.floor(k / GROUPS)));
      const res = await gql(app, FOR_HISTORY, { h: spread });
      expect(res.errors).toBeUndefined();
      const odd = res.data!.anomalyScoreForHistory;
      expect(odd.error).toBeGreaterThan(coherent.error);
      expect(odd.percentile).toBeGreaterThan(coherent.percentile);
      expect(odd.percentile).toBeGreaterThanOrEqual(90);
      expect(res.data!.reconstructionForHistory.percentile).toBe(odd.percentile);
    });

    it("gives values for the items asked (valuesFor): the history's group high, another group low", async () => {
      const h = historyOf('u0'); // group 0
      const res = await gql(app, FOR_HISTORY, { h, v: ['m0-0', 'm3-29', h[0]] });
      expect(res.errors).toBeUndefined();
      const [own, other, seen] = res.data!.reconstructionForHistory.items;
      expect(own.item.id).toBe('m0-0');
      expect(other).toMatchObject({ observed: false, item: { id: 'm3-29' } });
      expect(seen).toMatchObject({ observed: true, item: { id: h[0] } });
      expect(own.value).toBeGreaterThan(other.value);
    });

    it('ignores items the version has no vector for; a history of only those has no error and no score', async () => {
      expect(
        (await gql(app, 'mutation { upsertItems(items: [{ id: "fresh", title: "Fresh" }]) { id } }')).errors,
      ).toBeUndefined();
      const some = await gql(app, FOR_HISTORY, { h: ['fresh', 'm2-0', 'm2-1'] });
      expect(some.errors).toBeUndefined();
      expect(some.data!.reconstructionForHistory.items.map((x: { item: { id: string } }) => x.item.id)).toEqual([
        'm2-0',
        'm2-1',
      ]);
      expect(some.data!.anomalyScoreForHistory).not.toBeNull();
      const none = await gql(app, FOR_HISTORY, { h: ['fresh'] });
      expect(none.errors).toBeUndefined();
      expect(none.data!.reconstructionForHistory).toMatchObject({ error: null, percentile: null, items: [] });
      expect(none.data!.anomalyScoreForHistory).toBeNull();
      const empty = await gql(app, FOR_HISTORY, { h: [] });
      expect(empty.data!.reconstructionForHistory).toMatchObject({ error: null, items: [] });
      expect(empty.data!.anomalyScoreForHistory).toBeNull();
      // Asking for the value of an item without a vector is an error naming it.
      const asked = await gql(app, FOR_HISTORY, { h: ['m2-0'], v: ['m2-1', 'fresh'] });
      expect(asked.errors![0].extensions).toMatchObject({ code: 'NOT_IN_MODEL', field: 'valuesFor[1]', id: 'fresh' });
    });

    it('refuses bad histories with a code and the field: unknown ids, bad ids, too many', async () => {
      const expectError = async (variables: Record<string, unknown>, expected: Record<string, unknown>) => {
        const res = await gql(app, FOR_HISTORY, variables);
        expect(res.data ?? null).toBeNull();
        // Both fields fail the same way (anomalyScoreForHistory is nullable: its error comes with data null for it).
        for (const e of res.errors!) expect(e.extensions).toMatchObject(expected);
        expect(res.errors!.length).toBeGreaterThanOrEqual(1);
      };
      await expectError(
        { h: ['m0-0', 'zzz', 'yyy'] },
        { code: 'UNKNOWN_ITEMS', field: 'itemIds', ids: ['zzz', 'yyy'] },
      );
      const unknownValue = await gql(app, FOR_HISTORY, { h: ['m0-0'], v: ['nope'] });
      expect(unknownValue.errors![0].extensions).toMatchObject({
        code: 'UNKNOWN_ITEMS',
        field: 'valuesFor',
        ids: ['nope'],
      });
      const blank = await gql(app, 'query($h: [ID!]!) { anomalyScoreForHistory(itemIds: $h) { error } }', {
        h: ['m0-0', ''],
      });
      expect(blank.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'itemIds[1]' });
      const many = Array.from({ length: 1001 }, (_, k) => `x${k}`);
      const tooMany = await gql(app, 'query($h: [ID!]!) { reconstructionForHistory(itemIds: $h) { error } }', {
        h: many,
      });
      expect(tooMany.errors![0].extensions).toMatchObject({ code: 'BATCH_TOO_LARGE', field: 'itemIds' });
      const tooManyScores = await gql(app, 'query($h: [ID!]!) { anomalyScoreForHistory(itemIds: $h) { error } }', {
        h: many,
      });
      expect(tooManyScores.errors![0].extensions).toMatchObject({ code: 'BATCH_TOO_LARGE', field: 'itemIds' });
      const manyValues = Array.from({ length: 101 }, (_, k) => itemId(k % GROUPS, k % PER_GROUP));
      const tooManyValues = await gql(app, FOR_HISTORY, { h: ['m0-0'], v: manyValues });
      expect(tooManyValues.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'valuesFor' });
    });

    it('counts the history lists in the query cost (QUERY_TOO_COMPLEX before any work)', async () => {
      const h = Array.from({ length: 1000 }, (_, k) => itemId(k % GROUPS, k % PER_GROUP));
      const one = await gql(app, 'query($h: [ID!]!) { reconstructionForHistory(itemIds: $h) { error } }', { h });
      expect(one.errors).toBeUndefined();
      for (const field of [
        'reconstructionForHistory(itemIds: $h) { error }',
        'anomalyScoreForHistory(itemIds: $h) { error }',
      ]) {
        const aliased = `query($h: [ID!]!) { ${Array.from({ length: 21 }, (_, k) => `a${k}: ${field}`).join(' ')} }`;
        const res = await gql(app, aliased, { h });
        expect(res.status).toBe(400);
        expect(res.errors![0]).toMatchObject({
          message: expect.stringMatching(/^Query Cost limit of 10000 exceeded, found \d+\.$/),
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        });
      }
    });

    it('is refused for EASE versions, which have no latent vectors', async () => {
      const ease = await trainTestVersion({ kind: 'ease' });
      expect(
        (await gql(app, 'mutation($id: Int!) { activateModelVersion(id: $id) { id } }', { id: ease })).errors,
      ).toBeUndefined();
      const res = await gql(app, MAP, { of: 'ITEMS', limit: 100 });
      expect(res.errors![0].extensions).toMatchObject({ code: 'UNSUPPORTED_BY_MODEL', field: 'of' });
      expect(res.errors![0].message).toMatch(/EASE versions have no latent vectors/);
    }, 60_000);
  });

  it('viewer says the role of the key (ADMIN when keys are off)', async () => {
    expect((await gql(app, '{ viewer { role authRequired keyPrefix } }')).data!.viewer).toEqual({
      role: 'ADMIN',
      authRequired: false,
      keyPrefix: null,
    });
    const keyed = await bootApp({ auth: 'required' });
    const prisma = createPrismaClient(testDatabaseUrl(), 1);
    try {
      const { key } = await createApiKey(prisma, { name: 'viewer test', role: 'READER' });
      const res = await keyed.inject({
        method: 'POST',
        url: '/graphql',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: { query: '{ viewer { role authRequired keyPrefix } }' },
      });
      const viewer = JSON.parse(res.body).data.viewer;
      expect(viewer).toMatchObject({ role: 'READER', authRequired: true });
      expect(key.startsWith(viewer.keyPrefix)).toBe(true);
      // With keys required the page says so, and opens on the key form without a 401 from /graphql.
      expect((await keyed.inject({ method: 'GET', url: '/dashboard/' })).body).toContain(
        '<meta name="recoder-auth" content="required">',
      );
      const anonymous = await keyed.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json' },
        payload: { query: '{ viewer { role } }' },
      });
      expect(JSON.parse(anonymous.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    } finally {
      await prisma.$disconnect();
      await keyed.close();
    }
  });

  it('serves the built dashboard at /dashboard/ with a strict CSP, and nothing else', async () => {
    const redirect = await app.inject({ method: 'GET', url: '/dashboard' });
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers.location).toBe('dashboard/');
    const page = await app.inject({ method: 'GET', url: '/dashboard/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    // The page knows whether keys are required, without asking /graphql first.
    expect(page.body).toContain('<meta name="recoder-auth" content="off">');
    const scripts = [...page.body.matchAll(/(?:src|href)="\.\/assets\/([^"]+)"/g)].map((m) => m[1]);
    expect(scripts.some((s) => s.endsWith('.js'))).toBe(true);
    expect(scripts.some((s) => s.endsWith('.css'))).toBe(true);
    for (const name of scripts) {
      const asset = await app.inject({ method: 'GET', url: `/dashboard/assets/${name}` });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-type']).toMatch(name.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
    expect((await app.inject({ method: 'GET', url: '/dashboard/assets/..%2F..%2Fpackage.json' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/dashboard/assets/nope.js' })).statusCode).toBe(404);
  });

  it('RECODER_DASHBOARD=false serves nothing at /dashboard', async () => {
    const off = await bootApp({ dashboard: false });
    try {
      expect((await off.inject({ method: 'GET', url: '/dashboard/' })).statusCode).toBe(404);
      expect((await off.inject({ method: 'GET', url: '/dashboard' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});
