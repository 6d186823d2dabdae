import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Random } from '../src/core/data/random.js';
import { bootApp, gql, sql, truncateAll } from './helpers.js';
import { trainTestVersion } from './training-data.js';

/**
 * A catalog of 4 categories × 30 items; 160 users each like 12 items of one category (popular
 * ones more often); 8 bots interact with 30 random items each.
 */
const GROUPS = 4;
const PER_GROUP = 30;
const itemId = (g: number, i: number) => `m${g}-${i}`;
const groupOf = (id: string) => Number(id.slice(1, id.indexOf('-')));
const userGroup = (n: number) => n % GROUPS;

function interactions(): { userId: string; itemId: string }[] {
  const rng = new Random(42);
  const out: { userId: string; itemId: string }[] = [];
  for (let n = 0; n < 160; n++) {
    const g = userGroup(n);
    const picked = new Set<number>();
    while (picked.size < 12) picked.add(Math.floor(PER_GROUP * rng.uniform() ** 1.7));
    for (const i of picked) out.push({ userId: `u${n}`, itemId: itemId(g, i) });
  }
  for (let b = 0; b < 8; b++) {
    const picked = new Set<number>();
    while (picked.size < 30) picked.add(rng.int(GROUPS * PER_GROUP));
    for (const k of picked) out.push({ userId: `bot${b}`, itemId: itemId(Math.floor(k / PER_GROUP), k % PER_GROUP) });
  }
  return out;
}

const RECS = `query($userId: ID!, $limit: Int!, $filter: RecommendationFilter) {
  recommendations(userId: $userId, limit: $limit, filter: $filter) { source modelVersionId reason items { score source item { id categories } } }
}`;
const ACTIVATE = `mutation($id: Int!) { activateModelVersion(id: $id) { id active kind } }`;
const RECORD = `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { createdUsers } }`;

const ids = (res: { data?: any }) =>
  (res.data!.recommendations.items as { item: { id: string } }[]).map((r) => r.item.id);

