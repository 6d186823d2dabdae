import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { toItem, toUser } from '../catalog/catalog.mappers.js';
import { HistoryCache } from '../catalog/history-cache.service.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import type { Item } from '../catalog/dto/item.type.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DomainError, ErrorCode, notFound } from '../common/domain-error.js';
import { checkCategories, checkId, checkLimit } from '../common/validation.js';
import { csrFromTriples, type CsrMatrix } from '../core/data/csr.js';
import { excludeAny } from '../core/index/top-k.js';
import type { Ranker } from '../core/serving/served-model.js';
import {
  DeadlineExceededError,
  MicroBatcher,
  QueueFullError,
  type BatchOutcome,
} from '../core/serving/micro-batcher.js';
import { PgPool, READ_POOL } from '../database/pg-pool.js';
import { ActiveModelService } from './active-model.service.js';
import { VisualModelService } from './visual-model.service.js';
import {
  AnomalyScore,
  Embedding,
  LatentSource,
  Reconstruction,
  RecommendationSource,
  ReconstructedImage,
  ScoreUnit,
  SimilarityKind,
  type Recommendation,
  type RecommendationFilter,
  type Recommendations,
  type SimilarItem,
  type SimilarUser,
  type SyntheticUser,
  type UserAnomaly,
} from './dto/serving.types.js';
import { DEFAULT_MIN_RATING, type LoadedVersion } from './loaded-version.js';
import { popularItemIds } from './popularity.queries.js';
import { ServingStages } from './serving-stages.js';
import { ServingHooks, type ServingRoute, type ServingSubject } from './serving-hooks.js';
import { ModelPool } from './model-pool.js';
import { usersById, userWithHistory, visibleItemIdsInCategories } from './serving.queries.js';

/** Most ids accepted in `excludeItemIds`, `itemIds` of an anonymous history or of a reconstruction. */
export const MAX_ID_LIST = 1000;
/** Most items per synthetic user in `sampleSyntheticUsers`. */
export const MAX_SYNTHETIC_ITEMS = 1000;
/** Popularity ranking is recomputed at most this often (it aggregates every interaction). */
const POPULARITY_TTL_MS = 60_000;
const POPULARITY_DEPTH = 1000;
/** `reason` of the popularity answer to `recommendations` for a user id the service does not know. */
export const UNKNOWN_USER_REASON = 'the user is unknown: no interaction recorded yet';

interface Ranked {
  itemId: number;
  score: number;
}

/** What a recommendation request needs from the model: a user's current history, or a list of items (internal ids). */
type RankRequest = ({ kind: 'user'; externalId: string } | { kind: 'items'; itemIds: number[] }) & {
  subject: ServingSubject;
};

/** A batch's answer to one {@link RankRequest}. */
interface RankTicket {
  /** The version the request was ranked with (null: none active): the active one, or its experiment arm's. */
  version: LoadedVersion | null;
  route: ServingRoute;
  /** 'user' requests: the user's internal id and every item of the history; null for an unknown user. */
  user: { userId: number; seen: Int32Array } | null;
  /** The history's ranking; null when the history has nothing the version knows (or no version). */
  ranker: Ranker | null;
}

