import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CsrMatrix } from '../src/core/data/csr.js';
import { readSplitFiles, type SplitFiles } from '../src/core/data/split-files.js';
import { evaluateRanking, type RankingMetrics } from '../src/core/eval/metrics.js';
import { holdOutRatings, ratingsToCsr, readRatingsSplit } from '../src/core/data/ratings-files.js';
import { initBackend, type InitBackendOptions } from '../src/core/engine/backend.js';
import { AUTOREC_DEFAULTS, AutoRec, type AutoRecHyperparameters, type AutoRecValidationReport } from '../src/core/models/autorec.js';
import { Random } from '../src/core/data/random.js';
import { mae, rmse } from '../src/core/eval/metrics.js';
import { Ease, Popularity } from '../src/core/models/ease.js';
import { MultDAE } from '../src/core/models/mult-dae.js';
import { MultVAE } from '../src/core/models/mult-vae.js';
import { blendScores, twoWayWeights } from '../src/core/models/score-blend.js';
import { epochProgress } from '../src/training/epoch-progress.js';
import { bestIndex, configLabel, expandGrid, parseGrid, type GridConfig } from '../src/core/eval/grid.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run evaluate -- --split <dir> [--models pop,ease,dae,vae] [options]
       npm run evaluate -- --ratings <train-file> <test-file> [--grid lambda=10,30,100] [options]

Strong-generalization evaluation (docs/benchmarks.md): trains each model on train.csv, selects
hyperparameters / the best epoch on the validation users, and reports test metrics as a Markdown
table (stdout) and JSON (--out).

  --split <dir>        a split folder (train.csv, validation_tr/te.csv, test_tr/te.csv, unique_sid.txt)
  --models <list>      comma-separated: pop, ease, dae, vae (default pop,ease)
  --ease-lambdas <l>   EASE λ grid searched on validation (default 250,500,1000; seconds per λ on ML-1M)
  --epochs <n>         epochs for dae/vae (default 200; the best epoch on validation is kept)
  --grid <spec>        hyperparameter grid for dae/vae, "name=v1,v2;name2=v3,…" (cartesian product):
                       each configuration is trained (best epoch on validation), the one with the
                       best validation NDCG@100 is scored on test; every configuration's validation
                       score is printed and written to --out. Axes: dae: weightDecay, dropout,
                       latentDim, learningRate, batchSize, epochs; vae: also annealCap,
                       totalAnnealSteps. E.g. --grid "weightDecay=2e-5,1e-4;dropout=0.5,0.65"
  a+b (in --models)    ensemble of two models listed before it, e.g. --models ease,dae,ease+dae:
                       α·z(a) + (1 − α)·z(b), scores standardised per user, α on a grid of
                       --blend-steps (default 10) steps in [0, 1] chosen by validation NDCG@100
  --threads <n>        dae/vae training threads (default 1; see MultinomialFitOptions.threads)
  --seed <n>           seed (default 98765)
  --backend <b>        tfjs backend: auto | node | wasm | cpu (default auto)
  --out <file>         write the results as JSON

