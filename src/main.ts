import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { loadEnv } from './config/env.js';
import { openDatabaseFromEnv } from './database/database-bootstrap.js';
import { createLogger } from './ops/logger.js';

/** The API server: resolves the database (embedded when DATABASE_URL is unset), migrates, serves. */
async function main(): Promise<void> {
  const env = loadEnv();
  Logger.overrideLogger(createLogger(env)); // JSON lines from the first one on (LOG_FORMAT=json)
  const logger = new Logger('Main');
  const db = await openDatabaseFromEnv(env, {
    log: (m) => logger.log(m),
  });
  const app = await createApp(env, db.url);
  app.getHttpAdapter().getInstance().addHook('onClose', async () => db.close());
  await app.listen(env.port, env.host);
  logger.log(`GraphQL at http://${env.host}:${env.port}/graphql${env.graphiql ? ` (GraphiQL: /graphiql)` : ''}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
