import type pg from 'pg';
import type { HistoryView } from '../catalog/histories.queries.js';
import { csrFromTriples, type CsrMatrix } from '../core/data/csr.js';
import type { Tf } from '../core/models/autorec.js';
import { NO_EXCLUSION, type Exclusion, type Neighbor } from '../core/index/top-k.js';
import {
  ServedModel,
  type ComputedPopulation,
  type Population,
  type ServedModelOptions,
} from '../core/serving/served-model.js';
import { modelFromArtifact } from '../registry/model-artifact.js';
import { modelIndexStore } from '../registry/model-indexes.queries.js';
import type { ModelVersionArtifact, ModelVersionSummary } from '../registry/model-versions.queries.js';
import {
  DEFAULT_MIN_RATING,
  interactionValue,
  loadPopulation,
  readPopulationHistories,
  SIMILAR_DEPTH,
  SIMILAR_LISTS_MAX_ITEMS,
  type PackedSimilarLists,
} from '../registry/population.js';
import { internalItemIds, type HistoryEntry } from './serving.queries.js';

export { DEFAULT_MIN_RATING, interactionValue, SIMILAR_DEPTH };

/** Columns per request when similar-item lists are computed in a model thread. */
const SIMILAR_CHUNK = 16;

/**
 * Computes the similar-item lists of columns [from, to) elsewhere (SimilarLists.lists with the
 * deleted columns excluded), or null when it cannot.
 */
export type SimilarListsSource = (
  from: number,
  to: number,
  depth: number,
  deleted: Int32Array,
) => Promise<{ indices: Int32Array; scores: Float32Array } | null>;

/**
 * A model version loaded for serving: the {@link ServedModel} plus the maps between its dense
 * columns / population rows and the database's internal item / user ids, as they were when it
 * was loaded. Immutable once built; a new activation builds a new one beside it.
 */
export class LoadedVersion {
  /** Internal item id of each model column (-1: the item was deleted since training). */
  readonly itemOfColumn: Int32Array;
  /**
   * Column of each internal item id: a table indexed by id when the ids are dense enough (serial
   * ids: the hot path looks up every history item), else a map.
   */
  private readonly columnOfItem: Int32Array | Map<number, number>;
  readonly loadSeconds: number;

  constructor(
    readonly summary: ModelVersionSummary,
    readonly served: ServedModel,
    itemOfColumn: Int32Array,
    /** Filled when the population has been read (before `served.populationReady()` resolves). */
    private readonly users: PopulationUsers,
    readonly minRating: number,
    loadSeconds: number,
  ) {
    this.itemOfColumn = itemOfColumn;
    this.columnOfItem = columnTable(itemOfColumn);
    this.loadSeconds = loadSeconds;
  }

  /** What a user's interactions count as in this version's matrix (the history cache's view). */
  get historyView(): HistoryView {
    return { ratings: this.served.kind === 'autorec', minRating: this.minRating };
  }

  /** Internal user id of each population row (after `served.populationReady()`). */
  get userOfRow(): Int32Array {
    return this.users.userOfRow;
  }

  get id(): number {
    return this.summary.id;
  }

  /** Columns whose item was deleted since training (never returned). */
  get deletedColumns(): Exclusion {
    if (!this.deleted) {
      const cols = new Set<number>();
      this.itemOfColumn.forEach((id, c) => id < 0 && cols.add(c));
      this.deleted = cols.size ? { has: (c) => cols.has(c), size: cols.size } : NO_EXCLUSION;
    }
    return this.deleted;
  }
  private deleted: Exclusion | undefined;

  /**
   * Item→item neighbours of a column (deleted items excluded), memoised: they depend only on the
   * version's vectors. The top {@link SIMILAR_DEPTH} are kept; a larger k searches afresh.
   */
  similarItems(col: number, k: number): Neighbor[] {
    const stored = this.users.lists;
    if (stored && k <= stored.depth) return this.storedSimilarItems(stored, col, k);
    if (k > SIMILAR_DEPTH) return this.served.similarItems(col, k, this.deletedColumns);
    let hit = this.similarMemo.get(col);
    if (!hit) {
      hit = this.served.similarItems(col, SIMILAR_DEPTH, this.deletedColumns);
      if (this.similarMemo.size >= 200_000) this.similarMemo.clear();
      this.similarMemo.set(col, hit);
    }
    return hit.slice(0, k);
  }
  private readonly similarMemo = new Map<number, Neighbor[]>();

  /** Column `col`'s first k neighbours in the stored lists, items deleted since they were computed skipped. */
  private storedSimilarItems(stored: PackedSimilarLists, col: number, k: number): Neighbor[] {
    if (!(Number.isInteger(col) && col >= 0 && col < this.served.numItems))
      throw new RangeError(`item column ${col} out of range [0, ${this.served.numItems})`);
    const out: Neighbor[] = [];
    for (let j = col * stored.depth, end = j + stored.depth; j < end && out.length < k; j++) {
      const index = stored.indices[j];
      if (index < 0) break;
      if (this.itemOfColumn[index] >= 0) out.push({ index, score: stored.scores[j] });
    }
    return out;
  }

