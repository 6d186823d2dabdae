import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Redis } from 'ioredis';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgPool } from '../database/pg-pool.js';
import { memoryStore, PgRateLimitStore, redisStore, storeCall, type RateLimitStore } from './rate-limit-store.js';

/** Where a bucket stands after a request: what the RateLimit-* headers say. */
export interface LimitVerdict {
  limit: number;
  remaining: number;
  /** Seconds until the bucket's window ends. */
  resetSeconds: number;
  /** Over the budget: refuse the request. */
  exceeded: boolean;
}

const WINDOW_MS = 60_000;
const MAX_BLOCKED = 10_000;
const SWEEP_EVERY_MS = 60_000;

/**
 * `max` requests per minute per bucket, counted in a store every API process shares. A bucket found
 * spent is remembered by this process until its window ends, so that a client hammering a spent
 * budget costs no store round trip (and no database query) per request.
 */
export class Budget {
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly store: RateLimitStore,
    readonly max: number,
    private readonly onStoreError: (error: Error) => void,
  ) {}

  /** Counts one request in `name` (a bucket name over 100 characters, e.g. a forwarded address, is hashed). */
  async consume(name: string): Promise<LimitVerdict> {
    const bucket = name.length <= 100 ? name : `sha256:${createHash('sha256').update(name).digest('hex')}`;
    const now = Date.now();
    const until = this.blocked.get(bucket);
    if (until !== undefined) {
      if (until > now)
        return { limit: this.max, remaining: 0, resetSeconds: Math.ceil((until - now) / 1000), exceeded: true };
      this.blocked.delete(bucket);
    }
    let state: { current: number; ttl: number };
    try {
      state = await storeCall(this.store, bucket, WINDOW_MS, this.max);
    } catch (error) {
      // The store is unreachable (the database restarting): requests pass uncounted rather than fail.
      this.onStoreError(error as Error);
      return { limit: this.max, remaining: this.max, resetSeconds: WINDOW_MS / 1000, exceeded: false };
    }
    const ttl = state.ttl > 0 ? state.ttl : WINDOW_MS;
    if (state.current >= this.max) {
      // Spent in this window: the next request is refused here without asking the store.
      if (this.blocked.size >= MAX_BLOCKED) this.blocked.delete(this.blocked.keys().next().value!);
      this.blocked.set(bucket, now + ttl);
    }
    return {
      limit: this.max,
      remaining: Math.max(0, this.max - state.current),
      resetSeconds: Math.ceil(ttl / 1000),
      exceeded: state.current > this.max,
    };
  }
}

/** RateLimit-Limit / -Remaining / -Reset (IETF draft names, as @fastify/rate-limit's enableDraftSpec), and Retry-After when refused. */
export function setRateLimitHeaders(reply: FastifyReply, v: LimitVerdict): void {
  reply.header('ratelimit-limit', v.limit);
  reply.header('ratelimit-remaining', v.remaining);
  reply.header('ratelimit-reset', v.resetSeconds);
  if (v.exceeded) reply.header('retry-after', v.resetSeconds);
}

/**
 * The two GraphQL budgets (src/graphql/http-gate.ts applies them): requests per API key
 * (RECODER_RATE_LIMIT_PER_MINUTE; per client address when RECODER_AUTH=off) and failed
 * authentications per client address (RECODER_AUTH_FAILURES_PER_MINUTE). Counters live in
 * PostgreSQL by default (shared by every replica), in Redis with REDIS_URL, or in this process'
 * memory (RECODER_RATE_LIMIT_STORE=memory, a single process).
 */
@Injectable()
export class RateLimitService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  readonly store: RateLimitStore;
  readonly perKey: Budget | null;
  readonly authFailures: Budget | null;
  private sweeper: NodeJS.Timeout | undefined;
  private redis: Redis | undefined;
  private lastStoreWarning = 0;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly pool: PgPool,
  ) {
    this.store = this.openStore();
    const onError = (error: Error) => this.storeError(error);
    this.perKey = env.rateLimitPerMinute > 0 ? new Budget(this.store, env.rateLimitPerMinute, onError) : null;
    this.authFailures =
      env.auth === 'required' && env.authFailuresPerMinute > 0
        ? new Budget(this.store, env.authFailuresPerMinute, onError)
        : null;
  }

  async onModuleInit(): Promise<void> {
    // Connected before the server listens; unreachable, it retries in the background meanwhile.
    if (this.redis) await this.redis.connect().catch((error: Error) => this.storeError(error));
    if (!(this.store instanceof PgRateLimitStore) || (!this.perKey && !this.authFailures)) return;
    const store = this.store;
    this.sweeper = setInterval(() => {
      store.sweep().catch((error: Error) => this.storeError(error));
    }, SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }

  private openStore(): RateLimitStore {
    switch (this.env.rateLimitStore) {
      case 'memory':
        return memoryStore();
      case 'redis':
        return redisStore(this.openRedis());
      default:
        return new PgRateLimitStore(this.pool);
    }
  }

  /** An ioredis client that fails a command at once while Redis is unreachable (the request then passes uncounted). */
  private openRedis(): Redis {
    const client = new Redis(this.env.redisUrl!, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2_000,
    });
    client.on('error', (error: Error) => this.storeError(error));
    this.redis = client;
    return client;
  }

  private storeError(error: Error): void {
    const now = Date.now();
    if (now - this.lastStoreWarning < 10_000) return;
    this.lastStoreWarning = now;
    this.logger.warn(
      `rate-limit store (${this.env.rateLimitStore}) unavailable, requests pass uncounted: ${error.message}`,
    );
  }
}
