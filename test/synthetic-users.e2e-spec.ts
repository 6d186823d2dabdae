import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp, gql, sql, truncateAll } from './helpers.js';
import { GROUPS, PER_GROUP, seedTasteGroups, waitFor, trainTestVersion } from './training-data.js';

const SAMPLE = `query($count: Int!, $itemsPerUser: Int!, $seed: Int) {
  sampleSyntheticUsers(count: $count, itemsPerUser: $itemsPerUser, seed: $seed) { items { id title categories } }
}`;
const ACTIVATE = `mutation($id: Int!) { activateModelVersion(id: $id) { id active kind } }`;
const NUM_ITEMS = GROUPS * PER_GROUP;
const groupOf = (id: string) => Number(id.slice(1, id.indexOf('-')));
/** The deleted item (between training and activation): never drawn. */
const DELETED = 'm2-29';

type Sampled = { items: { id: string; title: string; categories: string[] }[] }[];

async function sample(
  app: NestFastifyApplication,
  count: number,
  itemsPerUser: number,
  seed?: number,
): Promise<Sampled> {
  const res = await gql(app, SAMPLE, { count, itemsPerUser, seed });
  expect(res.errors).toBeUndefined();
  return res.data!.sampleSyntheticUsers;
}

async function errorOf(
  app: NestFastifyApplication,
  variables: Record<string, unknown>,
): Promise<{ code: string; field?: string }> {
  const res = await gql(app, SAMPLE, variables);
  expect(res.data?.sampleSyntheticUsers ?? null).toBeNull();
  const { code, field } = res.errors![0].extensions;
  return { code, field };
}

async function activate(app: NestFastifyApplication, id: number): Promise<void> {
  const res = await gql(app, ACTIVATE, { id });
  expect(res.errors).toBeUndefined();
  await waitFor(
    async () => (await gql(app, '{ servingStatus { modelVersion { id } } }')).data!.servingStatus.modelVersion?.id,
    (v) => v === id,
  );
}