/** Maps the micro-batcher's admission errors to SERVICE_UNAVAILABLE (HTTP 503 with Retry-After). */
export function admissionError(error: unknown): unknown {
  if (error instanceof QueueFullError || error instanceof DeadlineExceededError) {
    return new DomainError(ErrorCode.SERVICE_UNAVAILABLE, error.message, undefined, {
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
  return error;
}

/**
 * Request-time serving: reads the user's history as it is now, folds it into the active model,
 * searches its indexes and returns visible catalog items.
 *
 * Recommendations are micro-batched (src/core/serving/micro-batcher.ts): requests that arrive
 * together share one history read (arrays per user), one forward pass and one scoring step, with
 * the version that was active when their batch started (a swap never splits a batch), and each
 * gets exactly the ranking it would get alone. The queue in front of the model is bounded.
 */
@Injectable()
export class ServingService {
  private readonly logger = new Logger('Serving');
  private popularity: { at: number; ranked: Ranked[] } | null = null;
  private popularityRefresh: Promise<Ranked[]> | null = null;
  /** Recommendation requests → batched history reads and forward passes. */
  readonly batcher: MicroBatcher<RankRequest, RankTicket>;
  /** Other model work (reconstructions, embeddings, similar users, synthetic users): one call at a time, same queue bound and deadline. */
  readonly work: MicroBatcher<() => unknown, unknown>;

  constructor(
    private readonly pool: PgPool,
    private readonly items: ItemCache,
    private readonly models: ActiveModelService,
    private readonly visual: VisualModelService,
    private readonly stages: ServingStages,
    private readonly threads: ModelPool,
    @Inject(ENV) private readonly env: Env,
    private readonly hooks: ServingHooks,
    /** DATABASE_READ_URL's pool (or the primary): popularity. */
    @Inject(READ_POOL) private readonly reads: PgPool,
    /** Histories of recommendation batches (read through DATABASE_READ_URL's pool, cached). */
    private readonly histories: HistoryCache,
  ) {
    const w = env.modelWork;
    this.batcher = new MicroBatcher<RankRequest, RankTicket>(
      {
        maxBatch: w.maxBatch,
        windowMs: w.windowMs,
        maxInFlight: w.inFlight,
        maxQueue: w.maxQueue,
        deadlineMs: w.deadlineMs,
      },
      (batch) => this.rankBatch(batch),
    );
    this.work = new MicroBatcher<() => unknown, unknown>(
      { maxBatch: 1, windowMs: 0, maxInFlight: 1, maxQueue: w.maxQueue, deadlineMs: w.deadlineMs },
      async (calls) =>
        calls.map((call) => {
          try {
            return { ok: true, value: call() };
          } catch (error) {
            return { ok: false, error };
          }
        }),
    );
  }

  /** Runs a synchronous model call through the work queue (bounded, with a deadline; SERVICE_UNAVAILABLE beyond). */
  private async modelWork<T>(call: () => T): Promise<T> {
    try {
      const { value, info } = await this.work.submit(call);
      this.stages.observe('queue', info.queuedMs);
      return value as T;
    } catch (error) {
      throw admissionError(error);
    }
  }

  async recommendations(
    userId: string,
    limit: number,
    filter: RecommendationFilter | null | undefined,
  ): Promise<Recommendations> {
    checkId('userId', userId);
    this.checkLimit(limit);
    const f = await this.checkFilter(filter);
    const subject = { id: userId, anonymous: false };
    const { version, user, ranker, route } = await this.submitRank({ kind: 'user', externalId: userId, subject });
    // A user the service has never seen (no interaction, no upsertUsers yet) is a cold start, not
    // an error: popular items, and nothing is written (recordInteractions creates the user later).
    let answer: Omit<Recommendations, 'recommendationId'>;
    if (!user) answer = await this.popular(limit, f, new Set(), UNKNOWN_USER_REASON);
    else if (!version) answer = await this.popular(limit, f, new Set(user.seen), 'no model version is active');
    else if (!ranker)
      answer = await this.popular(limit, f, new Set(user.seen), 'the user has no history the model knows');
    else answer = await this.rank(version, ranker, new Set(user.seen), limit, f);
    return this.served(answer, subject, route);
  }

  async recommendationsForHistory(
    itemIds: string[],
    limit: number,
    filter: RecommendationFilter | null | undefined,
    sessionId?: string | null,
  ): Promise<Recommendations> {
    this.checkLimit(limit);
    const subject = { id: sessionId == null ? null : checkId('sessionId', sessionId), anonymous: true };
    const f = await this.checkFilter(filter);
    const ids = await this.resolveItems('itemIds', itemIds);
    const seen = new Set(ids);
    const { version, ranker, route } = await this.submitRank({ kind: 'items', itemIds: ids, subject });
    let answer: Omit<Recommendations, 'recommendationId'>;
    if (!version) answer = await this.popular(limit, f, seen, 'no model version is active');
    else if (!ranker) answer = await this.popular(limit, f, seen, 'none of the items is known to the model');
    else answer = await this.rank(version, ranker, seen, limit, f);
    return this.served(answer, subject, route);
  }

  /** Gives the answer its recommendationId and hands it to the impression log (ServingHooks.served). */
  private served(
    answer: Omit<Recommendations, 'recommendationId'>,
    subject: ServingSubject,
    route: ServingRoute,
  ): Recommendations {
    const out: Recommendations = { ...answer, recommendationId: randomUUID() };
    if (this.hooks.served) {
      const itemIds = out.items.flatMap((r) => (r.item.internalId === undefined ? [] : [r.item.internalId]));
      this.hooks.served({
        recommendationId: out.recommendationId,
        subject,
        route,
        itemIds,
        fallback: out.source === RecommendationSource.POPULARITY,
      });
    }
    return out;
  }

  private async submitRank(request: RankRequest): Promise<RankTicket> {
    try {
      const { value, info } = await this.batcher.submit(request);
      this.stages.observe('queue', info.queuedMs);
      return value;
    } catch (error) {
      throw admissionError(error);
    }
  }

  /**
   * One batch of recommendation requests, grouped by the version that serves each (the active one,
   * or an experiment arm's: ServingHooks.route); per version, the users' histories in one statement
   * (an array of items per user), then one forward pass over every history the version knows. The
   * histories are built exactly as LoadedVersion.historyRow / positivesRow build them one by one.
   */
  private async rankBatch(batch: RankRequest[]): Promise<BatchOutcome<RankTicket>[]> {
    // Each request's version: the active one, or the arm of a running experiment (ServingHooks).
    const active = this.models.version;
    const routes = batch.map(
      (r): ServingRoute => this.hooks.route?.(r.subject) ?? { version: active, experimentId: null, arm: null },
    );
    const groups = new Map<LoadedVersion | null, number[]>();
    routes.forEach((route, k) => {
      const list = groups.get(route.version);
      if (list) list.push(k);
      else groups.set(route.version, [k]);
    });
    const tickets = new Array<RankTicket>(batch.length);
    for (const [version, members] of groups) {
      const part = await this.rankGroup(
        version,
        members.map((k) => batch[k]),
      );
      members.forEach((k, j) => (tickets[k] = { ...part[j], route: routes[k] }));
    }
    return tickets.map((value) => ({ ok: true, value }));
  }

  /** The requests of a batch that one version ranks. */
  private async rankGroup(version: LoadedVersion | null, batch: RankRequest[]): Promise<Omit<RankTicket, 'route'>[]> {
    const ratings = version?.served.kind === 'autorec';
    const userIds = [...new Set(batch.flatMap((r) => (r.kind === 'user' ? [r.externalId] : [])))];
    const t0 = performance.now();
    const histories = await this.histories.read(userIds, {
      ratings,
      minRating: version?.minRating ?? DEFAULT_MIN_RATING,
    });
    const t1 = performance.now();
    const tickets: Omit<RankTicket, 'route'>[] = batch.map((r) => {
      if (r.kind === 'items') return { version, user: null, ranker: null };
      const h = histories.get(r.externalId);
      return { version, user: h ? { userId: h.userId, seen: h.items } : null, ranker: null };
    });
    if (version) {
      const rows: number[] = [];
      const cols: number[] = [];
      const vals: number[] = [];
      const rowOf = new Int32Array(batch.length).fill(-1);
      let n = 0;
      batch.forEach((r, k) => {
        const start = cols.length;
        if (r.kind === 'user') {
          const h = histories.get(r.externalId);
          if (!h) return;
          for (let j = 0; j < h.items.length; j++) {
            const v = h.values[j];
            const c = v !== v ? -1 : version.columnOf(h.items[j]); // NaN: does not count
            if (c < 0) continue;
            rows.push(n);
            cols.push(c);
            vals.push(v);
          }
        } else {
          for (const id of r.itemIds) {
            const c = version.columnOf(id);
            if (c < 0) continue;
            rows.push(n);
            cols.push(c);
            vals.push(ratings ? 5 : 1);
          }
        }
        if (cols.length > start) rowOf[k] = n++;
      });
      if (n > 0) {
        const histories = csrFromTriples(n, version.served.numItems, rows, cols, vals);
        let rankers: Ranker[] | null = null;
        if (this.threads.serves(version.id)) {
          try {
            rankers = version.served.rankersFrom(
              await this.threads.score(version.id, histories, version.served.exactScoring),
              n,
            );
          } catch (error) {
            if (error instanceof DeadlineExceededError) throw error;
            this.logger.warn(`model threads: ${(error as Error).message}; this batch runs on the event loop`);
          }
        }
        rankers ??= version.served.rankers(histories);
        tickets.forEach((t, k) => (t.ranker = rowOf[k] >= 0 ? rankers[rowOf[k]] : null));
      }
    }
    const t2 = performance.now();
    for (const r of batch) {
      if (r.kind === 'user') this.stages.observe('sql', t1 - t0);
      this.stages.observe('encode', t2 - t1);
    }
    return tickets;
  }

  async similarItems(
    itemId: string,
    limit: number,
    by: SimilarityKind = SimilarityKind.COLLABORATIVE,
  ): Promise<SimilarItem[]> {
    checkId('itemId', itemId);
    this.checkLimit(limit);
    const item = (await this.items.byExternalIds([itemId])).get(itemId);
    if (!item) throw notFound('Item', itemId, 'itemId');
    if (by === SimilarityKind.VISUAL) return this.visuallySimilar(item.id, itemId, limit);
    const version = this.models.require();
    const col = this.columnOrThrow(version, item.id, itemId, 'itemId');
    const ranked = await this.visibleTopK(limit, (k) => version.similarItems(col, k), version);
    return ranked.map(({ item, score }) => ({ item, score }));
  }

  /** Visual neighbours, skipping hidden and deleted items (over-fetching until `limit` remain). */
  private async visuallySimilar(internalId: number, itemId: string, limit: number): Promise<SimilarItem[]> {
    for (let k = limit + 5; ; k *= 2) {
      const found = this.visual.similar(internalId, itemId, k, new Set());
      const rows = new Map((await this.items.visible(found.map((f) => f.itemId))).map((r) => [r.id, r]));
      const visible = found.filter((f) => rows.has(f.itemId));
      if (visible.length >= limit || found.length < k)
        return visible.slice(0, limit).map((f) => ({ item: toItem(rows.get(f.itemId)!), score: f.score }));
    }
  }

  /** The active image autoencoder's reconstruction of an item's image. */
  async reconstructImage(itemId: string): Promise<ReconstructedImage> {
    checkId('itemId', itemId);
    const item = (await this.items.byExternalIds([itemId])).get(itemId);
    if (!item) throw notFound('Item', itemId, 'itemId');
    const r = await this.visual.reconstruct(item.id, itemId);
    return { modelVersionId: r.versionId, png: r.png, error: r.error, percentile: r.percentile };
  }

  async similarUsers(userId: string, limit: number): Promise<SimilarUser[]> {
    checkId('userId', userId);
    this.checkLimit(limit);
    const user = await userWithHistory(this.pool, userId);
    if (!user) throw notFound('User', userId, 'userId');
    const version = this.models.require();
    this.requireEmbeddings(version, 'similarUsers');
    const history = version.historyRow(user.history);
    if (history.indptr[1] === 0) return [];
    await version.served.populationReady();
    const self = version.rowOf(user.userId);
    // Over-fetch a little: users deleted since activation are dropped.
    const neighbors = await this.modelWork(() => version.served.similarUsers(history, limit + 10, self));
    const rows = await usersById(
      this.pool,
      neighbors.map((n) => version.userOfRow[n.index]),
    );
    const score = new Map(neighbors.map((n) => [version.userOfRow[n.index], n.score]));
    return rows.slice(0, limit).map((r) => ({ user: toUser(r), score: score.get(r.id)! }));
  }

  async reconstruction(userId: string, itemIds: string[] | null | undefined): Promise<Reconstruction> {
    checkId('userId', userId);
    const user = await userWithHistory(this.pool, userId);
    if (!user) throw notFound('User', userId, 'userId');
    let requested: number[] | null = null;
    if (itemIds != null) {
      if (itemIds.length > this.env.maxPageSize)
        throw new DomainError(ErrorCode.BAD_USER_INPUT, `itemIds: at most ${this.env.maxPageSize} items`, 'itemIds');
      requested = await this.resolveItems('itemIds', itemIds);
    }
    const version = this.models.require();
    const history = version.historyRow(user.history);
    const observed = new Set(Array.from(history.indices.subarray(0, history.indptr[1])));
    let cols: number[];
    if (requested) {
      cols = requested.map((id, k) => this.columnOrThrow(version, id, itemIds![k], `itemIds[${k}]`));
    } else {
      // The history's items the model knows, newest first, capped at the page size.
      const newestFirst = [...new Set(user.history.map((h) => h.itemId).reverse())];
      cols = newestFirst
        .map((id) => version.columnOf(id))
        .filter((c) => c >= 0 && observed.has(c))
        .slice(0, this.env.maxPageSize);
    }
    return this.reconstructionOf(version, history, cols, observed);
  }

  /**
   * The model's reconstruction of an anonymous history (a list of items, read as bare positives
   * like recommendationsForHistory reads it): a value per item of `valuesFor`, else per history
   * item the model knows (in the order given), with the history's error and its percentile.
   */
  async reconstructionForHistory(itemIds: string[], valuesFor: string[] | null | undefined): Promise<Reconstruction> {
    const ids = await this.resolveItems('itemIds', itemIds);
    let requested: number[] | null = null;
    if (valuesFor != null) {
      if (valuesFor.length > this.env.maxPageSize)
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `valuesFor: at most ${this.env.maxPageSize} items`,
          'valuesFor',
        );
      requested = await this.resolveItems('valuesFor', valuesFor);
    }
    const version = this.models.require();
    const history = version.positivesRow(ids);
    const observed = new Set(Array.from(history.indices.subarray(0, history.indptr[1])));
    const cols = requested
      ? requested.map((id, k) => this.columnOrThrow(version, id, valuesFor![k], `valuesFor[${k}]`))
      : [...new Set(ids.map((id) => version.columnOf(id)).filter((c) => c >= 0))]; // at most MAX_ID_LIST, counted by the query cost
    return this.reconstructionOf(version, history, cols, observed);
  }

  private async reconstructionOf(
    version: LoadedVersion,
    history: CsrMatrix,
    cols: number[],
    observed: Set<number>,
  ): Promise<Reconstruction> {
    await version.served.populationReady();
    const { values, error } = await this.modelWork(() => version.served.reconstructWithError(history));
    const byId = await this.items.byInternalIds(cols.map((c) => version.itemOfColumn[c]));
    const items = cols
      .filter((c) => byId.has(version.itemOfColumn[c]))
      .map((c) => ({ item: toItem(byId.get(version.itemOfColumn[c])!), value: values[c], observed: observed.has(c) }));
    return {
      modelVersionId: version.id,
      unit: { probability: ScoreUnit.PROBABILITY, rating: ScoreUnit.RATING, score: ScoreUnit.SCORE }[
        version.served.scoreUnit
      ],
      error: Number.isNaN(error) ? null : error,
      percentile: Number.isNaN(error) ? null : version.served.percentile(error),
      items,
    };
  }

  async predictedRating(userId: string, itemId: string): Promise<number> {
    checkId('userId', userId);
    checkId('itemId', itemId);
    const [user, items] = await Promise.all([userWithHistory(this.pool, userId), this.items.byExternalIds([itemId])]);
    if (!user) throw notFound('User', userId, 'userId');
    const item = items.get(itemId);
    if (!item) throw notFound('Item', itemId, 'itemId');
    const version = this.models.require();
    if (version.served.kind !== 'autorec') {
      throw new DomainError(
        ErrorCode.UNSUPPORTED_BY_MODEL,
        `predictedRating needs an AutoRec version; version ${version.id} is ${version.summary.kind}`,
      );
    }
    const col = this.columnOrThrow(version, item.id, itemId, 'itemId');
    return (await this.modelWork(() => version.served.predictRatings(version.historyRow(user.history), [col])))[0];
  }

  async anomalousUsers(limit: number): Promise<UserAnomaly[]> {
    this.checkLimit(limit);
    const version = this.models.require();
    await version.served.populationReady();
    const top = version.served.anomalies(limit + 10);
    const rows = await usersById(
      this.pool,
      top.map((a) => version.userOfRow[a.row]),
    );
    const byUser = new Map(top.map((a) => [version.userOfRow[a.row], a]));
    return rows.slice(0, limit).map((r) => {
      const a = byUser.get(r.id)!;
      return { user: toUser(r), error: a.error, percentile: a.percentile };
    });
  }

  /** The user's anomaly score from their current history; null without a model or history. */
  async anomalyScore(externalUserId: string): Promise<AnomalyScore | null> {
    const version = this.models.version;
    if (!version) return null;
    const user = await userWithHistory(this.pool, externalUserId);
    if (!user) return null;
    await version.served.populationReady();
    const error = await this.modelWork(() => version.served.reconstructionError(version.historyRow(user.history)));
    if (Number.isNaN(error)) return null;
    return { error, percentile: version.served.percentile(error), modelVersionId: version.id };
  }

  /** The anomaly score of an anonymous history (as recommendationsForHistory reads it); null when the model knows none of its items. */
  async anomalyScoreForHistory(itemIds: string[]): Promise<AnomalyScore | null> {
    const ids = await this.resolveItems('itemIds', itemIds);
    const version = this.models.require();
    await version.served.populationReady();
    const error = await this.modelWork(() => version.served.reconstructionError(version.positivesRow(ids)));
    if (Number.isNaN(error)) return null;
    return { error, percentile: version.served.percentile(error), modelVersionId: version.id };
  }

  async userEmbedding(userId: string): Promise<Embedding> {
    checkId('userId', userId);
    const user = await userWithHistory(this.pool, userId);
    if (!user) throw notFound('User', userId, 'userId');
    const version = this.models.require();
    this.requireEmbeddings(version, 'userEmbedding');
    const vector = await this.modelWork(() => version.served.userEmbedding(version.historyRow(user.history)));
    return { modelVersionId: version.id, dimension: vector.length, vector: Array.from(vector) };
  }

  async itemEmbedding(itemId: string): Promise<Embedding> {
    checkId('itemId', itemId);
    const item = (await this.items.byExternalIds([itemId])).get(itemId);
    if (!item) throw notFound('Item', itemId, 'itemId');
    const version = this.models.require();
    this.requireEmbeddings(version, 'itemEmbedding');
    const vector = version.served.itemEmbedding(this.columnOrThrow(version, item.id, itemId, 'itemId'));
    return { modelVersionId: version.id, dimension: vector.length, vector: Array.from(vector) };
  }

  /**
   * Synthetic users from the active Mult-VAE version: prior draws decoded and sampled without
   * replacement (items deleted since training are never drawn). Synchronous model work: count ≤
   * the page size and itemsPerUser ≤ 1,000 keep it to one decoder pass.
   */
  async sampleSyntheticUsers(
    count: number,
    itemsPerUser: number,
    seed: number | null | undefined,
    latent: LatentSource = LatentSource.PRIOR,
  ): Promise<SyntheticUser[]> {
    checkLimit('count', count, this.env.maxPageSize);
    checkLimit('itemsPerUser', itemsPerUser, MAX_SYNTHETIC_ITEMS);
    const version = this.models.require();
    if (!version.served.canSampleUsers) {
      throw new DomainError(
        ErrorCode.UNSUPPORTED_BY_MODEL,
        `sampleSyntheticUsers needs a Mult-VAE version; version ${version.id} is ${version.summary.kind}`,
      );
    }
    const exclude = version.deletedColumns;
    const available = version.served.numItems - exclude.size;
    if (itemsPerUser > available) {
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `itemsPerUser: must be at most ${available}, the items of model version ${version.id}`,
        'itemsPerUser',
      );
    }
    let fitted: { mean: Float32Array; std: Float32Array } | undefined;
    if (latent === LatentSource.POPULATION) {
      await version.served.populationReady();
      fitted = version.served.populationLatent ?? undefined;
      if (!fitted)
        throw new DomainError(
          ErrorCode.UNSUPPORTED_BY_MODEL,
          `latent: model version ${version.id} has no population to fit (no user history)`,
          'latent',
        );
    }
    const drawSeed = seed ?? Math.floor(Math.random() * 2 ** 32);
    let samples: Int32Array[] | null = null;
    if (this.threads.serves(version.id)) {
      // In a model thread (the decoder pass and the draws are the heaviest call a reader can make).
      const deleted = Int32Array.from(Array.from(version.itemOfColumn).flatMap((id, c) => (id < 0 ? [c] : [])));
      const latentFit = fitted
        ? { mean: Float32Array.from(fitted.mean), std: Float32Array.from(fitted.std) }
        : undefined;
      try {
        samples = await this.threads.sampleUsers(version.id, count, itemsPerUser, drawSeed, deleted, latentFit);
      } catch (error) {
        if (error instanceof DeadlineExceededError) throw admissionError(error);
        this.logger.warn(`model threads: ${(error as Error).message}; sampling on the event loop`);
      }
    }
    samples ??= (
      await this.modelWork(() => version.served.sampleUsers(count, itemsPerUser, drawSeed, { exclude, latent: fitted }))
    ).map((s) => s.items);
    const ids = samples.map((s) => Array.from(s, (c) => version.itemOfColumn[c]));
    const byId = await this.items.byInternalIds([...new Set(ids.flat())]);
    return ids.map((user) => ({ items: user.filter((id) => byId.has(id)).map((id) => toItem(byId.get(id)!)) }));
  }

  /** Model ranking with exclusions and filters; over-fetches until `limit` visible items are found. */
  private async rank(
    version: LoadedVersion,
    rank: Ranker,
    seen: Set<number>,
    limit: number,
    f: CheckedFilter,
  ): Promise<Omit<Recommendations, 'recommendationId'>> {
    const t0 = performance.now();
    const excludedIds = new Set(f.excludeItemIds);
    if (!f.includeSeen) for (const id of seen) excludedIds.add(id);
    const excludedCols = new Set<number>();
    for (const id of excludedIds) {
      const c = version.columnOf(id);
      if (c >= 0) excludedCols.add(c);
    }
    const exclude = excludeAny({ has: (c) => excludedCols.has(c), size: excludedCols.size }, version.deletedColumns);
    let candidates: number[] | undefined;
    if (f.categories) {
      const ids = await visibleItemIdsInCategories(this.pool, f.categories);
      candidates = ids.map((id) => version.columnOf(id)).filter((c) => c >= 0);
    }
    const ranked = await this.visibleTopK(limit, (k) => rank(k, exclude, candidates), version);
    const items = ranked.map(({ item, score }): Recommendation => ({
      item,
      score,
      source: RecommendationSource.MODEL,
    }));
    const cold = rank.query
      ? await this.coldStartItems(version, rank.query, rank.toRankingScore, limit, excludedIds, f.categories)
      : [];
    if (cold.length > 0) mergeColdStart(items, cold, limit, Math.ceil(limit * COLD_START_SHARE));
    this.stages.observe('search', performance.now() - t0);
    return {
      items,
      source: RecommendationSource.MODEL,
      modelVersionId: version.id,
      reason: null,
    };
  }

  /**
   * New items (an image, no column in the version) scored with the collaborative vectors predicted
   * from their images (VisualModelService.coldStart) against the query the ranking already encoded:
   * the best `limit` visible ones, source COLD_START.
   */
  private async coldStartItems(
    version: LoadedVersion,
    query: Float32Array,
    toRankingScore: (raw: number) => number,
    limit: number,
    excludedIds: Set<number>,
    categories: string[] | null | undefined,
  ): Promise<Recommendation[]> {
    const cold = this.visual.coldStart(version);
    if (!cold) return [];
    const scored: { id: number; score: number }[] = [];
    for (let k = 0; k < cold.itemIds.length; k++) {
      const id = cold.itemIds[k];
      if (excludedIds.has(id)) continue;
      let score = 0;
      for (let d = 0; d < cold.dim; d++) score += query[d] * cold.vectors[k * cold.dim + d];
      scored.push({ id, score: toRankingScore(score) });
    }
    scored.sort((a, b) => b.score - a.score);
    const out: Recommendation[] = [];
    for (let start = 0; start < scored.length && out.length < limit; start += limit * 2) {
      const slice = scored.slice(start, start + limit * 2);
      const rows = new Map((await this.items.visible(slice.map((c) => c.id))).map((r) => [r.id, r]));
      for (const c of slice) {
        const row = rows.get(c.id);
        if (!row || out.length >= limit) continue;
        if (categories && !categories.some((cat) => row.categories.includes(cat))) continue;
        out.push({ item: toItem(row), score: c.score, source: RecommendationSource.COLD_START });
      }
    }
    return out;
  }

  /** Searches with growing k until `limit` visible (not hidden, not deleted) items are found or the search is exhausted. */
  private async visibleTopK(
    limit: number,
    search: (k: number) => { index: number; score: number }[],
    version: LoadedVersion,
  ): Promise<{ item: Item; score: number }[]> {
    let k = limit + 5;
    for (;;) {
      const neighbors = search(k);
      const ids = neighbors.map((n) => version.itemOfColumn[n.index]);
      const rows = await this.items.visible(ids);
      if (rows.length >= limit || neighbors.length < k || k >= version.served.numItems) {
        const score = new Map(neighbors.map((n) => [version.itemOfColumn[n.index], n.score]));
        return rows.slice(0, limit).map((r) => ({ item: toItem(r), score: score.get(r.id)! }));
      }
      k *= 2;
    }
  }

  private async popular(
    limit: number,
    f: CheckedFilter,
    seen: Set<number>,
    reason: string,
  ): Promise<Omit<Recommendations, 'recommendationId'>> {
    const exclude = new Set(f.excludeItemIds);
    if (!f.includeSeen) for (const id of seen) exclude.add(id);
    let ranked: Ranked[];
    if (f.categories) {
      ranked = await popularItemIds(this.reads, {
        weights: this.env.popularityWeights,
        categories: f.categories,
        excludeItemIds: [...exclude],
        limit,
      });
    } else {
      ranked = (await this.popularRanking()).filter((r) => !exclude.has(r.itemId));
      if (ranked.length < limit) {
        ranked = await popularItemIds(this.reads, {
          weights: this.env.popularityWeights,
          excludeItemIds: [...exclude],
          limit,
        });
      }
    }
    const head = ranked.slice(0, limit + 10);
    const rows = await this.items.visible(head.map((r) => r.itemId));
    const score = new Map(head.map((r) => [r.itemId, r.score]));
    return {
      items: rows
        .slice(0, limit)
        .map((r) => ({ item: toItem(r), score: score.get(r.id)!, source: RecommendationSource.POPULARITY })),
      source: RecommendationSource.POPULARITY,
      modelVersionId: null,
      reason,
    };
  }

  /** The top of the popularity ranking (server default weights), recomputed at most once a minute. */
  private async popularRanking(): Promise<Ranked[]> {
    if (this.popularity && performance.now() - this.popularity.at < POPULARITY_TTL_MS) return this.popularity.ranked;
    this.popularityRefresh ??= popularItemIds(this.reads, {
      weights: this.env.popularityWeights,
      limit: POPULARITY_DEPTH,
    })
      .then((ranked) => {
        this.popularity = { at: performance.now(), ranked };
        return ranked;
      })
      .finally(() => (this.popularityRefresh = null));
    return this.popularityRefresh;
  }

  /** Internal ids of external item ids; UNKNOWN_ITEMS naming those the catalog lacks. */
  private async resolveItems(field: string, externalIds: string[]): Promise<number[]> {
    if (externalIds.length > MAX_ID_LIST)
      throw new DomainError(ErrorCode.BATCH_TOO_LARGE, `${field}: at most ${MAX_ID_LIST} items`, field);
    externalIds.forEach((id, i) => checkId(`${field}[${i}]`, id));
    const found = await this.items.byExternalIds(externalIds);
    const unknown = externalIds.filter((id) => !found.has(id));
    if (unknown.length > 0) {
      throw new DomainError(
        ErrorCode.UNKNOWN_ITEMS,
        `${field}: ${unknown.length} unknown item(s): ${unknown.slice(0, 10).join(', ')}`,
        field,
        { ids: unknown },
      );
    }
    return externalIds.map((id) => found.get(id)!.id);
  }

  private columnOrThrow(version: LoadedVersion, internalId: number, externalId: string, field: string): number {
    const col = version.columnOf(internalId);
    if (col < 0) {
      throw new DomainError(
        ErrorCode.NOT_IN_MODEL,
        `item "${externalId}" has no vector in model version ${version.id} (it had no interactions when the version was trained)`,
        field,
        { id: externalId, modelVersionId: version.id },
      );
    }
    return col;
  }

  private requireEmbeddings(version: LoadedVersion, what: string): void {
    if (!version.served.hasEmbeddings) {
      throw new DomainError(
        ErrorCode.UNSUPPORTED_BY_MODEL,
        `${what} needs an autoencoder version; version ${version.id} is EASE, which has no embeddings`,
      );
    }
  }

  private checkLimit(limit: number): void {
    checkLimit('limit', limit, this.env.maxPageSize);
  }

  /** Validates a filter and resolves excludeItemIds to internal ids (unknown ids are ignored). */
  private async checkFilter(filter: RecommendationFilter | null | undefined): Promise<CheckedFilter> {
    const categories = filter?.categories == null ? null : checkCategories('filter.categories', filter.categories);
    if (categories && categories.length === 0)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        'filter.categories: must not be empty (omit it instead)',
        'filter.categories',
      );
    const exclude = filter?.excludeItemIds ?? [];
    if (exclude.length > MAX_ID_LIST)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `filter.excludeItemIds: at most ${MAX_ID_LIST} ids`,
        'filter.excludeItemIds',
      );
    exclude.forEach((id, i) => checkId(`filter.excludeItemIds[${i}]`, id));
    const excludeItemIds = exclude.length
      ? [...(await this.items.byExternalIds(exclude)).values()].map((i) => i.id)
      : [];
    return { categories, excludeItemIds, includeSeen: filter?.includeSeen ?? false };
  }
}