  /** Where the population came from: computed once per version and stored, or computed by this process. */
  get populationSource(): 'stored' | 'computed' {
    return this.users.source;
  }

  /**
   * Precomputes every column's neighbours (catalogs up to 20,000 items), yielding between chunks:
   * similarItems then answers from memory. Call it once the population is ready (the lists of
   * most kinds mix in its co-occurrence). Stops early when the version is disposed.
   */
  async warmSimilarItems(pause: () => Promise<void>, elsewhere?: SimilarListsSource): Promise<void> {
    // Lists answered before the population was read lack its co-occurrence part: recompute them.
    if (this.served.similarItemsFinal || this.users.lists) this.similarMemo.clear();
    if (this.users.lists) return; // stored with the population
    if (this.served.numItems > SIMILAR_LISTS_MAX_ITEMS) return;
    if (
      elsewhere &&
      this.served.similarItemsFinal &&
      this.served.similarItemsByScorer &&
      (await this.warmElsewhere(elsewhere))
    )
      return;
    for (let col = 0; col < this.served.numItems && !this.disposed; col++) {
      if (this.itemOfColumn[col] >= 0) this.similarItems(col, SIMILAR_DEPTH);
      if (col % 16 === 15) await pause();
    }
  }

  /**
   * {@link warmSimilarItems} with the lists computed elsewhere (a model thread: SimilarLists over
   * the same weights and population), a chunk of columns at a time; false (and nothing kept from
   * a failed chunk on) when the source cannot compute them, so the caller computes them here.
   */
  private async warmElsewhere(source: SimilarListsSource): Promise<boolean> {
    const n = this.served.numItems;
    const deleted = Int32Array.from(Array.from(this.itemOfColumn).flatMap((id, c) => (id < 0 ? [c] : [])));
    try {
      for (let from = 0; from < n && !this.disposed; from += SIMILAR_CHUNK) {
        const to = Math.min(n, from + SIMILAR_CHUNK);
        const lists = await source(from, to, SIMILAR_DEPTH, deleted);
        if (!lists) return false;
        for (let c = from; c < to; c++) {
          if (this.itemOfColumn[c] < 0) continue;
          const list: Neighbor[] = [];
          for (let j = 0; j < SIMILAR_DEPTH; j++) {
            const index = lists.indices[(c - from) * SIMILAR_DEPTH + j];
            if (index < 0) break;
            list.push({ index, score: lists.scores[(c - from) * SIMILAR_DEPTH + j] });
          }
          this.similarMemo.set(c, list);
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Set when the background work after loading (population, similar-item lists) has finished. */
  warm = false;
  private disposed = false;

  /** The model column of an internal item id, or -1 when the model has no vector for it. */
  columnOf(itemId: number): number {
    const table = this.columnOfItem;
    if (table instanceof Int32Array) return itemId >= 0 && itemId < table.length ? table[itemId] : -1;
    return table.get(itemId) ?? -1;
  }

  /** The population row of an internal user id, or -1 (after `served.populationReady()`). */
  rowOf(userId: number): number {
    return this.users.rowOfUser.get(userId) ?? -1;
  }

  /**
   * A one-row history over the model's columns from interactions as stored: for Mult-VAE/DAE and
   * EASE the positives (any non-RATING interaction, or a rating ≥ minRating) with value 1, for
   * AutoRec the ratings (the latest per item wins). Items the model has no column for are skipped.
   */
  historyRow(history: readonly HistoryEntry[]): CsrMatrix {
    const cols: number[] = [];
    const values: number[] = [];
    const ratings = this.served.kind === 'autorec';
    for (const h of history) {
      const col = this.columnOf(h.itemId);
      if (col < 0) continue;
      const value = interactionValue(ratings, h.kind, h.value, this.minRating);
      if (value === null) continue;
      cols.push(col);
      values.push(value);
    }
    return csrFromTriples(1, this.served.numItems, new Array<number>(cols.length).fill(0), cols, values);
  }

  /** A one-row history of bare positives (anonymous sessions: a list of items). */
  positivesRow(itemIds: readonly number[]): CsrMatrix {
    const cols = itemIds.map((id) => this.columnOf(id)).filter((c) => c >= 0);
    const values = cols.map(() => (this.served.kind === 'autorec' ? 5 : 1));
    return csrFromTriples(1, this.served.numItems, new Array<number>(cols.length).fill(0), cols, values);
  }

  /** Runs `fn` when the version is disposed (e.g. freeing it in the model threads). */
  onDispose(fn: () => void): void {
    this.disposers.push(fn);
  }
  private readonly disposers: (() => void)[] = [];

  dispose(): void {
    if (!this.disposed) for (const fn of this.disposers) fn();
    this.disposed = true;
    this.similarMemo.clear();
    this.served.dispose();
  }
}

/** {@link LoadedVersion.columnOf}'s lookup: a table when the largest id is under 4 × columns + 2¹⁶, else a map. */
function columnTable(itemOfColumn: Int32Array): Int32Array | Map<number, number> {
  let max = -1;
  for (const id of itemOfColumn) if (id > max) max = id;
  if (max < 4 * itemOfColumn.length + 65_536) {
    const table = new Int32Array(max + 1).fill(-1);
    itemOfColumn.forEach((id, col) => id >= 0 && (table[id] = col));
    return table;
  }
  const map = new Map<number, number>();
  itemOfColumn.forEach((id, col) => id >= 0 && map.set(id, col));
  return map;
}

/** The population's users: internal user id per row and back; the stored similar-item lists. */
interface PopulationUsers {
  userOfRow: Int32Array;
  rowOfUser: Map<number, number>;
  source: 'stored' | 'computed';
  lists: PackedSimilarLists | null;
}

export interface LoadOptions {
  tf: Tf;
  served: ServedModelOptions;
  log?: (message: string) => void;
  /** Where the population's histories are read (DATABASE_READ_URL's pool); default `db`. */
  reads?: pg.Pool;
  /** Ignore a stored population and compute it here (default false: load it when stored). */
  computePopulation?: boolean;
}

/**
 * Builds a {@link LoadedVersion}: maps the version's external item ids to today's catalog and
 * loads or builds the item indexes; then (in the background with `deferPopulation`) reads every
 * user's current history through COPY, the population of user similarity and anomaly percentiles.
 */
export async function loadVersion(
  db: pg.Pool,
  artifact: ModelVersionArtifact,
  options: LoadOptions,
): Promise<LoadedVersion> {
  const started = performance.now();
  const model = modelFromArtifact(options.tf, artifact);
  try {
    if (model.numItems !== artifact.itemIds.length) {
      throw new Error(
        `model version ${artifact.id}: ${model.numItems} model items but ${artifact.itemIds.length} item ids`,
      );
    }
    const itemOfColumn = await internalItemIds(db, artifact.itemIds);
    const minRating =
      typeof artifact.hyperparameters.minRating === 'number' ? artifact.hyperparameters.minRating : DEFAULT_MIN_RATING;
    const ratings = artifact.kind === 'AUTOREC';
    const users: PopulationUsers = {
      userOfRow: new Int32Array(0),
      rowOfUser: new Map(),
      source: 'computed',
      lists: null,
    };
    const readHistories = () =>
      readPopulationHistories(db, { itemOfColumn, ratings, minRating, userIds: artifact.userIds }, options.reads);
    // The population of user similarity and anomaly percentiles: the one stored with the version
    // (computed once, by the training worker), else every user's current history read through
    // COPY and computed here. With deferPopulation this runs after the version is serving.
    const readPopulation = async (): Promise<Population | ComputedPopulation> => {
      let stored = options.computePopulation
        ? null
        : await loadPopulation(db, artifact.id, model.numItems).catch((error: unknown) => {
            options.log?.(
              `model version ${artifact.id}: stored population unreadable (${(error as Error).message}); computing it`,
            );
            return null;
          });
      if (stored && stored.dim !== (model.factor?.latentDim ?? 0)) {
        options.log?.(`model version ${artifact.id}: stored population has dimension ${stored.dim}; computing it`);
        stored = null;
      }
      if (!stored) {
        const read = await readHistories();
        users.userOfRow = read.userOfRow;
        users.rowOfUser = read.rowOfUser;
        return read;
      }
      const rowOfUser = new Map<number, number>();
      stored.userOfRow.forEach((id, row) => rowOfUser.set(id, row));
      // On-demand item similarity of a large catalog (no stored lists) still mixes in the
      // histories' co-occurrence for the kinds that use it (item-item only: rows do not matter).
      const histories =
        !stored.lists && model.itemScorerUsesCooccurrence && model.numItems > SIMILAR_LISTS_MAX_ITEMS
          ? (await readHistories()).histories
          : null;
      users.userOfRow = stored.userOfRow;
      users.rowOfUser = rowOfUser;
      users.source = 'stored';
      users.lists = stored.lists;
      return {
        rows: stored.userOfRow.length,
        errors: stored.errors,
        vectors: stored.vectors,
        histories,
        indexKey: stored.key,
      };
    };
    const served = await ServedModel.load(model, readPopulation, {
      ...options.served,
      indexStore: modelIndexStore(db, artifact.id),
    });
    const seconds = (performance.now() - started) / 1000;
    const summary: ModelVersionSummary = { ...artifact };
    delete (summary as Partial<ModelVersionArtifact>).weights;
    delete (summary as Partial<ModelVersionArtifact>).itemIds;
    delete (summary as Partial<ModelVersionArtifact>).userIds;
    options.log?.(
      `loaded model version ${artifact.id} (${artifact.kind}, ${model.numItems} items, ${served.searchKind} search) in ${seconds.toFixed(1)} s`,
    );
    return new LoadedVersion(summary, served, itemOfColumn, users, minRating, seconds);
  } catch (error) {
    model.dispose();
    throw error;
  }
}
