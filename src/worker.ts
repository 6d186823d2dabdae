import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadEnv } from './config/env.js';
import { openDatabaseFromEnv } from './database/database-bootstrap.js';
import { createLogger } from './ops/logger.js';
import { stopOnSignals } from './ops/shutdown.js';
import { WorkerModule } from './training/worker.module.js';

/**
 * `npm run worker`: a training worker process (Nest application context, no HTTP). Run any number;
 * one trains at a time. Set RECODER_TRAINING_WORKER=off on the API processes when using these.
 */
async function main(): Promise<void> {
  const env = loadEnv();
  Logger.overrideLogger(createLogger(env));
  const logger = new Logger('Worker');
  if (!env.databaseUrl) {
    throw new Error(
      'npm run worker needs DATABASE_URL (the API it serves must use the same database); without one, the API runs the worker in a thread',
    );
  }
  const stop = stopOnSignals({
    name: 'Recoder training worker',
    log: (m) => logger.log(m),
    error: (m) => logger.error(m),
  });
  const db = await openDatabaseFromEnv(env, { log: (m) => logger.log(m) });
  stop.add(() => db.close());
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(env, db.url), {
    logger: createLogger(env),
    abortOnError: false,
  });
  // On a signal: the run in progress is stopped (FAILED, "the worker shut down during the run"),
  // then pg-boss and the connections close (the modules' shutdown hooks), and the process exits 0.
  stop.add(() => app.close());
  await app.init();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
