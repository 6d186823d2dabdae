import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { serverAudits } from 'graphql-http';
import { createApiKey } from '../src/auth/api-keys.queries.js';
import { AuthService } from '../src/auth/auth.service.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import type { PrismaClient } from '../src/generated/prisma/client.js';
import { PgRateLimitStore } from '../src/graphql/rate-limit-store.js';
import { RateLimitService } from '../src/graphql/rate-limit.js';
import { bootApp, bootAppOn, CapturedLog, sql, testDatabaseUrl, truncateAll } from './helpers.js';

/**
 * GraphQL over HTTP on a production-like server (RECODER_AUTH=required, introspection off):
 * rate limits keyed on the authenticated identity and shared by replicas, the failure budget per
 * client address, no schema information before authentication, the protocol's status codes and
 * media types (with graphql-http's audits), and no stack trace logged for a client's mistake.
 */

interface Body {
  data?: unknown;
  errors?: { message: string; extensions: { code: string; [k: string]: unknown } }[];
}

type Inject = Parameters<NestFastifyApplication['inject']>[0] & object;

async function send(app: NestFastifyApplication, options: Partial<Inject>) {
  const res = await app.inject({ method: 'POST', url: '/graphql', ...options } as Inject);
  let body: Body | undefined;
  try {
    body = JSON.parse(res.body) as Body;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body, raw: res.body };
}

const post = (
  app: NestFastifyApplication,
  query: string,
  headers: Record<string, string> = {},
  remoteAddress = '127.0.0.1',
  variables?: unknown,
) =>
  send(app, {
    payload: { query, ...(variables === undefined ? {} : { variables }) } as object,
    headers,
    remoteAddress,
  });

/** Thirty ways to write the same Authorization header, all accepted by authentication. */
function spellings(key: string): string[] {
  const schemes = ['Bearer', 'bearer', 'BEARER', 'bEaReR', 'BeArEr', 'beaRER'];
  const gaps = [' ', '  ', '\t', ' \t ', '   '];
  return schemes.flatMap((s, i) =>
    gaps.map((g, j) => `${(i + j) % 2 ? ' ' : ''}${s}${g}${key}${j % 3 === 0 ? '  ' : ''}`),
  );
}

let prisma: PrismaClient;
const keys = { reader: '', writer: '', writer2: '' };

beforeAll(async () => {
  await truncateAll();
  await sql('TRUNCATE rate_limit_buckets');
  prisma = createPrismaClient(testDatabaseUrl(), 2);
  keys.reader = (await createApiKey(prisma, { name: 'http reader', role: 'READER' })).key;
  keys.writer = (await createApiKey(prisma, { name: 'http writer', role: 'WRITER' })).key;
  keys.writer2 = (await createApiKey(prisma, { name: 'http writer 2', role: 'WRITER' })).key;
});
afterAll(async () => {
  await prisma?.$disconnect();
  await sql('TRUNCATE rate_limit_buckets');
});

const PRODUCTION = { auth: 'required', introspection: false, graphiql: false } as const;

