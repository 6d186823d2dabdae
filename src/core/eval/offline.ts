/**
 * Offline evaluation (`npm run evaluate`, docs/benchmarks.md): the strong-generalization protocol
 * on a split folder (each model trained on the train users, hyperparameters / the best epoch
 * selected on the validation users, test metrics reported) and AutoRec rating prediction on a
 * train/test ratings pair. The CLI parses arguments and prints; everything else is here.
 */
import type { CsrMatrix } from '../data/csr.js';
import { holdOutRatings, ratingsToCsr, type RatingsSplit } from '../data/ratings-files.js';
import { Random } from '../data/random.js';
import type { SplitFiles } from '../data/split-files.js';
import type { Tf } from '../models/autorec.js';
import {
  AUTOREC_DEFAULTS,
  AutoRec,
  type AutoRecHyperparameters,
  type AutoRecValidationReport,
} from '../models/autorec.js';
import type { EpochReport } from '../models/autoencoder.js';
import { Ease, Popularity } from '../models/ease.js';
import { ItemKnn } from '../models/item-knn.js';
import { MultDAE } from '../models/mult-dae.js';
import { MultVAE } from '../models/mult-vae.js';
import { blendScores, twoWayWeights } from '../models/score-blend.js';
import { bestIndex, configLabel, expandGrid, parseGrid, type GridConfig } from './grid.js';
import { evaluateRanking, mae, rmse, type RankingMetrics } from './metrics.js';

export type Scorer = (foldIn: CsrMatrix) => Float32Array;

/** A per-epoch progress display (the CLI's progress bar); `stop` ends it. */
export type EpochProgress = (
  label: string,
  epochs: number,
  metricName: string,
  lowerIsBetter?: boolean,
) => { onEpoch(r: EpochReport): void; stop(): void };

/** One configuration of a --grid search: its validation NDCG@100 (best epoch) and cost. */
export interface GridRun {
  config: GridConfig;
  validationNdcg: number;
  keptEpoch: number;
  epochs: number;
  seconds: number;
}

export interface SplitResult {
  model: string;
  selected: Record<string, unknown>;
  validation: RankingMetrics;
  test: RankingMetrics;
  trainSeconds: number;
  /** Every configuration tried (dae/vae with --grid), in grid order. */
  grid?: GridRun[];
}

/** Hyperparameters a --grid may vary, per model. */
export const GRID_AXES = {
  dae: ['weightDecay', 'dropout', 'latentDim', 'learningRate', 'batchSize', 'epochs'],
  vae: ['weightDecay', 'dropout', 'latentDim', 'learningRate', 'batchSize', 'epochs', 'annealCap', 'totalAnnealSteps'],
  autorec: ['lambda', 'hidden', 'learningRate', 'batchSize', 'epochs', 'refitDecoder'],
} as const;

export interface SplitEvaluationOptions {
  tf: Tf;
  /** pop, ease, knn, dae, vae, or a blend a+b of two listed before it. */
  models: string[];
  easeLambdas: number[];
  /** Item-kNN grid: neighbours per item and cosine shrinkage (every pair is tried on validation). */
  knnNeighbours?: number[];
  knnShrink?: number[];
  epochs: number;
  seed: number;
  /** dae/vae grid, "name=v1,v2;name2=v3,…". */
  grid?: string;
  threads: number;
  blendSteps: number;
  progress: EpochProgress;
  log: (message: string) => void;
}

function metricsOf(score: Scorer, part: SplitFiles['test']): RankingMetrics {
  return evaluateRanking(score, part.foldIn, part.heldOut, { ks: [20, 50, 100] });
}

/**
 * Trains Mult-DAE / Mult-VAE once per grid configuration (default: once, with the defaults),
 * each with best-epoch selection on the validation users; the configuration with the best
 * validation NDCG@100 is scored on the test users.
 */
