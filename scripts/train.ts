import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadEnv } from '../src/config/env.js';
import { initBackend, type InitBackendOptions } from '../src/core/engine/backend.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { activateModelVersion } from '../src/registry/activation.js';
import { epochProgress } from '../src/training/epoch-progress.js';
import { DEFAULT_EPOCHS, trainVersion, type TrainableKind } from '../src/training/train-version.js';
import { trainVisualVersion } from '../src/training/train-visual.js';
import pg from 'pg';
import { buildVersionPopulation } from '../src/registry/population.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run train -- --model auto|vae|dae|autorec|ease|conv_ae [options]

Trains a model on the database's interactions and stores it as a model version (weights, id maps,
hyperparameters, validation metrics, data snapshot) that any process can load from DATABASE_URL.
Validation: held-out users (strong generalization, 80/20 fold-in) for vae/dae/ease; 5% of the
ratings for autorec.

  --model <kind>          auto | vae | dae | autorec | ease | conv_ae (required). auto: tries EASE
                          over a λ grid, Mult-DAE, Mult-VAE and the EASE + autoencoder blend on the
                          same held-out users and keeps the best (an ENSEMBLE version when the
                          blend wins); conv_ae: the image autoencoder, trained on the item images,
                          validated on 10 % of them
  --epochs <n>            largest number of training epochs (vae/dae/auto: planned from the number
                          of users, with early stopping; autorec default 100)
  --budget <seconds>      auto: time budget of the search (default 900)
  --seed <n>              seed (default 1)
  --validation-users <n>  held-out users (default: 10% of users, at most 500)
  --min-rating <x>        RATING interactions count as positives at ≥ x (default 3.5)
  --lambda <x>            EASE λ (default 500) or AutoRec λ (default 30)
  --name <name>           version name (default <kind>-<date>)
  --activate              make the new version the active one
  --skip-population       do not compute and store the version's population (user vectors,
                          reconstruction errors, similar-item lists; API processes then compute it
                          each at activation)
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
      budget: { type: 'string' },
      name: { type: 'string' },
      activate: { type: 'boolean', default: false },
      'skip-population': { type: 'boolean', default: false },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const kind = values.model;
  if (values.help || !kind || !['auto', 'vae', 'dae', 'autorec', 'ease', 'conv_ae'].includes(kind)) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const seed = Number(values.seed);
  const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, {
    log: (m) => console.error(`[db] ${m}`),
  });
  const prisma = createPrismaClient(db.url, 2);
  try {
    const { name: backendName, tf } = await initBackend({
      prefer: values.backend as InitBackendOptions['prefer'],
      // This process only trains: large products (training on this thread, the population) use every core.
      nativeThreads: os.availableParallelism(),
      log: (m) => console.error(m),
    });
    const total = epochs ?? DEFAULT_EPOCHS[kind as keyof typeof DEFAULT_EPOCHS] ?? undefined;
    const lowerIsBetter = kind === 'autorec' || kind === 'conv_ae';
    const metricName = kind === 'autorec' ? 'RMSE' : kind === 'conv_ae' ? 'MSE' : 'NDCG@100';
    // One bar per model trained: VAE/DAE know their epochs once planned from the data, AUTO per candidate.
    let progress: ReturnType<typeof epochProgress> | null = null;
    let progressLabel = '';
    const bar = (label: string, epochs: number) => {
      if (progress && progressLabel === label) return progress;
      progress?.stop();
      progressLabel = label;
      return (progress = epochProgress(label, epochs, metricName, lowerIsBetter));
    };
    if (total !== undefined && kind !== 'ease' && kind !== 'auto') bar(kind, total);
    const { version, metrics } =
      kind === 'conv_ae'
        ? await trainVisualVersion(tf, db.url, prisma, {
            size: env.images.size,
            channels: env.images.channels,
            epochs: total,
            seed,
            name: values.name,
            backend: backendName,
            onEpoch: (e) => bar(kind, e.epochs).onEpoch(e),
            log: (m) => console.error(m),
          })
        : await trainVersion(tf, db.url, prisma, {
            kind: kind as TrainableKind,
            epochs: total,
            seed,
            budgetSeconds: values.budget === undefined ? undefined : Number(values.budget),
            onPlan: (plan) => bar(kind, plan.epochs),
            onCandidateEpoch: (candidate, e) => bar(candidate, e.epochs).onEpoch(e),
            validationUsers: values['validation-users'] === undefined ? undefined : Number(values['validation-users']),
            minRating: Number(values['min-rating']),
            lambda: values.lambda === undefined ? undefined : Number(values.lambda),
            name: values.name,
            backend: backendName,
            onEpoch: (e) => bar(kind, e.epochs).onEpoch(e),
            log: (m) => {
              progress?.stop();
              progress = null;
              console.error(m);
            },
          });
    (progress as ReturnType<typeof epochProgress> | null)?.stop();
    if (kind !== 'conv_ae' && !values['skip-population']) {
      const pool = new pg.Pool({ connectionString: db.url, max: 2 });
      try {
        // This process does nothing else meanwhile: the model work spreads over every core.
        const done = await buildVersionPopulation(tf, pool, version.id, {
          threads: os.availableParallelism(),
          log: (m) => console.error(m),
        });
        if (done)
          console.error(
            `population stored: ${done.users} users${done.lists ? ', similar-item lists' : ''} in ${done.seconds.toFixed(1)} s (` +
              Object.entries(done.phases)
                .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
                .join(', ') +
              ')',
          );
      } finally {
        await pool.end();
      }
    }
    const trainingSeconds = version.trainingSeconds;
    if (values.activate) await activateModelVersion(prisma, version.id);
    console.log(
      `stored model version ${version.id} (${version.kind}, ${(version.weightsBytes / 1e6).toFixed(1)} MB, ${trainingSeconds.toFixed(1)} s)${values.activate ? ', active' : ''}`,
    );
    console.log(
      `validation: ${Object.entries(metrics)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join(', ')}`,
    );
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main, { print: 'message' });
