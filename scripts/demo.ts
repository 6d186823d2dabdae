import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv, PROJECT_ROOT } from '../src/config/env.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { importInteractions } from '../src/interactions/import/index.js';
import { stopOnSignals } from '../src/ops/shutdown.js';
import { ActiveModelService } from '../src/serving/active-model.service.js';
import { TrainingRunsService } from '../src/training/training-runs.service.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run demo [-- --no-serve] [--budget SECONDS]

Starts Recoder on the shipped MovieLens latest-small data:
  embedded PostgreSQL (unless DATABASE_URL is set) → migrations → import the demo data (once)
  → GraphQL on http://HOST:PORT/graphql with GraphiQL at /graphiql
  → when no model version is active yet, trains kind AUTO in the API's training worker thread
    (EASE over λ, Mult-DAE, Mult-VAE and their blend; the best on held-out users is kept),
    activates it, and prints example queries. Popular items answer meanwhile.
  --budget S   time budget of the AUTO search in seconds (default 300)
  --no-serve   stop after the import (used by CI to prove the zero-install path)`;

const EXAMPLE = `{
  popularItems(limit: 5) { item { id title categories } score interactionCount }
  user(id: "1") { id interactions(first: 3) { nodes { item { title } kind value occurredAt } } }
}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      'no-serve': { type: 'boolean' },
      budget: { type: 'string', default: '300' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  // The demo is for trying the API in GraphiQL on this machine: it runs open (the auth module logs a
  // warning) with GraphiQL and introspection on, unless the environment says otherwise.
  const env = loadEnv({
    RECODER_AUTH: 'off',
    GRAPHIQL: 'true',
    RECODER_INTROSPECTION: 'true',
    LOG_FORMAT: 'pretty',
    ...process.env,
  });
  // Ctrl-C / SIGTERM (to npm or to node): the app closes (HTTP drained, training thread, pools),
  // then the embedded PostgreSQL stops, and one line says so.
  const stop = stopOnSignals({
    name: 'Recoder demo',
    log: (m) => console.log(`\n[demo] ${m}`),
    error: (m) => console.error(`[demo] ${m}`),
  });
  const db = await openDatabaseFromEnv(env, {
    log: (m: string) => console.log(`[db] ${m}`),
  });
  stop.add(() => db.close());
  let app: NestFastifyApplication | undefined;
  try {
    const client = new pg.Client({ connectionString: db.url });
    let importing = true;
    stop.add(() => (importing ? client.end().catch(() => undefined) : undefined)); // a signal during the import
    await client.connect();
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM interactions');
    if (Number(rows[0].n) === 0) {
      console.log('[demo] importing MovieLens latest-small (data/ml-latest-small) ...');
      const result = await importInteractions(client, {
        path: path.join(PROJECT_ROOT, 'data', 'ml-latest-small'),
        format: 'movielens-latest',
      });
      console.log(
        `[demo] imported ${result.inserted} ratings of ${result.items} movies by ${result.users} users in ${result.seconds.toFixed(1)} s`,
      );
    } else {
      console.log(`[demo] the database already holds ${rows[0].n} interactions: skipping the import`);
    }
    importing = false;
    await client.end();
    if (values['no-serve']) {
      await db.close();
      return;
    }

    app = await createApp(env, db.url);
    stop.add(() => app!.close());
    await app.listen(env.port, env.host);
    const base = `http://${env.host === '0.0.0.0' ? 'localhost' : env.host}:${env.port}`;
    console.log(`
Recoder demo is up.
  GraphQL endpoint: ${base}/graphql
  GraphiQL (try it in a browser): ${base}/graphiql${env.dashboard ? `\n  Dashboard (models, training, latent space, users): ${base}/dashboard` : ''}

Example query (paste into GraphiQL):
${EXAMPLE}

${env.auth === 'off' ? 'The demo API is open (RECODER_AUTH=off): anyone who can reach it may write and train.\nWith RECODER_AUTH=required, create keys with: npm run apikey -- create --role admin\n' : ''}Ctrl-C stops the server${db.embedded ? ' and the embedded PostgreSQL' : ''}.`);
    await trainDemoModel(
      app.get(TrainingRunsService),
      app.get(ActiveModelService),
      Number(values.budget),
      env.trainingWorker === 'thread',
      stop.signal,
    );
    if (stop.signal.aborted) return;
    const sample = await exampleIds(db.url);
    console.log(`
Personal recommendations, similar items and similar users are served by model version ${app.get(ActiveModelService).version?.id}:
  curl -s ${base}/graphql -H 'content-type: application/json' \\
    -d '{"query":"{ recommendations(userId: \\"${sample.userId}\\", limit: 5) { source modelVersionId items { score item { title } } } }"}'
  curl -s ${base}/graphql -H 'content-type: application/json' \\
    -d '{"query":"{ similarItems(itemId: \\"${sample.itemId}\\", limit: 5) { score item { title } } }"}'

In GraphiQL:
  { recommendations(userId: "${sample.userId}", limit: 5) { items { score item { title categories } } } }
  { similarItems(itemId: "${sample.itemId}", limit: 5) { score item { title } } }   # ${sample.title}
  { trainingRuns { id kind status progress candidates { name status ndcg chosen } decision } }
  mutation { trainModel(input: { kind: AUTO, activate: IF_BETTER }) { id status } }`);
  } catch (error) {
    if (stop.signal.aborted) return; // stopping: the app or the database closed under a step
    await app?.close().catch(() => undefined);
    await db.close();
    throw error;
  }
}

