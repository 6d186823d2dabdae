import os from 'node:os';
import { threadId } from 'node:worker_threads';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type PgBoss from 'pg-boss';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { initBackend } from '../core/engine/backend.js';
import type { Tf } from '../core/models/autorec.js';
import { DATABASE_URL, PrismaService } from '../database/prisma.service.js';
import { trainableKind } from '../registry/model-kinds.js';
import { ModelRegistry } from '../registry/model-registry.service.js';
import { JobQueue, RETRAIN_QUEUE, TRAINING_QUEUE, type TrainingJobData } from './job-queue.js';
import { claimRun, failOrphanedRuns, finishRun, type TrainingRunRow } from './training-runs.queries.js';
import { RunProgress } from './run-progress.js';
import { startTrainingExperiment } from './training-experiment.js';
import { TrainingRunsService } from './training-runs.service.js';
import { scoreActive, scoreActiveVisual } from './active-baseline.js';
import { configureRetrainSchedule } from './retrain-schedule.js';
import { decide, DEFAULT_EXPERIMENT_SHARE } from './run-decision.js';
import { trainingPause } from './serving-pressure.js';
import { TrainingLock } from './training-lock.js';

export { decide } from './run-decision.js';
import { TrainingCancelled, trainVersion, type TrainedVersion } from './train-version.js';
import { trainVisualVersion } from './train-visual.js';

const ORPHAN_CHECK_MS = 15_000;

/**
 * Runs training jobs from the pg-boss queue, one at a time across all workers (singleton queue +
 * an advisory lock), with the same core code as `npm run train` (trainVersion). Writes progress
 * per epoch, honours cancellation, compares the new version with the active one on the same
 * held-out users, activates per the run's policy, and fails runs whose worker died (it holds the
 * lock, so no live worker is training them).
 */
