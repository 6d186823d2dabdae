/**
 * Training budgets that fit the data: a mini-batch autoencoder learns per optimizer step, not per
 * epoch, so the number of epochs that suits 5,000 users (ML-1M: ≈ 11 steps an epoch at batch
 * 500) gives 600 users (one step an epoch) far too few updates, and 100,000 users far too many.
 *
 * {@link planTraining} picks the batch size from the number of training users (at least
 * `stepsPerEpoch` steps an epoch), enough epochs for `targetSteps` updates (within
 * [minEpochs, maxEpochs]) and a patience window for early stopping on validation NDCG@100; the
 * trainer keeps the best validation epoch's weights, so stopping early loses nothing.
 */

/** What {@link planTraining} decides. */
export interface TrainingPlan {
  /** Users per mini-batch. */
  batchSize: number;
  /** Largest number of epochs (training may stop earlier, see `patience`). */
  epochs: number;
  /** Stop when validation NDCG@100 has not improved for this many epochs. */
  patience: number;
  /** Optimizer steps in one epoch (⌈users / batchSize⌉). */
  stepsPerEpoch: number;
}

export interface TrainingPlanOptions {
  /** A batch size asked for (kept as given). Default: see {@link planTraining}. */
  batchSize?: number;
  /** Epochs asked for (kept as given: an explicit request is a maximum, not adapted). */
  epochs?: number;
  /** Optimizer steps to aim for when epochs are not given. Default 3,000. */
  targetSteps?: number;
  /** Largest default batch (Liang et al.'s 500). */
  maxBatchSize?: number;
  /** Smallest default batch. Default 32. */
  minBatchSize?: number;
  /** Steps an epoch the default batch size aims for. Default 10. */
  stepsPerEpoch?: number;
  /** Bounds of the default number of epochs. Default [20, 200]. */
  minEpochs?: number;
  maxEpochs?: number;
  /** Early-stopping window in epochs. Default max(10, ⌈epochs / 5⌉). */
  patience?: number;
}

export const TRAINING_PLAN_DEFAULTS = Object.freeze({
  targetSteps: 3000,
  maxBatchSize: 500,
  minBatchSize: 32,
  stepsPerEpoch: 10,
  minEpochs: 20,
  maxEpochs: 200,
});

/**
 * The budget for training a mini-batch autoencoder on `users` training users.
 *
 * - batch size: ⌈users / stepsPerEpoch⌉ clamped to [minBatchSize, maxBatchSize] (500 on ML-1M's
 *   5,000 users, 56 on ml-latest-small's 550);
 * - epochs: ⌈targetSteps / stepsPerEpoch⌉ clamped to [minEpochs, maxEpochs] (200 on both of
 *   those: 2,200 and 2,000 steps; 20 epochs = 4,000 steps for 100,000 users);
 * - patience: max(10, ⌈epochs / 5⌉) epochs without a better validation NDCG@100.
 *
 * @example planTraining(550) // { batchSize: 55, epochs: 200, patience: 40, stepsPerEpoch: 10 }
 */
export function planTraining(users: number, options: TrainingPlanOptions = {}): TrainingPlan {
  if (!(Number.isInteger(users) && users >= 1))
    throw new Error(`planTraining: users must be a positive integer, got ${users}`);
  const o = { ...TRAINING_PLAN_DEFAULTS, ...definedOnly(options) };
  const batchSize =
    options.batchSize ?? Math.min(o.maxBatchSize, Math.max(o.minBatchSize, Math.ceil(users / o.stepsPerEpoch)));
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`planTraining: batchSize must be a positive integer, got ${batchSize}`);
  const stepsPerEpoch = Math.ceil(users / batchSize);
  const epochs =
    options.epochs ?? Math.min(o.maxEpochs, Math.max(o.minEpochs, Math.ceil(o.targetSteps / stepsPerEpoch)));
  if (!(Number.isInteger(epochs) && epochs >= 0))
    throw new Error(`planTraining: epochs must be a non-negative integer, got ${epochs}`);
  const patience = options.patience ?? Math.max(10, Math.ceil(epochs / 5));
  return { batchSize, epochs, patience, stepsPerEpoch };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
