import 'reflect-metadata';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { Env } from './config/env.js';
import { registerDashboard } from './dashboard/serve-dashboard.js';
import { registerGraphiql } from './graphql/graphiql.js';
import { MAX_DOCUMENT_TOKENS } from './graphql/graphql.config.js';
import { registerGraphqlHttp, RequestGate } from './graphql/http-gate.js';
import { RateLimitService } from './graphql/rate-limit.js';
import { registerResponseLimit } from './graphql/response-limit.js';
import { AuthService } from './auth/auth.service.js';
import { GracefulFastifyAdapter } from './ops/graceful-fastify-adapter.js';
import { createLogger } from './ops/logger.js';

/** Request bodies up to 16 MiB: a 10,000-interaction batch is about 1.5 MB of JSON. */
const BODY_LIMIT = 16 * 1024 * 1024;

/**
 * Builds (but does not listen) the API application; main.ts, the demo and the e2e tests share it.
 * `logger` replaces the one LOG_FORMAT/LOG_LEVEL choose (tests capture and assert expected errors).
 */
export async function createApp(
  env: Env,
  databaseUrl: string,
  options: { logger?: LoggerService } = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(env, databaseUrl),
    // Drains in-flight requests at shutdown before the modules' destroy hooks end the database pools.
    // trustProxy: a hop count is accepted by Fastify at run time though its adapter type omits it.
    new GracefulFastifyAdapter({ bodyLimit: BODY_LIMIT, trustProxy: env.trustProxy as boolean | string }),
    { logger: options.logger ?? createLogger(env), abortOnError: false },
  );
  // GraphQL over HTTP on /graphql only: media types, authentication and rate limits before validation.
  registerGraphqlHttp(
    app.getHttpAdapter().getInstance(),
    '/graphql',
    new RequestGate(env, app.get(AuthService), app.get(RateLimitService)),
    MAX_DOCUMENT_TOKENS,
  );
  registerGraphiql(app.getHttpAdapter().getInstance(), env);
  registerResponseLimit(app.getHttpAdapter().getInstance(), env);
  registerDashboard(app.getHttpAdapter().getInstance(), env, (message) => new Logger('Dashboard').warn(message));
  // No enableShutdownHooks(): the entry points stop on signals themselves (src/ops/shutdown.ts), so
  // that the database they opened is closed after the application, and the process exits 0.
  return app;
}

export { loggerLevels } from './ops/logger.js';
