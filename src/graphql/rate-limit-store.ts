import { createRequire } from 'node:module';
import type pg from 'pg';

/**
 * @fastify/rate-limit's store interface (its LocalStore and RedisStore implement it): `incr` counts
 * one request in a bucket's window and answers the count so far and the milliseconds left in the
 * window.
 */
export interface RateLimitStore {
  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
    max: number,
  ): void;
}

const require = createRequire(import.meta.url);
type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore;
type RedisStoreCtor = new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: unknown,
  key?: string,
) => RateLimitStore;

/** This process' memory (an LRU of `buckets` entries): limits are per process. */
export function memoryStore(buckets = 10_000): RateLimitStore {
  const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor;
  return new LocalStore(false, false, buckets);
}

/** Redis through @fastify/rate-limit's RedisStore (a Lua INCR + PEXPIRE per request); `client` is an ioredis client. */
export function redisStore(client: unknown): RateLimitStore {
  const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor;
  return new RedisStore(false, false, client, 'recoder-rate-limit:');
}

const INCR = `
  INSERT INTO rate_limit_buckets AS b (key, count, reset_at)
  VALUES ($1, 1, now() + make_interval(secs => $2::float8 / 1000))
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN b.reset_at <= now() THEN 1 ELSE least(b.count, 2147483646) + 1 END,
    reset_at = CASE WHEN b.reset_at <= now() THEN EXCLUDED.reset_at ELSE b.reset_at END
  RETURNING count, least($2::float8, greatest(0, ceil(extract(epoch FROM b.reset_at - now()) * 1000)))::float8 AS ttl`;

/**
 * The counters in PostgreSQL (table rate_limit_buckets, UNLOGGED), so that every API process of a
 * deployment shares them: one upsert per counted request, atomic under concurrency (ON CONFLICT
 * takes the row lock), windows timed by the database's clock (the ttl is clamped to the window: a
 * statement that waited for the row lock has an older now()). `sweep` deletes expired rows.
 */
export class PgRateLimitStore implements RateLimitStore {
  /** Queries sent so far (the sweep not included). */
  queries = 0;

  constructor(private readonly pool: Pick<pg.Pool, 'query'>) {}

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
  ): void {
    this.queries++;
    this.pool.query<{ count: number; ttl: number }>(INCR, [key, timeWindow]).then(
      ({ rows }) => callback(null, { current: rows[0].count, ttl: rows[0].ttl }),
      (error: Error) => callback(error),
    );
  }

  /** Deletes the rows whose window ended; returns how many. */
  async sweep(): Promise<number> {
    const res = await this.pool.query(`DELETE FROM rate_limit_buckets WHERE reset_at < now() - interval '1 minute'`);
    return res.rowCount ?? 0;
  }
}

/** Promise form of a store call. */
export function storeCall(
  store: RateLimitStore,
  key: string,
  windowMs: number,
  max: number,
): Promise<{ current: number; ttl: number }> {
  return new Promise((resolve, reject) =>
    store.incr(
      key,
      (error, result) =>
        error || !result ? reject(error ?? new Error('rate-limit store answered nothing')) : resolve(result),
      windowMs,
      max,
    ),
  );
}
