import { Inject, Injectable } from '@nestjs/common';
import { toItem } from '../catalog/catalog.mappers.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgPool, READ_POOL } from '../database/pg-pool.js';
import { RecommendationSource, type Recommendations } from './dto/serving.types.js';
import { popularItemIds } from './popularity.queries.js';
import type { CheckedFilter } from './serving-inputs.service.js';

/** Popularity ranking is recomputed at most this often (it aggregates every interaction). */
const POPULARITY_TTL_MS = 60_000;
const POPULARITY_DEPTH = 1000;

interface Ranked {
  itemId: number;
  score: number;
}

/** The popularity fallback of recommendations (no model, unknown user, nothing the model knows). */
@Injectable()
export class PopularityService {
  private popularity: { at: number; ranked: Ranked[] } | null = null;
  private popularityRefresh: Promise<Ranked[]> | null = null;

  constructor(
    private readonly items: ItemCache,
    @Inject(ENV) private readonly env: Env,
    /** DATABASE_READ_URL's pool (or the primary). */
    @Inject(READ_POOL) private readonly reads: PgPool,
  ) {}

  /** The `limit` most popular visible items after the filter and `seen` (unless includeSeen), source POPULARITY with `reason`. */
  async popular(
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
}
