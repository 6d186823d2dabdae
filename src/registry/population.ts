/**
 * A version's served population, computed once per version and stored beside it
 * (`model_populations`, `model_population_chunks`): every user's row (internal user id), their
 * reconstruction error (anomaly percentiles) and user vector (user→user similarity), and the
 * similar-item lists of catalogs up to {@link STORED_LISTS_MAX_ITEMS} items. The training worker
 * computes it after storing a version (before activating it); API processes load it instead of
 * reading every history through COPY and encoding every user, so they hold no histories. A
 * version without one (older versions) is computed per process as before (src/serving/loaded-version.ts).
 */
import type pg from 'pg';
import { csrFromTriples } from '../core/data/csr.js';
import { activeNativeGemm } from '../core/engine/backend.js';
import { excludeSet } from '../core/index/top-k.js';
import type { Tf } from '../core/models/autorec.js';
import type { ServableModel } from '../core/models/servable.js';
import type { IndexOptions } from '../core/index/vector-index.js';
import {
  populationModelWork,
  SimilarLists,
  storeItemIndexes,
  storeUserIndex,
  type Population,
} from '../core/serving/served-model.js';
import { streamInteractionSnapshot } from '../database/interaction-stream.js';
import { modelFromArtifact } from './model-artifact.js';
import { modelIndexStore } from './model-indexes.queries.js';
import { PopulationThreads, PopulationThreadsStopped } from './population-threads.js';
import { loadModelVersion } from './model-versions.queries.js';

/** similarItems neighbours kept per item (more than any page: hidden ones are filtered afterwards). */
export const SIMILAR_DEPTH = 150;

/**
 * An API process computing a population itself (a version stored without one) precomputes every
 * column's similar-item list up to this many items, and answers larger catalogs on demand.
 */
export const SIMILAR_LISTS_MAX_ITEMS = 20_000;

/**
 * The worker stores every column's similar-item list with the population up to this many items
 * (150 neighbours: 1.2 kB an item, 120 MB at 10⁵ items). The all-pairs work grows with items²:
 * at 10⁵ items about 10 minutes of the worker with the native GEMM (docs/deployment.md). Larger
 * catalogs are answered on demand, each request scoring every item on the event loop.
 */
export const STORED_LISTS_MAX_ITEMS = 200_000;

/** RATING interactions count as positives at or above this unless the version recorded its own. */
export const DEFAULT_MIN_RATING = 3.5;

/** Bytes per stored chunk of a population array. */
const CHUNK_BYTES = 16 * 1024 * 1024;

/** The matrix value of one interaction for a model family, or null when it does not count. */
export function interactionValue(
  ratings: boolean,
  kind: string,
  value: number | null,
  minRating: number,
): number | null {
  if (ratings) return kind === 'RATING' && value !== null ? value : null;
  if (kind === 'RATING') return value !== null && value >= minRating ? 1 : null;
  return 1;
}

/** The population's histories with the internal user id of each row (rows in order of first interaction). */
export interface PopulationHistories extends Population {
  userOfRow: Int32Array;
  rowOfUser: Map<number, number>;
  /** The largest interaction id read (null: no interactions). */
  maxInteractionId: bigint | null;
}

/**
 * Every user's current history over a version's columns, read through COPY in one snapshot: the
 * population of user similarity and anomaly percentiles. Rows are users with at least one
 * counted interaction, in the order of their first one. `userIds`: AutoRec's trained users
 * (external ids by training row), so each row knows its training row.
 */
