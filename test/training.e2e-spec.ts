import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TrainingRunsService } from '../src/training/training-runs.service.js';
import { bootApp, gql, sql, truncateAll } from './helpers.js';
import { seedTasteGroups, servedVersion, trainingRun, trainModel, waitFor } from './training-data.js';

const RECS = `query($userId: ID!) { recommendations(userId: $userId, limit: 5) { source modelVersionId items { item { id } } } }`;
const ended = (r: Record<string, any>) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status);
/** Near-random: one epoch at a tiny step size. */
const WEAK_DAE = { kind: 'DAE', epochs: 1, hyperparameters: { latentDim: 8, learningRate: 1e-5, batchSize: 32 } };

/**
 * Training as a service in the single-process default: the API runs the training worker in a
 * worker thread; runs are queued over GraphQL (pg-boss), report progress, and activate per policy.
 */
describe('training over GraphQL (worker thread)', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp({ trainingWorker: 'thread' });
    await seedTasteGroups(app);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('rejects bad requests with the field named and queues nothing', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [
        { kind: 'VAE', hyperparameters: { dropuot: 0.5 } },
        'input.hyperparameters.dropuot',
        /unknown setting for VAE \(known: latentDim/,
      ],
      [{ kind: 'DAE', hyperparameters: { dropout: 1.5 } }, 'input.hyperparameters.dropout', /\[0, 0.99\]/],
      [
        { kind: 'VAE', hyperparameters: { hiddenUnits: [600, 'x'] } },
        'input.hyperparameters.hiddenUnits[1]',
        /integer/,
      ],
      [{ kind: 'EASE', epochs: 5 }, 'input.epochs', /no epochs/],
      [{ kind: 'VAE', epochs: 0 }, 'input.epochs', /1\.\.10000/],
      [{ kind: 'AUTOREC', activate: 'IF_BETTER' }, 'input.activate', /AUTOREC/],
      [{ kind: 'VAE', lambda: 3 }, 'input.lambda', /only EASE, AUTO .* and AUTOREC take λ/],
      [{ kind: 'ENSEMBLE' }, 'input.kind', /made by an AUTO run/],
      [{ kind: 'VAE', budgetSeconds: 60 }, 'input.budgetSeconds', /only AUTO/],
      [{ kind: 'AUTO', budgetSeconds: 5 }, 'input.budgetSeconds', /10\.\./],
      [{ kind: 'VAE', experimentShare: 0.2 }, 'input.experimentShare', /only with activate: EXPERIMENT/],
      [{ kind: 'VAE', activate: 'EXPERIMENT', experimentShare: 1 }, 'input.experimentShare', /\(0, 1\)/],
      [{ kind: 'CONV_AE', activate: 'EXPERIMENT' }, 'input.activate', /no experiment/],
    ];
    for (const [input, field, message] of cases) {
      const res = await gql(app, `mutation($input: TrainModelInput!) { trainModel(input: $input) { id } }`, { input });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(res.errors![0].message).toMatch(message);
    }
    expect(await sql('SELECT id FROM training_runs')).toEqual([]);
    const missing = await gql(app, `{ trainingRun(id: 999) { id } }`);
    expect(missing.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });

  let first: number;
  it('ALWAYS: a run reaches SUCCEEDED, records its epochs, activates, and the next recommendations use it', async () => {
    const id = await trainModel(app, { ...WEAK_DAE, activate: 'ALWAYS' });
    const run = await waitFor(() => trainingRun(app, id), ended, 90_000);
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      activation: 'ALWAYS',
      trigger: 'API',
      epoch: 1,
      epochs: 1,
      activated: true,
      error: null,
    });
    expect(run.history).toHaveLength(1);
    expect(run.history[0].loss).toBeGreaterThan(0);
    expect(run.comparison).toMatchObject({ metric: 'ndcg@100', activeVersionId: null, active: null });
    expect(run.comparison.users).toBeGreaterThan(5);
    expect(run.decision).toMatch(/ALWAYS/);
    expect(run.modelVersion).toMatchObject({ id: run.versionId, active: true });
    first = run.versionId;
    await waitFor(
      () => servedVersion(app),
      (v) => v === first,
      30_000,
    );
    const recs = await gql(app, RECS, { userId: 'u0' });
    expect(recs.data!.recommendations).toMatchObject({ source: 'MODEL', modelVersionId: first });
  }, 120_000);

  let better: number;
  it('IF_BETTER: a stronger model wins on the same held-out users and is activated', async () => {
    const id = await trainModel(app, { kind: 'EASE', lambda: 50, activate: 'IF_BETTER' });
    const run = await waitFor(() => trainingRun(app, id), ended, 90_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.comparison.activeVersionId).toBe(first);
    expect(run.comparison.candidate).toBeGreaterThan(run.comparison.active);
    expect(run.activated).toBe(true);
    expect(run.decision).toMatch(/activated \(IF_BETTER\): ndcg@100 [\d.]+ > [\d.]+ of version/);
    // Both numbers are in the version's metrics too.
    expect(run.modelVersion.metrics.baseline).toMatchObject({ versionId: first, 'ndcg@100': run.comparison.active });
    expect(run.modelVersion.metrics.validation['ndcg@100']).toBeCloseTo(run.comparison.candidate, 10);
    better = run.versionId;
    await waitFor(
      () => servedVersion(app),
      (v) => v === better,
      30_000,
    );
    const recs = await gql(app, RECS, { userId: 'u1' });
    expect(recs.data!.recommendations.modelVersionId).toBe(better);
  }, 120_000);

  it('IF_BETTER: a weaker model is stored but not activated; NEVER is never activated', async () => {
    const weak = await trainModel(app, { ...WEAK_DAE, activate: 'IF_BETTER' });
    const run = await waitFor(() => trainingRun(app, weak), ended, 90_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.activated).toBe(false);
    expect(run.comparison.activeVersionId).toBe(better);
    expect(run.comparison.candidate).toBeLessThanOrEqual(run.comparison.active);
    expect(run.decision).toMatch(/not activated \(IF_BETTER\)/);
    expect(run.modelVersion).toMatchObject({ active: false });

    const never = await trainModel(app, { kind: 'EASE', lambda: 50, activate: 'NEVER' });
    const done = await waitFor(() => trainingRun(app, never), ended, 90_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', activated: false });
    expect(done.decision).toMatch(/NEVER/);
    expect(await servedVersion(app)).toBe(better);
    expect((await gql(app, RECS, { userId: 'u2' })).data!.recommendations.modelVersionId).toBe(better);
  }, 120_000);

  it('EXPERIMENT: a run starts an experiment of its version against the active one, which every process serves; a second run only stores', async () => {
    const id = await trainModel(app, { ...WEAK_DAE, activate: 'EXPERIMENT', experimentShare: 0.3 });
    const run = await waitFor(() => trainingRun(app, id), ended, 90_000);
    expect(run).toMatchObject({ status: 'SUCCEEDED', activated: false, comparison: { activeVersionId: better } });
    const [{ id: experimentId }] = await sql(`SELECT id FROM experiments WHERE training_run_id = $1`, [id]);
    expect(run.decision).toBe(
      `experiment (EXPERIMENT) against active version ${better}; ndcg@100 ${run.comparison.candidate.toFixed(4)} vs ${run.comparison.active.toFixed(4)} of version ${better}: experiment ${experimentId} started, version ${run.versionId} serves 30 % of users`,
    );
    const e = (
      await gql(
        app,
        `query($id: Int!) { experiment(id: $id) { status trainingRunId arms { arm versionId weight control } } }`,
        { id: experimentId },
      )
    ).data!.experiment;
    expect(e).toMatchObject({ status: 'RUNNING', trainingRunId: id });
    expect(e.arms).toEqual([
      { arm: 0, versionId: better, weight: 0.7, control: true },
      { arm: 1, versionId: run.versionId, weight: 0.3, control: false },
    ]);
    // The API process learns of it by NOTIFY and serves both arms.
    await waitFor(
      async () => {
        const versions = new Set<number>();
        for (let n = 0; n < 40; n++)
          versions.add((await gql(app, RECS, { userId: `u${n}` })).data!.recommendations.modelVersionId);
        return versions;
      },
      (versions) => versions.has(better) && versions.has(run.versionId),
      30_000,
    );
    const secondId = await trainModel(app, { ...WEAK_DAE, activate: 'EXPERIMENT' });
    const done = await waitFor(() => trainingRun(app, secondId), ended, 90_000);
    expect(done).toMatchObject({ status: 'SUCCEEDED', activated: false });
    expect(done.decision).toBe(
      `not activated (EXPERIMENT): experiment ${experimentId} is already running; version ${done.versionId} was stored only`,
    );
    const stopped = await gql(app, `mutation($id: Int!) { stopExperiment(id: $id) { status stopReason } }`, {
      id: experimentId,
    });
    expect(stopped.data!.stopExperiment).toEqual({
      status: 'STOPPED',
      stopReason: 'stopped by stopExperiment without a winner',
    });
    expect(await servedVersion(app)).toBe(better);
  }, 180_000);

  it('shows progress while running, cancels a queued run at once and a running one at its next step; one run at a time', async () => {
    const versionsBefore = (await sql('SELECT count(*)::int AS n FROM model_versions'))[0].n;
    const long = await trainModel(app, {
      kind: 'VAE',
      epochs: 5000,
      activate: 'ALWAYS',
      hyperparameters: { latentDim: 8, hiddenUnits: [32] },
    });
    const queued = await trainModel(app, { kind: 'EASE', activate: 'ALWAYS' });
    // Progress is visible in flight: status RUNNING with a growing history.
    const running = await waitFor(
      () => trainingRun(app, long),
      (r) => r.status === 'RUNNING' && r.history.length >= 2,
      60_000,
    );
    expect(running.epoch).toBe(running.history.at(-1).epoch);
    expect(running.finishedAt).toBeNull();
    expect((await trainingRun(app, queued)).status).toBe('QUEUED'); // the singleton queue holds it back

    const cancelled = await gql(
      app,
      `mutation($id: Int!) { cancelTrainingRun(id: $id) { status cancelRequested finishedAt } }`,
      { id: queued },
    );
    expect(cancelled.data!.cancelTrainingRun).toMatchObject({ status: 'CANCELLED', cancelRequested: true });
    const stopping = await gql(app, `mutation($id: Int!) { cancelTrainingRun(id: $id) { status cancelRequested } }`, {
      id: long,
    });
    expect(stopping.data!.cancelTrainingRun).toMatchObject({ status: 'RUNNING', cancelRequested: true });
    const stopped = await waitFor(() => trainingRun(app, long), ended, 30_000);
    expect(stopped).toMatchObject({ status: 'CANCELLED', versionId: null, activated: false, error: null });
    expect(stopped.epoch).toBeLessThan(5000);

    const again = await gql(app, `mutation($id: Int!) { cancelTrainingRun(id: $id) { id } }`, { id: long });
    expect(again.errors![0].extensions).toMatchObject({ code: 'ALREADY_FINISHED', field: 'id', status: 'CANCELLED' });
    // The cancelled queued run never started; no version was stored by either.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await trainingRun(app, queued)).toMatchObject({ status: 'CANCELLED', startedAt: null, versionId: null });
    expect((await sql('SELECT count(*)::int AS n FROM model_versions'))[0].n).toBe(versionsBefore);
    expect(await servedVersion(app)).toBe(better);
    const list = await gql(app, `{ trainingRuns(first: 3, status: CANCELLED) { id } }`);
    expect(list.data!.trainingRuns.map((r: { id: number }) => r.id)).toEqual([queued, long]);
  }, 120_000);

  it('a schedule tick skips when nothing arrived since the active snapshot, and queues when something did', async () => {
    const runs = app.get(TrainingRunsService);
    const idle = await runs.scheduledRetrain();
    expect(idle).toEqual({ skipped: expect.stringMatching(/no interaction arrived since active version \d+/) });
    const recorded = await gql(
      app,
      `mutation { recordInteractions(interactions: [{userId: "u0", itemId: "m0-29"}]) { createdUsers } }`,
    );
    expect(recorded.errors).toBeUndefined();
    const tick = await runs.scheduledRetrain();
    if (!('queued' in tick)) throw new Error(`expected a queued run, got ${JSON.stringify(tick)}`);
    expect(tick.queued).toMatchObject({ trigger: 'SCHEDULE', kind: 'AUTO', activation: 'IF_BETTER', status: 'QUEUED' });
    expect(await runs.scheduledRetrain()).toEqual({ skipped: 'a training run is already queued or running' });
    await gql(app, `mutation($id: Int!) { cancelTrainingRun(id: $id) { id } }`, { id: tick.queued.id });
    await waitFor(() => trainingRun(app, tick.queued.id), ended, 60_000);
  }, 90_000);

  it('AUTO: tries every candidate with progress, reports the table, and stores the winner, an ENSEMBLE that serves every query', async () => {
    const id = await trainModel(app, { kind: 'AUTO', activate: 'ALWAYS', epochs: 8, budgetSeconds: 600 });
    const stages = new Set<string>();
    const fields = `id status progress stage versionId decision error candidates { name kind status ndcg settings seconds reason chosen }
      history { epoch candidate validation } modelVersion { id kind metrics hyperparameters }`;
    const read = async () =>
      (await gql(app, `query($id: Int!) { trainingRun(id: $id) { ${fields} } }`, { id })).data!.trainingRun;
    const run = await waitFor(
      async () => {
        const r = await read();
        if (r.stage) stages.add(r.stage);
        return r;
      },
      ended,
      240_000,
    );
    expect(run).toMatchObject({ status: 'SUCCEEDED', progress: 1, error: null });
    const names = run.candidates.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['EASE λ=250', 'EASE λ=125', 'EASE λ=500', 'Mult-DAE', 'Mult-VAE']));
    const chosen = run.candidates.filter((c: { chosen: boolean }) => c.chosen);
    expect(chosen).toHaveLength(1);
    // The blend includes each of its members alone (weights 1/0), so it is never worse: it wins, and serves embeddings too.
    expect(chosen[0]).toMatchObject({ kind: 'ensemble', status: 'TRAINED' });
    expect(chosen[0].ndcg).toBe(Math.max(...run.candidates.map((c: { ndcg: number | null }) => c.ndcg ?? -1)));
    expect(run.modelVersion.kind).toBe('ENSEMBLE');
    expect(run.modelVersion.metrics.validation['ndcg@100']).toBeCloseTo(chosen[0].ndcg, 10);
    expect(run.modelVersion.hyperparameters.members.map((m: { kind: string }) => m.kind)).toEqual([
      'ease',
      chosen[0].name.includes('DAE') ? 'dae' : 'vae',
    ]);
    expect(new Set(run.history.map((h: { candidate: string }) => h.candidate))).toEqual(
      new Set(['Mult-DAE', 'Mult-VAE']),
    );
    expect([...stages].length).toBeGreaterThan(0);

    await waitFor(
      () => servedVersion(app),
      (v) => v === run.versionId,
      30_000,
    );
    const q = await gql(
      app,
      `{ recommendations(userId: "u0", limit: 5) { source modelVersionId items { score item { id } } }
         recommendationsForHistory(itemIds: ["m0-1", "m0-2", "m0-3"], limit: 5) { source items { item { id } } }
         similarItems(itemId: "m1-0", limit: 5) { score item { id } }
         reconstruction(userId: "u0") { error modelVersionId items { item { id } } }
         userEmbedding(userId: "u0") { dimension }
         itemEmbedding(itemId: "m0-0") { dimension } }`,
    );
    expect(q.errors).toBeUndefined();
    expect(q.data!.recommendations).toMatchObject({ source: 'MODEL', modelVersionId: run.versionId });
    expect(q.data!.recommendations.items).toHaveLength(5);
    // Anonymous sessions of group 0 get group-0 items; an item's neighbours share its group.
    expect(
      q.data!.recommendationsForHistory.items.filter((r: { item: { id: string } }) => r.item.id.startsWith('m0-'))
        .length,
    ).toBeGreaterThanOrEqual(4);
    expect(
      q.data!.similarItems.filter((r: { item: { id: string } }) => r.item.id.startsWith('m1-')).length,
    ).toBeGreaterThanOrEqual(4);
    expect(q.data!.reconstruction.error).toBeGreaterThan(0);
    expect(q.data!.userEmbedding.dimension).toBeGreaterThan(0);
    const ready = await waitFor(
      () => gql(app, `{ similarUsers(userId: "u0", limit: 3) { score } anomalousUsers(limit: 2) { percentile } }`),
      (r) => !r.errors,
      30_000,
    );
    expect(ready.data!.similarUsers).toHaveLength(3);
    expect(ready.data!.anomalousUsers).toHaveLength(2);
  }, 300_000);
});
