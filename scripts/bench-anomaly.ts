/**
 * Anomaly benchmark (issue 4): injects synthetic bot users (each interacting with a random number,
 * 50–200 by default, of uniformly random catalog items) into ML-1M, trains a Mult-VAE on
 * everything, activates it and asks the API's `anomalousUsers(limit: 50)` how many bots it ranks
 * in the top 50. Uses a scratch database `recoder_bench_anomaly` on DATABASE_URL's server.
 *
 *   npm run bench:anomaly -- <ml-1m dir> [--bots 50] [--epochs 50] [--min-items 50] [--max-items 200] [--keep]
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv } from '../src/config/env.js';
import { Random } from '../src/core/data/random.js';
import { initBackend } from '../src/core/engine/backend.js';
import { applyMigrations } from '../src/database/migrations.js';
import { quoteIdent, withDatabase } from '../src/database/pg-url.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { importInteractions } from '../src/interactions/import/importer.js';
import { activateModelVersion } from '../src/registry/activation.js';
import { trainVersion } from '../src/training/train-version.js';
import { runMain } from './cli.js';

const DB = 'recoder_bench_anomaly';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      bots: { type: 'string', default: '50' },
      epochs: { type: 'string', default: '50' },
      'min-items': { type: 'string', default: '50' },
      'max-items': { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const server = process.env.DATABASE_URL;
  if (values.help || positionals.length !== 1 || !server) {
    console.log(
      'Usage: DATABASE_URL=<server url> npm run bench:anomaly -- <ml-1m dir> [--bots 50] [--epochs 50] [--min-items 50] [--max-items 200] [--keep]',
    );
    if (!values.help) process.exitCode = 1;
    return;
  }
  const bots = Number(values.bots);
  const [minItems, maxItems] = [Number(values['min-items']), Number(values['max-items'])];
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${quoteIdent(DB)}`);
  const url = withDatabase(server, DB);
  try {
    await applyMigrations(url);
    const imported = await importInteractions(url, { path: positionals[0], format: 'movielens-1m' });
    console.error(`imported ${imported.inserted} interactions`);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const items = (
      await db.query<{ id: number }>('SELECT DISTINCT item_id AS id FROM interactions ORDER BY 1')
    ).rows.map((r) => r.id);
    const rng = new Random(Number(values.seed));
    const botIds: string[] = [];
    for (let b = 0; b < bots; b++) {
      const external = `bot-${b + 1}`;
      botIds.push(external);
      const { rows } = await db.query<{ id: number }>('INSERT INTO users (external_id) VALUES ($1) RETURNING id', [
        external,
      ]);
      const n = minItems + rng.int(maxItems - minItems + 1);
      const picked = new Set<number>();
      while (picked.size < n) picked.add(items[rng.int(items.length)]);
      await db.query(
        `INSERT INTO interactions (user_id, item_id, kind, value, occurred_at)
         SELECT $1, unnest($2::int[]), 'RATING', 5, now()`,
        [rows[0].id, [...picked]],
      );
    }
    await db.end();
    console.error(`injected ${bots} bots with ${minItems}–${maxItems} random items each`);

    const { tf, name } = await initBackend({ log: (m) => console.error(m) });
    const prisma = createPrismaClient(url, 2);
    const t0 = performance.now();
    const { version } = await trainVersion(tf, url, prisma, {
      kind: 'vae',
      epochs: Number(values.epochs),
      seed: Number(values.seed),
      backend: name,
      onEpoch: (e) =>
        e.epoch % 10 === 0 &&
        console.error(
          `epoch ${e.epoch}/${e.epochs} validation NDCG@100 ${e.validation?.toFixed(4)} (${e.seconds.toFixed(1)} s)`,
        ),
    });
    console.error(`trained version ${version.id} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    await activateModelVersion(prisma, version.id);
    await prisma.$disconnect();

    const app = await createApp(
      loadEnv({ LOG_LEVEL: 'warn', GRAPHIQL: 'false', RECODER_AUTH: 'off', RECODER_RATE_LIMIT_PER_MINUTE: '0' }),
      url,
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      payload: { query: `{ anomalousUsers(limit: ${bots}) { error percentile user { id } } }` },
    });
    const body = JSON.parse(res.body) as {
      data?: { anomalousUsers: { error: number; percentile: number; user: { id: string } }[] };
      errors?: unknown;
    };
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    const top = body.data.anomalousUsers;
    const found = top.filter((a) => botIds.includes(a.user.id)).length;
    const ranks = top.map((a, k) => (botIds.includes(a.user.id) ? k + 1 : 0)).filter((k) => k > 0);
    // Where do the bots rank overall? percentiles from User.anomalyScore.
    const scores = await app.inject({
      method: 'POST',
      url: '/graphql',
      payload: {
        query: `{ ${botIds
          .slice(0, 5)
          .map((id, k) => `b${k}: user(id: "${id}") { anomalyScore { percentile } }`)
          .join(' ')} }`,
      },
    });
    await app.close();
    console.log(`\n| measure | value | target |\n|---|---|---|`);
    console.log(`| bots in the top ${bots} of anomalousUsers | ${found} of ${bots} | ≥ 40 |`);
    console.log(`| ranks of the bots found | ${ranks.join(', ')} | |`);
    console.log(
      `| percentiles of the first 5 bots (User.anomalyScore) | ${Object.values(
        (JSON.parse(scores.body) as { data: Record<string, { anomalyScore: { percentile: number } }> }).data,
      )
        .map((u) => u.anomalyScore.percentile.toFixed(2))
        .join(', ')} | |`,
    );
    console.log(
      `| model | Mult-VAE, ${values.epochs} epochs, version ${version.id}, validation NDCG@100 ${(version.metrics.validation['ndcg@100'] ?? NaN).toFixed(4)} | |`,
    );
  } finally {
    if (!values.keep)
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

runMain(main);