describe('rate limits keyed on the authenticated identity', () => {
  let app: NestFastifyApplication;
  let replica: NestFastifyApplication;
  beforeAll(async () => {
    app = await bootApp({ ...PRODUCTION, rateLimitPerMinute: 10, authFailuresPerMinute: 30 });
    replica = await bootApp({ ...PRODUCTION, rateLimitPerMinute: 10, authFailuresPerMinute: 30 });
  });
  afterAll(async () => {
    await app?.close();
    await replica?.close();
  });

  it('lets no spelling of a spent key through, a mutation included, across two processes sharing the store', async () => {
    const q = '{ servingStatus { populationSize } }';
    const ok = await post(app, q, { authorization: `Bearer ${keys.writer}` });
    expect(ok.status).toBe(200);
    expect(ok.headers['ratelimit-limit']).toBe('10');
    expect(ok.headers['ratelimit-remaining']).toBe('9');
    expect(Number(ok.headers['ratelimit-reset'])).toBeGreaterThan(0);
    // The budget is spent over both replicas (the counters are in PostgreSQL).
    for (let k = 1; k < 10; k++)
      expect((await post(k % 2 ? replica : app, q, { authorization: `Bearer ${keys.writer}` })).status).toBe(200);
    const all = spellings(keys.writer);
    expect(new Set(all).size).toBe(30);
    let through = 0;
    for (const [i, authorization] of all.entries()) {
      const target = i % 2 ? replica : app;
      const res =
        i % 3 === 0
          ? await post(target, 'mutation { upsertUsers(users: [{ id: "spelled" }]) { id } }', { authorization })
          : await post(target, q, { authorization });
      if (res.status !== 429) through++;
      expect(res.body!.errors![0].extensions).toMatchObject({
        code: 'RATE_LIMITED',
        retryAfterSeconds: expect.any(Number),
      });
      expect(res.body!.data).toBeUndefined();
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['ratelimit-remaining']).toBe('0');
    }
    console.log(
      `rate-limit figure: ${through} of ${all.length} requests over ${all.length} spellings of a spent key got through (two processes, shared PostgreSQL store)`,
    );
    expect(through).toBe(0);
    expect(await sql('SELECT id FROM users WHERE external_id = $1', ['spelled'])).toEqual([]);
    // Another key has its own budget.
    expect((await post(replica, q, { authorization: `Bearer ${keys.writer2}` })).status).toBe(200);
  });

  it('answers an unknown key 401 UNAUTHENTICATED, then refuses the address without key lookups once its failure budget is spent', async () => {
    const auth = app.get(AuthService);
    const store = app.get(RateLimitService).store as PgRateLimitStore;
    const lookups0 = auth.lookups;
    const queries0 = store.queries;
    const N = 10_000;
    const status: Record<number, number> = {};
    for (let start = 0; start < N; start += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          post(
            app,
            '{ servingStatus { populationSize } }',
            { authorization: `Bearer junk${start + j}` },
            '203.0.113.7',
          ),
        ),
      );
      for (const res of batch) status[res.status] = (status[res.status] ?? 0) + 1;
      if (start === 0) {
        expect(batch.filter((r) => r.status === 401).length).toBe(30);
        const refused = batch.find((r) => r.status === 429)!;
        expect(refused.body!.errors![0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
        expect(refused.body!.errors![0].message).toMatch(/failed authentications from this address/);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        const denied = batch.find((r) => r.status === 401)!;
        expect(denied.body!.errors![0].extensions.code).toBe('UNAUTHENTICATED');
        expect(denied.headers['www-authenticate']).toMatch(/^Bearer/);
      }
    }
    const lookups = auth.lookups - lookups0;
    const queries = store.queries - queries0;
    console.log(
      `auth-failure figure: ${N} requests with random invalid keys from one address (50 concurrent): HTTP ${JSON.stringify(status)}; ` +
        `${lookups} key lookups (${((100 * lookups) / N).toFixed(2)} %), ${queries} rate-limit store queries (${((100 * queries) / N).toFixed(2)} %)`,
    );
    expect(status[401]).toBe(30);
    expect(lookups).toBeLessThanOrEqual(N / 100);
    expect(lookups + queries).toBeLessThanOrEqual(N / 100);
    // Another address is unaffected; a key this process knows valid still passes from the refused one.
    expect(
      (
        await post(
          app,
          '{ servingStatus { populationSize } }',
          { authorization: 'Bearer junk-elsewhere' },
          '203.0.113.8',
        )
      ).status,
    ).toBe(401);
    expect(
      (await post(app, '{ servingStatus { populationSize } }', { authorization: `Bearer ${keys.reader}` })).status,
    ).toBe(200);
    expect(
      (
        await post(
          app,
          '{ servingStatus { populationSize } }',
          { authorization: `Bearer ${keys.reader}` },
          '203.0.113.7',
        )
      ).status,
    ).toBe(200);
    // The same count holds on the replica (shared store): the address is refused there too.
    expect(
      (
        await post(
          replica,
          '{ servingStatus { populationSize } }',
          { authorization: 'Bearer junk-on-replica' },
          '203.0.113.7',
        )
      ).status,
    ).toBe(429);
  });

  it('remembers unknown keys: repeating one costs a single lookup', async () => {
    const auth = app.get(AuthService);
    const before = auth.lookups;
    for (let k = 0; k < 5; k++)
      expect(
        (
          await post(
            app,
            '{ servingStatus { populationSize } }',
            { authorization: 'Bearer rk_same-unknown-key' },
            '192.0.2.50',
          )
        ).status,
      ).toBe(401);
    expect(auth.lookups - before).toBe(1);
  });
});

