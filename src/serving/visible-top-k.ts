import { toItem } from '../catalog/catalog.mappers.js';
import type { Item } from '../catalog/dto/item.type.js';
import type { ItemCache } from '../catalog/item-cache.service.js';
import type { LoadedVersion } from './loaded-version.js';

/** Searches with growing k until `limit` visible (not hidden, not deleted) items are found or the search is exhausted. */
export async function visibleTopK(
  items: ItemCache,
  limit: number,
  search: (k: number) => { index: number; score: number }[],
  version: LoadedVersion,
): Promise<{ item: Item; score: number }[]> {
  let k = limit + 5;
  for (;;) {
    const neighbors = search(k);
    const ids = neighbors.map((n) => version.itemOfColumn[n.index]);
    const rows = await items.visible(ids);
    if (rows.length >= limit || neighbors.length < k || k >= version.served.numItems) {
      const score = new Map(neighbors.map((n) => [version.itemOfColumn[n.index], n.score]));
      return rows.slice(0, limit).map((r) => ({ item: toItem(r), score: score.get(r.id)! }));
    }
    k *= 2;
  }
}
