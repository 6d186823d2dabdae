import type { ChildProcess } from 'node:child_process';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp, gql, truncateAll } from './helpers.js';
import { exited, spawnBuilt } from './processes.js';
import { seedTasteGroups, servedVersion, trainingRun, trainModel, waitFor } from './training-data.js';

/** `npm run worker` as a real process (the compiled entry, as in production). */
const startWorker = (): ChildProcess => spawnBuilt('worker', { LOG_LEVEL: 'warn' }).child;

const ended = (r: Record<string, any>) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status);

/**
 * A separate worker process (API with RECODER_TRAINING_WORKER=off) killed with SIGKILL mid-run:
 * serving goes on with the previous version, and the next worker marks the run FAILED and takes
 * the next job (the singleton queue is not left blocked).
 */
describe('worker process killed mid-run', () => {
  let app: NestFastifyApplication;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp({ trainingWorker: 'off' });
    await seedTasteGroups(app);
  }, 60_000);
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await app?.close();
  });

  it('SIGKILL: serving is unaffected, the run is FAILED after a restart, and the queue moves on', async () => {
    let worker = startWorker();
    workers.push(worker);
    const v1Run = await trainModel(app, { kind: 'EASE', lambda: 50, activate: 'ALWAYS' });
    const v1 = (await waitFor(() => trainingRun(app, v1Run), ended, 90_000)).versionId;
    await waitFor(
      () => servedVersion(app),
      (v) => v === v1,
      30_000,
    );

    const long = await trainModel(app, {
      kind: 'VAE',
      epochs: 5000,
      activate: 'ALWAYS',
      hyperparameters: { latentDim: 8, hiddenUnits: [32] },
    });
    const next = await trainModel(app, { kind: 'EASE', lambda: 100, activate: 'NEVER' });
    await waitFor(
      () => trainingRun(app, long),
      (r) => r.status === 'RUNNING' && r.epoch >= 2,
      60_000,
    );
    worker.kill('SIGKILL');
    expect(await exited(worker)).toBe('SIGKILL');

    // Serving keeps answering from the version it had.
    for (let k = 0; k < 5; k++) {
      const recs = await gql(
        app,
        `query($u: ID!) { recommendations(userId: $u, limit: 3) { source modelVersionId } }`,
        { u: `u${k}` },
      );
      expect(recs.data!.recommendations).toEqual({ source: 'MODEL', modelVersionId: v1 });
    }
    // Nothing moves while no worker runs: the dead run still looks RUNNING.
    expect((await trainingRun(app, long)).status).toBe('RUNNING');
    expect((await trainingRun(app, next)).status).toBe('QUEUED');

    worker = startWorker();
    workers.push(worker);
    const failed = await waitFor(() => trainingRun(app, long), ended, 60_000);
    expect(failed).toMatchObject({ status: 'FAILED', versionId: null, activated: false });
    expect(failed.error).toMatch(/worker stopped during the run/);
    expect(failed.finishedAt).not.toBeNull();
    const after = await waitFor(() => trainingRun(app, next), ended, 90_000);
    expect(after).toMatchObject({ status: 'SUCCEEDED', activated: false });
    expect(await servedVersion(app)).toBe(v1);

    // A graceful stop: the worker closes pg-boss and its connections, then exits 0 (src/ops/shutdown.ts).
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
  }, 240_000);
});
