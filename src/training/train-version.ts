import { csrFromTriples } from '../core/data/csr.js';
import { Random } from '../core/data/random.js';
import type { CsrMatrix } from '../core/data/csr.js';
import { strongGeneralizationSplit } from '../core/data/split.js';
import { holdoutFraction, stableHoldoutRows } from '../core/data/stable-holdout.js';
import { evaluateRanking } from '../core/eval/metrics.js';
import { AutoSearchStopped, autoSelect, type AutoCandidate } from '../core/models/auto-select.js';
import type { EpochReport } from '../core/models/autoencoder.js';
import { AutoRec, type Tf } from '../core/models/autorec.js';
import { planTraining } from '../core/models/budget.js';
import { Ease, EaseFitCancelled, maxEaseItems } from '../core/models/ease.js';
import { MultDAE } from '../core/models/mult-dae.js';
import { MultVAE } from '../core/models/mult-vae.js';
import type { ServableModel } from '../core/models/servable.js';
import { servedKindOf, type TrainableKind } from '../registry/model-kinds.js';
import { saveModelVersion, type ModelVersionSummary, type RegistryDb } from '../registry/model-versions.queries.js';
import { loadTrainingData } from './training-data.js';

export type { TrainableKind } from '../registry/model-kinds.js';

/**
 * Training epochs when a request gives none. null: none up front — EASE is solved in closed form,
 * VAE/DAE plan theirs from the number of users (core/models/budget.ts `planTraining`), AUTO
 * searches several models.
 */
export const DEFAULT_EPOCHS: Record<TrainableKind | 'conv_ae', number | null> = {
  vae: null,
  dae: null,
  autorec: 100,
  ease: null,
  auto: null,
  conv_ae: 30,
};

/** Seconds an AUTO run may search when neither the request nor RECODER_AUTO_BUDGET_SECONDS says. */
export const DEFAULT_AUTO_BUDGET_SECONDS = 900;

/**
 * Catalogs above this many items leave EASE out of AUTO: the largest whose dense n × n fit stays
 * within 2 GiB (about 21,000 items; see "EASE cost" in docs/architecture.md).
 */
export const DEFAULT_MAX_EASE_ITEMS = maxEaseItems(2 * 2 ** 30);

/** Validation users need this many positives (80/20 fold-in/held-out). */
const MIN_ITEMS = 5;

export interface TrainVersionOptions {
  kind: TrainableKind;
  /** Epochs (vae/dae default 200, autorec 100). */
  epochs?: number;
  seed?: number;
  /**
   * Held-out validation users for vae/dae/ease (default 10 % of users, at most 500). They are
   * chosen by a hash of the user id ({@link stableHoldoutRows}), so every run holds out the same
   * users and a version trained earlier can be compared with a new one on users neither saw.
   */
  validationUsers?: number;
  /** RATING interactions count as positives at ≥ this (default 3.5); stored with the version. */
  minRating?: number;
  /** EASE λ (default 500) or AutoRec λ (default 30). */
  lambda?: number;
  /** Further model hyperparameters (e.g. latentDim, hiddenUnits, learningRate, batchSize, patience). */
  hyperparameters?: Record<string, unknown>;
  /** AUTO: seconds the search may take (default {@link DEFAULT_AUTO_BUDGET_SECONDS}). */
  budgetSeconds?: number;
  /** AUTO: largest catalog EASE is tried on (default {@link DEFAULT_MAX_EASE_ITEMS}). */
  maxEaseItems?: number;
  /** Training threads of the autoencoders (default 1). */
  threads?: number;
  /** VAE/DAE: the epochs and batch size planned for the data (before training starts). */
  onPlan?: (plan: { epochs: number; batchSize: number }) => void;
  /** Share of the work done (0–1) and what is being trained (AUTO: each candidate). */
  onProgress?: (fraction: number, stage: string) => void;
  /** AUTO: each candidate's outcome as soon as it is known. */
  onCandidate?: (candidate: AutoCandidate) => void;
  name?: string;
  /** tfjs backend name, recorded with the version. */
  backend?: string;
  onEpoch?: (report: EpochReport) => void;
  /** Called with each epoch's report (AUTO: with the candidate's name). */
  onCandidateEpoch?: (candidate: string, report: EpochReport) => void;
  /** Called once the data is read (before training). */
  onData?: (info: { interactions: number; users: number; items: number; seconds: number }) => void;
  /** Checked between steps; when it returns true training stops and {@link TrainingCancelled} is thrown (no version is stored). */
  shouldStop?: () => boolean;
  /**
   * Scores another model (e.g. the active version) on this run's validation users, over this
   * run's item columns; the result is stored in the version's metrics as `baseline`. vae/dae/ease
   * only; resolve null when there is nothing to compare with.
   */
  scoreBaseline?: (
    validation: { foldIn: CsrMatrix; heldOut: CsrMatrix },
    itemIds: string[],
  ) => Promise<Baseline | null>;
  log?: (message: string) => void;
}

