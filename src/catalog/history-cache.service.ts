import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgListener } from '../database/pg-listener.js';
import { PgPool, READ_POOL } from '../database/pg-pool.js';
import { compactHistories, type CompactHistory, type HistoryView } from './histories.queries.js';

/** The channel the interactions and users triggers announce changed histories on (migration 20261207050000_notify_history_changes). */
export const HISTORIES_CHANGED_CHANNEL = 'recoder_histories_changed';
/** Invalidated users tracked while reads are in flight; beyond it, every read in flight keeps nothing. */
const MAX_TRACKED = 100_000;

/**
 * Users' compact histories (item ids and matrix values, oldest first) by external id, cached per
 * process for the recommendation hot path, so that a batch of requests for known users reads
 * nothing from PostgreSQL. Bounded by the number of interactions held (RECODER_HISTORY_CACHE;
 * least recently used users go first; 0 turns the cache off).
 *
 * Every committed change to a user's interactions or a deleted user is announced by
 * statement-level triggers (any writer: the API, the importer, psql), and this process's own
 * writes invalidate directly, so its next request never sees a stale history; other processes see
 * the change within the notification's delivery time (milliseconds). A read that overlaps an
 * invalidation of its user is answered but not kept, so a stale history is never re-inserted; after the notification connection was lost, everything is dropped.
 */
@Injectable()
export class HistoryCache implements OnModuleInit {
  private readonly logger = new Logger('HistoryCache');
  /** One map per history view (what a history's values mean to a model), in least-recently-used order. */
  private readonly views = new Map<string, Map<string, CompactHistory>>();
  /** External id of every cached user's internal id (for invalidations, which name internal ids). */
  private readonly externalOf = new Map<number, string>();
  private held = 0;
  /** Counts invalidations; a read remembers it at its start. */
  private generation = 0;
  /** Reads that started before this generation keep nothing (a '*' invalidation, or too many to track). */
  private staleBefore = 0;
  /** The generation each user was last invalidated at, while reads are in flight (cleared when none is). */
  private readonly invalidatedAt = new Map<number, number>();
  private readsInFlight = 0;
  private readonly maxHeld: number;
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(
    @Inject(READ_POOL) private readonly reads: PgPool,
    private readonly listener: PgListener,
    @Inject(ENV) env: Env,
  ) {
    this.maxHeld = env.historyCacheInteractions;
  }

  async onModuleInit(): Promise<void> {
    if (this.maxHeld === 0) return;
    await this.listener.subscribe(HISTORIES_CHANGED_CHANNEL, {
      onNotify: (payload) => this.invalidate(payload === '*' ? '*' : payload.split(',').map(Number)),
      onReconnect: () => this.invalidate('*'),
    });
  }

  /** Interactions currently held. */
  get size(): number {
    return this.held;
  }

  /** Drops the histories of the given internal user ids (or every history). */
  invalidate(userIds: readonly number[] | '*'): void {
    const generation = ++this.generation;
    this.stats.invalidations++;
    if (userIds === '*' || this.invalidatedAt.size + userIds.length > MAX_TRACKED) {
      this.staleBefore = generation;
      this.invalidatedAt.clear();
    } else if (this.readsInFlight > 0) {
      for (const id of userIds) this.invalidatedAt.set(id, generation);
    }
    if (userIds === '*') {
      this.views.clear();
      this.externalOf.clear();
      this.held = 0;
      return;
    }
    for (const id of userIds) {
      const external = this.externalOf.get(id);
      if (external === undefined) continue;
      for (const view of this.views.values()) this.drop(view, external);
      this.externalOf.delete(id);
    }
  }

  /**
   * The compact histories of the users among `externalIds` that exist (unknown ones are absent),
   * in `view`: from memory, and the rest in one statement (then kept).
   */
  async read(externalIds: readonly string[], view: HistoryView): Promise<Map<string, CompactHistory>> {
    if (this.maxHeld === 0) return compactHistories(this.reads, externalIds, view);
    const key = `${view.ratings ? 'ratings' : 'positives'}:${view.minRating}`;
    let cached = this.views.get(key);
    if (!cached) this.views.set(key, (cached = new Map()));
    const out = new Map<string, CompactHistory>();
    const missing: string[] = [];
    for (const id of externalIds) {
      const h = cached.get(id);
      if (h === undefined) {
        missing.push(id);
        continue;
      }
      // Most recently used last: the map's order is the eviction order.
      cached.delete(id);
      cached.set(id, h);
      out.set(id, h);
    }
    this.stats.hits += out.size;
    if (missing.length === 0) return out;
    this.stats.misses += missing.length;
    const start = this.generation;
    this.readsInFlight++;
    try {
      const read = await compactHistories(this.reads, missing, view);
      // A history whose user changed while the statement ran may predate the change: answered, not kept.
      const fresh = start >= this.staleBefore && this.views.get(key) === cached;
      for (const [id, h] of read) {
        out.set(id, h);
        const changed = (this.invalidatedAt.get(h.userId) ?? -1) > start;
        if (fresh && !changed && h.items.length <= this.maxHeld) this.keep(cached, id, h);
      }
      return out;
    } finally {
      if (--this.readsInFlight === 0) this.invalidatedAt.clear();
    }
  }

  private keep(view: Map<string, CompactHistory>, externalId: string, h: CompactHistory): void {
    this.drop(view, externalId);
    view.set(externalId, h);
    this.externalOf.set(h.userId, externalId);
    this.held += h.items.length;
    while (this.held > this.maxHeld) {
      // Least recently used first: this view's, then the others' (one view is the usual case).
      const victim = view.size > 0 ? view : [...this.views.values()].find((v) => v.size > 0);
      if (!victim) break;
      this.drop(victim, victim.keys().next().value!);
    }
  }

  private drop(view: Map<string, CompactHistory>, externalId: string): void {
    const h = view.get(externalId);
    if (!h) return;
    view.delete(externalId);
    this.held -= h.items.length;
    for (const other of this.views.values()) if (other.has(externalId)) return;
    this.externalOf.delete(h.userId);
  }
}