@Injectable()
export class TrainingWorkerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('TrainingWorker');
  private readonly name = `${os.hostname()}:${process.pid}${threadId ? `#${threadId}` : ''}`;
  private tf: Tf | null = null;
  private backendName = '';
  private orphanTimer: NodeJS.Timeout | null = null;
  private training: number | null = null;
  private stopping = false;

  constructor(
    private readonly prisma: PrismaService,
    private readonly registry: ModelRegistry,
    private readonly jobs: JobQueue,
    private readonly runs: TrainingRunsService,
    @Inject(DATABASE_URL) private readonly url: string,
    @Inject(ENV) private readonly env: Env,
  ) {
    this.lock = new TrainingLock(url, this.logger);
  }

  private readonly lock: TrainingLock;

  async onApplicationBootstrap(): Promise<void> {
    const backend = await initBackend({
      prefer: this.env.tfBackend,
      native: this.env.nativeGemm,
      // A worker process of its own gives its products (training on this thread, the population)
      // every core; the thread embedded in an API process keeps to one, beside serving.
      nativeThreads: threadId === 0 ? os.availableParallelism() : 1,
      log: (m) => this.logger.log(m),
    });
    this.tf = backend.tf;
    this.backendName = backend.name;
    await this.recoverOrphans();
    const boss = this.jobs.boss;
    await boss.work<TrainingJobData>(TRAINING_QUEUE, { batchSize: 1, pollingIntervalSeconds: 1 }, async ([job]) =>
      this.handle(job),
    );
    await configureRetrainSchedule(boss, this.env, this.runs, this.logger);
    this.orphanTimer = setInterval(
      () => void this.recoverOrphans().catch((e: Error) => this.logger.warn(`orphan check: ${e.message}`)),
      ORPHAN_CHECK_MS,
    );
    this.orphanTimer.unref();
    this.logger.log(`training worker ${this.name} ready (${this.backendName})`);
  }

  /** Stops taking jobs and stops a run in progress (marked FAILED); the job queue stops after this. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    await this.jobs.boss.offWork(TRAINING_QUEUE).catch(() => undefined);
    await this.jobs.boss.offWork(RETRAIN_QUEUE).catch(() => undefined);
    for (let waited = 0; this.training !== null && waited < 20_000; waited += 100) await sleep(100);
    await this.lock.end();
  }

  /**
   * If no worker holds the training lock, every RUNNING run is an orphan (its worker died):
   * mark it FAILED and fail its pg-boss job so the singleton queue moves on.
   */
  async recoverOrphans(): Promise<TrainingRunRow[]> {
    if (this.training !== null || this.stopping) return [];
    if (!(await this.lock.tryLock())) return [];
    try {
      const orphans = await failOrphanedRuns(
        this.prisma,
        'the worker stopped during the run (process exited or lost its database connection)',
      );
      for (const run of orphans) {
        this.logger.warn(`training run ${run.id} was RUNNING with no live worker: marked FAILED`);
        if (run.jobId)
          await this.jobs.boss.fail(TRAINING_QUEUE, run.jobId, { message: 'worker died' }).catch(() => undefined);
      }
      return orphans;
    } finally {
      await this.lock.unlock();
    }
  }

  private async handle(job: PgBoss.Job<TrainingJobData>): Promise<void> {
    const runId = job.data.runId;
    let locked = false;
    for (let waited = 0; !(locked = await this.lock.tryLock()) && waited < 60_000; waited += 500) await sleep(500);
    if (!locked) throw new Error(`training run ${runId}: another worker holds the training lock`);
    this.training = runId;
    try {
      const run = await claimRun(this.prisma, runId, this.name);
      if (!run) {
        this.logger.log(`training run ${runId} was cancelled before it started`);
        return;
      }
      await this.execute(run);
    } finally {
      this.training = null;
      await this.lock.unlock();
    }
  }

  /** Trains the run, then concludes it (SUCCEEDED, with its decision) or records why it stopped. */
  private async execute(run: TrainingRunRow): Promise<void> {
    const progress = new RunProgress(this.prisma, run.id, this.lock, this.logger);
    this.logger.log(`training run ${run.id}: ${run.kind} (${run.activation})`);
    try {
      const result = await this.train(run, progress);
      await progress.flush();
      await this.conclude(run, result);
    } catch (error) {
      await progress.flush();
      await this.stopped(run, progress, error);
    } finally {
      progress.stop();
    }
  }

  /** The run's training: trainVisualVersion for CONV_AE, else trainVersion, reporting to `progress`. */
  private train(run: TrainingRunRow, progress: RunProgress): Promise<TrainedVersion> {
    const h = run.hyperparameters;
    const { hyperparameters: extra } = splitSettings(h);
    const shouldStop = () => (trainingPause(), progress.cancel || progress.lockLost || this.stopping);
    const log = (m: string) => this.logger.log(`run ${run.id}: ${m}`);
    if (run.kind === 'CONV_AE')
      return trainVisualVersion(this.tf!, this.url, this.prisma, {
        size: this.env.images.size,
        channels: this.env.images.channels,
        epochs: h.epochs as number | undefined,
        seed: (h.seed as number | undefined) ?? 1,
        hyperparameters: extra,
        name: `conv_ae-run${run.id}`,
        backend: this.backendName,
        onData: progress.onData,
        onEpoch: progress.onEpoch,
        shouldStop,
        scoreBaseline: (heldOut) => scoreActiveVisual(this.registry, this.tf!, this.env.images, heldOut),
        log,
      });
    return trainVersion(this.tf!, this.url, this.prisma, {
      kind: trainableKind(run.kind),
      epochs: h.epochs as number | undefined,
      seed: (h.seed as number | undefined) ?? 1,
      minRating: h.minRating as number | undefined,
      lambda: h.lambda as number | undefined,
      validationUsers: h.validationUsers as number | undefined,
      budgetSeconds: (h.budgetSeconds as number | undefined) ?? this.env.autoBudgetSeconds,
      hyperparameters: extra,
      name: `${trainableKind(run.kind)}-run${run.id}`,
      backend: this.backendName,
      onData: progress.onData,
      onEpoch: (e) => progress.onEpoch(e),
      onPlan: progress.onPlan,
      onProgress: progress.onProgress,
      onCandidateEpoch: (candidate, e) => progress.onEpoch(e, candidate),
      onCandidate: progress.onCandidate,
      shouldStop,
      scoreBaseline:
        run.kind === 'AUTOREC'
          ? undefined
          : (validation, itemIds) => scoreActive(this.registry, this.tf!, validation, itemIds),
      log,
    });
  }

  /** A trained run: its decision (decide), the activation or experiment it calls for, and SUCCEEDED. */
  private async conclude(run: TrainingRunRow, result: TrainedVersion): Promise<void> {
    // Once per version, before it can serve: what every API process would otherwise compute.
    if (run.kind !== 'CONV_AE') await this.storePopulation(run.id, result.version.id);
    const decided = decide(run, result.metrics, result.baseline);
    const { comparison, activate } = decided;
    let decision = decided.decision;
    if (activate) await this.registry.activate(result.version.id);
    if (decided.experiment) {
      const share = (run.hyperparameters.experimentShare as number | undefined) ?? DEFAULT_EXPERIMENT_SHARE;
      decision = await startTrainingExperiment(
        this.url,
        run.id,
        decided.experiment.controlVersionId,
        result.version.id,
        share,
        decision,
      );
    }
    await finishRun(this.prisma, run.id, {
      status: 'SUCCEEDED',
      versionId: result.version.id,
      comparison,
      decision,
      activated: activate,
      dataSeconds: result.dataSeconds,
      trainingSeconds: result.trainingSeconds,
      ...(result.candidates ? { candidates: result.candidates } : {}),
    });
    this.logger.log(`training run ${run.id} succeeded: version ${result.version.id}; ${decision}`);
  }

  /**
   * A run that did not finish: CANCELLED when asked, FAILED when the worker shut down or lost the
   * lock (returns), FAILED with the error's message otherwise (rethrown, so pg-boss fails the job).
   */
  private async stopped(run: TrainingRunRow, progress: RunProgress, error: unknown): Promise<void> {
    const { cancel, lockLost, dataSeconds } = progress;
    if (error instanceof TrainingCancelled) {
      const status = cancel ? 'CANCELLED' : 'FAILED';
      const reason = lockLost
        ? 'the worker lost the training lock to another worker (database connection lost)'
        : 'the worker shut down during the run';
      await finishRun(this.prisma, run.id, { status, error: cancel ? null : reason, dataSeconds });
      this.logger.log(`training run ${run.id} ${cancel ? 'cancelled' : 'stopped by shutdown'}`);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    await finishRun(this.prisma, run.id, { status: 'FAILED', error: message, dataSeconds }).catch(() => undefined);
    this.logger.error(`training run ${run.id} failed: ${message}`);
    throw error;
  }

  /**
   * The version's population (every user's vector and reconstruction error, the similar-item
   * lists, the user graph, the item graphs), computed and stored once (src/registry/population.ts) so that API
   * processes load it; a failure is logged and they compute it as before.
   */
  private async storePopulation(runId: number, versionId: number): Promise<void> {
    try {
      const done = await this.registry.storePopulation(this.tf!, versionId, {
        pause: () => void trainingPause(),
        shouldStop: () => this.stopping,
        // The serving index options, so the stored user graph is the one API processes look for.
        index: { exactBelow: this.env.exactSearchBelow, hnsw: { ...this.env.hnsw, seed: 100 } },
        // A worker process of its own spreads the model work over every core; the thread embedded
        // in an API process keeps to itself, pausing for serving.
        threads: threadId === 0 ? os.availableParallelism() : 1,
        log: (m) => this.logger.warn(m),
      });
      if (done)
        this.logger.log(
          `run ${runId}: version ${versionId}'s population stored: ${done.users} users${done.lists ? ' and similar-item lists' : ''} in ${done.seconds.toFixed(1)} s`,
        );
    } catch (error) {
      this.logger.warn(
        `run ${runId}: version ${versionId}'s population not stored (${(error as Error).message}); API processes compute it`,
      );
    }
  }
}

/** The run's stored settings minus the ones trainVersion takes as named options. */
function splitSettings(h: Record<string, unknown>): { hyperparameters: Record<string, unknown> } {
  const {
    epochs: _e,
    seed: _s,
    minRating: _m,
    lambda: _l,
    validationUsers: _v,
    budgetSeconds: _b,
    experimentShare: _x,
    ...rest
  } = h;
  return { hyperparameters: rest };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
