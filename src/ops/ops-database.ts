import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_URL } from '../database/prisma.service.js';

/**
 * A small pool of its own for /ready and the metrics' scrape-time queries, so that they answer
 * (and say whether PostgreSQL does) when the request pools are exhausted by load or by queries
 * waiting on locks. Every query gets `timeoutMs` overall, waiting for a connection included.
 */
@Injectable()
export class OpsDatabase implements OnModuleDestroy {
  private readonly pool: pg.Pool;

  constructor(@Inject(DATABASE_URL) url: string) {
    const logger = new Logger('OpsDatabase');
    // Clean-up behind the callers' shorter timeouts: a connection attempt or a query that hangs
    // errs after 2 s, and pg-pool then discards that connection rather than reuse it.
    this.pool = new pg.Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: 2000,
      query_timeout: 2000,
      idleTimeoutMillis: 60_000,
    });
    this.pool.on('error', (error) => logger.warn(`idle database connection lost: ${error.message}`));
  }

  async query<T extends pg.QueryResultRow>(text: string, timeoutMs: number): Promise<T[]> {
    let timer: NodeJS.Timeout | undefined;
    const pending = this.pool.query<T>(text);
    pending.catch(() => undefined); // a failure after the timeout is not unhandled
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([pending, timeout])).rows;
    } finally {
      clearTimeout(timer);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}
