import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { getIntrospectionQuery } from 'graphql';
import { bootApp, gql, sql, truncateAll } from './helpers.js';

async function post(app: NestFastifyApplication, payload: unknown, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'POST', url: '/graphql', payload: payload as object, headers });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: JSON.parse(res.body) as {
      data?: unknown;
      errors?: { message: string; extensions: Record<string, unknown> }[];
    },
  };
}

/** Document limits, batching, introspection and GraphiQL switches, per-key rate limits. */
describe('GraphQL hardening', () => {
  describe('document limits (defaults: depth 10, 30 aliases, cost 10,000)', () => {
    let app: NestFastifyApplication;
    beforeAll(async () => {
      await truncateAll();
      app = await bootApp();
      await gql(
        app,
        'mutation { upsertItems(items: [{ id: "i1" }]) { id } recordInteractions(interactions: [{ userId: "u1", itemId: "i1" }]) { createdUsers } }',
      );
    });
    afterAll(async () => app?.close());

    it('refuses a query nested deeper than the limit (QUERY_TOO_COMPLEX, HTTP 400) and accepts one within it', async () => {
      // The schema has no cycles deep enough for the default 10; a server with depth 4 shows the rule.
      const shallow = await bootApp({ queryLimits: { depth: 4, aliases: 30, cost: 20_000, costInFlight: 40_000 } });
      try {
        const deep = await post(shallow, {
          query: '{ user(id: "u1") { interactions(first: 1) { nodes { item { id } } } } }',
        });
        expect(deep.status).toBe(400);
        expect(deep.body.errors![0]).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
        expect(deep.body.errors![0].message).toMatch(/query depth \(5\) exceeds the query depth limit of 4/);
        const ok = await post(shallow, { query: '{ user(id: "u1") { interactions(first: 1) { nodes { kind } } } }' });
        expect(ok.status).toBe(200);
        expect(ok.body.errors).toBeUndefined();
      } finally {
        await shallow.close();
      }
    });

    it("leaves introspection out of the depth (GraphiQL's schema query has depth 15) and refuses cyclic introspection", async () => {
      const schema = await post(app, {
        query: getIntrospectionQuery({ inputValueDeprecation: true, schemaDescription: true }),
      });
      expect(schema.status).toBe(200);
      expect(schema.body.errors).toBeUndefined();
      const cyclic = await post(app, {
        query: '{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }',
      });
      expect(cyclic.status).toBe(400);
      expect(cyclic.body.errors).toEqual([
        expect.objectContaining({
          message: 'Maximum introspection depth exceeded',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      ]);
      // Introspection beside ordinary fields: the ordinary ones still count.
      const shallow = await bootApp({ queryLimits: { depth: 3, aliases: 30, cost: 20_000, costInFlight: 40_000 } });
      try {
        const mixed = await post(shallow, {
          query:
            '{ __type(name: "User") { fields { type { ofType { name } } } } user(id: "u1") { interactions(first: 1) { nodes { kind } } } }',
        });
        expect(mixed.status).toBe(400);
        expect(mixed.body.errors).toHaveLength(1);
        expect(mixed.body.errors![0]).toMatchObject({
          message: 'Anonymous query depth (4) exceeds the query depth limit of 3',
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        });
      } finally {
        await shallow.close();
      }
    });

    it('refuses more aliases than the limit, with the limit in the message', async () => {
      const many = (n: number) =>
        `{ ${Array.from({ length: n }, (_, k) => `a${k}: servingStatus { populationSize }`).join(' ')} }`;
      const res = await post(app, { query: many(31) });
      expect(res.status).toBe(400);
      expect(res.body.errors![0]).toMatchObject({
        message: 'Aliases limit of 30 exceeded, found 31.',
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      });
      expect((await post(app, { query: many(30) })).status).toBe(200);
    });

    it('refuses a document whose estimated cost is over the limit and directive floods', async () => {
      const fields = 'id title categories attributes hidden createdAt updatedAt';
      const wide = `{ ${Array.from({ length: 30 }, (_, k) => `a${k}: items(first: 100) { nodes { ${fields} } pageInfo { hasNextPage endCursor } }`).join(' ')} }`;
      const res = await post(app, {
        query: wide.replace(/a(\d+): items/g, (_m, k) => (Number(k) < 30 ? `a${k}: items` : 'items')),
      });
      // 30 aliases is allowed; their cost is not.
      expect(res.status).toBe(400);
      expect(res.body.errors![0].message).toMatch(/^Query Cost limit of 10000 exceeded, found \d+\.$/);
      const huge = await post(app, { query: '{ items(first: 100000) { nodes { id } } }' }); // page sizes count in the cost
      expect(huge.body.errors![0].extensions.code).toBe('QUERY_TOO_COMPLEX');
      const directives = `{ servingStatus ${'@include(if: true) '.repeat(60)} { populationSize } }`;
      const flood = await post(app, { query: directives });
      expect(flood.status).toBe(400);
      expect(flood.body.errors!.map((e) => e.extensions.code)).toContain('QUERY_TOO_COMPLEX');
    });

    it('refuses batched requests (an array of operations)', async () => {
      const res = await post(app, [
        { query: '{ servingStatus { populationSize } }' },
        { query: '{ servingStatus { populationSize } }' },
      ]);
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0].extensions.code).toBeDefined();
    });

    it('allows introspection and GraphiQL by default outside production', async () => {
      const res = await post(app, { query: '{ __schema { queryType { name } } }' });
      expect(res.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    });
  });

  describe('production defaults', () => {
    let app: NestFastifyApplication;
    beforeAll(async () => {
      app = await bootApp({ introspection: false, graphiql: false });
    });
    afterAll(async () => app?.close());

    it('refuses introspection and serves no GraphiQL; answers errors without stack traces', async () => {
      const res = await post(app, { query: '{ __schema { queryType { name } } }' });
      expect(res.status).toBe(400);
      expect(res.body.errors![0].message).toMatch(/introspection/i);
      expect((await app.inject({ method: 'GET', url: '/graphiql' })).statusCode).toBe(404);
      const bad = await post(app, { query: '{ user(id: "nobody") { id } }' });
      expect(bad.body.errors![0].extensions).toEqual({ code: 'NOT_FOUND', field: 'id', id: 'nobody' });
      expect(JSON.stringify(bad.body)).not.toMatch(/stack|\.ts:|node_modules|SELECT/);
    });
  });

  describe('rate limit per client address when RECODER_AUTH=off', () => {
    let app: NestFastifyApplication;
    beforeAll(async () => {
      await sql('TRUNCATE rate_limit_buckets');
      app = await bootApp({ rateLimitPerMinute: 5 });
    });
    afterAll(async () => app?.close());

    it('answers 429 RATE_LIMITED past the limit, per client address whatever Authorization says, with Retry-After', async () => {
      const send = (remoteAddress: string, authorization?: string) =>
        app.inject({
          method: 'POST',
          url: '/graphql',
          remoteAddress,
          payload: { query: '{ servingStatus { populationSize } }' },
          headers: authorization ? { authorization } : {},
        });
      for (let k = 0; k < 5; k++) expect((await send('198.51.100.1', `Bearer key-${k}`)).statusCode).toBe(200);
      // Without authentication the header is no identity: a new spelling is no new bucket.
      const limited = await send('198.51.100.1', 'Bearer key-b');
      expect(limited.statusCode).toBe(429);
      expect(JSON.parse(limited.body).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-remaining']).toBe('0');
      // Another address has its own bucket.
      expect((await send('198.51.100.2')).statusCode).toBe(200);
    });
  });

  describe('cost in flight (RECODER_MAX_COST_IN_FLIGHT)', () => {
    it('refuses an operation while others hold the budget (SERVICE_UNAVAILABLE, 503, Retry-After), admits it once they are done', async () => {
      await truncateAll();
      // recommendations(limit: 20) { items { score item { id title } } } costs about 100: two fit, three do not.
      const app = await bootApp({ queryLimits: { depth: 10, aliases: 30, cost: 20_000, costInFlight: 250 } });
      try {
        await gql(app, 'mutation { upsertItems(items: [{ id: "i1" }, { id: "i2" }]) { id } }');
        const query = 'query($u: ID!) { recommendations(userId: $u, limit: 20) { items { score item { id title } } } }';
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, k) => post(app, { query, variables: { u: `u${k}` } })),
        );
        const refused = answers.filter((a) => a.status === 503);
        expect(refused.length).toBeGreaterThan(0);
        expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
        for (const a of refused) {
          expect(a.body.errors?.[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
          expect(a.headers['retry-after']).toBe('1');
        }
        // One at a time, every one is admitted: the budget was given back.
        for (let k = 0; k < 5; k++) expect((await post(app, { query, variables: { u: `u${k}` } })).status).toBe(200);
      } finally {
        await app.close();
      }
    });
  });
});