describe('sampleSyntheticUsers over GraphQL', () => {
  let app: NestFastifyApplication;
  let vae: number;
  let dae: number;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    await seedTasteGroups(app);
    // A KL weight that reaches 1 (the default schedule keeps β near 0 for a run this short), so
    // the posterior stays near the prior N(0, I) that the synthetic users are drawn from.
    vae = await trainTestVersion({
      kind: 'vae',
      epochs: 80,
      hyperparameters: { latentDim: 16, batchSize: 32, learningRate: 5e-3, annealCap: 1, totalAnnealSteps: 100 },
    });
    dae = await trainTestVersion({ kind: 'dae' });
    // Deleted after training: the versions have a column for it, the catalog no longer has it.
    expect((await gql(app, `mutation { deleteItem(itemId: "${DELETED}") { id } }`)).errors).toBeUndefined();
  }, 180_000);
  afterAll(async () => {
    await app.close();
  });

  it('answers NO_ACTIVE_MODEL before any activation (after checking the numbers)', async () => {
    expect(await errorOf(app, { count: 1, itemsPerUser: 1 })).toEqual({ code: 'NO_ACTIVE_MODEL', field: undefined });
    expect(await errorOf(app, { count: 0, itemsPerUser: 1 })).toEqual({ code: 'BAD_USER_INPUT', field: 'count' });
  });

  it('answers UNSUPPORTED_BY_MODEL when the active version is not a Mult-VAE', async () => {
    await activate(app, dae);
    expect(await errorOf(app, { count: 1, itemsPerUser: 1 })).toEqual({
      code: 'UNSUPPORTED_BY_MODEL',
      field: undefined,
    });
  });

  describe('with an active Mult-VAE version', () => {
    beforeAll(async () => {
      await activate(app, vae);
    }, 60_000);

    it('returns count users of itemsPerUser distinct catalog items, mostly of one taste group each', async () => {
      const users = await sample(app, 60, 6, 7);
      expect(users).toHaveLength(60);
      const catalog = new Set(
        (await sql<{ external_id: string }>('SELECT external_id FROM items')).map((r) => r.external_id),
      );
      let purity = 0;
      const majorities = new Set<number>();
      for (const user of users) {
        expect(user.items).toHaveLength(6);
        const ids = user.items.map((i) => i.id);
        expect(new Set(ids).size).toBe(6);
        for (const item of user.items) {
          expect(catalog.has(item.id)).toBe(true);
          expect(item.categories).toEqual([`g${groupOf(item.id)}`]); // full catalog items
        }
        const perGroup = Array.from({ length: GROUPS }, (_, g) => ids.filter((id) => groupOf(id) === g).length);
        const top = Math.max(...perGroup);
        purity += top / 6;
        majorities.add(perGroup.indexOf(top));
      }
      // 6 items drawn uniformly from 4 groups of 30 would give a mean majority share of ≈ 0.46.
      expect(purity / users.length).toBeGreaterThan(0.7);
      expect(majorities.size).toBeGreaterThanOrEqual(3);
    });

    it("latent: POPULATION draws from the users' fitted encoder means: popular items come up more often", async () => {
      const query = `query($latent: LatentSource!) { sampleSyntheticUsers(count: 100, itemsPerUser: 6, seed: 5, latent: $latent) { items { id } } }`;
      const counts = async (latent: string) => {
        const res = await gql<{ sampleSyntheticUsers: { items: { id: string }[] }[] }>(app, query, { latent });
        expect(res.errors).toBeUndefined();
        const n = new Map<string, number>();
        for (const u of res.data!.sampleSyntheticUsers) for (const i of u.items) n.set(i.id, (n.get(i.id) ?? 0) + 1);
        return n;
      };
      // Real popularity: item i of a group is liked with probability falling in i (PER_GROUP * u^1.7).
      const head = (n: Map<string, number>) =>
        [...n].filter(([id]) => Number(id.split('-')[1]) < 5).reduce((s, [, c]) => s + c, 0);
      const population = await counts('POPULATION');
      const prior = await counts('PRIOR');
      expect(head(population)).toBeGreaterThan(head(prior));
      const bad = await gql(
        app,
        `{ sampleSyntheticUsers(count: 1, itemsPerUser: 1, latent: SOMEWHERE) { items { id } } }`,
      );
      expect(bad.errors![0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    });

    it('is reproducible for a seed; another seed gives other users', async () => {
      const a = await sample(app, 10, 5, 42);
      expect(await sample(app, 10, 5, 42)).toEqual(a);
      expect(await sample(app, 10, 5, 43)).not.toEqual(a);
      expect(await sample(app, 3, 5, 42)).toEqual(a.slice(0, 3));
      expect(await sample(app, 2, 3)).toHaveLength(2); // no seed: a random one
    });

    it('never draws an item deleted since training; itemsPerUser is capped by the items left', async () => {
      const [all] = await sample(app, 1, NUM_ITEMS - 1, 1);
      expect(all.items.map((i) => i.id).sort()).toEqual(
        Array.from({ length: NUM_ITEMS }, (_, k) => `m${Math.floor(k / PER_GROUP)}-${k % PER_GROUP}`)
          .filter((id) => id !== DELETED)
          .sort(),
      );
      const over = await gql(app, SAMPLE, { count: 1, itemsPerUser: NUM_ITEMS });
      expect(over.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'itemsPerUser' });
      expect(over.errors![0].message).toContain(`at most ${NUM_ITEMS - 1}`);
    });

    it('rejects bad numbers with BAD_USER_INPUT naming the argument', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ count: 0, itemsPerUser: 1 }, 'count'],
        [{ count: -1, itemsPerUser: 1 }, 'count'],
        [{ count: 101, itemsPerUser: 1 }, 'count'], // RECODER_MAX_PAGE_SIZE = 100
        [{ count: 1, itemsPerUser: 0 }, 'itemsPerUser'],
        [{ count: 1, itemsPerUser: 1001 }, 'itemsPerUser'],
        [{ count: 1, itemsPerUser: NUM_ITEMS + 1 }, 'itemsPerUser'],
      ];
      for (const [variables, field] of cases)
        expect({ variables, error: await errorOf(app, variables) }).toEqual({
          variables,
          error: { code: 'BAD_USER_INPUT', field },
        });
      expect(await sample(app, 100, 1, 1)).toHaveLength(100);
    });
  });
});