export async function readPopulationHistories(
  db: pg.Pool,
  version: { itemOfColumn: Int32Array; ratings: boolean; minRating: number; userIds?: readonly string[] | null },
  reads: pg.Pool = db,
): Promise<PopulationHistories> {
  const columnOfItem = new Map<number, number>();
  version.itemOfColumn.forEach((id, col) => id >= 0 && columnOfItem.set(id, col));
  const rowOfUser = new Map<number, number>();
  const userOfRow: number[] = [];
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  const { ratings, minRating } = version;
  const snapshot = await streamInteractionSnapshot(reads, (userId, itemId, kind, value) => {
    const col = columnOfItem.get(itemId);
    if (col === undefined) return;
    const v = interactionValue(ratings, kind, value, minRating);
    if (v === null) return;
    let row = rowOfUser.get(userId);
    if (row === undefined) {
      row = userOfRow.length;
      rowOfUser.set(userId, row);
      userOfRow.push(userId);
    }
    rows.push(row);
    cols.push(col);
    vals.push(v);
  });
  const histories = csrFromTriples(userOfRow.length, version.itemOfColumn.length, rows, cols, vals);
  let trainingRows: Int32Array | undefined;
  if (ratings && version.userIds) {
    const trainedUsers = await internalUserIds(db, version.userIds);
    const trainingRowOf = new Map<number, number>();
    trainedUsers.forEach((id, r) => id >= 0 && trainingRowOf.set(id, r));
    trainingRows = Int32Array.from(userOfRow, (id) => trainingRowOf.get(id) ?? -1);
  }
  return {
    histories,
    trainingRows,
    userOfRow: Int32Array.from(userOfRow),
    rowOfUser,
    maxInteractionId: snapshot.maxInteractionId,
  };
}

/** Internal id of each item whose external id is listed, by position (-1: no such item now). */
export async function internalItemColumns(db: pg.Pool, externalIds: readonly string[]): Promise<Int32Array> {
  if (externalIds.length === 0) return new Int32Array(0);
  const { rows } = await db.query<{ id: number; externalId: string }>({
    text: `SELECT id, external_id AS "externalId" FROM items WHERE external_id = ANY($1::text[])`,
    values: [externalIds],
  });
  const byExternal = new Map(rows.map((r) => [r.externalId, r.id]));
  return Int32Array.from(externalIds, (e) => byExternal.get(e) ?? -1);
}

/** Internal id of every user whose external id is listed, by position (-1: no such user now). */
export async function internalUserIds(db: pg.Pool, externalIds: readonly string[]): Promise<Int32Array> {
  if (externalIds.length === 0) return new Int32Array(0);
  const { rows } = await db.query<{ id: number; externalId: string }>({
    text: `SELECT id, external_id AS "externalId" FROM users WHERE external_id = ANY($1::text[])`,
    values: [externalIds],
  });
  const byExternal = new Map(rows.map((r) => [r.externalId, r.id]));
  return Int32Array.from(externalIds, (e) => byExternal.get(e) ?? -1);
}

/** Packed similar-item lists of every column: column c's neighbours at c · depth …, index −1 past a short list's end. */
export interface PackedSimilarLists {
  depth: number;
  indices: Int32Array;
  scores: Float32Array;
}

/** A population's model work, done once: what {@link storePopulation} writes and {@link loadPopulation} reads. */
export interface VersionPopulation {
  /** Internal user id per row. */
  userOfRow: Int32Array;
  /** Reconstruction error per row. */
  errors: Float64Array<ArrayBuffer>;
  /** User vectors [rows × dim] (null: the kind has none). */
  vectors: Float32Array | null;
  dim: number;
  /** Every column's similar-item lists (null: not stored; see {@link STORED_LISTS_MAX_ITEMS}). */
  lists: PackedSimilarLists | null;
  maxInteractionId: bigint | null;
  seconds: number;
}

/** Hooks of {@link computePopulation}: a pause between batches (yield, or give way to serving) and a stop check. */
export interface PopulationHooks {
  pause?: () => Promise<void> | void;
  shouldStop?: () => boolean;
  /** Users per model batch. Default 256. */
  batchSize?: number;
  /** Worker threads holding the same model and histories: the work is spread over them (no pauses). */
  threads?: PopulationThreads;
}

function rethrowStop(error: unknown): never {
  throw error instanceof PopulationThreadsStopped ? new PopulationStopped() : error;
}

/** Thrown by {@link computePopulation} when `shouldStop` asked it to stop. */
export class PopulationStopped extends Error {
  constructor() {
    super('population work stopped');
    this.name = 'PopulationStopped';
  }
}

/**
 * The model work of a population (the same as ServedModel.load does per process): every row's
 * reconstruction error and user vector ({@link populationModelWork} in batches), and, for
 * catalogs up to {@link STORED_LISTS_MAX_ITEMS} items whose kind scores items with an item
 * scorer, every column's similar-item list over the population's histories (deleted columns
 * excluded; SimilarLists, exactly what the API would otherwise compute after loading).
 */
