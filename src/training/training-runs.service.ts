import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, ErrorCode, notFound } from '../common/domain-error.js';
import { checkLimit } from '../common/validation.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PrismaService } from '../database/prisma.service.js';
import type { ActivationPolicy, ModelKind, TrainingStatus } from '../generated/prisma/enums.js';
import { TRAINING_QUEUE, JobQueue } from './job-queue.js';
import { DEFAULT_EPOCHS } from './train-version.js';
import { trainableKind } from '../registry/model-kinds.js';
import {
  createRun,
  getRun,
  listRuns,
  pendingRunExists,
  requestCancel,
  setRunJob,
  type TrainingRunRow,
} from './training-runs.queries.js';

const bad = (field: string, message: string) =>
  new DomainError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, field);

type Check = (field: string, value: unknown) => unknown;
const int =
  (min: number, max: number): Check =>
  (field, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw bad(field, `must be an integer in ${min}..${max}`);
    return v;
  };
const real =
  (min: number, max: number, openMin = false): Check =>
  (field, v) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v > max || v < min || (openMin && v === min)) {
      throw bad(field, `must be a number in ${openMin ? '(' : '['}${min}, ${max}]`);
    }
    return v;
  };
const layers: Check = (field, v) => {
  if (!Array.isArray(v) || v.length > 4) throw bad(field, 'must be a list of at most 4 layer sizes');
  return v.map((x, i) => int(1, 4096)(`${field}[${i}]`, x));
};
const flag: Check = (field, v) => {
  if (typeof v !== 'boolean') throw bad(field, 'must be true or false');
  return v;
};

const MULTINOMIAL: Record<string, Check> = {
  latentDim: int(1, 4096),
  hiddenUnits: layers,
  batchSize: int(1, 100_000),
  learningRate: real(0, 1, true),
  dropout: real(0, 0.99),
  weightDecay: real(0, 1),
  patience: int(1, 10_000),
};
/**
 * Model-specific settings trainModel accepts, per trainable kind, with their checks. A kind
 * without an entry (one the registry serves but trainModel cannot train) is refused.
 */
const SETTINGS: Partial<Record<ModelKind, Record<string, Check>>> = {
  VAE: { ...MULTINOMIAL, annealCap: real(0, 10), totalAnnealSteps: int(1, 1e9) },
  DAE: MULTINOMIAL,
  AUTOREC: { hidden: int(1, 4096), learningRate: real(0, 1, true), batchSize: int(1, 100_000), refitDecoder: flag },
  EASE: {},
  AUTO: { latentDim: MULTINOMIAL.latentDim, hiddenUnits: MULTINOMIAL.hiddenUnits },
  ENSEMBLE: {},
  CONV_AE: {
    latentDim: int(1, 1024),
    batchSize: int(1, 100_000),
    learningRate: real(0, 1, true),
    filters: (field, v) => {
      if (!Array.isArray(v) || v.length !== 2) throw bad(field, 'must be a list of 2 filter counts');
      return v.map((x, i) => int(1, 1024)(`${field}[${i}]`, x));
    },
  },
};

export interface TrainRequest {
  kind: ModelKind;
  activate: ActivationPolicy;
  epochs?: number | null;
  seed?: number | null;
  minRating?: number | null;
  lambda?: number | null;
  validationUsers?: number | null;
  /** AUTO: seconds the model search may take (default RECODER_AUTO_BUDGET_SECONDS). */
  budgetSeconds?: number | null;
  hyperparameters?: Record<string, unknown> | null;
  /** activate: EXPERIMENT: the new version's share of the users (default 0.1). */
  experimentShare?: number | null;
}

/**
 * Checks a training request and returns the hyperparameters to store with the run (only what was
 * given; the worker fills in defaults). Errors name the field, e.g. `input.hyperparameters.dropout`.
 */
