/**
 * AUTO on a strong-generalization split, end to end through the product's own paths: the split's
 * training and validation users are imported into PostgreSQL (the importer's csv format), an AUTO
 * run trains on them as `trainModel(kind: AUTO)` does (its own stable held-out users), and the stored
 * version is scored on the split's test users through the serving path (evaluate-served.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadEnv } from '../src/config/env.js';
import { readSplitFiles, type SplitFiles } from '../src/core/data/split-files.js';
import { initBackend } from '../src/core/engine/backend.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { importInteractions } from '../src/interactions/import/index.js';
import { evaluateServedVersion } from '../src/serving/evaluate-served.js';
import { trainVersion } from '../src/training/train-version.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:auto -- --split <dir> [options]

Imports the split's training and validation users (train.csv, validation_tr.csv, validation_te.csv;
item ids from unique_sid.txt) into the database of DATABASE_URL (which must hold no interactions,
or pass --reset), trains kind AUTO on them as the training worker does, and scores the stored
version on the split's test users (test_tr.csv fold-in, test_te.csv held out) through the serving
path. Prints every candidate, the choice, and the test metrics.

  --split <dir>       split folder (strong generalization, Liang et al. 2018)
  --budget <seconds>  AUTO time budget (default 1800)
  --epochs <n>        largest epochs of the autoencoders (default: planned from the data)
  --threads <n>       autoencoder training threads (default 1)
  --reset             delete every user, item and interaction of the database first
  --keep              do not delete the imported data afterwards
  -h, --help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      split: { type: 'string' },
      budget: { type: 'string', default: '1800' },
      epochs: { type: 'string' },
      threads: { type: 'string', default: '1' },
      reset: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.split) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const split = await readSplitFiles(values.split);
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, { log: (m) => console.error(`[db] ${m}`) });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const prisma = createPrismaClient(db.url, 2);
  try {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM interactions');
    if (Number(rows[0].n) > 0 && !values.reset)
      throw new Error(`the database holds ${rows[0].n} interactions: use an empty database or --reset`);
    if (values.reset)
      await pool.query(
        'TRUNCATE interactions, users, items, model_versions, training_runs, active_models RESTART IDENTITY CASCADE',
      );
    await importSplit(db.url, split);

    const { tf, name: backend } = await initBackend();
    const started = performance.now();
    const trained = await trainVersion(tf, db.url, prisma, {
      kind: 'auto',
      minRating: 0,
      seed: 1,
      budgetSeconds: Number(values.budget),
      epochs: values.epochs === undefined ? undefined : Number(values.epochs),
      threads: Number(values.threads),
      backend,
      name: `bench-auto-${path.basename(path.resolve(values.split, '..'))}`,
      log: (m) => console.error(m),
    });
    const trainSeconds = (performance.now() - started) / 1000;
    console.log(
      `\nAUTO on ${values.split} (${split.numItems} items; ${backend}; ${os.loadavg()[0].toFixed(1)} load average): ${trainSeconds.toFixed(0)} s`,
    );
    console.log('candidate                              status    validation ndcg@100   seconds');
    for (const c of trained.candidates ?? []) {
      console.log(
        `${(c.chosen ? '* ' : '  ') + c.name.padEnd(37)}${c.status.padEnd(10)}${(c.ndcg === null ? '-' : c.ndcg.toFixed(4)).padStart(8)}${c.seconds.toFixed(1).padStart(19)}${c.reason ? `   ${c.reason}` : ''}`,
      );
    }
    const served = await evaluateServedVersion(pool, tf, trained.version.id, split.itemIds, split.test);
    console.log(
      `\nserved version ${served.versionId} (${served.kind}) on ${served.users} test users: NDCG@100 ${served['ndcg@100'].toFixed(4)}, Recall@20 ${served['recall@20'].toFixed(4)}, Recall@50 ${served['recall@50'].toFixed(4)}` +
        ` (${served.unknownHeldOut} held-out items unknown to the version; scored in ${served.seconds.toFixed(1)} s)`,
    );
    if (!values.keep)
      await pool.query(
        'TRUNCATE interactions, users, items, model_versions, training_runs, active_models RESTART IDENTITY CASCADE',
      );
  } finally {
    await prisma.$disconnect();
    await pool.end();
    await db.close();
  }
}

/** The split's training and validation users as implicit interactions: users "u<uid>", items as in unique_sid.txt. */
async function importSplit(url: string, split: SplitFiles): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'recoder-bench-auto-'));
  try {
    const lines = ['user,item'];
    const add = (m: SplitFiles['train'], userIds: Int32Array) => {
      for (let r = 0; r < m.numRows; r++)
        for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) lines.push(`u${userIds[r]},${split.itemIds[m.indices[k]]}`);
    };
    add(split.train, split.trainUserIds);
    add(split.validation.foldIn, split.validation.userIds);
    add(split.validation.heldOut, split.validation.userIds);
    const file = path.join(dir, 'interactions.csv');
    await writeFile(file, lines.join('\n') + '\n');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const result = await importInteractions(client, { path: file, format: 'csv', source: 'split' });
      console.error(
        `imported ${result.inserted} interactions (${result.users} users, ${result.items} items) in ${result.seconds.toFixed(1)} s`,
      );
    } finally {
      await client.end();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

runMain(main, { print: 'message' });
