import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../src/app.factory.js';
import { loadEnv, PROJECT_ROOT } from '../src/config/env.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/database/embedded-postgres.js';
import { applyMigrations } from '../src/database/migrations.js';
import { gql } from './helpers.js';
import { seedTasteGroups, servedVersion, trainingRun, trainModel, waitFor } from './training-data.js';

const DATA_DIR = path.join(PROJECT_ROOT, '.data', 'postgres-restart-test');
const PORT = Number(process.env.RECODER_RESTART_TEST_PG_PORT ?? 54331);
const ended = (r: Record<string, any>) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status);

/**
 * Postgres restarted while the API serves and its worker thread trains: a Postgres of our own
 * (embedded, so the machine's server is not touched) is stopped and started again mid-run. The
 * API answers again without a restart of its own, the run still finishes, and its activation
 * reaches the API through the re-established LISTEN connection.
 */
describe('PostgreSQL restart during training', () => {
  let server: EmbeddedPostgresHandle;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await rm(DATA_DIR, { recursive: true, force: true });
    server = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: PORT });
    await applyMigrations(server.url);
    const env = { ...loadEnv({ LOG_LEVEL: 'error', GRAPHIQL: 'false', RECODER_AUTH: 'off', RECODER_RATE_LIMIT_PER_MINUTE: '0' }), trainingWorker: 'thread' as const };
    app = await createApp(env, server.url);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    await seedTasteGroups(app);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await server?.stop();
    await rm(DATA_DIR, { recursive: true, force: true });
  });

  it('serving answers again within 10 s and the run in flight still succeeds', async () => {
    const firstRun = await trainModel(app, { kind: 'EASE', lambda: 50, activate: 'ALWAYS' });
    const v1 = (await waitFor(() => trainingRun(app, firstRun), ended, 90_000)).versionId;
    await waitFor(() => servedVersion(app), (v) => v === v1, 30_000);

    const id = await trainModel(app, { kind: 'DAE', epochs: 400, activate: 'ALWAYS', hyperparameters: { latentDim: 16, batchSize: 32 } });
    await waitFor(() => trainingRun(app, id), (r) => r.status === 'RUNNING' && r.epoch >= 2, 60_000);

    await server.stop();
    const down = await gql(app, `{ recommendations(userId: "u1", limit: 3) { source } }`);
    expect(down.errors?.[0].extensions.code).toBe('INTERNAL_SERVER_ERROR'); // the database is gone, the process is not
    server = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: PORT });
    const restarted = Date.now();

    const answer = await waitFor(
      () => gql(app, `{ recommendations(userId: "u1", limit: 3) { source modelVersionId } }`),
      (res) => res.errors === undefined,
      10_000,
      100,
    );
    expect(answer.data!.recommendations).toEqual({ source: 'MODEL', modelVersionId: v1 });
    expect(Date.now() - restarted).toBeLessThan(10_000);

    const run = await waitFor(() => trainingRun(app, id), ended, 120_000);
    expect(run).toMatchObject({ status: 'SUCCEEDED', activated: true, error: null });
    expect(run.epoch).toBe(400);
    // The activation NOTIFY arrives over the listener's new connection.
    await waitFor(() => servedVersion(app), (v) => v === run.versionId, 30_000);
  }, 240_000);
});
