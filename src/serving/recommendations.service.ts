import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ItemCache } from '../catalog/item-cache.service.js';
import { checkId } from '../common/validation.js';
import { excludeAny } from '../core/index/top-k.js';
import type { Ranker } from '../core/serving/served-model.js';
import { PgPool } from '../database/pg-pool.js';
import { ColdStartService } from './cold-start.service.js';
import {
  RecommendationSource,
  type Recommendation,
  type RecommendationFilter,
  type Recommendations,
} from './dto/serving.types.js';
import type { LoadedVersion } from './loaded-version.js';
import { PopularityService } from './popularity.service.js';
import { RankingService } from './ranking.service.js';
import { ServingHooks, type ServingRoute, type ServingSubject } from './serving-hooks.js';
import { ServingInputs, type CheckedFilter } from './serving-inputs.service.js';
import { ServingStages } from './serving-stages.js';
import { visibleItemIdsInCategories } from './serving.queries.js';
import { visibleTopK } from './visible-top-k.js';

/** `reason` of the popularity answer to `recommendations` for a user id the service does not know. */
export const UNKNOWN_USER_REASON = 'the user is unknown: no interaction recorded yet';

/**
 * Zeroed bitmaps for rank()'s excluded columns, reused: a typed array of a catalog's size costs
 * microseconds to allocate and to collect, once per request otherwise. A bitmap is given back
 * (cleared) when its request's ranking is done.
 */
const freeBitmaps: Uint8Array[] = [];
const MAX_FREE_BITMAPS = 64;

function takeBitmap(size: number): Uint8Array {
  for (let j = freeBitmaps.length - 1; j >= 0; j--) {
    if (freeBitmaps[j].length !== size) continue;
    const bitmap = freeBitmaps[j];
    freeBitmaps[j] = freeBitmaps[freeBitmaps.length - 1];
    freeBitmaps.pop();
    return bitmap;
  }
  return new Uint8Array(size);
}

function giveBitmap(bitmap: Uint8Array): void {
  if (freeBitmaps.length >= MAX_FREE_BITMAPS) return;
  bitmap.fill(0);
  freeBitmaps.push(bitmap);
}

/**
 * Recommendations for a user's history as it is now, or for an anonymous list of items: ranked by
 * the active model (RankingService batches them), filtered to visible items, with new items
 * merged in (ColdStartService), and popular items when the model cannot rank.
 */
@Injectable()
export class RecommendationsService {
  constructor(
    private readonly pool: PgPool,
    private readonly items: ItemCache,
    private readonly inputs: ServingInputs,
    private readonly ranking: RankingService,
    private readonly popularity: PopularityService,
    private readonly coldStart: ColdStartService,
    private readonly stages: ServingStages,
    private readonly hooks: ServingHooks,
  ) {}

  async recommendations(
    userId: string,
    limit: number,
    filter: RecommendationFilter | null | undefined,
  ): Promise<Recommendations> {
    checkId('userId', userId);
    this.inputs.checkLimit(limit);
    const f = await this.inputs.checkFilter(filter);
    const subject = { id: userId, anonymous: false };
    const { version, user, ranker, route } = await this.ranking.submit({ kind: 'user', externalId: userId, subject });
    // A user the service has never seen (no interaction, no upsertUsers yet) is a cold start, not
    // an error: popular items, and nothing is written (recordInteractions creates the user later).
    let answer: Omit<Recommendations, 'recommendationId'>;
    if (!user) answer = await this.popularity.popular(limit, f, new Set(), UNKNOWN_USER_REASON);
    else if (!version)
      answer = await this.popularity.popular(limit, f, new Set(user.seen), 'no model version is active');
    else if (!ranker)
      answer = await this.popularity.popular(limit, f, new Set(user.seen), 'the user has no history the model knows');
    else answer = await this.rank(version, ranker, user.seen, limit, f);
    return this.served(answer, subject, route);
  }

  async recommendationsForHistory(
    itemIds: string[],
    limit: number,
    filter: RecommendationFilter | null | undefined,
    sessionId?: string | null,
  ): Promise<Recommendations> {
    this.inputs.checkLimit(limit);
    const subject = { id: sessionId == null ? null : checkId('sessionId', sessionId), anonymous: true };
    const f = await this.inputs.checkFilter(filter);
    const ids = await this.inputs.resolveItems('itemIds', itemIds);
    const seen = new Set(ids);
    const { version, ranker, route } = await this.ranking.submit({ kind: 'items', itemIds: ids, subject });
    let answer: Omit<Recommendations, 'recommendationId'>;
    if (!version) answer = await this.popularity.popular(limit, f, seen, 'no model version is active');
    else if (!ranker) answer = await this.popularity.popular(limit, f, seen, 'none of the items is known to the model');
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

  /** Model ranking with exclusions and filters; over-fetches until `limit` visible items are found. */
  private async rank(
    version: LoadedVersion,
    rank: Ranker,
    seen: Iterable<number>,
    limit: number,
    f: CheckedFilter,
  ): Promise<Omit<Recommendations, 'recommendationId'>> {
    const t0 = performance.now();
    // Excluded model columns as a bitmap (the seen items and excludeItemIds): the hot path's
    // exclusion test, with no set built per request, and no bitmap allocated either.
    const excludedCols = takeBitmap(version.served.numItems);
    try {
      return await this.rankExcluding(version, rank, seen, limit, f, excludedCols, t0);
    } finally {
      giveBitmap(excludedCols);
    }
  }

  /** {@link rank} with the bitmap it lends (zeroed; returned when the ranking is done). */
  private async rankExcluding(
    version: LoadedVersion,
    rank: Ranker,
    seen: Iterable<number>,
    limit: number,
    f: CheckedFilter,
    excludedCols: Uint8Array,
    t0: number,
  ): Promise<Omit<Recommendations, 'recommendationId'>> {
    let excludedCount = 0;
    const excludeItem = (id: number) => {
      const c = version.columnOf(id);
      if (c >= 0 && excludedCols[c] === 0) {
        excludedCols[c] = 1;
        excludedCount++;
      }
    };
    for (const id of f.excludeItemIds) excludeItem(id);
    if (!f.includeSeen) for (const id of seen) excludeItem(id);
    const exclude = excludeAny({ has: (c) => excludedCols[c] === 1, size: excludedCount }, version.deletedColumns);
    // Items without a column (cold-start candidates) are tested by id, against a set made only if asked.
    const listed = new Set(f.excludeItemIds);
    let seenIds: Set<number> | undefined;
    const isExcluded = (id: number) => listed.has(id) || (!f.includeSeen && (seenIds ??= new Set(seen)).has(id));
    let candidates: number[] | undefined;
    if (f.categories) {
      const ids = await visibleItemIdsInCategories(this.pool, f.categories);
      candidates = ids.map((id) => version.columnOf(id)).filter((c) => c >= 0);
    }
    const ranked = await visibleTopK(this.items, limit, (k) => rank(k, exclude, candidates), version);
    const items = ranked.map(({ item, score }): Recommendation => ({
      item,
      score,
      source: RecommendationSource.MODEL,
    }));
    await this.coldStart.mergeInto(items, version, rank, limit, isExcluded, f.categories);
    this.stages.observe('search', performance.now() - t0);
    return {
      items,
      source: RecommendationSource.MODEL,
      modelVersionId: version.id,
      reason: null,
    };
  }
}