export async function evaluateAutoencoder(
  model: 'dae' | 'vae',
  split: SplitFiles,
  o: SplitEvaluationOptions,
): Promise<{ result: SplitResult; model: MultDAE | MultVAE }> {
  const configs = expandGrid(parseGrid(o.grid ?? '', GRID_AXES[model]));
  const base = { epochs: o.epochs, seed: o.seed };
  const runs: GridRun[] = [];
  let best: { ae: MultDAE | MultVAE; run: number } | undefined;
  for (const config of configs) {
    const hyper = { ...base, ...(config as Record<string, number>) };
    const label = configs.length > 1 ? `${model} [${configLabel(config)}]` : model;
    const progress = o.progress(label, hyper.epochs, 'NDCG@100');
    const options = {
      validation: split.validation,
      threads: o.threads,
      log: o.log,
      onEpoch: (e: EpochReport) => progress.onEpoch(e),
    };
    const t0 = performance.now();
    const ae =
      model === 'vae'
        ? await MultVAE.fit(o.tf, split.train, hyper, options)
        : await MultDAE.fit(o.tf, split.train, hyper, options);
    progress.stop();
    const summary = ae.summary!;
    runs.push({
      config,
      validationNdcg: summary.validationNdcg ?? NaN,
      keptEpoch: summary.keptEpoch,
      epochs: summary.epochs,
      seconds: (performance.now() - t0) / 1000,
    });
    const run = runs[runs.length - 1];
    o.log(
      `${label}: validation ndcg@100 ${run.validationNdcg.toFixed(4)} at epoch ${run.keptEpoch}/${run.epochs} (${run.seconds.toFixed(0)} s)`,
    );
    if (bestIndex(runs.map((r) => r.validationNdcg)) === runs.length - 1) {
      best?.ae.dispose();
      best = { ae, run: runs.length - 1 };
    } else {
      ae.dispose();
    }
  }
  const chosen = best!;
  const score: Scorer = (h) => chosen.ae.reconstruct(h);
  const result: SplitResult = {
    model,
    selected: { ...chosen.ae.hyperparameters, keptEpoch: runs[chosen.run].keptEpoch },
    validation: metricsOf(score, split.validation),
    test: metricsOf(score, split.test),
    trainSeconds: runs[chosen.run].seconds,
    ...(configs.length > 1 ? { grid: runs } : {}),
  };
  return { result, model: chosen.ae };
}

/**
 * A two-model ensemble (model name "a+b", e.g. ease+dae): α·z(a) + (1 − α)·z(b) with each model's
 * scores standardised per user (score-blend.ts); α ∈ {0, 1/steps, …, 1} is chosen by validation
 * NDCG@100. The parts are the models selected earlier in the same run.
 */
export function evaluateBlend(
  name: string,
  parts: [Scorer, Scorer],
  split: SplitFiles,
  steps: number,
  log: (message: string) => void,
): SplitResult {
  const started = performance.now();
  const numItems = split.numItems;
  // Every user in one batch, so each part scores the users once per evaluation.
  const evaluate = (part: SplitFiles['test'], weights: [number, number]) => {
    const all: Scorer = (h) => blendScores([parts[0](h), parts[1](h)], weights, numItems);
    return evaluateRanking(all, part.foldIn, part.heldOut, { ks: [20, 50, 100], batchSize: part.foldIn.numRows });
  };
  const grid = twoWayWeights(steps).map((weights) => {
    const validation = evaluate(split.validation, weights);
    log(`${name} α=${weights[0].toFixed(2)}: validation ndcg@100 ${validation['ndcg@100'].toFixed(4)}`);
    return { weights, validation };
  });
  const chosen = grid[bestIndex(grid.map((g) => g.validation['ndcg@100']))];
  return {
    model: name,
    selected: {
      alpha: chosen.weights[0],
      validationNdcgByAlpha: Object.fromEntries(
        grid.map((g) => [g.weights[0].toFixed(2), Number(g.validation['ndcg@100'].toFixed(4))]),
      ),
    },
    validation: chosen.validation,
    test: evaluate(split.test, chosen.weights),
    trainSeconds: (performance.now() - started) / 1000,
  };
}

