import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgListener } from '../database/pg-listener.js';
import { PgPool, READ_POOL } from '../database/pg-pool.js';
import { compactHistories, recentlyActiveUsers, type CompactHistory, type HistoryView } from './histories.queries.js';

/** The channel the interactions and users triggers announce changed histories on (migration 20261207050000_notify_history_changes). */
export const HISTORIES_CHANGED_CHANNEL = 'recoder_histories_changed';
/** Invalidated users tracked while reads are in flight; beyond it, every read in flight keeps nothing. */
const MAX_TRACKED = 100_000;
/** Users per statement of {@link HistoryCache.prefetch}. */
const PREFETCH_CHUNK = 256;

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
  readonly stats = { hits: 0, misses: 0, invalidations: 0, prefetched: 0 };
  /** The views {@link prefetch} has filled (or is filling). */
  private readonly prefetchedViews = new Set<string>();

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
    const key = viewKey(view);
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
    return this.load(missing, view, key, cached, out);
  }

  /**
   * Fills the cache in `view` with the histories of the most recently active users, up to its
   * bound: for a process that starts serving a version, so that its first requests read nothing
   * from PostgreSQL. One statement of PREFETCH_CHUNK users at a time, `pause()` between them (the
   * caller yields to serving there); `stop()` ends it early. Once per view and process; the usual
   * invalidation rules hold throughout. Returns the users read.
   */
  async prefetch(view: HistoryView, pause: () => Promise<void>, stop: () => boolean = () => false): Promise<number> {
    const key = viewKey(view);
    if (this.maxHeld === 0 || this.prefetchedViews.has(key)) return 0;
    this.prefetchedViews.add(key);
    // Least recently active first, so that the most recent end up most recently used (and an
    // overflow evicts the least recent).
    const users = await recentlyActiveUsers(this.reads, this.maxHeld);
    let read = 0;
    // Up to the bound: past it each chunk would evict histories requests have used.
    for (let start = 0; start < users.length && !stop() && this.held < this.maxHeld; start += PREFETCH_CHUNK) {
      let cached = this.views.get(key);
      if (!cached) this.views.set(key, (cached = new Map()));
      const chunk = users.slice(start, start + PREFETCH_CHUNK).filter((id) => !cached.has(id));
      if (chunk.length > 0) await this.load(chunk, view, key, cached, new Map());
      read += chunk.length;
      this.stats.prefetched += chunk.length;
      await pause();
    }
    return read;
  }

  /** Reads `missing` into `out` and keeps what is still fresh in `cached` (view `key`). */
  private async load(
    missing: string[],
    view: HistoryView,
    key: string,
    cached: Map<string, CompactHistory>,
    out: Map<string, CompactHistory>,
  ): Promise<Map<string, CompactHistory>> {
    const start = this.generation;
    this.readsInFlight++;
    try {
      const read = await compactHistories(this.reads, missing, view);
      // A history whose user changed while the statement ran may predate the change: answered, not kept.
      const fresh = start >= this.staleBefore && this.views.get(key) === cached;
      // In the order asked (prefetch asks least recently active first).
      for (const id of missing) {
        const h = read.get(id);
        if (!h) continue;
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

/** The cache's key of a history view. */
function viewKey(view: HistoryView): string {
  return `${view.ratings ? 'ratings' : 'positives'}:${view.minRating}`;
}
