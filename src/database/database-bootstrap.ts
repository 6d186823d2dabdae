import type { Env } from '../config/env.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { applyMigrations } from './migrations.js';

export interface OpenDatabaseOptions {
  /** An existing PostgreSQL database; when unset, the embedded server is started. */
  databaseUrl?: string;
  embeddedDataDir: string;
  embeddedPort: number;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  log?: (msg: string) => void;
}

export interface OpenedDatabase {
  url: string;
  /** True when the URL points at the embedded server (started here or reused). */
  embedded: boolean;
  /** Stops the embedded server if this call started it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Resolves the database the app and scripts use: `databaseUrl` when given, else the embedded
 * PostgreSQL (started, or reused when another process of ours runs it). Then applies pending
 * migrations unless `migrate` is false. On a migration failure the embedded server it started is
 * stopped again before the error propagates.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const log = opts.log ?? (() => {});
  let url = opts.databaseUrl;
  let close = async (): Promise<void> => {};
  if (!url) {
    const server = await startEmbeddedPostgres({ dataDir: opts.embeddedDataDir, port: opts.embeddedPort, log });
    url = server.url;
    close = () => server.stop();
  }
  if (opts.migrate ?? true) {
    try {
      await applyMigrations(url, { log });
    } catch (error) {
      await close();
      throw error;
    }
  }
  return { url, embedded: !opts.databaseUrl, close };
}

/** {@link openDatabase} with the server and embedded settings of the environment. */
export function openDatabaseFromEnv(
  env: Pick<Env, 'databaseUrl' | 'embeddedPgDir' | 'embeddedPgPort'>,
  opts: Pick<OpenDatabaseOptions, 'migrate' | 'log'> = {},
): Promise<OpenedDatabase> {
  return openDatabase({
    databaseUrl: env.databaseUrl,
    embeddedDataDir: env.embeddedPgDir,
    embeddedPort: env.embeddedPgPort,
    ...opts,
  });
}
