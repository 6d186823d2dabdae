import { parseArgs } from 'node:util';
import { loadEnv } from '../src/config/env.js';
import { csrFromTriples } from '../src/core/data/csr.js';
import { Random } from '../src/core/data/random.js';
import { strongGeneralizationSplit } from '../src/core/data/split.js';
import { initBackend, type InitBackendOptions } from '../src/core/engine/backend.js';
import { evaluateRanking } from '../src/core/eval/metrics.js';
import type { Autoencoder } from '../src/core/models/autoencoder.js';
import { AutoRec } from '../src/core/models/autorec.js';
import { Ease } from '../src/core/models/ease.js';
import { MultDAE } from '../src/core/models/mult-dae.js';
import { MultVAE } from '../src/core/models/mult-vae.js';
import { openDatabase } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { activateModelVersion, saveModelVersion } from '../src/registry/registry.queries.js';
import { epochProgress } from '../src/training/epoch-progress.js';
import { loadTrainingData } from '../src/training/training-data.js';

const HELP = `Usage: npm run train -- --model vae|dae|autorec|ease [options]

Trains a model on the database's interactions and stores it as a model version (weights, id maps,
hyperparameters, validation metrics, data snapshot) that any process can load from DATABASE_URL.
Validation: held-out users (strong generalization, 80/20 fold-in) for vae/dae/ease; 5% of the
ratings for autorec.

  --model <kind>          vae | dae | autorec | ease (required)
  --epochs <n>            training epochs (vae/dae default 200, autorec 100)
  --seed <n>              seed (default 1)
  --validation-users <n>  held-out users (default: 10% of users, at most 500)
  --min-rating <x>        RATING interactions count as positives at ≥ x (default 3.5)
  --lambda <x>            EASE λ (default 500) or AutoRec λ (default 30)
  --name <name>           version name (default <kind>-<date>)
  --activate              make the new version the active one
  --backend <b>           auto | node | wasm | cpu (default auto)
  -h, --help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'validation-users': { type: 'string' },
      'min-rating': { type: 'string', default: '3.5' },
      lambda: { type: 'string' },
      name: { type: 'string' },
      activate: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const kind = values.model;
  if (values.help || !kind || !['vae', 'dae', 'autorec', 'ease'].includes(kind)) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const seed = Number(values.seed);
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
  const env = loadEnv();
  const db = await openDatabase({
    databaseUrl: env.databaseUrl,
    embeddedDataDir: env.embeddedPgDir,
    embeddedPort: env.embeddedPgPort,
    log: (m) => console.error(`[db] ${m}`),
  });
  const prisma = createPrismaClient(db.url, 2);
  try {
    const { name: backendName, tf } = await initBackend({
      prefer: values.backend as InitBackendOptions['prefer'],
      log: (m) => console.error(m),
    });
    const t0 = performance.now();
    const data = await loadTrainingData(db.url, { minRating: Number(values['min-rating']) });
    console.error(
      `read ${data.interactionCount} interactions: ${data.userIds.length} users × ${data.itemIds.length} items in ${((performance.now() - t0) / 1000).toFixed(1)} s (backend ${backendName})`,
    );
    const started = performance.now();
    let model: Autoencoder | Ease;
    let metrics: Record<string, number>;
    let userIds: string[] | null = null;
    if (kind === 'autorec') {
      const lambda = values.lambda === undefined ? undefined : Number(values.lambda);
      const r = data.ratings;
      if (r.indptr[r.numRows] === 0) throw new Error('no RATING interactions: AutoRec predicts explicit ratings');
      // 5% of the ratings, chosen with the seed, are held out for the validation RMSE.
      const rng = new Random(seed);
      const users: number[] = [];
      const items: number[] = [];
      const ratings: number[] = [];
      const trainRows: number[] = [];
      const trainCols: number[] = [];
      const trainVals: number[] = [];
      for (let u = 0; u < r.numRows; u++) {
        for (let k = r.indptr[u]; k < r.indptr[u + 1]; k++) {
          const target = rng.uniform() < 0.05 ? [users, items, ratings] : [trainRows, trainCols, trainVals];
          target[0].push(u);
          target[1].push(r.indices[k]);
          target[2].push(r.values[k]);
        }
      }
      const train = csrFromTriples(r.numRows, r.numCols, trainRows, trainCols, trainVals);
      const total = epochs ?? 100;
      const progress = epochProgress('autorec', total, 'RMSE', true);
      const autorec = await AutoRec.fit(tf, train, { epochs: total, seed, ...(lambda !== undefined ? { lambda } : {}) }, {
        validation: { users, items, ratings },
        onEpoch: (e) => progress.onEpoch(e),
      });
      progress.stop();
      const predicted = autorec.predict(users, items);
      let se = 0;
      let ae = 0;
      for (let k = 0; k < ratings.length; k++) {
        se += (predicted[k] - ratings[k]) ** 2;
        ae += Math.abs(predicted[k] - ratings[k]);
      }
      metrics = { rmse: Math.sqrt(se / ratings.length), mae: ae / ratings.length, ratings: ratings.length };
      model = autorec;
      userIds = data.userIds;
    } else {
      const users = data.implicit.numRows;
      const heldOutUsers = Number(values['validation-users'] ?? Math.min(500, Math.floor(users / 10)));
      const split = strongGeneralizationSplit(data.implicit, { heldOutUsers, seed });
      console.error(`split: ${split.train.numRows} training users, ${split.validation.heldOut.numRows} validation users`);
      if (kind === 'ease') {
        const ease = Ease.fit(split.train, { lambda: values.lambda === undefined ? 500 : Number(values.lambda) });
        model = ease;
        metrics = evaluateRanking((h) => ease.score(h), split.validation.foldIn, split.validation.heldOut);
      } else {
        const total = epochs ?? 200;
        const progress = epochProgress(kind, total, 'NDCG@100');
        const options = { validation: split.validation, onEpoch: (e: Parameters<typeof progress.onEpoch>[0]) => progress.onEpoch(e) };
        const ae =
          kind === 'vae'
            ? await MultVAE.fit(tf, split.train, { epochs: total, seed }, options)
            : await MultDAE.fit(tf, split.train, { epochs: total, seed }, options);
        progress.stop();
        model = ae;
        metrics = evaluateRanking((h) => ae.reconstruct(h), split.validation.foldIn, split.validation.heldOut);
      }
    }
    const trainingSeconds = (performance.now() - started) / 1000;
    const hyperparameters = model instanceof Ease ? { lambda: model.lambda } : { ...model.hyperparameters };
    const version = await saveModelVersion(prisma, {
      name: values.name ?? `${kind}-${new Date().toISOString().slice(0, 19)}`,
      kind: kind.toUpperCase() as 'VAE' | 'DAE' | 'AUTOREC' | 'EASE',
      hyperparameters: { ...hyperparameters, seed, backend: backendName },
      metrics: { validation: metrics },
      interactionCount: data.interactionCount,
      dataLatestAt: data.latestAt,
      itemIds: data.itemIds,
      userIds,
      weights: model.toBytes(),
      trainingSeconds,
    });
    if (values.activate) await activateModelVersion(prisma, version.id);
    console.log(
      `stored model version ${version.id} (${kind}, ${(version.weightsBytes / 1e6).toFixed(1)} MB, ${trainingSeconds.toFixed(1)} s)${values.activate ? ', active' : ''}`,
    );
    console.log(`validation: ${Object.entries(metrics).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`);
    if (!(model instanceof Ease)) model.dispose();
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