describe('serving over GraphQL', () => {
  let app: NestFastifyApplication;
  let v1: number;
  let v2: number;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    const items = [];
    for (let g = 0; g < GROUPS; g++)
      for (let i = 0; i < PER_GROUP; i++)
        items.push({ id: itemId(g, i), title: `Item ${g}/${i}`, categories: [`g${g}`] });
    items.push({ id: 'fresh', title: 'Added after training', categories: ['g0'] });
    expect(
      (await gql(app, `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, { items })).errors,
    ).toBeUndefined();
    expect((await gql(app, RECORD, { interactions: interactions() })).errors).toBeUndefined();
    v1 = await trainTestVersion();
    v2 = await trainTestVersion({ seed: 9 });
  }, 120_000);
  afterAll(async () => {
    await app.close();
  });

  describe('before any activation', () => {
    it('recommends popular items, marked as such, with the reason', async () => {
      const res = await gql(app, RECS, { userId: 'u0', limit: 5 });
      expect(res.errors).toBeUndefined();
      const r = res.data!.recommendations;
      expect(r).toMatchObject({ source: 'POPULARITY', modelVersionId: null, reason: 'no model version is active' });
      expect(r.items).toHaveLength(5);
      for (const item of r.items) expect(item.source).toBe('POPULARITY');
      const unknown = (await gql(app, RECS, { userId: 'newbie-0', limit: 5 })).data!.recommendations;
      expect(unknown).toMatchObject({
        source: 'POPULARITY',
        modelVersionId: null,
        reason: 'the user is unknown: no interaction recorded yet',
      });
      expect(unknown.items).toHaveLength(5);
    });

    it('answers model-only queries with NO_ACTIVE_MODEL', async () => {
      const res = await gql(app, `{ similarItems(itemId: "m0-1", limit: 3) { score } }`);
      expect(res.errors![0].extensions.code).toBe('NO_ACTIVE_MODEL');
    });
  });

  describe('with an active Mult-DAE version', () => {
    beforeAll(async () => {
      const res = await gql(app, ACTIVATE, { id: v1 });
      expect(res.errors).toBeUndefined();
      expect(res.data!.activateModelVersion).toEqual({ id: v1, active: true, kind: 'DAE' });
    });

    it('lists versions with metrics and reports what it serves', async () => {
      const res = await gql(
        app,
        `{ modelVersions { id active kind metrics interactionCount hyperparameters }
        servingStatus { modelVersion { id } search populationSize backend } }`,
      );
      expect(res.errors).toBeUndefined();
      const versions = res.data!.modelVersions;
      expect(versions.map((v: any) => v.id)).toEqual([v2, v1]);
      expect(versions.find((v: any) => v.id === v1)).toMatchObject({
        active: true,
        interactionCount: 160 * 12 + 8 * 30,
      });
      expect(versions[0].metrics.validation['ndcg@100']).toBeGreaterThan(0);
      expect(versions[0].hyperparameters.minRating).toBe(3.5);
      expect(res.data!.servingStatus).toMatchObject({ modelVersion: { id: v1 }, search: 'EXACT', populationSize: 168 });
    });

    it('answers compiled queries (graphql-jit, from the second request) as graphql-js does', async () => {
      // No input object: compiled from its second request on (src/graphql/jit-gate.ts).
      const plain = `query($userId: ID!, $limit: Int!) { recommendations(userId: $userId, limit: $limit) { source items { score item { id title categories } } } }`;
      const answers = [];
      for (let k = 0; k < 4; k++) answers.push(await gql(app, plain, { userId: 'u2', limit: 6 }));
      for (const a of answers) expect(a).toEqual(answers[0]);
      // RECS has an input-object variable: always interpreted by graphql-js.
      const interpreted = await gql(app, RECS, { userId: 'u2', limit: 6 });
      expect(ids(answers[3])).toEqual(ids(interpreted));
      expect(answers[3].data!.recommendations.items.map((x: any) => x.score)).toEqual(
        interpreted.data!.recommendations.items.map((x: any) => x.score),
      );
      // Errors keep their codes on the compiled path: a resolver's, and a variable's.
      const similar = 'query($i: ID!) { similarItems(itemId: $i, limit: 3) { score item { id } } }';
      for (let k = 0; k < 3; k++) {
        expect((await gql(app, similar, { i: 'm1-2' })).data!.similarItems).toHaveLength(3);
        expect((await gql(app, similar, { i: 'nope' })).errors![0].extensions).toMatchObject({ code: 'NOT_FOUND' });
        const bad = await gql(app, similar, { i: null });
        expect(bad.errors![0]).toMatchObject({
          message: 'Variable "$i" of non-null type "ID!" must not be null.',
          extensions: { code: 'BAD_USER_INPUT' },
        });
      }
      // An input object's field defaults (includeSeen = false) hold on every request.
      const filtered = `query($userId: ID!, $f: RecommendationFilter) { recommendations(userId: $userId, limit: 5, filter: $f) { items { item { categories } } } }`;
      for (let k = 0; k < 3; k++) {
        const res = await gql(app, filtered, { userId: 'u3', f: { categories: ['g1'] } });
        expect(res.errors).toBeUndefined();
        for (const x of res.data!.recommendations.items) expect(x.item.categories).toEqual(['g1']);
      }
    });

    it("recommends unseen items of the user's taste, best first", async () => {
      const res = await gql(app, RECS, { userId: 'u1', limit: 10 });
      expect(res.errors).toBeUndefined();
      const r = res.data!.recommendations;
      expect(r).toMatchObject({ source: 'MODEL', modelVersionId: v1, reason: null });
      const seen = new Set(
        (
          await sql(
            `SELECT it.external_id FROM interactions i JOIN items it ON it.id = i.item_id JOIN users u ON u.id = i.user_id WHERE u.external_id = 'u1'`,
          )
        ).map((x) => x.external_id),
      );
      for (const rec of r.items) expect(seen.has(rec.item.id)).toBe(false);
      expect(r.items.filter((x: any) => groupOf(x.item.id) === userGroup(1)).length).toBeGreaterThanOrEqual(8);
      for (let k = 1; k < r.items.length; k++) expect(r.items[k - 1].score).toBeGreaterThanOrEqual(r.items[k].score);
    });

    it('folds in a new interaction at once: the next answer changes', async () => {
      const before = ids(await gql(app, RECS, { userId: 'u2', limit: 10 }));
      const top = before[0];
      expect((await gql(app, RECORD, { interactions: [{ userId: 'u2', itemId: top }] })).errors).toBeUndefined();
      const after = ids(await gql(app, RECS, { userId: 'u2', limit: 10 }));
      expect(after).not.toContain(top);
      expect(after).not.toEqual(before);
    });

    it('serves a brand-new user from their first interactions, and popularity before that', async () => {
      expect((await gql(app, `mutation { upsertUsers(users: [{ id: "newbie" }]) { id } }`)).errors).toBeUndefined();
      const cold = (await gql(app, RECS, { userId: 'newbie', limit: 5 })).data!.recommendations;
      expect(cold).toMatchObject({ source: 'POPULARITY', reason: 'the user has no history the model knows' });
      await gql(app, RECORD, {
        interactions: [0, 1, 2, 3, 4].map((i) => ({ userId: 'newbie', itemId: itemId(3, i) })),
      });
      const warm = await gql(app, RECS, { userId: 'newbie', limit: 10 });
      expect(warm.data!.recommendations.source).toBe('MODEL');
      expect(ids(warm).filter((id) => groupOf(id) === 3).length).toBeGreaterThanOrEqual(8);
    });

    it('answers popular items for a user id it has never seen, as for an empty history, without creating the user', async () => {
      expect((await gql(app, `mutation { upsertUsers(users: [{ id: "empty-1" }]) { id } }`)).errors).toBeUndefined();
      const empty = await gql(app, RECS, { userId: 'empty-1', limit: 5 });
      const res = await gql(app, RECS, { userId: 'newbie-1', limit: 5 });
      expect(res.errors).toBeUndefined();
      const r = res.data!.recommendations;
      expect(r).toMatchObject({
        source: 'POPULARITY',
        modelVersionId: null,
        reason: 'the user is unknown: no interaction recorded yet',
      });
      expect(r.items).toHaveLength(5);
      for (const item of r.items) expect(item.source).toBe('POPULARITY');
      expect(ids(res)).toEqual(ids(empty));
      for (let k = 1; k < r.items.length; k++) expect(r.items[k - 1].score).toBeGreaterThanOrEqual(r.items[k].score);
      // The filter applies as for anyone.
      const filtered = await gql(app, RECS, {
        userId: 'newbie-1',
        limit: 5,
        filter: { categories: ['g1'], excludeItemIds: ['m1-0'] },
      });
      expect(filtered.errors).toBeUndefined();
      expect(ids(filtered)).toHaveLength(5);
      for (const id of ids(filtered)) expect(groupOf(id)).toBe(1);
      expect(ids(filtered)).not.toContain('m1-0');
      // Reading creates nothing; bad ids are still refused.
      expect(await sql(`SELECT id FROM users WHERE external_id = 'newbie-1'`)).toEqual([]);
      expect((await gql(app, RECS, { userId: '', limit: 5 })).errors![0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'userId',
      });
    });

    it('never returns hidden items; returns seen ones only with includeSeen', async () => {
      const top = ids(await gql(app, RECS, { userId: 'u5', limit: 5 }))[0];
      await gql(app, `mutation($id: ID!) { setItemHidden(itemId: $id, hidden: true) { id } }`, { id: top });
      try {
        const after = ids(await gql(app, RECS, { userId: 'u5', limit: 30 }));
        expect(after).not.toContain(top);
        expect(after.length).toBeGreaterThan(5);
        const withSeen = ids(await gql(app, RECS, { userId: 'u5', limit: 30, filter: { includeSeen: true } }));
        const seen = (
          await sql(
            `SELECT it.external_id FROM interactions i JOIN items it ON it.id = i.item_id JOIN users u ON u.id = i.user_id WHERE u.external_id = 'u5'`,
          )
        ).map((x) => x.external_id);
        expect(withSeen.some((id) => seen.includes(id))).toBe(true);
        expect(withSeen).not.toContain(top);
      } finally {
        await gql(app, `mutation($id: ID!) { setItemHidden(itemId: $id, hidden: false) { id } }`, { id: top });
      }
    });

    it('filters by category and excluded ids', async () => {
      const res = await gql(app, RECS, {
        userId: 'u0',
        limit: 5,
        filter: { categories: ['g2'], excludeItemIds: ['m2-0', 'nope'] },
      });
      expect(res.errors).toBeUndefined();
      const got = ids(res);
      expect(got).toHaveLength(5);
      for (const id of got) expect(groupOf(id)).toBe(2);
      expect(got).not.toContain('m2-0');
      const bad = await gql(app, RECS, { userId: 'u0', limit: 5, filter: { categories: [] } });
      expect(bad.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.categories' });
    });

    it('serves anonymous histories; unknown items are UNKNOWN_ITEMS', async () => {
      const res = await gql(
        app,
        `{ recommendationsForHistory(itemIds: ["m1-0", "m1-1", "m1-2"], limit: 8) { source items { item { id } } } }`,
      );
      expect(res.errors).toBeUndefined();
      const got = res.data!.recommendationsForHistory.items.map((x: any) => x.item.id);
      expect(res.data!.recommendationsForHistory.source).toBe('MODEL');
      expect(got).not.toContain('m1-0');
      expect(got.filter((id: string) => groupOf(id) === 1).length).toBeGreaterThanOrEqual(6);
      const bad = await gql(app, `{ recommendationsForHistory(itemIds: ["m1-0", "zzz"]) { source } }`);
      expect(bad.errors![0].extensions).toMatchObject({ code: 'UNKNOWN_ITEMS', field: 'itemIds', ids: ['zzz'] });
    });

    it('answers similarItems as the catalog stands: hiding and renaming show at once', async () => {
      const q = `{ similarItems(itemId: "m2-3", limit: 5) { item { id title } } }`;
      const answer = async () =>
        (await gql(app, q)).data!.similarItems.map((x: any) => ({ id: x.item.id as string, title: x.item.title }));
      const before = await answer();
      expect(before).toHaveLength(5);
      expect(await answer()).toEqual(before);
      const [first, second] = before;
      await gql(app, `mutation($id: ID!) { setItemHidden(itemId: $id, hidden: true) { id } }`, { id: first.id });
      const upsert = `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`;
      try {
        const hidden = await answer();
        expect(hidden.map((x: { id: string }) => x.id)).not.toContain(first.id);
        expect(hidden.slice(0, 4)).toEqual(before.slice(1));
        expect((await gql(app, upsert, { items: [{ id: second.id, title: 'Renamed' }] })).errors).toBeUndefined();
        expect((await answer())[0]).toEqual({ id: second.id, title: 'Renamed' });
      } finally {
        await gql(app, `mutation($id: ID!) { setItemHidden(itemId: $id, hidden: false) { id } }`, { id: first.id });
        await gql(app, upsert, { items: [{ id: second.id, title: second.title }] });
      }
      expect(await answer()).toEqual(before);
    });

    it('finds similar items and users', async () => {
      const items = await gql(app, `{ similarItems(itemId: "m2-3", limit: 10) { score item { id } } }`);
      expect(items.errors).toBeUndefined();
      const similar = items.data!.similarItems.map((x: any) => x.item.id);
      expect(similar).not.toContain('m2-3');
      expect(similar.filter((id: string) => groupOf(id) === 2).length).toBeGreaterThanOrEqual(7);
      const users = await gql(app, `{ similarUsers(userId: "u3", limit: 10) { score user { id } } }`);
      expect(users.errors).toBeUndefined();
      const names = users.data!.similarUsers.map((x: any) => x.user.id);
      expect(names).not.toContain('u3');
      expect(
        names.filter((id: string) => id.startsWith('u') && userGroup(Number(id.slice(1))) === 3).length,
      ).toBeGreaterThanOrEqual(8);
    });

    it('reports NOT_FOUND for unknown ids and NOT_IN_MODEL for items added after training', async () => {
      expect((await gql(app, `{ similarItems(itemId: "nope") { score } }`)).errors![0].extensions).toMatchObject({
        code: 'NOT_FOUND',
        field: 'itemId',
      });
      // (recommendations for an unknown user answer popularity: see the cold-start test above)
      expect((await gql(app, `{ similarUsers(userId: "nobody") { score } }`)).errors![0].extensions).toMatchObject({
        code: 'NOT_FOUND',
        field: 'userId',
      });
      expect((await gql(app, `{ itemEmbedding(itemId: "fresh") { dimension } }`)).errors![0].extensions).toMatchObject({
        code: 'NOT_IN_MODEL',
        field: 'itemId',
      });
      expect(
        (await gql(app, `{ similarItems(itemId: "m0-0", limit: 1000) { score } }`)).errors![0].extensions,
      ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
    });

    it('reconstructs a history: probabilities, observed flags, error and percentile', async () => {
      const res = await gql(
        app,
        `{ reconstruction(userId: "u0") { modelVersionId unit error percentile items { value observed item { id } } } }`,
      );
      expect(res.errors).toBeUndefined();
      const r = res.data!.reconstruction;
      expect(r).toMatchObject({ modelVersionId: v1, unit: 'PROBABILITY' });
      expect(r.items).toHaveLength(12);
      for (const x of r.items) {
        expect(x.observed).toBe(true);
        expect(x.value).toBeGreaterThan(0);
        expect(x.value).toBeLessThan(1);
      }
      expect(r.error).toBeGreaterThan(0);
      expect(r.percentile).toBeGreaterThanOrEqual(0);
      const chosen = await gql(
        app,
        `{ reconstruction(userId: "u0", itemIds: ["m0-0", "m3-29"]) { items { value observed item { id } } } }`,
      );
      const [own, other] = chosen.data!.reconstruction.items;
      expect(own.value).toBeGreaterThan(other.value);
      expect(other.observed).toBe(false);
    });

    it('ranks the bots as the most anomalous users', async () => {
      const res = await gql(
        app,
        `{ anomalousUsers(limit: 8) { error percentile user { id } } user(id: "bot0") { anomalyScore { percentile modelVersionId } } }`,
      );
      expect(res.errors).toBeUndefined();
      const top = res.data!.anomalousUsers.map((a: any) => a.user.id);
      expect(top.filter((id: string) => id.startsWith('bot')).length).toBeGreaterThanOrEqual(7);
      expect(res.data!.anomalousUsers[0].percentile).toBe(100);
      expect(res.data!.user.anomalyScore.percentile).toBeGreaterThan(90);
    });

    it('exports embeddings; predictedRating is AutoRec-only', async () => {
      const res = await gql(
        app,
        `{ userEmbedding(userId: "u0") { dimension vector modelVersionId } itemEmbedding(itemId: "m0-0") { dimension vector } }`,
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.userEmbedding.dimension).toBe(16);
      expect(res.data!.userEmbedding.vector).toHaveLength(16);
      expect(res.data!.itemEmbedding.dimension).toBe(16);
      const rating = await gql(app, `{ predictedRating(userId: "u0", itemId: "m0-0") }`);
      expect(rating.errors![0].extensions.code).toBe('UNSUPPORTED_BY_MODEL');
    });

    it('swaps versions under load without failing a request, and rolls back', async () => {
      let stop = false;
      let failures = 0;
      const served = new Set<number>();
      const loop = async (n: number) => {
        while (!stop) {
          const res = await gql(app, RECS, { userId: `u${n}`, limit: 10 });
          if (res.errors || res.data?.recommendations.items.length !== 10) failures++;
          else served.add(res.data.recommendations.modelVersionId);
        }
      };
      const clients = [0, 1, 2, 3].map((n) => loop(n));
      await new Promise((r) => setTimeout(r, 100));
      const swapped = await gql(app, ACTIVATE, { id: v2 });
      await new Promise((r) => setTimeout(r, 100));
      stop = true;
      await Promise.all(clients);
      expect(swapped.errors).toBeUndefined();
      expect(failures).toBe(0);
      expect(served).toEqual(new Set([v1, v2]));
      expect((await gql(app, RECS, { userId: 'u0', limit: 3 })).data!.recommendations.modelVersionId).toBe(v2);
      expect((await gql(app, ACTIVATE, { id: v1 })).data!.activateModelVersion.id).toBe(v1);
      expect((await gql(app, RECS, { userId: 'u0', limit: 3 })).data!.recommendations.modelVersionId).toBe(v1);
      expect((await gql(app, ACTIVATE, { id: 999 })).errors![0].extensions).toMatchObject({
        code: 'NOT_FOUND',
        field: 'id',
      });
    });

    it('another API process picks up an activation and catalog changes through LISTEN/NOTIFY', async () => {
      const other = await bootApp();
      try {
        const status = async (a: NestFastifyApplication) =>
          (await gql(a, `{ servingStatus { modelVersion { id } } }`)).data!.servingStatus.modelVersion.id;
        expect(await status(other)).toBe(v1);
        await gql(app, ACTIVATE, { id: v2 });
        const deadline = Date.now() + 10_000;
        while ((await status(other)) !== v2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(await status(other)).toBe(v2);
        // Its item cache hears catalog changes made through another process.
        const similar = async () =>
          (await gql(other, `{ similarItems(itemId: "m1-0", limit: 5) { item { id } } }`)).data!.similarItems.map(
            (x: any) => x.item.id as string,
          );
        const first = (await similar())[0];
        await gql(app, `mutation($id: ID!) { setItemHidden(itemId: $id, hidden: true) { id } }`, { id: first });
        try {
          while ((await similar()).includes(first) && Date.now() < deadline + 5_000)
            await new Promise((r) => setTimeout(r, 20));
          expect(await similar()).not.toContain(first);
        } finally {
          await gql(app, `mutation($id: ID!) { setItemHidden(itemId: $id, hidden: false) { id } }`, { id: first });
        }
      } finally {
        await other.close();
      }
    });
  });

  describe('AutoRec versions', () => {
    it('predict ratings and reconstruct in rating units', async () => {
      const rng = new Random(8);
      const ratings = [];
      for (let n = 0; n < 40; n++) {
        for (let i = 0; i < 15; i++) {
          const g = rng.int(GROUPS);
          ratings.push({
            userId: `r${n}`,
            itemId: itemId(g, i),
            kind: 'RATING',
            value: g === userGroup(n) ? 5 : 1 + rng.int(2),
          });
        }
      }
      expect((await gql(app, RECORD, { interactions: ratings })).errors).toBeUndefined();
      const id = await trainTestVersion({ kind: 'autorec', epochs: 30, hyperparameters: { hidden: 24 }, lambda: 1 });
      expect((await gql(app, ACTIVATE, { id })).errors).toBeUndefined();
      const res = await gql(
        app,
        `{ predictedRating(userId: "r0", itemId: "m0-14") reconstruction(userId: "r0") { unit error items { value } } }`,
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.predictedRating).toBeGreaterThanOrEqual(1);
      expect(res.data!.predictedRating).toBeLessThanOrEqual(5);
      expect(res.data!.reconstruction.unit).toBe('RATING');
      for (const x of res.data!.reconstruction.items) expect(x.value >= 1 && x.value <= 5).toBe(true);
      const recs = await gql(app, RECS, { userId: 'r0', limit: 5 });
      expect(recs.data!.recommendations.source).toBe('MODEL');
    });
  });
});