export function checkTrainRequest(r: TrainRequest, prefix = 'input'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.kind === 'ENSEMBLE') {
    throw bad(
      `${prefix}.kind`,
      'ENSEMBLE versions are made by an AUTO run (when the blend of EASE and an autoencoder wins); train kind AUTO',
    );
  }
  if (!SETTINGS[r.kind]) throw bad(`${prefix}.kind`, `${r.kind} versions cannot be trained through trainModel`);
  if (r.budgetSeconds != null) {
    if (r.kind !== 'AUTO') throw bad(`${prefix}.budgetSeconds`, 'only AUTO runs take a time budget');
    out.budgetSeconds = int(10, 7 * 24 * 3600)(`${prefix}.budgetSeconds`, r.budgetSeconds);
  }
  if (r.experimentShare != null) {
    if (r.activate !== 'EXPERIMENT') throw bad(`${prefix}.experimentShare`, 'only with activate: EXPERIMENT');
    if (!(Number.isFinite(r.experimentShare) && r.experimentShare > 0 && r.experimentShare < 1))
      throw bad(`${prefix}.experimentShare`, 'must be a share in (0, 1)');
    out.experimentShare = r.experimentShare;
  }
  if (r.activate === 'EXPERIMENT' && r.kind === 'CONV_AE')
    throw bad(
      `${prefix}.activate`,
      'CONV_AE versions serve images, not recommendations: no experiment; use IF_BETTER, ALWAYS or NEVER',
    );
  if (r.activate === 'IF_BETTER' && r.kind === 'AUTOREC') {
    throw bad(
      `${prefix}.activate`,
      'IF_BETTER compares NDCG@100 on held-out users, which AUTOREC (a rating model) does not rank; use ALWAYS or NEVER',
    );
  }
  if (r.epochs != null) {
    if (r.kind === 'EASE') throw bad(`${prefix}.epochs`, 'EASE is solved in closed form and has no epochs');
    out.epochs = int(1, 10_000)(`${prefix}.epochs`, r.epochs);
  }
  if (r.seed != null) out.seed = int(0, 2 ** 31 - 1)(`${prefix}.seed`, r.seed);
  if (r.kind === 'CONV_AE') {
    for (const [key, value] of [
      ['minRating', r.minRating],
      ['lambda', r.lambda],
      ['validationUsers', r.validationUsers],
    ] as const) {
      if (value != null) throw bad(`${prefix}.${key}`, 'CONV_AE trains on item images, not interactions');
    }
  }
  if (r.minRating != null) out.minRating = real(-1e6, 1e6)(`${prefix}.minRating`, r.minRating);
  if (r.lambda != null) {
    if (r.kind !== 'EASE' && r.kind !== 'AUTOREC' && r.kind !== 'AUTO')
      throw bad(`${prefix}.lambda`, "only EASE, AUTO (fixes the EASE candidates' λ) and AUTOREC take λ");
    out.lambda = real(0, 1e9, true)(`${prefix}.lambda`, r.lambda);
  }
  if (r.validationUsers != null) {
    if (r.kind === 'AUTOREC')
      throw bad(`${prefix}.validationUsers`, 'AUTOREC validates on 5 % of the ratings, not on users');
    out.validationUsers = int(1, 100_000)(`${prefix}.validationUsers`, r.validationUsers);
  }
  const allowed = SETTINGS[r.kind]!;
  for (const [key, value] of Object.entries(r.hyperparameters ?? {})) {
    const field = `${prefix}.hyperparameters.${key}`;
    const check = Object.hasOwn(allowed, key) ? allowed[key] : undefined; // not Object.prototype's "valueOf", "__proto__"...
    if (!check) {
      const known = Object.keys(allowed);
      throw bad(
        field,
        `unknown setting for ${r.kind}${known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'}`,
      );
    }
    out[key] = check(field, value);
  }
  return out;
}

/** Epochs a run plans (null when it has none up front: EASE is closed-form, AUTO reports `progress`). */
function plannedEpochs(kind: ModelKind, requested: number | undefined): number | null {
  if (kind === 'EASE' || kind === 'AUTO' || kind === 'ENSEMBLE') return null;
  // VAE/DAE without a request: planned from the number of users once the worker has read the data.
  return requested ?? DEFAULT_EPOCHS[kind === 'CONV_AE' ? 'conv_ae' : trainableKind(kind)];
}

