import 'reflect-metadata';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { NestFactory } from '@nestjs/core';
import { createLogger } from '../ops/logger.js';
import type { WorkerThreadData } from './embedded-worker.service.js';
import { installServingPressure } from './serving-pressure.js';
import { WorkerModule } from './worker.module.js';

/** Entry of the API's training worker thread (see EmbeddedWorker). */
async function main(): Promise<void> {
  const { env, databaseUrl, pressure } = workerData as WorkerThreadData;
  if (pressure) installServingPressure(pressure);
  if (env.trainingThreadNice > 0) {
    // On Linux the nice value is per thread: this lowers the training thread only.
    try {
      os.setPriority(0, env.trainingThreadNice);
    } catch {
      // not permitted or not supported: train at normal priority
    }
  }
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(env, databaseUrl), {
    logger: createLogger(env),
    abortOnError: false,
  });
  await app.init();
  parentPort!.postMessage({ type: 'ready' });
  parentPort!.on('message', (m: { type: string }) => {
    if (m.type !== 'shutdown') return;
    void app.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  console.error(error);
  process.exit(1);
});
