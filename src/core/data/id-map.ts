/**
 * A bijection between external string ids (users, items) and dense indices 0 … size−1: matrix
 * rows/columns use the index, the API and the database use the id. Saved with a model so that
 * its item columns can be translated back.
 *
 * @example
 *   const items = IdMap.fromIds(['m10', 'm3', 'm7']);
 *   items.indexOf('m3'); // 1
 *   items.idAt(2);       // 'm7'
 *   const copy = IdMap.fromJSON(JSON.parse(JSON.stringify(items)));
 */
export class IdMap {
  private readonly ids: string[] = [];
  private readonly index = new Map<string, number>();

  /** A map of `ids` in order of first occurrence (later duplicates are ignored). */
  static fromIds(ids: Iterable<string>): IdMap {
    const m = new IdMap();
    for (const id of ids) m.add(id);
    return m;
  }

  /** Inverse of {@link IdMap.toJSON}. Throws on duplicates or non-strings (a corrupt file). */
  static fromJSON(json: unknown): IdMap {
    if (!Array.isArray(json)) throw new Error('IdMap.fromJSON: expected an array of string ids');
    const m = new IdMap();
    for (let k = 0; k < json.length; k++) {
      const id: unknown = json[k];
      if (typeof id !== 'string') throw new Error(`IdMap.fromJSON: entry ${k} is not a string`);
      if (m.add(id) !== k) throw new Error(`IdMap.fromJSON: duplicate id ${JSON.stringify(id)} at ${k}`);
    }
    return m;
  }

  /** Number of ids (= the dense index range). */
  get size(): number {
    return this.ids.length;
  }

  /** Index of `id`, adding it at the end (index = old size) when absent. */
  add(id: string): number {
    let k = this.index.get(id);
    if (k === undefined) {
      k = this.ids.length;
      this.index.set(id, k);
      this.ids.push(id);
    }
    return k;
  }

  /** Dense index of `id`, or −1 when absent. */
  indexOf(id: string): number {
    return this.index.get(id) ?? -1;
  }

  /** True when `id` has an index. */
  has(id: string): boolean {
    return this.index.has(id);
  }

  /** External id at dense `index`; throws a RangeError outside 0 … size−1. */
  idAt(index: number): string {
    if (!(Number.isInteger(index) && index >= 0 && index < this.ids.length)) {
      throw new RangeError(`IdMap.idAt: index ${index} outside 0 … ${this.ids.length - 1}`);
    }
    return this.ids[index];
  }

  /** Indices of several ids (−1 for absent ones). @returns [ids.length] */
  indicesOf(ids: readonly string[]): Int32Array {
    const out = new Int32Array(ids.length);
    for (let k = 0; k < ids.length; k++) out[k] = this.indexOf(ids[k]);
    return out;
  }

  /** The ids in index order (a copy). */
  toArray(): string[] {
    return this.ids.slice();
  }

  /** JSON form: the ids in index order (`JSON.stringify(map)` uses this). */
  toJSON(): string[] {
    return this.toArray();
  }
}
