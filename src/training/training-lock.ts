import type { Logger } from '@nestjs/common';
import pg from 'pg';

/** Session advisory lock held by the worker that is training (released when its connection ends). */
const TRAINING_LOCK = 0x7265636f; // "reco"

/**
 * The training lock: a session advisory lock on a connection of its own, so Postgres releases it
 * when the worker dies. The connection is replaced when it breaks (e.g. Postgres restarted).
 */
export class TrainingLock {
  private lockClient: pg.Client | null = null;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  /** Whether the lock's connection is up (false after it broke: the lock may be lost). */
  get connected(): boolean {
    return this.lockClient !== null;
  }

  /** A connection for the training lock; replaced when it breaks (e.g. Postgres restarted). */
  private async lockConnection(): Promise<pg.Client> {
    if (this.lockClient) return this.lockClient;
    const client = new pg.Client({ connectionString: this.url, application_name: 'recoder-training-lock' });
    client.on('error', (e) => {
      this.logger.warn(`training lock connection lost: ${e.message}`);
      if (this.lockClient === client) this.lockClient = null;
    });
    await client.connect();
    this.lockClient = client;
    return client;
  }

  async tryLock(): Promise<boolean> {
    const client = await this.lockConnection();
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [TRAINING_LOCK]);
    return rows[0].ok;
  }

  async unlock(): Promise<void> {
    await this.lockClient?.query('SELECT pg_advisory_unlock($1)', [TRAINING_LOCK]).catch(() => undefined);
  }

  /** Closes the connection (releasing the lock). */
  async end(): Promise<void> {
    await this.lockClient?.end().catch(() => undefined);
    this.lockClient = null;
  }
}