export async function computePopulation(
  model: ServableModel,
  population: PopulationHistories,
  deletedColumns: Int32Array,
  hooks: PopulationHooks = {},
): Promise<Omit<VersionPopulation, 'seconds'> & { listSeconds: number }> {
  const { histories } = population;
  const rows = histories.numRows;
  const dim = model.factor?.latentDim ?? 0;
  const errors = new Float64Array(rows);
  const vectors = dim > 0 ? new Float32Array(rows * dim) : null;
  const batch = hooks.batchSize ?? 256;
  const step = async () => {
    if (hooks.shouldStop?.()) throw new PopulationStopped();
    await hooks.pause?.();
  };
  const threads = hooks.threads;
  const stopped = () => hooks.shouldStop?.() === true;
  if (threads) {
    const part = await threads.rows(rows, batch, stopped).catch(rethrowStop);
    errors.set(part.errors);
    if (vectors && part.vectors) vectors.set(part.vectors);
  } else
    for (let start = 0; start < rows; start += batch) {
      const chunk = Int32Array.from({ length: Math.min(batch, rows - start) }, (_, k) => start + k);
      const part = populationModelWork(model, population, chunk);
      errors.set(part.errors, start);
      if (vectors && part.vectors) vectors.set(part.vectors, start * dim);
      await step();
    }
  let lists: PackedSimilarLists | null = null;
  const n = model.numItems;
  const listsStarted = performance.now();
  if (n <= STORED_LISTS_MAX_ITEMS && threads) {
    // Chunks of 64 columns: whole blocks of the scorers' 16, so each product is the serial one.
    const part = await threads.lists(n, SIMILAR_DEPTH, deletedColumns, 64, stopped).catch(rethrowStop);
    if (part) lists = { depth: SIMILAR_DEPTH, ...part };
  } else if (n <= STORED_LISTS_MAX_ITEMS) {
    const similar = new SimilarLists(model, histories);
    try {
      if (similar.available) {
        const exclude = excludeSet(deletedColumns);
        const indices = new Int32Array(n * SIMILAR_DEPTH);
        const scores = new Float32Array(n * SIMILAR_DEPTH);
        for (let from = 0; from < n; from += 16) {
          const to = Math.min(n, from + 16);
          const part = similar.lists(from, to, SIMILAR_DEPTH, exclude)!;
          indices.set(part.indices, from * SIMILAR_DEPTH);
          scores.set(part.scores, from * SIMILAR_DEPTH);
          await step();
        }
        lists = { depth: SIMILAR_DEPTH, indices, scores };
      }
    } finally {
      similar.dispose();
    }
  }
  return {
    userOfRow: population.userOfRow,
    errors,
    vectors,
    dim,
    lists,
    maxInteractionId: population.maxInteractionId,
    listSeconds: (performance.now() - listsStarted) / 1000,
  };
}

type Part = 'user_ids' | 'errors' | 'vectors' | 'similar_indices' | 'similar_scores';

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Stores a version's population (one transaction: a reader sees all of it or nothing) and
 * returns its key (see {@link StoredPopulation.key}); null when the version already has one
 * (another process stored it first), which is kept.
 */
export async function storePopulation(db: pg.Pool, versionId: number, p: VersionPopulation): Promise<string | null> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ createdAt: Date }>(
      `INSERT INTO model_populations (version_id, users, dim, similar_depth, data_max_interaction_id, seconds)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (version_id) DO NOTHING RETURNING created_at AS "createdAt"`,
      [
        versionId,
        p.userOfRow.length,
        p.dim,
        p.lists?.depth ?? 0,
        p.maxInteractionId === null ? null : p.maxInteractionId.toString(),
        p.seconds,
      ],
    );
    if (rows.length === 0) {
      await client.query('ROLLBACK');
      return null;
    }
    const parts: [Part, ArrayBufferView | null][] = [
      ['user_ids', p.userOfRow],
      ['errors', p.errors],
      ['vectors', p.vectors],
      ['similar_indices', p.lists?.indices ?? null],
      ['similar_scores', p.lists?.scores ?? null],
    ];
    for (const [part, array] of parts) {
      if (!array) continue;
      const bytes = bytesOf(array);
      for (let seq = 0, offset = 0; offset < bytes.byteLength; seq++, offset += CHUNK_BYTES) {
        const slice = bytes.subarray(offset, Math.min(bytes.byteLength, offset + CHUNK_BYTES));
        await client.query(
          'INSERT INTO model_population_chunks (version_id, part, seq, bytes) VALUES ($1, $2, $3, $4)',
          [versionId, part, seq, Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength)],
        );
      }
    }
    await client.query('COMMIT');
    return populationKey(versionId, rows[0].createdAt);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Identifies a stored population's vectors (its user-index graph is stored under this key). */
