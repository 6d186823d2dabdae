import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/env.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/database/embedded-postgres.js';
import { applyMigrations } from '../src/database/migrations.js';

/**
 * A migrated embedded Postgres of a test's own (data in .data/<name>, a port of its own), which
 * the test may stop and start again — for restart tests that must not touch the machine's server.
 */
export class OwnPostgres {
  private constructor(
    private handle: EmbeddedPostgresHandle,
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  static async start(name: string, port: number): Promise<OwnPostgres> {
    const dataDir = path.join(PROJECT_ROOT, '.data', name);
    await rm(dataDir, { recursive: true, force: true });
    const handle = await startEmbeddedPostgres({ dataDir, port });
    await applyMigrations(handle.url);
    return new OwnPostgres(handle, dataDir, port);
  }

  get url(): string {
    return this.handle.url;
  }

  /** A fast shutdown: the sessions open now end at once, as in a crash or a failover. */
  stop(): Promise<void> {
    return this.handle.stop('fast');
  }

  /** Starts the server again on the same data directory and port (after {@link stop}). */
  async startAgain(): Promise<void> {
    this.handle = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port });
  }

  /** Stops the server and deletes its data. */
  async dispose(): Promise<void> {
    await this.handle.stop('fast');
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
