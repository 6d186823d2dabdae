import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv, type Env } from '../src/config/env.js';

export function testDatabaseUrl(): string {
  const url = process.env.RECODER_TEST_DATABASE_URL;
  if (!url) throw new Error('RECODER_TEST_DATABASE_URL is unset: run tests through `npm test` (jest globalSetup)');
  return url;
}

/** Boots the real API on the scratch database (no port: requests go through Fastify's inject). */
export function bootApp(overrides: Partial<Env> = {}): Promise<NestFastifyApplication> {
  return bootAppOn(testDatabaseUrl(), overrides);
}

/** {@link bootApp} on another database (e.g. a test's own Postgres); `logger`: e.g. a {@link CapturedLog}. */
export async function bootAppOn(
  databaseUrl: string,
  overrides: Partial<Env> = {},
  logger?: LoggerService,
): Promise<NestFastifyApplication> {
  const env = {
    ...loadEnv({
      LOG_LEVEL: 'error',
      GRAPHIQL: 'false',
      RECODER_TRAINING_WORKER: 'off',
      RECODER_AUTH: 'off',
      RECODER_RATE_LIMIT_PER_MINUTE: '0',
      RECODER_AUTH_FAILURES_PER_MINUTE: '0',
    }),
    ...overrides,
  };
  const app = await createApp(env, databaseUrl, { logger });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions: { code: string; field?: string; [k: string]: unknown } }[];
}

export async function gql<T = Record<string, any>>(
  app: NestFastifyApplication,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GqlResponse<T>> {
  const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } });
  return { status: res.statusCode, ...(JSON.parse(res.body) as Omit<GqlResponse<T>, 'status'>) };
}

/** Empties every table (between test files). */
export async function truncateAll(): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  await client.query(
    'TRUNCATE interactions, items, users, active_models, model_versions, training_runs, impressions, experiments RESTART IDENTITY CASCADE',
  );
  // pg-boss's jobs of truncated runs (its schema exists once a test booted a job queue).
  await client.query(
    `DO $$ BEGIN IF to_regclass('pgboss.job') IS NOT NULL THEN DELETE FROM pgboss.job; END IF; END $$`,
  );
  await client.end();
}

/** Runs SQL against the scratch database (assertions on what was really written). */
export async function sql<T extends pg.QueryResultRow = any>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** How PostgreSQL going away and coming back shows in the errors of the requests that failed then. */
export const CONNECTION_LOST =
  /ECONNREFUSED|ECONNRESET|terminating connection due to administrator command|the database system is (shutting down|starting up)|Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect/;

/** One message a {@link CapturedLog} received. */
export interface LogEntry {
  level: 'error' | 'warn' | 'log' | 'debug' | 'verbose' | 'fatal';
  context: string;
  /** The message, then any stack or details, as one text. */
  text: string;
}

/**
 * A Nest logger that keeps what it is given instead of printing it: fault tests (a database
 * stopped under load) assert the errors they expect rather than printing them as stack traces.
 */
export class CapturedLog implements LoggerService {
  readonly entries: LogEntry[] = [];

  error(message: unknown, ...params: unknown[]): void {
    this.add('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.add('warn', message, params);
  }
  log(message: unknown, ...params: unknown[]): void {
    this.add('log', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.add('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.add('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.add('fatal', message, params);
  }

  /** Entries of `level` (errors by default). */
  at(level: LogEntry['level'] = 'error'): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }

  private add(level: LogEntry['level'], message: unknown, params: unknown[]): void {
    const rest = [...params];
    const context = rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : '';
    const show = (v: unknown) =>
      v instanceof Error ? (v.stack ?? v.message) : typeof v === 'string' ? v : JSON.stringify(v);
    this.entries.push({ level, context, text: [message, ...rest].map(show).join('\n') });
  }
}