/** Another version's validation metrics on the same held-out users. */
export interface Baseline {
  versionId: number;
  metrics: Record<string, number>;
}

export interface TrainedVersion {
  version: ModelVersionSummary;
  metrics: Record<string, number>;
  baseline: Baseline | null;
  /** Seconds spent reading the data and training (with validation). */
  dataSeconds: number;
  trainingSeconds: number;
  /** AUTO: every candidate tried, the kept one marked `chosen`. */
  candidates?: AutoCandidate[];
}

/** Thrown by {@link trainVersion} when `shouldStop` ended the run. */
export class TrainingCancelled extends Error {
  constructor() {
    super('training cancelled');
    this.name = 'TrainingCancelled';
  }
}

/**
 * Trains a model on the database's interactions and stores it as a model version (weights, id
 * maps, hyperparameters with minRating, validation metrics, data snapshot). Validation: held-out
 * users (strong generalization, 80/20 fold-in) for vae/dae/ease; 5 % of the ratings for autorec.
 * The CLI (`npm run train`) and the tests call this; it does not activate the version.
 */
export async function trainVersion(
  tf: Tf,
  databaseUrl: string,
  prisma: RegistryDb,
  o: TrainVersionOptions,
): Promise<TrainedVersion> {
  const seed = o.seed ?? 1;
  const minRating = o.minRating ?? 3.5;
  const t0 = performance.now();
  const data = await loadTrainingData(databaseUrl, { minRating });
  const dataSeconds = (performance.now() - t0) / 1000;
  o.log?.(
    `read ${data.interactionCount} interactions: ${data.userIds.length} users × ${data.itemIds.length} items in ${dataSeconds.toFixed(1)} s`,
  );
  o.onData?.({
    interactions: data.interactionCount,
    users: data.userIds.length,
    items: data.itemIds.length,
    seconds: dataSeconds,
  });
  if (o.shouldStop?.()) throw new TrainingCancelled();
  const started = performance.now();
  let model: ServableModel;
  let metrics: Record<string, number>;
  let candidates: AutoCandidate[] | undefined;
  let baseline: Baseline | null = null;
  let userIds: string[] | null = null;
  const extra = o.hyperparameters ?? {};
  if (o.kind === 'autorec') {
    const r = data.ratings;
    if (r.indptr[r.numRows] === 0) throw new Error('no RATING interactions: AutoRec predicts explicit ratings');
    // 5% of the ratings, chosen with the seed, are held out for the validation RMSE.
    const rng = new Random(seed);
    const held = { users: [] as number[], items: [] as number[], ratings: [] as number[] };
    const kept = { rows: [] as number[], cols: [] as number[], vals: [] as number[] };
    for (let u = 0; u < r.numRows; u++) {
      for (let k = r.indptr[u]; k < r.indptr[u + 1]; k++) {
        if (rng.uniform() < 0.05) {
          held.users.push(u);
          held.items.push(r.indices[k]);
          held.ratings.push(r.values[k]);
        } else {
          kept.rows.push(u);
          kept.cols.push(r.indices[k]);
          kept.vals.push(r.values[k]);
        }
      }
    }
    const train = csrFromTriples(r.numRows, r.numCols, kept.rows, kept.cols, kept.vals);
    const autorec = await AutoRec.fit(
      tf,
      train,
      {
        ...extra,
        epochs: o.epochs ?? DEFAULT_EPOCHS.autorec!,
        seed,
        ...(o.lambda !== undefined ? { lambda: o.lambda } : {}),
      },
      { validation: held, onEpoch: o.onEpoch, shouldStop: o.shouldStop },
    );
    const predicted = autorec.predict(held.users, held.items);
    let se = 0;
    let ae = 0;
    for (let k = 0; k < held.ratings.length; k++) {
      se += (predicted[k] - held.ratings[k]) ** 2;
      ae += Math.abs(predicted[k] - held.ratings[k]);
    }
    const n = Math.max(1, held.ratings.length);
    metrics = { rmse: Math.sqrt(se / n), mae: ae / n, ratings: held.ratings.length };
    model = autorec;
    userIds = data.userIds;
    if (o.shouldStop?.()) {
      autorec.dispose();
      throw new TrainingCancelled();
    }
  } else {
    const users = data.implicit.numRows;
    if (users < 2) throw new Error(`too little data to train: ${users} user(s) with positives`);
    const heldOutUsers = o.validationUsers ?? Math.max(1, Math.min(500, Math.floor(users / 10)));
    // Stable hold-out among users with enough positives to be split 80/20 (MIN_ITEMS).
    const m = data.implicit;
    const eligible: number[] = [];
    for (let r = 0; r < m.numRows; r++) if (m.indptr[r + 1] - m.indptr[r] >= MIN_ITEMS) eligible.push(r);
    if (eligible.length < 2)
      throw new Error(`too little data to train: ${eligible.length} user(s) with ≥ ${MIN_ITEMS} positives`);
    const picked = stableHoldoutRows(
      eligible.map((r) => data.userIds[r]),
      holdoutFraction(eligible.length, heldOutUsers),
      1,
    );
    const split = strongGeneralizationSplit(m, {
      heldOutUsers,
      seed,
      minItems: MIN_ITEMS,
      validationRows: Array.from(picked, (k) => eligible[k]),
    });
    o.log?.(`split: ${split.train.numRows} training users, ${split.validation.heldOut.numRows} validation users`);
    if (o.kind === 'ease') {
      const ease = await fitEase(tf, split.train, o.lambda ?? 500, {
        shouldStop: o.shouldStop,
        onProgress: (f) => o.onProgress?.(f, 'EASE'),
      }).catch((error: unknown) => {
        throw error instanceof EaseStopped ? new TrainingCancelled() : error;
      });
      model = ease;
      metrics = evaluateRanking((h) => ease.score(h), split.validation.foldIn, split.validation.heldOut);
      if (o.shouldStop?.()) throw new TrainingCancelled();
    } else if (o.kind === 'auto') {
      let selection;
      try {
        selection = await autoSelect(tf, split.train, split.validation, {
          budgetSeconds: o.budgetSeconds ?? DEFAULT_AUTO_BUDGET_SECONDS,
          seed,
          epochs: o.epochs,
          lambda: o.lambda,
          maxEaseItems: o.maxEaseItems ?? DEFAULT_MAX_EASE_ITEMS,
          threads: o.threads,
          autoencoderSettings: pick(extra, ['latentDim', 'hiddenUnits']),
          fitEase: (lambda, hooks, dropout) => fitEase(tf, split.train, lambda, hooks, dropout),
          onProgress: o.onProgress,
          onEpoch: (candidate, report) => o.onCandidateEpoch?.(candidate, report),
          onCandidate: o.onCandidate,
          shouldStop: o.shouldStop,
          log: o.log,
        });
      } catch (error) {
        if (error instanceof AutoSearchStopped || error instanceof EaseStopped) throw new TrainingCancelled();
        throw error;
      }
      model = selection.model;
      metrics = selection.metrics;
      candidates = selection.candidates;
    } else {
      const plan = planTraining(split.train.numRows, {
        epochs: o.epochs,
        batchSize: typeof extra.batchSize === 'number' ? extra.batchSize : undefined,
        patience: typeof extra.patience === 'number' ? extra.patience : undefined,
      });
      o.onPlan?.({ epochs: plan.epochs, batchSize: plan.batchSize });
      const { patience: _p, ...modelExtra } = extra;
      const options = {
        validation: split.validation,
        onEpoch: o.onEpoch,
        shouldStop: o.shouldStop,
        patience: plan.patience,
        threads: o.threads,
        log: o.log,
      };
      const hyper = { ...modelExtra, epochs: plan.epochs, batchSize: plan.batchSize, seed };
      const ae =
        o.kind === 'vae'
          ? await MultVAE.fit(tf, split.train, hyper, options)
          : await MultDAE.fit(tf, split.train, hyper, options);
      model = ae;
      if (o.shouldStop?.()) {
        ae.dispose();
        throw new TrainingCancelled();
      }
      metrics = evaluateRanking((h) => ae.reconstruct(h), split.validation.foldIn, split.validation.heldOut);
    }
    if (o.scoreBaseline) {
      try {
        baseline = await o.scoreBaseline(split.validation, data.itemIds);
      } catch (error) {
        model.dispose();
        throw error;
      }
    }
  }
  try {
    const trainingSeconds = (performance.now() - started) / 1000;
    const hyperparameters = { ...model.hyperparameters };
    const kind = servedKindOf(model);
    const selection = candidates
      ? {
          selection: candidates.map(({ name, status, ndcg, chosen }) => ({
            name,
            status,
            ndcg,
            ...(chosen ? { chosen } : {}),
          })),
        }
      : {};
    const version = await saveModelVersion(prisma, {
      name: o.name ?? `${o.kind}-${new Date().toISOString().slice(0, 19)}`,
      kind,
      hyperparameters: {
        ...hyperparameters,
        seed,
        minRating,
        ...selection,
        ...(o.backend ? { backend: o.backend } : {}),
      },
      metrics: baseline
        ? { validation: metrics, baseline: { versionId: baseline.versionId, ...baseline.metrics } }
        : { validation: metrics },
      interactionCount: data.interactionCount,
      dataLatestAt: data.latestAt,
      dataMaxInteractionId: data.maxInteractionId,
      itemIds: data.itemIds,
      userIds,
      weights: model.toBytes(),
      trainingSeconds,
    });
    return { version, metrics, baseline, dataSeconds, trainingSeconds, ...(candidates ? { candidates } : {}) };
  } finally {
    model.dispose();
  }
}

/** The listed keys of `o` that are set. */
function pick(o: Record<string, unknown>, keys: string[]): Record<string, never> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Record<string, never>;
}

/** Thrown by {@link fitEase} when `shouldStop` asked it to stop. */
export class EaseStopped extends Error {
  constructor() {
    super('EASE fit stopped');
    this.name = 'EaseStopped';
  }
}

/**
 * EASE with λ on `train` through tfjs matMuls (Ease.fitAsync), with progress in [0, 1] and stop
 * requests honoured between products (well within 2 s).
 */
export async function fitEase(
  tf: Tf,
  train: CsrMatrix,
  lambda: number,
  hooks: { shouldStop?: () => boolean; onProgress?: (fraction: number) => void } = {},
  dropout = 0,
): Promise<Ease> {
  try {
    return await Ease.fitAsync(tf as Parameters<typeof Ease.fitAsync>[0], train, {
      lambda,
      dropout,
      shouldStop: hooks.shouldStop,
      onProgress: (done, total) => hooks.onProgress?.(total > 0 ? done / total : 1),
    });
  } catch (error) {
    if (error instanceof EaseFitCancelled) throw new EaseStopped();
    throw error;
  }
}
