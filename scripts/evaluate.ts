import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readRatingsSplit } from '../src/core/data/ratings-files.js';
import { readSplitFiles } from '../src/core/data/split-files.js';
import { initBackend, type InitBackendOptions } from '../src/core/engine/backend.js';
import { evaluateRatings, evaluateSplit, ratingsReport, splitReport } from '../src/core/eval/offline.js';
import { epochProgress } from '../src/training/epoch-progress.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run evaluate -- --split <dir> [--models pop,ease,dae,vae] [options]
       npm run evaluate -- --ratings <train-file> <test-file> [--grid lambda=10,30,100] [options]

Strong-generalization evaluation (docs/benchmarks.md): trains each model on train.csv, selects
hyperparameters / the best epoch on the validation users, and reports test metrics as a Markdown
table (stdout) and JSON (--out).

  --split <dir>        a split folder (train.csv, validation_tr/te.csv, test_tr/te.csv, unique_sid.txt)
  --models <list>      comma-separated: pop, ease, knn, dae, vae (default pop,ease)
  --ease-lambdas <l>   EASE λ grid searched on validation (default 250,500,1000; seconds per λ on ML-1M)
  --knn-neighbours <l> item-kNN neighbours per item, searched on validation (default 50,100,200,400)
  --knn-shrink <l>     item-kNN cosine shrinkage grid (default 0,10)
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

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      split: { type: 'string' },
      models: { type: 'string', default: 'pop,ease' },
      'ease-lambdas': { type: 'string', default: '250,500,1000' },
      'knn-neighbours': { type: 'string', default: '50,100,200,400' },
      'knn-shrink': { type: 'string', default: '0,10' },
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
  const log = (m: string) => console.error(m);
  if (values.ratings && !values.help) {
    if (positionals.length !== 2) throw new Error('--ratings needs <train-file> <test-file>');
    const { tf } = await initBackend({ prefer: values.backend as InitBackendOptions['prefer'], log });
    const data = await readRatingsSplit(positionals[0], positionals[1]);
    console.error(
      `ratings ${positionals[0]} / ${positionals[1]}: ${data.userIds.length} users × ${data.itemIds.length} items, ${data.train.ratings.length} train, ${data.test.ratings.length} test ratings` +
        ` (unknown test users ${data.unknownTestUsers}, items ${data.unknownTestItems})`,
    );
    const result = await evaluateRatings(data, {
      tf,
      seed: Number(values.seed),
      epochs: values.epochs === '200' ? undefined : Number(values.epochs), // 200 is the dae/vae default
      lambda: values.lambda === undefined ? undefined : Number(values.lambda),
      grid: values.grid,
      validate: Number(values.validate),
      validateEvery: Number(values['validate-every']),
      progress: epochProgress,
      log,
    });
    console.log(ratingsReport(positionals[0], positionals[1], result));
    if (values.out) {
      await writeFile(values.out, JSON.stringify(result, null, 2));
      console.error(`wrote ${values.out}`);
    }
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
  const results = await evaluateSplit(split, {
    tf: (await initBackend({ prefer: values.backend as InitBackendOptions['prefer'], log })).tf,
    models: values.models.split(',').map((m) => m.trim()),
    easeLambdas: values['ease-lambdas'].split(',').map(Number),
    knnNeighbours: values['knn-neighbours'].split(',').map(Number),
    knnShrink: values['knn-shrink'].split(',').map(Number),
    epochs: Number(values.epochs),
    seed: Number(values.seed),
    grid: values.grid,
    threads: Number(values.threads),
    blendSteps: Number(values['blend-steps']),
    progress: epochProgress,
    log,
  });
  console.log(splitReport(values.split, results));
  if (values.out) {
    await writeFile(values.out, JSON.stringify({ split: values.split, results }, null, 2));
    console.error(`wrote ${values.out}`);
  }
}

runMain(main);
