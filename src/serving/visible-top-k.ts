import { toItem, type ItemRow } from '../catalog/catalog.mappers.js';
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
  const { itemOfColumn } = version;
  for (;;) {
    const neighbors = search(k);
    // The rows from memory (the usual case), else the missing ones in one read.
    let fetched: Map<number, ItemRow> | undefined;
    for (const n of neighbors) {
      const id = itemOfColumn[n.index];
      if (id >= 0 && items.peek(id) === undefined) {
        fetched = await items.byInternalIds(neighbors.map((m) => itemOfColumn[m.index]).filter((i) => i >= 0));
        break;
      }
    }
    const out: { item: Item; score: number }[] = [];
    for (let j = 0; j < neighbors.length && out.length < limit; j++) {
      const id = itemOfColumn[neighbors[j].index];
      if (id < 0) continue;
      const row = fetched ? fetched.get(id) : items.peek(id);
      if (row && !row.hidden) out.push({ item: toItem(row), score: neighbors[j].score });
    }
    if (out.length >= limit || neighbors.length < k || k >= version.served.numItems) return out;
    k *= 2;
  }
}
