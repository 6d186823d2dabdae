import { Injectable } from '@nestjs/common';
import { toItem } from '../catalog/catalog.mappers.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import type { Ranker } from '../core/serving/served-model.js';
import { RecommendationSource, type Recommendation } from './dto/serving.types.js';
import type { LoadedVersion } from './loaded-version.js';
import { VisualModelService } from './visual-model.service.js';

/**
 * Share of a recommendation list reserved for new items (COLD_START) when there are any: their
 * predicted vectors are fitted to the collaborative space by a ridge map, which shrinks their
 * scores, so on raw scores alone they would rarely make a list. Exploration at this rate lets
 * new items collect their first interactions.
 */
const COLD_START_SHARE = 0.1;

/** New items (an image, no column in the model version) in recommendation lists. */
@Injectable()
export class ColdStartService {
  constructor(
    private readonly items: ItemCache,
    private readonly visual: VisualModelService,
  ) {}

  /**
   * Merges the best cold-start items for the ranking's query into `items` (the model's list, best
   * first), reserving them COLD_START_SHARE of the list; nothing when the ranker has no query
   * vector or there are no new items.
   */
  async mergeInto(
    items: Recommendation[],
    version: LoadedVersion,
    rank: Ranker,
    limit: number,
    isExcluded: (itemId: number) => boolean,
    categories: string[] | null | undefined,
  ): Promise<void> {
    const cold = rank.query
      ? await this.coldStartItems(version, rank.query, rank.toRankingScore, limit, isExcluded, categories)
      : [];
    if (cold.length > 0) mergeColdStart(items, cold, limit, Math.ceil(limit * COLD_START_SHARE));
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
    isExcluded: (itemId: number) => boolean,
    categories: string[] | null | undefined,
  ): Promise<Recommendation[]> {
    const cold = this.visual.coldStart(version);
    if (!cold) return [];
    const scored: { id: number; score: number }[] = [];
    for (let k = 0; k < cold.itemIds.length; k++) {
      const id = cold.itemIds[k];
      if (isExcluded(id)) continue;
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
}

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