With --ratings: item-based AutoRec on a train file (user item rating [time], tab or :: separated,
e.g. ML-100K u1.base), RMSE/MAE on the test file (predictions clipped to the training ratings'
range; unknown users/items predicted with the global mean). Selection never sees the test file:
  --validate <f>       hold out a seeded (--seed) fraction f of the TRAIN ratings (default 0.1);
                       each --grid configuration trains on the rest for --epochs epochs and is
                       scored on the held-out ratings after every epoch; the configuration and
                       epoch count with the lowest validation RMSE are retrained on the whole train
                       file and scored on the test file. 0 = no selection: train once, as given
  --grid <spec>        AutoRec grid, axes lambda, hidden, learningRate, batchSize, epochs,
                       refitDecoder (true/false), e.g. --grid "lambda=10,30,100;refitDecoder=false,true"
  --validate-every <n> score the held-out ratings every n epochs (and after the last; default 1):
                       the epoch count is then picked among those epochs
  --lambda <x>         a single λ (same as --grid lambda=x; default 30)
  --epochs <n>         most epochs per configuration (default 100)
  -h, --help`;

type Scorer = (foldIn: CsrMatrix) => Float32Array;

/** One configuration of a --grid search: its validation NDCG@100 (best epoch) and cost. */
interface GridRun {
  config: GridConfig;
  validationNdcg: number;
  keptEpoch: number;
  epochs: number;
  seconds: number;
}

interface Result {
  model: string;
  selected: Record<string, unknown>;
  validation: RankingMetrics;
  test: RankingMetrics;
  trainSeconds: number;
  /** Every configuration tried (dae/vae with --grid), in grid order. */
  grid?: GridRun[];
}

/** Hyperparameters a --grid may vary, per model. */
const GRID_AXES = {
  dae: ['weightDecay', 'dropout', 'latentDim', 'learningRate', 'batchSize', 'epochs'],
  vae: ['weightDecay', 'dropout', 'latentDim', 'learningRate', 'batchSize', 'epochs', 'annealCap', 'totalAnnealSteps'],
  autorec: ['lambda', 'hidden', 'learningRate', 'batchSize', 'epochs', 'refitDecoder'],
} as const;

/**
 * Trains Mult-DAE / Mult-VAE once per --grid configuration (default: once, with the defaults),
 * each with best-epoch selection on the validation users; the configuration with the best
 * validation NDCG@100 is scored on the test users.
 */
async function evaluateAutoencoder(
  model: 'dae' | 'vae',
  split: SplitFiles,
  values: { epochs: string; seed: string; backend: string; grid?: string; threads: string },
): Promise<{ result: Result; model: MultDAE | MultVAE }> {
  const { tf } = await initBackend({ prefer: values.backend as InitBackendOptions['prefer'], log: (m) => console.error(m) });
  const configs = expandGrid(parseGrid(values.grid ?? '', GRID_AXES[model]));
  const base = { epochs: Number(values.epochs), seed: Number(values.seed) };
  const runs: GridRun[] = [];
  let best: { ae: MultDAE | MultVAE; run: number } | undefined;
  for (const config of configs) {
    const hyper = { ...base, ...(config as Record<string, number>) };
    const label = configs.length > 1 ? `${model} [${configLabel(config)}]` : model;
    const progress = epochProgress(label, hyper.epochs, 'NDCG@100');
    const options = { validation: split.validation, threads: Number(values.threads), log: (m: string) => console.error(m), onEpoch: (e: Parameters<typeof progress.onEpoch>[0]) => progress.onEpoch(e) };
    const t0 = performance.now();
    const ae = model === 'vae' ? await MultVAE.fit(tf, split.train, hyper, options) : await MultDAE.fit(tf, split.train, hyper, options);
    progress.stop();
    const summary = ae.summary!;
    runs.push({ config, validationNdcg: summary.validationNdcg ?? NaN, keptEpoch: summary.keptEpoch, epochs: summary.epochs, seconds: (performance.now() - t0) / 1000 });
    const run = runs[runs.length - 1];
    console.error(`${label}: validation ndcg@100 ${run.validationNdcg.toFixed(4)} at epoch ${run.keptEpoch}/${run.epochs} (${run.seconds.toFixed(0)} s)`);
    if (bestIndex(runs.map((r) => r.validationNdcg)) === runs.length - 1) {
      best?.ae.dispose();
      best = { ae, run: runs.length - 1 };
    } else {
      ae.dispose();
    }
  }
  const chosen = best!;
  const score: Scorer = (h) => chosen.ae.reconstruct(h);
  const result: Result = {
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
function evaluateBlend(name: string, parts: [Scorer, Scorer], split: SplitFiles, steps: number): Result {
  const started = performance.now();
  const numItems = split.numItems;
  // Every user in one batch, so each part scores the users once per evaluation.
  const evaluate = (part: SplitFiles['test'], weights: [number, number]) => {
    const all: Scorer = (h) => blendScores([parts[0](h), parts[1](h)], weights, numItems);
    return evaluateRanking(all, part.foldIn, part.heldOut, { ks: [20, 50, 100], batchSize: part.foldIn.numRows });
  };
  const grid = twoWayWeights(steps).map((weights) => {
    const validation = evaluate(split.validation, weights);
    console.error(`${name} α=${weights[0].toFixed(2)}: validation ndcg@100 ${validation['ndcg@100'].toFixed(4)}`);
    return { weights, validation };
  });
  const chosen = grid[bestIndex(grid.map((g) => g.validation['ndcg@100']))];
  return {
    model: name,
    selected: { alpha: chosen.weights[0], validationNdcgByAlpha: Object.fromEntries(grid.map((g) => [g.weights[0].toFixed(2), Number(g.validation['ndcg@100'].toFixed(4))])) },
    validation: chosen.validation,
    test: evaluate(split.test, chosen.weights),
    trainSeconds: (performance.now() - started) / 1000,
  };
}

function metricsOf(score: Scorer, part: SplitFiles['test']): RankingMetrics {
  return evaluateRanking(score, part.foldIn, part.heldOut, { ks: [20, 50, 100] });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      split: { type: 'string' },
      models: { type: 'string', default: 'pop,ease' },
      'ease-lambdas': { type: 'string', default: '250,500,1000' },
      epochs: { type: 'string', default: '200' },
      seed: { type: 'string', default: '98765' },
      out: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      ratings: { type: 'boolean', default: false },
      lambda: { type: 'string' },
      grid: { type: 'string' },
      validate: { type: 'string', default: '0.1' },
      'validate-every': { type: 'string', default: '1' },
      threads: { type: 'string', default: '1' },
      'blend-steps': { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.ratings && !values.help) {
    await evaluateRatings(positionals, values);
    return;
  }
  if (values.help || !values.split) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const split = await readSplitFiles(values.split);
  console.error(
    `split ${values.split}: ${split.train.numRows} train users, ${split.validation.heldOut.numRows} validation, ${split.test.heldOut.numRows} test, ${split.numItems} items`,
  );
  const results: Result[] = [];
  const fitted = new Map<string, { score: Scorer; dispose?: () => void }>(); // for blends
  for (const model of values.models.split(',').map((m) => m.trim())) {
    const started = performance.now();
    if (model === 'pop') {
      const pop = Popularity.fit(split.train);
      const score: Scorer = (h) => pop.score(h);
      results.push({ model, selected: {}, validation: metricsOf(score, split.validation), test: metricsOf(score, split.test), trainSeconds: (performance.now() - started) / 1000 });
      fitted.set(model, { score });
    } else if (model === 'ease') {
      let best: { lambda: number; ease: Ease; validation: RankingMetrics; seconds: number } | undefined;
      for (const lambda of values['ease-lambdas'].split(',').map(Number)) {
        const t0 = performance.now();
        const ease = await Ease.fitAsync((await initBackend({ prefer: values.backend as InitBackendOptions['prefer'] })).tf, split.train, { lambda });
        const seconds = (performance.now() - t0) / 1000;
        const validation = metricsOf((h) => ease.score(h), split.validation);
        console.error(`ease λ=${lambda}: validation ndcg@100 ${validation['ndcg@100'].toFixed(4)} (${seconds.toFixed(1)} s)`);
        if (!best || validation['ndcg@100'] > best.validation['ndcg@100']) best = { lambda, ease, validation, seconds };
      }
      const chosen = best!;
      results.push({ model, selected: { lambda: chosen.lambda }, validation: chosen.validation, test: metricsOf((h) => chosen.ease.score(h), split.test), trainSeconds: chosen.seconds });
      fitted.set(model, { score: (h) => chosen.ease.score(h) });
    } else if (model === 'dae' || model === 'vae') {
      const { result, model: ae } = await evaluateAutoencoder(model, split, values);
      results.push(result);
      fitted.set(model, { score: (h) => ae.reconstruct(h), dispose: () => ae.dispose() });
    } else if (/^[a-z]+\+[a-z]+$/.test(model)) {
      const parts = model.split('+').map((m) => fitted.get(m)?.score);
      if (!parts[0] || !parts[1]) throw new Error(`blend "${model}": list both models before it in --models (e.g. --models ease,dae,${model})`);
      const steps = Number(values['blend-steps']);
      if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`--blend-steps: expected a positive integer, got ${values['blend-steps']}`);
      results.push(evaluateBlend(model, [parts[0], parts[1]], split, steps));
    } else {
      throw new Error(`unknown model "${model}" (pop, ease, dae, vae, or a blend a+b such as ease+dae)`);
    }
  }
  for (const m of fitted.values()) m.dispose?.();
  const f = (x: number) => x.toFixed(4);
  for (const r of results.filter((x) => x.grid)) {
    console.log(`\n${r.model} grid (validation NDCG@100 of each configuration's best epoch; ★ = selected)\n`);
    console.log('| configuration | validation NDCG@100 | best epoch | train s |');
    console.log('|---|---|---|---|');
    const chosen = bestIndex(r.grid!.map((g) => g.validationNdcg));
    r.grid!.forEach((g, k) => console.log(`| ${k === chosen ? '★ ' : ''}${configLabel(g.config)} | ${f(g.validationNdcg)} | ${g.keptEpoch}/${g.epochs} | ${g.seconds.toFixed(0)} |`));
  }
  console.log(`\nTest users of ${values.split} (models selected on validation)\n`);
  console.log('| model | NDCG@100 | Recall@20 | Recall@50 | MRR | coverage@20 | validation NDCG@100 | validation Recall@20 | validation Recall@50 | selected | train s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.model} | ${f(r.test['ndcg@100'])} | ${f(r.test['recall@20'])} | ${f(r.test['recall@50'])} | ${f(r.test.mrr)} | ${f(r.test['coverage@20'])} | ${f(r.validation['ndcg@100'])} | ${f(r.validation['recall@20'])} | ${f(r.validation['recall@50'])} | ${JSON.stringify(r.selected)} | ${r.trainSeconds.toFixed(1)} |`,
    );
  }
  if (values.out) {
    await writeFile(values.out, JSON.stringify({ split: values.split, results }, null, 2));
    console.error(`wrote ${values.out}`);
  }
}