interface CheckedFilter {
  categories: string[] | null;
  /** Internal ids of the filter's excludeItemIds that exist. */
  excludeItemIds: number[];
  includeSeen: boolean;
}

/**
 * Share of a recommendation list reserved for new items (COLD_START) when there are any: their
 * predicted vectors are fitted to the collaborative space by a ridge map, which shrinks their
 * scores, so on raw scores alone they would rarely make a list. Exploration at this rate lets
 * new items collect their first interactions.
 */
const COLD_START_SHARE = 0.1;

/**
 * Merges `cold` (best first) into `items` (best first) by score, then makes sure at least
 * `reserved` cold items are in the first `limit`, replacing the lowest-scored model items.
 */
export function mergeColdStart(items: Recommendation[], cold: Recommendation[], limit: number, reserved: number): void {
  const merged = [...items, ...cold].sort((a, b) => b.score - a.score).slice(0, limit);
  const inList = new Set(merged.filter((r) => r.source === RecommendationSource.COLD_START).map((r) => r.item.id));
  const missing = cold
    .filter((c) => !inList.has(c.item.id))
    .slice(0, Math.max(0, Math.min(reserved, cold.length) - inList.size));
  for (const c of missing) {
    let worst = -1;
    for (let i = merged.length - 1; i >= 0; i--) {
      if (merged[i].source !== RecommendationSource.COLD_START) {
        worst = i;
        break;
      }
    }
    if (merged.length < limit) merged.push(c);
    else if (worst >= 0) merged.splice(worst, 1, c);
  }
  items.splice(0, items.length, ...merged);
}
