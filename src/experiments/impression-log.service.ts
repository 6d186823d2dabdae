import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgPool } from '../database/pg-pool.js';
import { MetricsService } from '../ops/metrics.service.js';
import { ServingHooks, type ServedAnswer } from '../serving/serving-hooks.js';
import { ImpressionBuffer } from './impression-buffer.js';
import { deleteImpressionsOlderThan, insertImpressions } from './impressions.queries.js';

/** Rows per INSERT of the impression writer. */
const WRITE_BATCH = 1000;
/** How often each process deletes impressions past the retention period (and once shortly after boot). */
const RETENTION_EVERY_MS = 60 * 60 * 1000;
const RETENTION_FIRST_MS = 30_000;
/** Longest wait for the last impressions at shutdown. */
const DRAIN_MS = 5000;
/** A failing writer logs at most this often. */
const WARN_EVERY_MS = 60_000;

/**
 * The impression log: every recommendation answer (sampled by RECODER_IMPRESSION_SAMPLE_RATE)
 * goes into a bounded in-memory buffer (ServingHooks.served; the request never waits for the
 * database) that one writer drains with multi-row INSERTs. A full buffer or a failed write drops
 * impressions and counts them (/metrics: recoder_impressions_dropped_total); interactions never
 * go through here. Impressions older than RECODER_IMPRESSION_RETENTION_DAYS are deleted hourly.
 */
@Injectable()
export class ImpressionLog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Impressions');
  readonly buffer: ImpressionBuffer;
  private retentionTimer: NodeJS.Timeout | null = null;
  private lastWarn = -Infinity;

  constructor(
    private readonly pool: PgPool,
    private readonly hooks: ServingHooks,
    @Inject(ENV) private readonly env: Env,
    @Optional() metrics?: MetricsService,
  ) {
    const o = env.impressions;
    this.buffer = new ImpressionBuffer({
      capacity: o.bufferSize,
      batchSize: Math.min(WRITE_BATCH, o.bufferSize),
      flushMs: o.flushMs,
      sampleRate: o.sampleRate,
      write: (rows) => insertImpressions(this.pool, rows),
      onWriteError: (error, n) => {
        if (performance.now() - this.lastWarn < WARN_EVERY_MS) return;
        this.lastWarn = performance.now();
        this.logger.warn(
          `${n} impressions could not be written and were dropped (counted in recoder_impressions_dropped_total): ${(error as Error).message}`,
        );
      },
    });
    if (metrics) this.registerMetrics(metrics);
  }

  onModuleInit(): void {
    this.hooks.served = (answer) => this.record(answer);
    if (this.env.impressions.retentionDays > 0) {
      const run = (delay: number) => {
        this.retentionTimer = setTimeout(() => {
          void this.deleteExpired().finally(() => run(RETENTION_EVERY_MS));
        }, delay);
        this.retentionTimer.unref();
      };
      run(RETENTION_FIRST_MS);
    }
  }

  record(answer: ServedAnswer): void {
    this.buffer.add({
      id: answer.recommendationId,
      subject: answer.subject.id,
      anonymous: answer.subject.anonymous,
      versionId: answer.route.version?.id ?? null,
      slot: 'default',
      experimentId: answer.route.experimentId,
      arm: answer.route.arm,
      itemIds: answer.itemIds,
      fallback: answer.fallback,
      createdAt: new Date(),
    });
  }

  /** Deletes impressions older than the retention period; returns how many (0 when retention is off). */
  async deleteExpired(): Promise<number> {
    const days = this.env.impressions.retentionDays;
    if (days <= 0) return 0;
    try {
      const n = await deleteImpressionsOlderThan(this.pool, days);
      if (n > 0) this.logger.log(`deleted ${n} impressions older than ${days} days`);
      return n;
    } catch (error) {
      this.logger.warn(`impression retention: ${(error as Error).message}`);
      return 0;
    }
  }

  /** Runs before the pools close: the buffered impressions are written (waiting at most DRAIN_MS: a database that is down must not stall shutdown). */
  async onModuleDestroy(): Promise<void> {
    if (this.retentionTimer) clearTimeout(this.retentionTimer);
    this.hooks.served = null;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), DRAIN_MS)));
    const outcome = await Promise.race([this.buffer.drain().then(() => 'drained' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout')
      this.logger.warn(
        `shutdown: ${this.buffer.buffered} impressions not written within ${DRAIN_MS / 1000} s; dropped`,
      );
  }

  private registerMetrics(metrics: MetricsService): void {
    const registers = [metrics.registry];
    const counts = this.buffer.counts;
    new Counter({
      name: 'recoder_impressions_written_total',
      help: 'Impressions written to the impressions table',
      registers,
      collect() {
        this.reset();
        this.inc(counts.written);
      },
    });
    new Counter({
      name: 'recoder_impressions_dropped_total',
      help: 'Impressions lost: the buffer was full (reason buffer_full; RECODER_IMPRESSION_BUFFER) or their write failed (write_failed)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        this.inc({ reason: 'buffer_full' }, counts.droppedFull);
        this.inc({ reason: 'write_failed' }, counts.droppedWriteFailed);
      },
    });
    new Counter({
      name: 'recoder_impressions_sampled_out_total',
      help: 'Recommendation answers not recorded because of RECODER_IMPRESSION_SAMPLE_RATE',
      registers,
      collect() {
        this.reset();
        this.inc(counts.sampledOut);
      },
    });
    const buffer = this.buffer;
    new Gauge({
      name: 'recoder_impressions_buffered',
      help: 'Impressions waiting to be written',
      registers,
      collect() {
        this.set(buffer.buffered);
      },
    });
  }
}