/** One --ratings configuration tried on the validation ratings. */
interface RatingsGridRun {
  config: GridConfig;
  /** Epoch (1-based) with the lowest validation RMSE: the epoch count used for the final fit. */
  bestEpoch: number;
  epochs: number;
  validationRmse: number;
  validationMae: number;
  seconds: number;
}

/**
 * AutoRec rating prediction (--ratings). With --validate F > 0 (default 0.1): a seeded fraction F
 * of the TRAIN ratings is held out; every --grid configuration is trained on the rest for up to
 * --epochs epochs, scored on the held-out ratings after every epoch, and the configuration and
 * epoch count with the lowest validation RMSE are selected; the model is then retrained on the
 * whole train file with them and scored once on the test file. With --validate 0 the single
 * configuration (defaults, --lambda, a one-point --grid) is trained on the train file as given.
 */
async function evaluateRatings(
  files: string[],
  values: { epochs: string; seed: string; lambda?: string; backend: string; out?: string; grid?: string; validate: string; 'validate-every': string },
) {
  if (files.length !== 2) throw new Error('--ratings needs <train-file> <test-file>');
  const { tf } = await initBackend({ prefer: values.backend as InitBackendOptions['prefer'], log: (m) => console.error(m) });
  const data = await readRatingsSplit(files[0], files[1]);
  const numUsers = data.userIds.length;
  const numItems = data.itemIds.length;
  const seed = Number(values.seed);
  const maxEpochs = values.epochs === '200' ? AUTOREC_DEFAULTS.epochs : Number(values.epochs); // 200 is the dae/vae default
  const fraction = Number(values.validate);
  const validateEvery = Number(values['validate-every']);
  if (!(Number.isInteger(validateEvery) && validateEvery >= 1)) throw new Error(`--validate-every: expected a positive integer, got ${values['validate-every']}`);
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`--validate: expected a fraction in [0, 1), got ${values.validate}`);
  const axes = parseGrid(values.grid ?? '', GRID_AXES.autorec);
  if (values.lambda !== undefined) {
    if (axes.some((a) => a.name === 'lambda')) throw new Error('give λ either with --lambda or in --grid, not both');
    axes.unshift({ name: 'lambda', values: [Number(values.lambda)] });
  }
  const configs = expandGrid(axes);
  if (fraction === 0 && configs.length > 1) throw new Error('a --grid with several configurations needs --validate > 0');
  const hyperOf = (config: GridConfig, epochs?: number): Partial<AutoRecHyperparameters> => ({
    epochs: maxEpochs,
    seed,
    ...(config as Partial<AutoRecHyperparameters>),
    ...(epochs !== undefined ? { epochs } : {}),
  });
  console.error(
    `ratings ${files[0]} / ${files[1]}: ${numUsers} users × ${numItems} items, ${data.train.ratings.length} train, ${data.test.ratings.length} test ratings` +
      ` (unknown test users ${data.unknownTestUsers}, items ${data.unknownTestItems})`,
  );

  // 1. Selection on ratings held out of the train file.
  const runs: RatingsGridRun[] = [];
  let selected: { config: GridConfig; epochs: number | undefined } = { config: configs[0], epochs: undefined };
  let validationScore: { rmse: number; mae: number; ratings: number } | undefined;
  if (fraction > 0) {
    const rng = new Random(seed);
    const parts = holdOutRatings(data.train, fraction, () => rng.uniform());
    const reduced = ratingsToCsr(parts.train, numUsers, numItems);
    console.error(`validation: ${parts.validation.ratings.length} of the ${data.train.ratings.length} train ratings held out (fraction ${fraction}, seed ${seed})`);
    for (const config of configs) {
      const hyper = hyperOf(config);
      const label = `autorec [${configLabel(config)}]`;
      const progress = epochProgress(label, hyper.epochs!, 'val RMSE', true);
      const curve: AutoRecValidationReport[] = [];
      const t0 = performance.now();
      const model = await AutoRec.fit(tf, reduced, hyper, {
        validation: parts.validation,
        validateEvery,
        onValidation: (r) => curve.push(r),
        onEpoch: (e) => progress.onEpoch(e),
      });
      progress.stop();
      model.dispose();
      const best = curve[bestIndex(curve.map((r) => r.rmse), true)];
      runs.push({ config, bestEpoch: best.epoch, epochs: hyper.epochs!, validationRmse: best.rmse, validationMae: best.mae, seconds: (performance.now() - t0) / 1000 });
      console.error(`${label}: validation RMSE ${best.rmse.toFixed(4)} MAE ${best.mae.toFixed(4)} at epoch ${best.epoch}/${hyper.epochs} (${runs[runs.length - 1].seconds.toFixed(0)} s)`);
    }
    const chosen = runs[bestIndex(runs.map((r) => r.validationRmse), true)];
    selected = { config: chosen.config, epochs: chosen.bestEpoch };
    validationScore = { rmse: chosen.validationRmse, mae: chosen.validationMae, ratings: parts.validation.ratings.length };
  }

  // 2. The selected settings, trained on the whole train file, scored on the test file.
  const hyper = hyperOf(selected.config, selected.epochs);
  const started = performance.now();
  const progress = epochProgress('autorec', hyper.epochs!, 'RMSE', true);
  const model = await AutoRec.fit(tf, ratingsToCsr(data.train, numUsers, numItems), hyper, { onEpoch: (e) => progress.onEpoch(e) });
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  const predicted = model.predict(data.test.users, data.test.items);
  const result = {
    model: 'autorec',
    rmse: rmse(predicted, data.test.ratings),
    mae: mae(predicted, data.test.ratings),
    ratings: predicted.length,
    trainSeconds: seconds,
    hyperparameters: model.hyperparameters,
    ...(validationScore ? { validation: { fraction, seed, ...validationScore }, grid: runs } : {}),
  };
  model.dispose();

  const f = (x: number) => x.toFixed(4);
  if (runs.length > 0) {
    console.log(`\nAutoRec selection on ${validationScore!.ratings} validation ratings held out of the train file (★ = selected)\n`);
    console.log('| configuration | validation RMSE | validation MAE | best epoch | train s |');
    console.log('|---|---|---|---|---|');
    const chosen = bestIndex(runs.map((r) => r.validationRmse), true);
    runs.forEach((r, k) => console.log(`| ${k === chosen ? '★ ' : ''}${configLabel(r.config)} | ${f(r.validationRmse)} | ${f(r.validationMae)} | ${r.bestEpoch}/${r.epochs} | ${r.seconds.toFixed(0)} |`));
  }
  console.log(`\nTest ratings of ${files[1]} (model trained on all of ${files[0]})\n`);
  console.log('| model | RMSE | MAE | test ratings | validation RMSE | validation MAE | selected | train s |\n|---|---|---|---|---|---|---|---|');
  console.log(
    `| I-AutoRec | ${f(result.rmse)} | ${f(result.mae)} | ${result.ratings} | ${validationScore ? f(validationScore.rmse) : '-'} | ${validationScore ? f(validationScore.mae) : '-'} | ${JSON.stringify(model.hyperparameters)} | ${seconds.toFixed(1)} |`,
  );
  if (values.out) {
    await writeFile(values.out, JSON.stringify(result, null, 2));
    console.error(`wrote ${values.out}`);
  }
}

runMain(main);
