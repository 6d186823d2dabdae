import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { initBackend } from '../src/core/engine/backend.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { trainVersion } from '../src/training/train-version.js';
import { bootApp, gql, sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { seedTasteGroups } from './training-data.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (sample lines only). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined when absent). */
function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(app: NestFastifyApplication): Promise<Sample[]> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.body);
}

async function ready(app: NestFastifyApplication): Promise<{ status: number; body: Record<string, any> }> {
  const res = await app.inject({ method: 'GET', url: '/ready' });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

const DURATION = 'recoder_graphql_request_duration_seconds';
const RECORD = `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { duplicates stored { id } } }`;

describe('operations endpoints', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('/health answers 200 {"status":"ok"}', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('/ready is 200 with no active model version', async () => {
    const { status, body } = await ready(app);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ready',
      failed: [],
      checks: { database: { status: 'ok' }, model: { status: 'ok', active: null, served: null } },
    });
  });

  it('/ready is 503 naming the database when it does not answer within ~1 s', async () => {
    const locker = new pg.Client({ connectionString: testDatabaseUrl() });
    await locker.connect();
    try {
      // The readiness query reads active_models: an exclusive lock makes it wait.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE active_models IN ACCESS EXCLUSIVE MODE');
      const t0 = Date.now();
      const { status, body } = await ready(app);
      const ms = Date.now() - t0;
      expect(status).toBe(503);
      expect(body).toMatchObject({
        status: 'unavailable',
        failed: ['database'],
        checks: { database: { status: 'fail' }, model: { status: 'unknown' } },
      });
      expect(body.checks.database.message).toMatch(/^SELECT 1: no answer within 1000 ms/);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(3000);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect((await ready(app)).status).toBe(200);
  });

  it('/metrics: default process metrics with the recoder_ prefix and no active version', async () => {
    const samples = await scrape(app);
    expect(metric(samples, 'recoder_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metric(samples, 'recoder_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_'))).toBe(false);
    expect(metric(samples, 'recoder_active_model_version')).toBe(0);
    expect(metric(samples, 'recoder_training_run_epoch')).toBe(0);
    expect(metric(samples, 'recoder_training_runs', { status: 'RUNNING' })).toBe(0);
  });

  it('times GraphQL requests by root field(s) and outcome; invalid documents are "invalid"', async () => {
    const before = await scrape(app);
    const count = (samples: Sample[], labels: Record<string, string>) =>
      metric(samples, `${DURATION}_count`, labels) ?? 0;

    expect((await gql(app, `{ popularItems(limit: 3) { score } }`)).errors).toBeUndefined();
    expect((await gql(app, `{ popularItems(limit: 3) { score } }`)).errors).toBeUndefined();
    expect(
      (await gql(app, `query Both { p: popularItems(limit: 1) { score } items(first: 1) { nodes { id } } }`, undefined))
        .errors,
    ).toBeUndefined();
    const bad = await gql(app, `{ popularItems(limit: -1) { score } }`);
    expect(bad.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    const syntax = await gql(app, `{ popularItems(limit: `);
    expect(syntax.status).toBe(400);
    const unknown = await gql(app, `{ noSuchField }`);
    expect(unknown.status).toBe(400);

    const after = await scrape(app);
    expect(
      count(after, { operation: 'popularItems', outcome: 'ok' }) -
        count(before, { operation: 'popularItems', outcome: 'ok' }),
    ).toBe(2);
    expect(
      count(after, { operation: 'items+popularItems', outcome: 'ok' }) -
        count(before, { operation: 'items+popularItems', outcome: 'ok' }),
    ).toBe(1);
    expect(
      count(after, { operation: 'popularItems', outcome: 'error' }) -
        count(before, { operation: 'popularItems', outcome: 'error' }),
    ).toBe(1);
    expect(
      count(after, { operation: 'invalid', outcome: 'error' }) -
        count(before, { operation: 'invalid', outcome: 'error' }),
    ).toBe(2);
    // Client-chosen text (operation names, unknown fields) never becomes a label.
    expect(after.some((s) => s.labels.operation === 'Both' || s.labels.operation === 'noSuchField')).toBe(false);
    // A histogram: cumulative buckets up to +Inf, which equals the count; a positive sum.
    const inf = metric(after, `${DURATION}_bucket`, { operation: 'popularItems', outcome: 'ok', le: '+Inf' });
    expect(inf).toBe(count(after, { operation: 'popularItems', outcome: 'ok' }));
    expect(metric(after, `${DURATION}_sum`, { operation: 'popularItems', outcome: 'ok' })).toBeGreaterThan(0);
    expect(metric(after, 'recoder_graphql_requests_in_flight')).toBe(0);
  });

  it('counts stored interactions, not duplicates or rejected batches', async () => {
    expect(
      (await gql(app, `mutation { upsertItems(items: [{ id: "a" }, { id: "b" }]) { id } }`)).errors,
    ).toBeUndefined();
    const base = metric(await scrape(app), 'recoder_interactions_ingested_total') ?? 0;
    const first = await gql(app, RECORD, {
      interactions: [
        { userId: 'x', itemId: 'a', eventId: 'e1' },
        { userId: 'x', itemId: 'b', eventId: 'e2' },
        { userId: 'y', itemId: 'a' },
      ],
    });
    expect(first.data!.recordInteractions.stored).toHaveLength(3);
    expect(metric(await scrape(app), 'recoder_interactions_ingested_total')).toBe(base + 3);

    const retry = await gql(app, RECORD, {
      interactions: [
        { userId: 'x', itemId: 'a', eventId: 'e1' },
        { userId: 'x', itemId: 'b', eventId: 'e3' },
      ],
    });
    expect(retry.data!.recordInteractions).toMatchObject({ duplicates: 1, stored: [{}] });
    const rejected = await gql(app, RECORD, { interactions: [{ userId: 'x', itemId: 'nope' }] });
    expect(rejected.errors?.[0].extensions.code).toBe('UNKNOWN_ITEMS');
    expect(metric(await scrape(app), 'recoder_interactions_ingested_total')).toBe(base + 4);
  });

  it('reads training run gauges from training_runs at scrape time', async () => {
    await sql(
      `INSERT INTO training_runs (kind, status, epoch) VALUES ('VAE', 'QUEUED', 0), ('EASE', 'QUEUED', 0), ('VAE', 'RUNNING', 7), ('DAE', 'FAILED', 3)`,
    );
    try {
      const samples = await scrape(app);
      expect(metric(samples, 'recoder_training_runs', { status: 'QUEUED' })).toBe(2);
      expect(metric(samples, 'recoder_training_runs', { status: 'RUNNING' })).toBe(1);
      expect(metric(samples, 'recoder_training_runs', { status: 'FAILED' })).toBe(1);
      expect(metric(samples, 'recoder_training_runs', { status: 'SUCCEEDED' })).toBe(0);
      expect(metric(samples, 'recoder_training_run_epoch')).toBe(7);
      await sql(`UPDATE training_runs SET epoch = 8 WHERE status = 'RUNNING'`);
      expect(metric(await scrape(app), 'recoder_training_run_epoch')).toBe(8);
    } finally {
      await sql(`DELETE FROM training_runs`);
    }
  });

  describe('with a model version', () => {
    let version: number;

    beforeAll(async () => {
      await truncateAll();
      await seedTasteGroups(app);
      const { tf } = await initBackend();
      const prisma = createPrismaClient(testDatabaseUrl(), 2);
      try {
        version = (await trainVersion(tf, testDatabaseUrl(), prisma, { kind: 'ease', lambda: 50 })).version.id;
      } finally {
        await prisma.$disconnect();
      }
    }, 120_000);

    it('/ready is 503 while the active version is not served here, 200 once it is; the gauge follows', async () => {
      // Activated behind this process's back (no NOTIFY): the database says `version`, the process serves none.
      await sql(`INSERT INTO active_models (slot, version_id) VALUES ('default', $1)`, [version]);
      const stale = await ready(app);
      expect(stale.status).toBe(503);
      expect(stale.body).toMatchObject({
        status: 'unavailable',
        failed: ['model'],
        checks: { database: { status: 'ok' }, model: { status: 'fail', active: version, served: null } },
      });
      expect(stale.body.checks.model.message).toMatch(new RegExp(`model version ${version} is active`));
      expect(metric(await scrape(app), 'recoder_active_model_version')).toBe(0);

      const activated = await gql(app, `mutation($id: Int!) { activateModelVersion(id: $id) { id active } }`, {
        id: version,
      });
      expect(activated.data!.activateModelVersion).toEqual({ id: version, active: true });
      const fresh = await ready(app);
      expect(fresh.status).toBe(200);
      expect(fresh.body).toMatchObject({
        status: 'ready',
        checks: { model: { status: 'ok', active: version, served: version } },
      });
      expect(metric(await scrape(app), 'recoder_active_model_version')).toBe(version);
      expect(metric(await scrape(app), `${DURATION}_count`, { operation: 'activateModelVersion', outcome: 'ok' })).toBe(
        1,
      );
    });
  });
});

describe('operations endpoints in other configurations', () => {
  it('/health, /ready and /metrics need no API key when GraphQL does; each app has its own registry', async () => {
    const [open, guarded] = [await bootApp(), await bootApp({ auth: 'required' })];
    try {
      expect((await gql(open, `{ popularItems(limit: 1) { score } }`)).errors).toBeUndefined();
      const anonymous = await gql(guarded, `{ popularItems(limit: 1) { score } }`);
      expect(anonymous.errors).toBeDefined();
      expect(anonymous.data?.popularItems ?? null).toBeNull();
      for (const url of ['/health', '/ready', '/metrics']) {
        expect((await guarded.inject({ method: 'GET', url })).statusCode).toBe(200);
      }
      // The anonymous request is counted by the guarded app only, as an error; refused before its
      // document is parsed (no schema work for a caller without a key), its operation is `invalid`.
      const count = (samples: Sample[], outcome: string, operation = 'popularItems') =>
        metric(samples, `${DURATION}_count`, { operation, outcome }) ?? 0;
      const [o, g] = [await scrape(open), await scrape(guarded)];
      expect([count(o, 'ok'), count(o, 'error')]).toEqual([1, 0]);
      expect([count(g, 'ok'), count(g, 'error'), count(g, 'error', 'invalid')]).toEqual([0, 0, 1]);
    } finally {
      await open.close();
      await guarded.close();
    }
  });

  it('RECODER_METRICS=false: no /metrics route; /health and /ready stay', async () => {
    const app = await bootApp({ metrics: false });
    try {
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      expect((await ready(app)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