/** Evaluates each model of `o.models` in order on a split (blends use the models fitted before them). */
export async function evaluateSplit(split: SplitFiles, o: SplitEvaluationOptions): Promise<SplitResult[]> {
  const results: SplitResult[] = [];
  const fitted = new Map<string, { score: Scorer; dispose?: () => void }>(); // for blends
  try {
    for (const model of o.models) {
      const started = performance.now();
      if (model === 'pop') {
        const pop = Popularity.fit(split.train);
        const score: Scorer = (h) => pop.score(h);
        results.push({
          model,
          selected: {},
          validation: metricsOf(score, split.validation),
          test: metricsOf(score, split.test),
          trainSeconds: (performance.now() - started) / 1000,
        });
        fitted.set(model, { score });
      } else if (model === 'ease') {
        let best: { lambda: number; ease: Ease; validation: RankingMetrics; seconds: number } | undefined;
        for (const lambda of o.easeLambdas) {
          const t0 = performance.now();
          const ease = await Ease.fitAsync(o.tf, split.train, { lambda });
          const seconds = (performance.now() - t0) / 1000;
          const validation = metricsOf((h) => ease.score(h), split.validation);
          o.log(`ease λ=${lambda}: validation ndcg@100 ${validation['ndcg@100'].toFixed(4)} (${seconds.toFixed(1)} s)`);
          if (!best || validation['ndcg@100'] > best.validation['ndcg@100'])
            best = { lambda, ease, validation, seconds };
        }
        const chosen = best!;
        results.push({
          model,
          selected: { lambda: chosen.lambda },
          validation: chosen.validation,
          test: metricsOf((h) => chosen.ease.score(h), split.test),
          trainSeconds: chosen.seconds,
        });
        fitted.set(model, { score: (h) => chosen.ease.score(h) });
      } else if (model === 'knn') {
        let best: { knn: ItemKnn; validation: RankingMetrics; seconds: number } | undefined;
        for (const neighbours of o.knnNeighbours ?? [100]) {
          for (const shrink of o.knnShrink ?? [0]) {
            const t0 = performance.now();
            const knn = ItemKnn.fit(split.train, { neighbours, shrink });
            const seconds = (performance.now() - t0) / 1000;
            const validation = metricsOf((h) => knn.score(h), split.validation);
            o.log(
              `knn neighbours=${neighbours} shrink=${shrink}: validation ndcg@100 ${validation['ndcg@100'].toFixed(4)} (${seconds.toFixed(1)} s)`,
            );
            if (!best || validation['ndcg@100'] > best.validation['ndcg@100']) best = { knn, validation, seconds };
          }
        }
        const chosen = best!;
        results.push({
          model,
          selected: chosen.knn.hyperparameters,
          validation: chosen.validation,
          test: metricsOf((h) => chosen.knn.score(h), split.test),
          trainSeconds: chosen.seconds,
        });
        fitted.set(model, { score: (h) => chosen.knn.score(h) });
      } else if (model === 'dae' || model === 'vae') {
        const { result, model: ae } = await evaluateAutoencoder(model, split, o);
        results.push(result);
        fitted.set(model, { score: (h) => ae.reconstruct(h), dispose: () => ae.dispose() });
      } else if (/^[a-z]+\+[a-z]+$/.test(model)) {
        const parts = model.split('+').map((m) => fitted.get(m)?.score);
        if (!parts[0] || !parts[1])
          throw new Error(`blend "${model}": list both models before it in --models (e.g. --models ease,dae,${model})`);
        if (!(Number.isInteger(o.blendSteps) && o.blendSteps >= 1))
          throw new Error(`--blend-steps: expected a positive integer, got ${o.blendSteps}`);
        results.push(evaluateBlend(model, [parts[0], parts[1]], split, o.blendSteps, o.log));
      } else {
        throw new Error(`unknown model "${model}" (pop, ease, knn, dae, vae, or a blend a+b such as ease+dae)`);
      }
    }
  } finally {
    for (const m of fitted.values()) m.dispose?.();
  }
  return results;
}

