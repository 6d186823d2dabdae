import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CsrMatrix } from '../src/core/data/csr.js';
import { readSplitFiles, type SplitFiles } from '../src/core/data/split-files.js';
import { evaluateRanking, type RankingMetrics } from '../src/core/eval/metrics.js';
import { ratingsToCsr, readRatingsSplit } from '../src/core/data/ratings-files.js';
import { initBackend, type InitBackendOptions } from '../src/core/engine/backend.js';
import { AutoRec } from '../src/core/models/autorec.js';
import { Ease, Popularity } from '../src/core/models/ease.js';
import { MultDAE } from '../src/core/models/mult-dae.js';
import { MultVAE } from '../src/core/models/mult-vae.js';
import { epochProgress } from '../src/training/epoch-progress.js';

const HELP = `Usage: npm run evaluate -- --split <dir> [--models pop,ease,dae,vae] [options]
       npm run evaluate -- --ratings <train-file> <test-file> [--epochs 100] [--lambda 30]

Strong-generalization evaluation (BENCHMARKS.md): trains each model on train.csv, selects
hyperparameters / the best epoch on the validation users, and reports test metrics as a Markdown
table (stdout) and JSON (--out).

  --split <dir>        a split folder (train.csv, validation_tr/te.csv, test_tr/te.csv, unique_sid.txt)
  --models <list>      comma-separated: pop, ease, dae, vae (default pop,ease)
  --ease-lambdas <l>   EASE λ grid searched on validation (default 250,500,1000; ≈1–3 min per λ on ML-1M)
  --epochs <n>         epochs for dae/vae (default 200)
  --seed <n>           seed (default 98765)
  --backend <b>        tfjs backend: auto | node | wasm | cpu (default auto)
  --out <file>         write the results as JSON

With --ratings: trains item-based AutoRec on the train file (user item rating [time], tab or ::
separated, e.g. ML-100K u1.base) and reports RMSE/MAE on the test file (clipped to [1, 5];
unknown users/items predicted with the global mean). --lambda is AutoRec's λ (default 30).
  -h, --help`;

type Scorer = (foldIn: CsrMatrix) => Float32Array;

interface Result {
  model: string;
  selected: Record<string, unknown>;
  validation: RankingMetrics;
  test: RankingMetrics;
  trainSeconds: number;
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
  for (const model of values.models.split(',').map((m) => m.trim())) {
    const started = performance.now();
    if (model === 'pop') {
      const pop = Popularity.fit(split.train);
      const score: Scorer = (h) => pop.score(h);
      results.push({ model, selected: {}, validation: metricsOf(score, split.validation), test: metricsOf(score, split.test), trainSeconds: (performance.now() - started) / 1000 });
    } else if (model === 'ease') {
      let best: { lambda: number; ease: Ease; validation: RankingMetrics; seconds: number } | undefined;
      for (const lambda of values['ease-lambdas'].split(',').map(Number)) {
        const t0 = performance.now();
        const ease = Ease.fit(split.train, { lambda });
        const seconds = (performance.now() - t0) / 1000;
        const validation = metricsOf((h) => ease.score(h), split.validation);
        console.error(`ease λ=${lambda}: validation ndcg@100 ${validation['ndcg@100'].toFixed(4)} (${seconds.toFixed(1)} s)`);
        if (!best || validation['ndcg@100'] > best.validation['ndcg@100']) best = { lambda, ease, validation, seconds };
      }
      const chosen = best!;
      results.push({ model, selected: { lambda: chosen.lambda }, validation: chosen.validation, test: metricsOf((h) => chosen.ease.score(h), split.test), trainSeconds: chosen.seconds });
    } else if (model === 'dae' || model === 'vae') {
      const { tf } = await initBackend({ prefer: values.backend as InitBackendOptions['prefer'], log: (m) => console.error(m) });
      const epochs = Number(values.epochs);
      const progress = epochProgress(model, epochs, 'NDCG@100');
      const options = { validation: split.validation, onEpoch: (e: Parameters<typeof progress.onEpoch>[0]) => progress.onEpoch(e) };
      const hyper = { epochs, seed: Number(values.seed) };
      const ae = model === 'vae' ? await MultVAE.fit(tf, split.train, hyper, options) : await MultDAE.fit(tf, split.train, hyper, options);
      progress.stop();
      const score: Scorer = (h) => ae.reconstruct(h);
      results.push({
        model,
        selected: { ...ae.hyperparameters },
        validation: metricsOf(score, split.validation),
        test: metricsOf(score, split.test),
        trainSeconds: (performance.now() - started) / 1000,
      });
      ae.dispose();
    } else {
      throw new Error(`unknown model "${model}" (pop, ease, dae, vae)`);
    }
  }
  const f = (x: number) => x.toFixed(4);
  console.log(`\nTest users of ${values.split} (models selected on validation)\n`);
  console.log('| model | NDCG@100 | Recall@20 | Recall@50 | MRR | coverage@20 | validation NDCG@100 | selected | train s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.model} | ${f(r.test['ndcg@100'])} | ${f(r.test['recall@20'])} | ${f(r.test['recall@50'])} | ${f(r.test.mrr)} | ${f(r.test['coverage@20'])} | ${f(r.validation['ndcg@100'])} | ${JSON.stringify(r.selected)} | ${r.trainSeconds.toFixed(1)} |`,
    );
  }
  if (values.out) {
    await writeFile(values.out, JSON.stringify({ split: values.split, results }, null, 2));
    console.error(`wrote ${values.out}`);
  }
}

async function evaluateRatings(files: string[], values: { epochs: string; seed: string; lambda?: string; backend: string; out?: string }) {
  if (files.length !== 2) throw new Error('--ratings needs <train-file> <test-file>');
  const { tf } = await initBackend({ prefer: values.backend as InitBackendOptions['prefer'], log: (m) => console.error(m) });
  const data = await readRatingsSplit(files[0], files[1]);
  const train = ratingsToCsr(data.train, data.userIds.length, data.itemIds.length);
  const epochs = values.epochs === '200' ? 100 : Number(values.epochs);
  const started = performance.now();
  const progress = epochProgress('autorec', epochs, 'RMSE', true);
  const model = await AutoRec.fit(
    tf,
    train,
    { epochs, seed: Number(values.seed), ...(values.lambda ? { lambda: Number(values.lambda) } : {}) },
    { onEpoch: (e) => progress.onEpoch(e) },
  );
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  const predicted = model.predict(data.test.users, data.test.items);
  let se = 0;
  let ae = 0;
  for (let k = 0; k < predicted.length; k++) {
    se += (predicted[k] - data.test.ratings[k]) ** 2;
    ae += Math.abs(predicted[k] - data.test.ratings[k]);
  }
  const result = { model: 'autorec', rmse: Math.sqrt(se / predicted.length), mae: ae / predicted.length, ratings: predicted.length, trainSeconds: seconds, hyperparameters: model.hyperparameters };
  console.log(`\n| model | RMSE | MAE | test ratings | train s |\n|---|---|---|---|---|\n| I-AutoRec | ${result.rmse.toFixed(4)} | ${result.mae.toFixed(4)} | ${result.ratings} | ${seconds.toFixed(1)} |`);
  if (values.out) await writeFile(values.out, JSON.stringify(result, null, 2));
  model.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