describe('no schema information without a valid key', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await bootApp(PRODUCTION);
  });
  afterAll(async () => app?.close());

  const PROBES = [
    '{ itemz { id } }',
    '{ apiKey { id } }',
    'mutation { upsertItem(items: []) { id } }',
    'mutation { deleteItems }',
    '{ __typename }',
    '{ __schema { types { name } } }',
  ];

  it.each([
    ['no key', {}],
    ['an unknown key', { authorization: 'Bearer rk_unknown' }],
    ['a malformed header', { authorization: 'Basic dXNlcjpwYXNz' }],
  ])('answers %s 401 UNAUTHENTICATED before validation, naming nothing of the schema', async (_who, headers) => {
    for (const query of PROBES) {
      const res = await post(app, query, headers as Record<string, string>, '192.0.2.10');
      expect({ query, status: res.status }).toEqual({ query, status: 401 });
      expect(res.body!.errors).toHaveLength(1);
      expect(res.body!.errors![0].extensions).toEqual({ code: 'UNAUTHENTICATED' });
      expect(res.body).not.toHaveProperty('data');
      expect(res.raw).not.toMatch(/Did you mean|item|apiKeys|upsert|delete|Query|Mutation|__typename/);
    }
  });

  it('gives an authenticated caller no "Did you mean" hints when introspection is off, and answers __typename', async () => {
    const authorization = `Bearer ${keys.reader}`;
    const typo = await post(app, '{ itemz { id } }', { authorization });
    expect(typo.status).toBe(400);
    expect(typo.body!.errors![0]).toMatchObject({
      message: 'Cannot query field "itemz" on type "Query".',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    for (const query of PROBES.slice(0, 4))
      expect((await post(app, query, { authorization })).raw).not.toMatch(/Did you mean/);
    const arg = await post(app, '{ item(idd: "x") { id } }', { authorization });
    expect(arg.raw).not.toMatch(/Did you mean/);
    expect((await post(app, '{ __typename }', { authorization })).body).toEqual({ data: { __typename: 'Query' } });
    // With introspection on (development), the hints are kept.
    const dev = await bootApp({ auth: 'required', introspection: true });
    try {
      expect((await post(dev, '{ itemz { id } }', { authorization })).body!.errors![0].message).toMatch(
        /Did you mean "item" or "items"\?$/,
      );
    } finally {
      await dev.close();
    }
  });
});

