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
    // The rows from memory (the usual case), else the missing ones in one read.
    let rows = ids.map((id) => (id < 0 ? null : items.peek(id)));
    if (rows.includes(undefined)) {
      const fetched = await items.byInternalIds(ids.filter((id) => id >= 0));
      rows = ids.map((id) => (id < 0 ? null : fetched.get(id)));
    }
    const out: { item: Item; score: number }[] = [];
    for (let j = 0; j < neighbors.length && out.length < limit; j++) {
      const row = rows[j];
      if (row && !row.hidden) out.push({ item: toItem(row), score: neighbors[j].score });
    }
    if (out.length >= limit || neighbors.length < k || k >= version.served.numItems) return out;
    k *= 2;
  }
}