function populationKey(versionId: number, createdAt: Date): string {
  return `${versionId}@${createdAt.getTime()}`;
}

/** A stored population as loaded, with the key of its vectors for stored index graphs. */
export interface StoredPopulation extends VersionPopulation {
  createdAt: Date;
  /** Identifies this population's vectors (e.g. for a stored user-index graph). */
  key: string;
}

/**
 * A version's stored population, or null when it has none. Each array is read chunk by chunk
 * into its final typed array (peak memory: the arrays plus one 16 MB chunk). `numItems`: the
 * version's columns, to check the stored lists against.
 */
export async function loadPopulation(
  db: pg.Pool,
  versionId: number,
  numItems: number,
): Promise<StoredPopulation | null> {
  const { rows } = await db.query<{
    users: number;
    dim: number;
    similarDepth: number;
    maxId: string | null;
    seconds: number;
    createdAt: Date;
  }>(
    `SELECT users, dim, similar_depth AS "similarDepth", data_max_interaction_id::text AS "maxId", seconds,
            created_at AS "createdAt"
     FROM model_populations WHERE version_id = $1`,
    [versionId],
  );
  const head = rows[0];
  if (!head) return null;
  const read = async (part: Part, into: ArrayBufferView) => {
    const target = bytesOf(into);
    let offset = 0;
    for (let seq = 0; offset < target.byteLength; seq++) {
      const chunk = await db.query<{ bytes: Buffer }>(
        'SELECT bytes FROM model_population_chunks WHERE version_id = $1 AND part = $2 AND seq = $3',
        [versionId, part, seq],
      );
      const bytes = chunk.rows[0]?.bytes;
      if (!bytes || bytes.byteLength === 0 || offset + bytes.byteLength > target.byteLength)
        throw new Error(`model version ${versionId}: stored population part ${part} is incomplete or malformed`);
      target.set(bytes, offset);
      offset += bytes.byteLength;
    }
  };
  const userOfRow = new Int32Array(head.users);
  const errors = new Float64Array(head.users);
  await read('user_ids', userOfRow);
  await read('errors', errors);
  let vectors: Float32Array | null = null;
  if (head.dim > 0) {
    vectors = new Float32Array(head.users * head.dim);
    await read('vectors', vectors);
  }
  let lists: PackedSimilarLists | null = null;
  if (head.similarDepth > 0) {
    lists = {
      depth: head.similarDepth,
      indices: new Int32Array(numItems * head.similarDepth),
      scores: new Float32Array(numItems * head.similarDepth),
    };
    await read('similar_indices', lists.indices);
    await read('similar_scores', lists.scores);
  }
  return {
    userOfRow,
    errors,
    vectors,
    dim: head.dim,
    lists,
    maxInteractionId: head.maxId === null ? null : BigInt(head.maxId),
    seconds: head.seconds,
    createdAt: head.createdAt,
    key: populationKey(versionId, head.createdAt),
  };
}

/** Whether a version has a stored population. */
export async function hasPopulation(db: pg.Pool, versionId: number): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM model_populations WHERE version_id = $1', [versionId]);
  return rows.length > 0;
}

/** Seconds of each step of {@link buildVersionPopulation}. */
export interface PopulationPhases {
  /** Reading every history (COPY) and the version. */
  read: number;
  /** Errors and user vectors (computePopulation). */
  modelWork: number;
  /** Every column's similar-item list (computePopulation; 0 when not stored). */
  lists: number;
  /** Writing the population's chunks. */
  store: number;
  /** Building and storing the user→user graph (0 below the exact-search threshold). */
  userGraph: number;
  /** Building and storing the item graphs (items-ip, items-cosine; 0 below the threshold). */
  itemGraphs: number;
}