/** The Markdown tables of {@link evaluateSplit}'s results (grids first, then the test table). */
export function splitReport(splitName: string, results: readonly SplitResult[]): string {
  const f = (x: number) => x.toFixed(4);
  const lines: string[] = [];
  for (const r of results.filter((x) => x.grid)) {
    lines.push(`\n${r.model} grid (validation NDCG@100 of each configuration's best epoch; ★ = selected)\n`);
    lines.push('| configuration | validation NDCG@100 | best epoch | train s |');
    lines.push('|---|---|---|---|');
    const chosen = bestIndex(r.grid!.map((g) => g.validationNdcg));
    r.grid!.forEach((g, k) =>
      lines.push(
        `| ${k === chosen ? '★ ' : ''}${configLabel(g.config)} | ${f(g.validationNdcg)} | ${g.keptEpoch}/${g.epochs} | ${g.seconds.toFixed(0)} |`,
      ),
    );
  }
  lines.push(`\nTest users of ${splitName} (models selected on validation)\n`);
  lines.push(
    '| model | NDCG@100 | Recall@20 | Recall@50 | MRR | coverage@20 | validation NDCG@100 | validation Recall@20 | validation Recall@50 | selected | train s |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    lines.push(
      `| ${r.model} | ${f(r.test['ndcg@100'])} | ${f(r.test['recall@20'])} | ${f(r.test['recall@50'])} | ${f(r.test.mrr)} | ${f(r.test['coverage@20'])} | ${f(r.validation['ndcg@100'])} | ${f(r.validation['recall@20'])} | ${f(r.validation['recall@50'])} | ${JSON.stringify(r.selected)} | ${r.trainSeconds.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

/** One ratings configuration tried on the validation ratings. */
export interface RatingsGridRun {
  config: GridConfig;
  /** Epoch (1-based) with the lowest validation RMSE: the epoch count used for the final fit. */
  bestEpoch: number;
  epochs: number;
  validationRmse: number;
  validationMae: number;
  seconds: number;
}

export interface RatingsEvaluationOptions {
  tf: Tf;
  seed: number;
  /** Most epochs per configuration (undefined: AutoRec's default). */
  epochs?: number;
  /** A single λ (same as grid lambda=x). */
  lambda?: number;
  grid?: string;
  /** Fraction of the train ratings held out for selection (0: train once, as given). */
  validate: number;
  validateEvery: number;
  progress: EpochProgress;
  log: (message: string) => void;
}

export interface RatingsResult {
  model: 'autorec';
  rmse: number;
  mae: number;
  ratings: number;
  trainSeconds: number;
  hyperparameters: Record<string, unknown>;
  validation?: { fraction: number; seed: number; rmse: number; mae: number; ratings: number };
  grid?: RatingsGridRun[];
}

/**
 * AutoRec rating prediction. With `validate` F > 0: a seeded fraction F of the TRAIN ratings is
 * held out; every grid configuration is trained on the rest for up to `epochs` epochs, scored on
 * the held-out ratings after every `validateEvery` epochs, and the configuration and epoch count
 * with the lowest validation RMSE are selected; the model is then retrained on the whole train
 * file with them and scored once on the test file. With 0 the single configuration (defaults,
 * `lambda`, a one-point grid) is trained on the train file as given.
 */
export async function evaluateRatings(data: RatingsSplit, o: RatingsEvaluationOptions): Promise<RatingsResult> {
  const numUsers = data.userIds.length;
  const numItems = data.itemIds.length;
  const { seed, validate: fraction, validateEvery } = o;
  const maxEpochs = o.epochs ?? AUTOREC_DEFAULTS.epochs;
  if (!(Number.isInteger(validateEvery) && validateEvery >= 1))
    throw new Error(`--validate-every: expected a positive integer, got ${validateEvery}`);
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`--validate: expected a fraction in [0, 1), got ${fraction}`);
  const axes = parseGrid(o.grid ?? '', GRID_AXES.autorec);
  if (o.lambda !== undefined) {
    if (axes.some((a) => a.name === 'lambda')) throw new Error('give λ either with --lambda or in --grid, not both');
    axes.unshift({ name: 'lambda', values: [o.lambda] });
  }
  const configs = expandGrid(axes);
  if (fraction === 0 && configs.length > 1)
    throw new Error('a --grid with several configurations needs --validate > 0');
  const hyperOf = (config: GridConfig, epochs?: number): Partial<AutoRecHyperparameters> => ({
    epochs: maxEpochs,
    seed,
    ...(config as Partial<AutoRecHyperparameters>),
    ...(epochs !== undefined ? { epochs } : {}),
  });

  // 1. Selection on ratings held out of the train file.
  const runs: RatingsGridRun[] = [];
  let selected: { config: GridConfig; epochs: number | undefined } = { config: configs[0], epochs: undefined };
  let validationScore: { rmse: number; mae: number; ratings: number } | undefined;
  if (fraction > 0) {
    const rng = new Random(seed);
    const parts = holdOutRatings(data.train, fraction, () => rng.uniform());
    const reduced = ratingsToCsr(parts.train, numUsers, numItems);
    o.log(
      `validation: ${parts.validation.ratings.length} of the ${data.train.ratings.length} train ratings held out (fraction ${fraction}, seed ${seed})`,
    );
    for (const config of configs) {
      const hyper = hyperOf(config);
      const label = `autorec [${configLabel(config)}]`;
      const progress = o.progress(label, hyper.epochs!, 'val RMSE', true);
      const curve: AutoRecValidationReport[] = [];
      const t0 = performance.now();
      const model = await AutoRec.fit(o.tf, reduced, hyper, {
        validation: parts.validation,
        validateEvery,
        onValidation: (r) => curve.push(r),
        onEpoch: (e) => progress.onEpoch(e),
      });
      progress.stop();
      model.dispose();
      const best =
        curve[
          bestIndex(
            curve.map((r) => r.rmse),
            true,
          )
        ];
      runs.push({
        config,
        bestEpoch: best.epoch,
        epochs: hyper.epochs!,
        validationRmse: best.rmse,
        validationMae: best.mae,
        seconds: (performance.now() - t0) / 1000,
      });
      o.log(
        `${label}: validation RMSE ${best.rmse.toFixed(4)} MAE ${best.mae.toFixed(4)} at epoch ${best.epoch}/${hyper.epochs} (${runs[runs.length - 1].seconds.toFixed(0)} s)`,
      );
    }
    const chosen =
      runs[
        bestIndex(
          runs.map((r) => r.validationRmse),
          true,
        )
      ];
    selected = { config: chosen.config, epochs: chosen.bestEpoch };
    validationScore = {
      rmse: chosen.validationRmse,
      mae: chosen.validationMae,
      ratings: parts.validation.ratings.length,
    };
  }

  // 2. The selected settings, trained on the whole train file, scored on the test file.
  const hyper = hyperOf(selected.config, selected.epochs);
  const started = performance.now();
  const progress = o.progress('autorec', hyper.epochs!, 'RMSE', true);
  const model = await AutoRec.fit(o.tf, ratingsToCsr(data.train, numUsers, numItems), hyper, {
    onEpoch: (e) => progress.onEpoch(e),
  });
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  const predicted = model.predict(data.test.users, data.test.items);
  const result: RatingsResult = {
    model: 'autorec',
    rmse: rmse(predicted, data.test.ratings),
    mae: mae(predicted, data.test.ratings),
    ratings: predicted.length,
    trainSeconds: seconds,
    hyperparameters: model.hyperparameters,
    ...(validationScore ? { validation: { fraction, seed, ...validationScore }, grid: runs } : {}),
  };
  model.dispose();
  return result;
}

/** The Markdown tables of {@link evaluateRatings}' result. */
export function ratingsReport(trainFile: string, testFile: string, result: RatingsResult): string {
  const f = (x: number) => x.toFixed(4);
  const lines: string[] = [];
  const runs = result.grid ?? [];
  const validationScore = result.validation;
  if (runs.length > 0) {
    lines.push(
      `\nAutoRec selection on ${validationScore!.ratings} validation ratings held out of the train file (★ = selected)\n`,
    );
    lines.push('| configuration | validation RMSE | validation MAE | best epoch | train s |');
    lines.push('|---|---|---|---|---|');
    const chosen = bestIndex(
      runs.map((r) => r.validationRmse),
      true,
    );
    runs.forEach((r, k) =>
      lines.push(
        `| ${k === chosen ? '★ ' : ''}${configLabel(r.config)} | ${f(r.validationRmse)} | ${f(r.validationMae)} | ${r.bestEpoch}/${r.epochs} | ${r.seconds.toFixed(0)} |`,
      ),
    );
  }
  lines.push(`\nTest ratings of ${testFile} (model trained on all of ${trainFile})\n`);
  lines.push(
    '| model | RMSE | MAE | test ratings | validation RMSE | validation MAE | selected | train s |\n|---|---|---|---|---|---|---|---|',
  );
  lines.push(
    `| I-AutoRec | ${f(result.rmse)} | ${f(result.mae)} | ${result.ratings} | ${validationScore ? f(validationScore.rmse) : '-'} | ${validationScore ? f(validationScore.mae) : '-'} | ${JSON.stringify(result.hyperparameters)} | ${result.trainSeconds.toFixed(1)} |`,
  );
  return lines.join('\n');
}
