import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { Env } from './config/env.js';
import { registerRateLimit } from './graphql/rate-limit.js';

/** Request bodies up to 16 MiB: a 10,000-interaction batch is about 1.5 MB of JSON. */
const BODY_LIMIT = 16 * 1024 * 1024;

/** Builds (but does not listen) the API application; main.ts, the demo and the e2e tests share it. */
export async function createApp(env: Env, databaseUrl: string): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(env, databaseUrl),
    new FastifyAdapter({ bodyLimit: BODY_LIMIT }),
    { logger: loggerLevels(env.logLevel), abortOnError: false },
  );
  await registerRateLimit(app, env);
  app.enableShutdownHooks();
  return app;
}

export function loggerLevels(level: Env['logLevel']) {
  const all = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
  return all.slice(0, all.indexOf(level) + 1);
}
