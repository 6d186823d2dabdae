import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { loadEnv } from './config/env.js';
import { openDatabaseFromEnv } from './database/database-bootstrap.js';
import { createLogger } from './ops/logger.js';
import { stopOnSignals } from './ops/shutdown.js';

/**
 * The API server: resolves the database (embedded when DATABASE_URL is unset), migrates, serves.
 * On SIGINT/SIGTERM/SIGHUP it drains HTTP, closes the application (training thread, pg-boss,
 * listener, pools), then stops the embedded PostgreSQL, and exits 0 (src/ops/shutdown.ts).
 */
async function main(): Promise<void> {
  const env = loadEnv();
  Logger.overrideLogger(createLogger(env)); // JSON lines from the first one on (LOG_FORMAT=json)
  const logger = new Logger('Main');
  const stop = stopOnSignals({ name: 'Recoder API', log: (m) => logger.log(m), error: (m) => logger.error(m) });
  const db = await openDatabaseFromEnv(env, {
    log: (m) => logger.log(m),
  });
  stop.add(() => db.close());
  const app = await createApp(env, db.url);
  stop.add(() => app.close());
  await app.listen(env.port, env.host);
  logger.log(
    `GraphQL at http://${env.host}:${env.port}/graphql${env.graphiql ? ` (GraphiQL: /graphiql)` : ''}${env.dashboard ? `; dashboard at http://${env.host}:${env.port}/dashboard` : ''}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
