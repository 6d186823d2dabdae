import 'reflect-metadata';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv, PROJECT_ROOT } from '../src/config/env.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { importInteractions } from '../src/interactions/import/index.js';

const HELP = `Usage: npm run demo [-- --no-serve]

Starts Recoder on the shipped MovieLens latest-small data:
  embedded PostgreSQL (unless DATABASE_URL is set) → migrations → import the demo data (once)
  → GraphQL on http://HOST:PORT/graphql with GraphiQL at /graphiql.
  --no-serve   stop after the import (used by CI to prove the zero-install path)`;

const EXAMPLE = `{
  popularItems(limit: 5) { item { id title categories } score interactionCount }
  user(id: "1") { id interactions(first: 3) { nodes { item { title } kind value occurredAt } } }
}`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, 'no-serve': { type: 'boolean' } } });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, {
    log: (m: string) => console.log(`[db] ${m}`),
  });
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await db.close();
    }
  };
  try {
    const client = new pg.Client({ connectionString: db.url });
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
    await client.end();
    if (values['no-serve']) return;

    const app = await createApp(env, db.url);
    app.getHttpAdapter().getInstance().addHook('onClose', close);
    await app.listen(env.port, env.host);
    const base = `http://${env.host === '0.0.0.0' ? 'localhost' : env.host}:${env.port}`;
    console.log(`
Recoder demo is up.
  GraphQL endpoint: ${base}/graphql
  GraphiQL (try it in a browser): ${base}/graphiql

Example query (paste into GraphiQL):
${EXAMPLE}

Or with curl:
  curl -s ${base}/graphql -H 'content-type: application/json' \\
    -d '{"query":"{ popularItems(limit: 5) { item { title } score } }"}'

Ctrl-C stops the server${db.embedded ? ' and the embedded PostgreSQL' : ''}.`);
  } catch (error) {
    await close();
    throw error;
  } finally {
    if (values['no-serve']) await close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
