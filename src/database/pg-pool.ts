import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from './prisma.service.js';

/**
 * A plain `pg` pool for the latency-critical batch paths (recordInteractions). Prisma's raw-query
 * pipeline measured 2–3× slower than `pg` for 1,000-row array parameters and RETURNING sets
 * (scripts/bench-record.ts); everything else goes through Prisma.
 */
@Injectable()
export class PgPool extends pg.Pool implements OnModuleDestroy {
  constructor(@Inject(DATABASE_URL) url: string) {
    super({ connectionString: url, max: 10 });
    // An idle connection that breaks (Postgres restarted, network cut) is dropped by the pool and
    // replaced on the next checkout; without a listener the 'error' event would end the process.
    const logger = new Logger(PgPool.name);
    this.on('error', (error) => logger.warn(`idle database connection lost: ${error.message}`));
    // A checked-out client (a transaction, a COPY) whose connection breaks emits 'error' on itself,
    // where the pool listens no more: without a listener of its own that ended the process too. Its
    // query rejects anyway, and the pool drops the broken client at release.
    this.on('connect', (client) => client.on('error', () => undefined));
  }

  /** Runs `fn` in a transaction on one connection: COMMIT on success, ROLLBACK on any error. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.ended) await this.end(); // the read pool may be this same pool, destroyed twice
  }
}

/**
 * Token of the pool for the hot read paths (histories of recommendation batches, the population
 * read at activation, popularity): a pool on DATABASE_READ_URL (a streaming replica) when it is
 * set, else the primary {@link PgPool}. Reads there may lag the primary by the replica's delay;
 * catalog rows (ItemCache, invalidated by NOTIFY from the primary) and writes stay on the primary.
 */
export const READ_POOL = Symbol('READ_POOL');