/** Training runs for the API: queue (trainModel), read, cancel. Workers run them (training-worker.ts). */
@Injectable()
export class TrainingRunsService {
  private readonly logger = new Logger(TrainingRunsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobQueue,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async trainModel(request: TrainRequest, trigger: 'API' | 'SCHEDULE' = 'API'): Promise<TrainingRunRow> {
    const hyperparameters = checkTrainRequest(request);
    const epochs = plannedEpochs(request.kind, hyperparameters.epochs as number | undefined);
    const run = await createRun(this.prisma, {
      kind: request.kind,
      activation: request.activate,
      hyperparameters,
      epochs,
      trigger,
    });
    try {
      const jobId = await this.jobs.sendTraining(run.id);
      await setRunJob(this.prisma, run.id, jobId);
      this.logger.log(`training run ${run.id} queued (${request.kind}, ${request.activate}, job ${jobId})`);
      return { ...run, jobId };
    } catch (error) {
      await this.prisma.trainingRun.update({
        where: { id: run.id },
        data: { status: 'FAILED', error: `could not queue: ${(error as Error).message}`, finishedAt: new Date() },
      });
      throw error;
    }
  }

  async run(id: number): Promise<TrainingRunRow> {
    const run = await getRun(this.prisma, id);
    if (!run) throw notFound('Training run', String(id), 'id');
    return run;
  }

  async runs(first: number, status?: TrainingStatus | null): Promise<TrainingRunRow[]> {
    checkLimit('first', first, this.env.maxPageSize);
    return listRuns(this.prisma, first, status ?? undefined);
  }

  async cancel(id: number): Promise<TrainingRunRow> {
    const before = await this.run(id);
    if (before.status !== 'QUEUED' && before.status !== 'RUNNING') {
      throw new DomainError(ErrorCode.ALREADY_FINISHED, `Training run ${id} already ended (${before.status})`, 'id', {
        status: before.status,
      });
    }
    const after = (await requestCancel(this.prisma, id))!;
    if (after.status === 'CANCELLED' && after.jobId) {
      // The job may already be fetched by a worker; its claim then fails on the cancelled run.
      await this.jobs.boss
        .cancel(TRAINING_QUEUE, after.jobId)
        .catch((e: Error) => this.logger.warn(`cancel job ${after.jobId}: ${e.message}`));
    }
    return after;
  }

  /**
   * The retraining schedule's tick: queues a run (RECODER_RETRAIN_*) unless one is queued or
   * running, or no interaction arrived since the active version's data snapshot.
   */
  async scheduledRetrain(): Promise<{ queued: TrainingRunRow } | { skipped: string }> {
    if (await pendingRunExists(this.prisma)) return { skipped: 'a training run is already queued or running' };
    const rows = await this.prisma.$queryRaw<
      { versionId: number | null; snapshot: bigint | null; newer: boolean; any: boolean }[]
    >`
      SELECT v.id AS "versionId", v.data_max_interaction_id AS snapshot,
             EXISTS (SELECT 1 FROM interactions i WHERE i.id > coalesce(v.data_max_interaction_id, 0)) AS newer,
             EXISTS (SELECT 1 FROM interactions) AS any
      FROM (SELECT 1) AS one
      LEFT JOIN active_models a ON a.slot = 'default'
      LEFT JOIN model_versions v ON v.id = a.version_id`;
    const state = rows[0];
    if (!state.any) return { skipped: 'no interactions yet' };
    if (state.versionId !== null && !state.newer) {
      return {
        skipped: `no interaction arrived since active version ${state.versionId}'s snapshot (interaction id ${state.snapshot ?? 'unknown'})`,
      };
    }
    const { kind, activate, epochs } = this.env.retrain;
    return { queued: await this.trainModel({ kind, activate, epochs }, 'SCHEDULE') };
  }
}