/**
 * When no version is active: trains kind AUTO (EASE over λ, Mult-DAE, Mult-VAE and their blend,
 * the best on held-out users is kept) and activates it, printing each candidate as it finishes;
 * returns once the new version serves.
 */
async function trainDemoModel(
  runs: TrainingRunsService,
  models: ActiveModelService,
  budgetSeconds: number,
  inThread: boolean,
  stopping: AbortSignal,
): Promise<void> {
  if (models.version) {
    console.log(`\n[demo] model version ${models.version.id} is active: skipping the demo training`);
    return;
  }
  const run = await runs.trainModel({ kind: 'AUTO', activate: 'ALWAYS', budgetSeconds });
  console.log(
    `\n[demo] no model version is active: training run ${run.id} (AUTO: EASE, Mult-DAE, Mult-VAE and their blend, at most ${budgetSeconds} s) queued${inThread ? '' : ' — RECODER_TRAINING_WORKER=off: start `npm run worker` to run it'}`,
  );
  console.log('[demo] popular items answer until it is done');
  let shown = 0;
  let lastStage = '';
  while (!stopping.aborted) {
    const r = await runs.run(run.id);
    for (const c of r.candidates.slice(shown)) {
      console.log(
        `[demo] ${c.name}: ${c.status.toLowerCase()}${c.ndcg === null ? '' : `, validation NDCG@100 ${c.ndcg.toFixed(4)}`} (${c.seconds.toFixed(0)} s)${c.reason ? ` — ${c.reason}` : ''}`,
      );
    }
    shown = r.candidates.length;
    if (r.stage && r.stage !== lastStage && r.status === 'RUNNING') {
      lastStage = r.stage;
      console.log(`[demo] training ${r.stage} … (${Math.round(r.progress * 100)} % of the search)`);
    }
    if (r.status === 'FAILED' || r.status === 'CANCELLED')
      throw new Error(`demo training run ${r.id} ${r.status}: ${r.error ?? ''}`);
    if (r.status === 'SUCCEEDED' && servedId(models) === r.versionId) {
      const chosen = r.candidates.find((c) => c.chosen);
      console.log(
        `[demo] kept ${chosen?.name ?? 'the best candidate'}; ${r.decision}; version ${r.versionId} now serves`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const servedId = (models: ActiveModelService): number | null => models.version?.id ?? null;

/** A user with a long history and a well-known movie, for the printed examples. */
async function exampleIds(url: string): Promise<{ userId: string; itemId: string; title: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const user = await client.query<{ external_id: string }>(
      'SELECT u.external_id FROM users u JOIN interactions i ON i.user_id = u.id GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1 OFFSET 10',
    );
    const item = await client.query<{ external_id: string; title: string }>(
      'SELECT it.external_id, it.title FROM items it JOIN interactions i ON i.item_id = it.id GROUP BY it.id ORDER BY count(*) DESC, it.id LIMIT 1',
    );
    return { userId: user.rows[0].external_id, itemId: item.rows[0].external_id, title: item.rows[0].title ?? '' };
  } finally {
    await client.end();
  }
}

runMain(main, { exit: 'now' });