describe('GraphQL over HTTP', () => {
  let app: NestFastifyApplication;
  const log = new CapturedLog();
  const authorization = () => `Bearer ${keys.writer}`;
  beforeAll(async () => {
    app = await bootAppOn(testDatabaseUrl(), { ...PRODUCTION, rateLimitPerMinute: 100_000, logLevel: 'verbose' }, log);
  });
  afterAll(async () => app?.close());

  it('accepts null extensions, variables and operationName; refuses non-object variables and non-string queries with 400 BAD_REQUEST', async () => {
    const headers = { authorization: authorization() };
    for (const extra of [
      { extensions: null },
      { variables: null },
      { operationName: null },
      { extensions: { some: 'value' } },
      { variables: {} },
    ]) {
      const res = await send(app, { payload: { query: '{ __typename }', ...extra }, headers });
      expect({ extra, status: res.status, body: res.body }).toEqual({
        extra,
        status: 200,
        body: { data: { __typename: 'Query' } },
      });
    }
    const bad: [object, RegExp][] = [
      [{ query: 0 }, /"query" must be a string/],
      [{ query: false }, /"query" must be a string/],
      [{ query: { obj: 'ect' } }, /"query" must be a string/],
      [{ query: ['array'] }, /"query" must be a string.*array/],
      [{ notquery: '{ __typename }' }, /no "query"/],
      [{ query: '{ __typename }', variables: 0 }, /"variables" must be a map/],
      [{ query: '{ __typename }', variables: true }, /"variables" must be a map/],
      [{ query: '{ __typename }', variables: 'string' }, /"variables" must be a map/],
      [{ query: '{ __typename }', variables: ['array'] }, /"variables" must be a map.*array/],
      [{ query: '{ __typename }', extensions: 'x' }, /"extensions" must be a map/],
      [{ query: '{ __typename }', operationName: 5 }, /"operationName" must be a string/],
      [[{ query: '{ __typename }' }], /Batched requests/],
    ];
    for (const [payload, message] of bad) {
      const res = await send(app, { payload, headers });
      expect({ payload, status: res.status, code: res.body?.errors?.[0].extensions.code }).toEqual({
        payload,
        status: 400,
        code: 'BAD_REQUEST',
      });
      expect(res.body!.errors![0].message).toMatch(message);
    }
    // Query text that is not GraphQL but JSON (Mercurius would take it for a ready-made AST).
    for (const query of ['[]', '{}', '{"kind":"Document","definitions":[]}', '1']) {
      const res = await send(app, { payload: { query }, headers });
      expect({ query, status: res.status, code: res.body?.errors?.[0].extensions.code }).toEqual({
        query,
        status: 400,
        code: 'GRAPHQL_VALIDATION_FAILED',
      });
      expect(res.body!.errors![0].message).toMatch(/^Syntax Error: /);
    }
    const json = await send(app, {
      payload: '{ "not a JSON',
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(json.status).toBe(400);
    expect(json.body!.errors![0].extensions.code).toBe('BAD_REQUEST');
  });

  it('answers a mutation over GET 405 with Allow: POST, and runs queries over GET', async () => {
    const headers = { authorization: authorization() };
    const mutation = await send(app, {
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent('mutation { upsertUsers(users: [{ id: "via-get" }]) { id } }')}`,
      headers,
    });
    expect(mutation.status).toBe(405);
    expect(mutation.headers.allow).toBe('POST');
    expect(mutation.body!.errors![0].extensions.code).toBe('METHOD_NOT_ALLOWED');
    expect(await sql('SELECT id FROM users WHERE external_id = $1', ['via-get'])).toEqual([]);
    const query = await send(app, {
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent('query($n: Boolean!) { __typename n: __typename @include(if: $n) }')}&variables=${encodeURIComponent('{"n":true}')}`,
      headers,
    });
    expect(query.status).toBe(200);
    expect(query.body).toEqual({ data: { __typename: 'Query', n: 'Query' } });
    // The operation is found before Mercurius: an unknown operationName or an unnamed choice is a 400.
    for (const [q, extra] of [
      ['query A { __typename } mutation B { upsertUsers(users: [{ id: "via-get" }]) { id } }', '&operationName=B'],
      ['query A { __typename }', '&operationName=Q'],
      ['query A { __typename } query B { __typename }', ''],
    ]) {
      const res = await send(app, { method: 'GET', url: `/graphql?query=${encodeURIComponent(q)}${extra}`, headers });
      expect({ q, status: res.status }).toEqual({ q, status: extra === '&operationName=B' ? 405 : 400 });
    }
    const badVars = await send(app, {
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent('{ __typename }')}&variables=5`,
      headers,
    });
    expect(badVars.status).toBe(400);
    expect(badVars.body!.errors![0].extensions.code).toBe('BAD_REQUEST');
  });

  it('executes POST bodies only as application/json: form, application/graphql and text bodies get 415 and run nothing', async () => {
    const m = 'mutation { upsertUsers(users: [{ id: "smuggled" }]) { id } }';
    const cases: [string, string][] = [
      ['application/x-www-form-urlencoded', `query=${encodeURIComponent(m)}`],
      ['application/graphql', m],
      ['text/plain', JSON.stringify({ query: m })],
      ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n${m}\r\n--x--`],
      ['application/json; charset=latin1', JSON.stringify({ query: m })],
    ];
    for (const [type, payload] of cases) {
      const res = await send(app, { payload, headers: { authorization: authorization(), 'content-type': type } });
      expect({ type, status: res.status, code: res.body?.errors?.[0].extensions.code }).toEqual({
        type,
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
    }
    const none = await app.inject({
      method: 'POST',
      url: '/graphql',
      payload: JSON.stringify({ query: m }),
      headers: { authorization: authorization(), 'content-type': '' },
    });
    expect(none.statusCode).toBe(415);
    expect(await sql('SELECT id FROM users WHERE external_id = $1', ['smuggled'])).toEqual([]);
    const ok = await send(app, {
      payload: JSON.stringify({ query: '{ __typename }' }),
      headers: { authorization: authorization(), 'content-type': 'application/json; charset=UTF-8' },
    });
    expect(ok.status).toBe(200);
  });

  it('answers a body over 16 MiB 413 PAYLOAD_TOO_LARGE', async () => {
    const payload = JSON.stringify({
      query: 'mutation($u: [UserInput!]!) { upsertUsers(users: $u) { id } }',
      variables: { u: [{ id: 'x'.repeat(20 * 1024 * 1024) }] },
    });
    const res = await send(app, {
      payload,
      headers: { authorization: authorization(), 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(res.body!.errors![0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers in the media type Accept prefers: application/graphql-response+json with 4xx for request errors', async () => {
    const headers = (accept?: string) => ({
      authorization: authorization(),
      ...(accept === undefined ? {} : { accept }),
    });
    const cases: [string | undefined, string][] = [
      [undefined, 'application/json'],
      ['application/json', 'application/json'],
      ['*/*', 'application/json'],
      ['application/graphql-response+json', 'application/graphql-response+json'],
      ['application/graphql-response+json, application/json;q=0.9', 'application/graphql-response+json'],
      ['application/json, application/graphql-response+json;q=0.5', 'application/json'],
      ['text/html', 'application/json'],
    ];
    for (const [accept, type] of cases) {
      const res = await post(app, '{ __typename }', headers(accept));
      expect({ accept, status: res.status, type: res.headers['content-type'] }).toEqual({
        accept,
        status: 200,
        type: `${type}; charset=utf-8`,
      });
    }
    const gr = 'application/graphql-response+json';
    for (const [query, variables] of [
      ['{', undefined],
      ['{ nope }', undefined],
      ['query($id: ID!) { __typename }', { id: null }],
    ] as const) {
      const res = await post(app, query, headers(gr), '127.0.0.1', variables);
      expect({ query, status: res.status, type: res.headers['content-type'] }).toEqual({
        query,
        status: 400,
        type: `${gr}; charset=utf-8`,
      });
      expect(res.body).not.toHaveProperty('data');
    }
    // Authentication and rate-limit refusals use the negotiated type too.
    const anon = await send(app, {
      payload: { query: '{ __typename }' },
      headers: { accept: gr },
      remoteAddress: '192.0.2.77',
    });
    expect(anon.status).toBe(401);
    expect(anon.headers['content-type']).toBe(`${gr}; charset=utf-8`);
  });

  it('logs no error and no stack trace for any of these client mistakes', () => {
    const errors = log.entries.filter((e) => e.level === 'error' || e.level === 'fatal' || /\n\s+at /.test(e.text));
    expect(errors).toEqual([]);
  });

  it("passes every MUST of graphql-http's server audits, production settings (introspection off) and development settings", async () => {
    const results: Record<
      string,
      { must: number; mustOk: number; should: number; shouldOk: number; failed: string[]; warned: string[] }
    > = {};
    for (const [mode, overrides] of [
      ['production', PRODUCTION],
      ['development', { auth: 'required', introspection: true }],
    ] as const) {
      const server = await bootApp({ ...overrides, rateLimitPerMinute: 100_000 });
      try {
        await server.listen(0, '127.0.0.1');
        const { port } = server.getHttpServer().address() as AddressInfo;
        const fetchFn = (input: string, init: RequestInit = {}) =>
          fetch(input, {
            ...init,
            headers: { ...(init.headers as Record<string, string>), authorization: authorization() },
          });
        const r = { must: 0, mustOk: 0, should: 0, shouldOk: 0, failed: [] as string[], warned: [] as string[] };
        for (const audit of serverAudits({ url: `http://127.0.0.1:${port}/graphql`, fetchFn })) {
          const result = await audit.fn();
          if (audit.name.startsWith('MUST')) {
            r.must++;
            if (result.status === 'ok') r.mustOk++;
            else r.failed.push(`${audit.id} ${audit.name}`);
          } else if (audit.name.startsWith('SHOULD')) {
            r.should++;
            if (result.status === 'ok') r.shouldOk++;
            else r.warned.push(`${audit.id} ${audit.name}`);
          }
        }
        results[mode] = r;
      } finally {
        await server.close();
      }
    }
    for (const [mode, r] of Object.entries(results)) {
      console.log(
        `graphql-http audits (${mode}): MUST ${r.mustOk}/${r.must} ok; SHOULD ${r.shouldOk} ok, ${r.should - r.shouldOk} warn: ${r.warned.join('; ')}${r.failed.length ? `; MUST failed: ${r.failed.join('; ')}` : ''}`,
      );
    }
    expect(results.development.failed).toEqual([]);
    // BF61, 28B9 (and the SHOULD 2EA1) send `{ __type(name: …) }`, an introspection query, which production refuses by design.
    expect(results.production.failed.map((f) => f.slice(0, 4)).sort()).toEqual(['28B9', 'BF61']);
    expect(results.production.warned.map((w) => w.slice(0, 4)).sort()).toEqual(['2EA1', '572B', '7B9B', 'FDE2']);
    // The SHOULDs declined (README, "GraphQL over HTTP"): HTTP 200 for request errors under application/json.
    expect(results.development.warned.map((w) => w.slice(0, 4)).sort()).toEqual(['572B', '7B9B', 'FDE2']);
  });
});