/** Options of {@link buildVersionPopulation}. */
export type BuildPopulationHooks = Omit<PopulationHooks, 'threads'> & {
  reads?: pg.Pool;
  index?: Partial<IndexOptions>;
  /**
   * Worker threads for the model work and the similar-item lists (default 1: this thread, with
   * the pauses). For a process that does nothing else meanwhile; when they cannot start, this
   * thread does the work.
   */
  threads?: number;
  /**
   * Threads start only for a population of at least this many users × items (default 10⁷, about
   * a few seconds of work on one thread; ML-1M has 2.2·10⁷): below it starting them costs more.
   */
  threadsFrom?: number;
  /** Receives a note when the threads could not start. */
  log?: (message: string) => void;
};

/**
 * Computes a stored version's population from the database's current interactions and stores it,
 * with the user graph and the item graphs above the exact-search threshold (what the training
 * worker does after training). Resolves with the stored population's size and
 * time, or null when the version does not exist or already has one.
 */
export async function buildVersionPopulation(
  tf: Tf,
  db: pg.Pool,
  versionId: number,
  hooks: BuildPopulationHooks = {},
): Promise<{ users: number; seconds: number; lists: boolean; phases: PopulationPhases } | null> {
  if (await hasPopulation(db, versionId)) return null;
  const artifact = await loadModelVersion(db, versionId);
  if (!artifact) return null;
  const started = performance.now();
  const model = modelFromArtifact(tf, artifact);
  try {
    const itemOfColumn = await internalItemColumns(db, artifact.itemIds);
    const minRating =
      typeof artifact.hyperparameters.minRating === 'number' ? artifact.hyperparameters.minRating : DEFAULT_MIN_RATING;
    const population = await readPopulationHistories(
      db,
      { itemOfColumn, ratings: artifact.kind === 'AUTOREC', minRating, userIds: artifact.userIds },
      hooks.reads,
    );
    const deleted = Int32Array.from(Array.from(itemOfColumn).flatMap((id, c) => (id < 0 ? [c] : [])));
    const read = performance.now();
    let threads: PopulationThreads | undefined;
    if ((hooks.threads ?? 1) > 1 && population.histories.numRows * model.numItems >= (hooks.threadsFrom ?? 1e7)) {
      threads = await PopulationThreads.start(hooks.threads!, {
        backend: tf.getBackend() === 'tensorflow' ? 'node' : tf.getBackend() === 'cpu' ? 'cpu' : 'wasm',
        native: activeNativeGemm() ? 'auto' : 'off',
        kind: artifact.kind,
        weights: artifact.weights,
        histories: population.histories,
        trainingRows: population.trainingRows,
      }).catch((error: Error) => {
        hooks.log?.(`${error.message}; the population is computed on one thread`);
        return undefined;
      });
    }
    let computed;
    try {
      computed = await computePopulation(model, population, deleted, { ...hooks, threads });
    } finally {
      await threads?.close();
    }
    const modelWork = performance.now();
    const key = await storePopulation(db, versionId, {
      ...computed,
      seconds: (performance.now() - started) / 1000,
    });
    if (key === null) return null;
    const stored = performance.now();
    // The user→user graph too (above the exact-search threshold), so no API process builds it.
    if (computed.vectors)
      await storeUserIndex(computed.dim, computed.vectors, key, hooks.index ?? {}, modelIndexStore(db, versionId));
    const userGraph = performance.now();
    // And the item graphs: at 10⁵ items they take minutes to build.
    await storeItemIndexes(model, hooks.index ?? {}, modelIndexStore(db, versionId));
    const end = performance.now();
    const s = (from: number, to: number) => (to - from) / 1000;
    return {
      users: computed.userOfRow.length,
      seconds: s(started, end),
      lists: computed.lists !== null,
      phases: {
        read: s(started, read),
        modelWork: s(read, modelWork) - computed.listSeconds,
        lists: computed.listSeconds,
        store: s(modelWork, stored),
        userGraph: s(stored, userGraph),
        itemGraphs: s(userGraph, end),
      },
    };
  } finally {
    model.dispose();
  }
}
