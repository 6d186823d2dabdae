import type { CsrMatrix } from '../data/csr.js';
import { csrSelectRows } from '../data/csr.js';
import {
  buildVectorIndex,
  HnswIndex,
  INDEX_DEFAULTS,
  resolveHnsw,
  type IndexOptions,
  type Metric,
  type VectorIndex,
} from '../index/vector-index.js';
import { NO_EXCLUSION, topK, type Exclusion, type Neighbor } from '../index/top-k.js';
import type { Autoencoder } from '../models/autoencoder.js';
import { clipRating } from '../models/autorec.js';
import type { SampleUsersOptions, SyntheticUserSample } from '../models/mult-vae.js';
import {
  dropLastColumn,
  isGenerative,
  type DisposableItemScorer,
  type ScoreMaterial,
  type ServableKind,
  type ServableModel,
  type ScoreUnit,
} from '../models/servable.js';
import { LatentGaussianFit } from '../models/synthetic-users.js';
import type { ItemScorer } from './similarity.js';

export { softmax, type ScoreMaterial, type ScoreUnit, type ServableModel } from '../models/servable.js';

/**
 * The users a version is served to when it is loaded: their histories over the model's columns
 * (values: 1 for implicit models, ratings for AutoRec). They make up the user-similarity index and
 * the population that anomaly scores are percentiles of.
 */
export interface Population {
  histories: CsrMatrix;
  /** AutoRec: each row's training user index (-1 if unknown), so known users use their trained row. */
  trainingRows?: Int32Array;
}

/**
 * A population whose model work was done once, elsewhere (the training worker stores it per
 * version; see src/registry/population.ts): every row is a user with a non-empty history, with
 * the row's reconstruction error and user vector exactly as {@link populationModelWork} gives
 * them. {@link ServedModel.load} then holds no histories and encodes no one.
 */
export interface ComputedPopulation {
  /** Population rows (all non-empty histories). */
  rows: number;
  /** Reconstruction error per row. */
  errors: Float64Array<ArrayBuffer>;
  /** User vectors [rows × latentDim] (null for EASE, which has none); centred in place by the load. */
  vectors: Float32Array | null;
  /**
   * The histories, only when on-demand item similarity still mixes in their co-occurrence (a
   * catalog whose similar-item lists are not stored); null otherwise.
   */
  histories: CsrMatrix | null;
  /**
   * Identifies these vectors for a stored user-index graph ("users-cosine" in the index store);
   * without it the user index is built.
   */
  indexKey?: string;
}

/** Whether a population source gave a {@link ComputedPopulation}. */
export function isComputedPopulation(p: Population | ComputedPopulation): p is ComputedPopulation {
  return (p as ComputedPopulation).errors !== undefined;
}

/**
 * Where built HNSW graphs are kept between loads (the server stores them in Postgres beside the
 * version), so a process loads an item index instead of rebuilding it. `params` identify a build.
 */
export interface IndexStore {
  get(name: string, params: Record<string, unknown>): Promise<Uint8Array | null>;
  /** Failures are ignored by the loader (a store that cannot write only costs rebuilds). */
  put(name: string, params: Record<string, unknown>, bytes: Uint8Array): Promise<void>;
}

export interface ServedModelOptions {
  index: Partial<IndexOptions>;
  /** Loads/stores the item indexes' graphs (items-ip, items-cosine). */
  indexStore?: IndexStore;
  /**
   * Return as soon as the item indexes are ready and compute the population (user vectors, user
   * index, reconstruction errors) in the background; see {@link ServedModel.populationReady}.
   */
  deferPopulation?: boolean;
  /** Called between batches of load-time work so a server keeps answering while a version loads. */
  yieldEvery?: () => Promise<void>;
  /**
   * Runs {@link populationModelWork} for the population's non-empty rows elsewhere (a model
   * thread); resolves with every row's error and vector in order, or rejects to compute them here.
   */
  populationWork?: (
    population: Population,
    rows: Int32Array,
  ) => Promise<{ errors: Float64Array; vectors: Float32Array | null }>;
  /** Users per batch for load-time encoding and reconstruction. Default 256. */
  batchSize?: number;
}

/** One population user's reconstruction error and its percentile (0–100) in the population. */
export interface AnomalyEntry {
  row: number;
  error: number;
  percentile: number;
}

/**
 * A history's ranking at any k (see {@link ServedModel.ranker}), with the history's query
 * [h_u, 1] in the user→item space (null for EASE, which scores items directly).
 */
export type Ranker = ((k: number, exclude?: Exclusion, candidates?: ArrayLike<number>) => Neighbor[]) & {
  readonly query: Float32Array | null;
  /**
   * Puts a raw user→item score (query · [W_i, b_i], e.g. of a cold-start item's predicted vector)
   * on the ranking's scale. The identity except for ensembles, whose ranking is a blend of
   * standardised member scores (the item counts as unknown, score 0, for the other members).
   */
  readonly toRankingScore: (raw: number) => number;
};

/**
 * A model version ready to serve: the model, its indexes (user→item inner product over the
 * decoder's item vectors, item→item and user→user cosine) and the population's reconstruction
 * errors. Plain TypeScript: the server maps external ids to model columns and population rows.
 * It serves any kind through {@link ServableModel} (src/core/models/servable.ts), which also
 * states each kind's reconstruction error (higher = more unusual).
 *
 * Histories passed to the query methods are one-row CSR matrices over the model's columns, read
 * at request time, so every answer folds in the user's current history (docs/architecture.md, "Fold-in").
 */
export class ServedModel {
  readonly kind: ServableKind;
  readonly numItems: number;
  readonly scoreUnit: ScoreUnit;
  /** Dimension of user embeddings (0 for EASE, which has none). */
  readonly userDim: number;
  /** Dimension of item embeddings (0 for EASE). */
  readonly itemDim: number;
  private userIndex: VectorIndex | null = null;
  /** Population row of each userIndex row. */
  private userRows = new Int32Array(0);
  /** Reconstruction error per population row (NaN: empty history). */
  private errorsByRow = new Float64Array(0);
  private sortedErrors = new Float64Array(0);
  private populationDone = false;
  private readonly population: Promise<void>;
  private disposed = false;

  private constructor(
    private readonly model: ServableModel,
    private readonly itemIndex: VectorIndex | null,
    private readonly itemSimilarity: VectorIndex | null,
    populationWork: (self: ServedModel) => Promise<void>,
  ) {
    this.kind = model.kind;
    this.factor = model.factor;
    this.numItems = model.numItems;
    this.scoreUnit = model.scoreUnit;
    this.userDim = this.factor?.latentDim ?? 0;
    this.itemDim = itemSimilarity?.dim ?? 0;
    this.population = populationWork(this).then(() => {
      this.populationDone = true;
    });
    this.population.catch(() => undefined); // observed through populationReady()
  }

  /**
   * Builds the item indexes (or loads them from the store), then the population's user vectors,
   * user index and reconstruction errors (`population` may be a function that reads it, so that
   * with `deferPopulation` even the reading happens in the background). With `deferPopulation` the population part runs in the
   * background after load returns: user→user search, anomalies and percentiles wait for
   * {@link populationReady}. Cost on ML-1M (3,706 items, 6,040 users, Mult-VAE, wasm): item
   * graphs ≈ 3.5 s to build or ≈ 0.1 s to load; population ≈ 3 s.
   */
  static async load(
    model: ServableModel,
    population: Population | (() => Promise<Population | ComputedPopulation>),
    options: ServedModelOptions = { index: {} },
  ): Promise<ServedModel> {
    const indexOptions = { ...options.index, yieldEvery: options.yieldEvery };
    const { itemIndex, itemSimilarity } = await itemIndexes(model, indexOptions, options.indexStore);
    const served = new ServedModel(model, itemIndex, itemSimilarity, (self) =>
      self.computePopulation(population, options, indexOptions),
    );
    if (!options.deferPopulation) await served.population;
    return served;
  }

  /** Resolves when the population's vectors, index and errors are ready (rejects if they failed). */
  populationReady(): Promise<void> {
    return this.population;
  }

  /** Population users with a non-empty history (0 until {@link populationReady}). */
  get populationSize(): number {
    return this.sortedErrors.length;
  }

  /** Reconstruction error per population row (NaN: empty history). */
  get errors(): Float64Array {
    return this.errorsByRow;
  }

  private async computePopulation(
    source: Population | (() => Promise<Population | ComputedPopulation>),
    options: ServedModelOptions,
    indexOptions: Partial<IndexOptions>,
  ): Promise<void> {
    await Promise.resolve(); // run after the constructor has returned
    const population = typeof source === 'function' ? await source() : source;
    if (isComputedPopulation(population)) return this.takePopulation(population, options, indexOptions);
    const model = this.model;
    if (population.histories.numCols !== model.numItems) {
      throw new Error(
        `ServedModel: population has ${population.histories.numCols} columns, the model ${model.numItems} items`,
      );
    }
    const pause = options.yieldEvery ?? (() => Promise.resolve());
    const batch = options.batchSize ?? 256;
    const { histories } = population;
    const nonEmpty: number[] = [];
    for (let r = 0; r < histories.numRows; r++) if (histories.indptr[r + 1] > histories.indptr[r]) nonEmpty.push(r);
    const errors = new Float64Array(histories.numRows).fill(Number.NaN);
    let userIndex: VectorIndex | null = null;
    const factor = this.factor;
    const dim = factor?.latentDim ?? 0;
    const userVectors = new Float32Array(nonEmpty.length * dim);
    const rowsOf = Int32Array.from(nonEmpty);
    // The model part (errors, vectors): in a model thread when offered (options.populationWork), else here in batches.
    let offloaded = false;
    if (options.populationWork && nonEmpty.length > 0) {
      const done = await options.populationWork(population, rowsOf).catch(() => null);
      if (done && !this.disposed) {
        rowsOf.forEach((r, k) => (errors[r] = done.errors[k]));
        if (dim > 0) userVectors.set(done.vectors!);
        offloaded = true;
      }
    }
    for (let start = 0; !offloaded && start < nonEmpty.length && !this.disposed; start += batch) {
      const rows = rowsOf.subarray(start, start + batch);
      const part = populationModelWork(model, population, rows);
      rows.forEach((r, k) => (errors[r] = part.errors[k]));
      if (dim > 0) userVectors.set(part.vectors!, start * dim);
      await pause();
    }
    if (factor && !this.disposed) userIndex = await this.userVectorsIndex(userVectors, indexOptions);
    if (this.disposed) {
      userIndex?.dispose();
      return;
    }
    this.userIndex = userIndex;
    this.populationHistories = histories;
    this.userRows = Int32Array.from(nonEmpty);
    this.errorsByRow = errors;
    this.sortedErrors = Float64Array.from(nonEmpty, (r) => errors[r]).sort();
  }

  /**
   * The population part of {@link load} from a {@link ComputedPopulation}: no model work, only the
   * user index (its graph loaded from the index store when `indexKey` names it) and the sorted
   * errors. Same state as computing it here from the same histories.
   */
  private async takePopulation(
    population: ComputedPopulation,
    options: ServedModelOptions,
    indexOptions: Partial<IndexOptions>,
  ): Promise<void> {
    const { rows, errors } = population;
    const dim = this.factor?.latentDim ?? 0;
    if (errors.length !== rows || (dim > 0 && population.vectors?.length !== rows * dim)) {
      throw new Error(
        `ServedModel: a computed population of ${rows} rows needs ${rows} errors and ${rows} × ${dim} vector values`,
      );
    }
    if (population.histories && population.histories.numCols !== this.numItems) {
      throw new Error(
        `ServedModel: population has ${population.histories.numCols} columns, the model ${this.numItems} items`,
      );
    }
    let userIndex: VectorIndex | null = null;
    if (this.factor && rows > 0) {
      const store = population.indexKey ? options.indexStore : undefined;
      userIndex = await this.userVectorsIndex(population.vectors!, indexOptions, store, population.indexKey);
    } else if (this.factor) {
      userIndex = await this.userVectorsIndex(new Float32Array(0), indexOptions);
    }
    if (this.disposed) {
      userIndex?.dispose();
      return;
    }
    this.userIndex = userIndex;
    this.populationHistories = population.histories;
    this.userRows = Int32Array.from({ length: rows }, (_, r) => r);
    this.errorsByRow = errors;
    this.sortedErrors = Float64Array.from(errors).sort();
  }

  /**
   * The population's latent fit (Mult-VAE), its mean, and the user→user cosine index over the
   * user vectors [rows × latentDim], which are centred in place. `store` and `key`: the graph of
   * a stored population's vectors is kept in (and loaded from) the index store.
   */
  private async userVectorsIndex(
    userVectors: Float32Array,
    indexOptions: Partial<IndexOptions>,
    store?: IndexStore,
    key?: string,
  ): Promise<VectorIndex> {
    const factor = this.factor!;
    if (isGenerative(factor) && userVectors.length > 0) {
      // The population's encoder means as a diagonal Gaussian: synthetic users drawn from it
      // follow the real popularity far more closely than prior draws (see sampleUsers).
      const fit = new LatentGaussianFit(factor.latentDim);
      fit.add(userVectors);
      this.latentFit = fit.result();
    }
    // User similarity is the cosine of the vectors centred on the population's mean: encoder
    // outputs share a large common component (what every history has in common: popularity),
    // which makes the cosine of raw vectors ≈ 1 for every pair of users.
    this.userMean = centreRows(userVectors, factor.latentDim);
    if (store && key)
      return storedIndex('users-cosine', 'cosine', factor.latentDim, userVectors, indexOptions, store, { key });
    return buildVectorIndex('cosine', factor.latentDim, userVectors, indexOptions);
  }

  /**
   * Whether recommendation batches score every item ({@link scoreMaterial} with `exact`) instead of
   * searching the item index: EASE and ensembles always do; an autoencoder when its item index is
   * an exact scan (a catalog below RECODER_EXACT_SEARCH_BELOW).
   */
  get exactScoring(): boolean {
    return this.model !== this.factor || this.searchKind === 'exact';
  }

  /** Which index serves user→item search ('exact' for EASE, which scores every item). */
  get searchKind(): 'exact' | 'hnsw' {
    return this.itemIndex?.kind ?? 'exact';
  }

  /** The model's query for a history: [h_u, 1] for the decoder's item vectors (not for EASE). */
  userQuery(history: CsrMatrix): Float32Array {
    const model = this.factorized();
    return model.userQueries(history);
  }

  /**
   * The k best items for a history (model score, best first): the decoder's own top-k through the
   * inner-product index, or an exact scan of `candidates` when given (e.g. a category filter).
   */
  recommend(
    history: CsrMatrix,
    k: number,
    exclude: Exclusion = NO_EXCLUSION,
    candidates?: ArrayLike<number>,
  ): Neighbor[] {
    return this.ranker(history)(k, exclude, candidates);
  }

  /**
   * {@link recommend} for one history at several k: the history is encoded (EASE: scored) once,
   * so a caller that widens k (to get past hidden items) does not run the model again.
   */
  ranker(history: CsrMatrix): Ranker {
    if (history.numRows !== 1) throw new Error(`ranker: one history expected, got ${history.numRows} rows`);
    return this.rankers(history)[0];
  }

  /**
   * {@link ranker} for several histories at once (one row each): one forward pass (EASE: one
   * scoring pass) for the whole batch. Each row's ranking is the one {@link ranker} gives that row
   * alone: the models score rows independently.
   */
  rankers(histories: CsrMatrix): Ranker[] {
    return this.rankersFrom(this.model.scoreMaterial(histories, this.exactScoring), histories.numRows);
  }

  /**
   * {@link rankers} from a batch's {@link ScoreMaterial}, computed here or in another thread
   * holding the same weights (src/serving/model-pool.ts): `rows` rankings.
   */
  rankersFrom(material: ScoreMaterial, rows: number): Ranker[] {
    const identity = (raw: number) => raw;
    const n = this.numItems;
    if (material.kind === 'scores') {
      const all = material.scores;
      const queries = material.queries;
      const D = this.factor?.itemVectorDim ?? 0;
      return Array.from({ length: rows }, (_, r) => {
        const scores = all.subarray(r * n, (r + 1) * n);
        return Object.assign(
          (k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>) =>
            topK(scores, k, exclude, candidates),
          {
            query: queries ? queries.subarray(r * D, (r + 1) * D) : null,
            toRankingScore: identity,
          },
        );
      });
    }
    if (material.kind === 'blend') {
      // Exact blended scores of every item (Ensemble.score: the function AUTO evaluated).
      const factor = this.factor;
      const queries = material.queries;
      const D = factor?.itemVectorDim ?? 0;
      return Array.from({ length: rows }, (_, r) => {
        const scores = material.blend.subarray(r * n, (r + 1) * n);
        const toRankingScore = this.model.rankingScoreOf?.(material, r) ?? identity;
        return Object.assign(
          (k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>) =>
            topK(scores, k, exclude, candidates),
          {
            query: queries ? queries.subarray(r * D, (r + 1) * D) : null,
            toRankingScore,
          },
        );
      });
    }
    const D = this.factor!.itemVectorDim;
    const queries = material.queries;
    const index = this.itemIndex!;
    return Array.from({ length: rows }, (_, r) => {
      const query = queries.subarray(r * D, (r + 1) * D);
      const rank = (k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>) =>
        candidates ? index.searchAmong(query, k, candidates, exclude) : index.search(query, k, exclude);
      return Object.assign(rank, { query, toRankingScore: identity });
    });
  }

  /**
   * Items most similar to item `col`, by the representation chosen per model kind on evidence
   * (docs/similarity.md, {@link itemScorerFor}): Mult-DAE/VAE and EASE mix their own item
   * similarity with the co-occurrence cosine of the served population's histories once the
   * population is read (before that, the model's part alone); an EASE + autoencoder ensemble mixes
   * EASE's partial correlations with the autoencoder's vectors; AutoRec: cosine of W_i.
   */
  similarItems(col: number, k: number, exclude: Exclusion = NO_EXCLUSION): Neighbor[] {
    this.checkColumn(col);
    const scorer = this.itemScorer();
    if (scorer) return scorerNeighbours(scorer, this.numItems, col, k, exclude);
    const self = { has: (i: number) => i === col || exclude.has(i), size: exclude.size + 1 };
    return this.itemSimilarity!.search(this.itemSimilarity!.vector(col), k, self);
  }

  /** Whether {@link similarItems} scores every item with an item scorer ({@link SimilarLists} can compute its lists elsewhere). */
  get similarItemsByScorer(): boolean {
    return this.itemScorer() !== null;
  }

  /** Whether {@link similarItems} already uses the population's co-occurrence (kinds that mix it in). */
  get similarItemsFinal(): boolean {
    return this.populationHistories !== null || !this.model.itemScorerUsesCooccurrence;
  }

  /** The item scorer of {@link similarItems}, rebuilt once when the population's histories arrive. */
  private itemScorer(): ItemScorer | null {
    const histories = this.populationHistories;
    if (this.similarity === undefined || (histories && !this.similarityHasPopulation)) {
      this.similarity?.dispose();
      this.similarity = this.model.itemScorer(histories);
      this.similarityHasPopulation = histories !== null;
    }
    return this.similarity;
  }

  private similarity: DisposableItemScorer | null | undefined;
  private similarityHasPopulation = false;
  /** The population's histories once read (the co-occurrence part of item similarity). */
  private populationHistories: CsrMatrix | null = null;

  /**
   * Population users most similar to a history: cosine of the user vectors centred on the
   * population's mean; index = population row.
   */
  similarUsers(history: CsrMatrix, k: number, excludeRow = -1): Neighbor[] {
    const model = this.factorized();
    this.checkPopulation();
    const exclude = excludeRow >= 0 ? { has: (i: number) => this.userRows[i] === excludeRow, size: 1 } : NO_EXCLUSION;
    const query = model.encode(history);
    for (let d = 0; d < query.length; d++) query[d] -= this.userMean[d];
    return this.userIndex!.search(query, k, exclude).map((n) => ({ index: this.userRows[n.index], score: n.score }));
  }

  /** The population's mean user vector, subtracted before the user→user cosine. */
  private userMean: Float32Array = new Float32Array(0);

  /**
   * Reconstructed value of every item for a history, in {@link scoreUnit}: probability (softmax
   * of the logits) for Mult-VAE/DAE, predicted rating clipped to [1, 5] for AutoRec, xB for EASE.
   */
  reconstruct(history: CsrMatrix): Float32Array {
    return this.reconstructWithError(history).values;
  }

  /** The history's reconstruction error (see the class doc); NaN for an empty history. */
  reconstructionError(history: CsrMatrix): number {
    if (history.indptr[1] === history.indptr[0]) return Number.NaN;
    return this.reconstructWithError(history).error;
  }

  /** {@link reconstruct} and {@link reconstructionError} from one forward pass. */
  reconstructWithError(history: CsrMatrix): { values: Float32Array; error: number } {
    return this.model.reconstructInUnit(history);
  }

  /** Percentile (0–100) of an error in the population: the share of users whose error is ≤ it. */
  percentile(error: number): number {
    this.checkPopulation();
    const s = this.sortedErrors;
    if (s.length === 0 || Number.isNaN(error)) return Number.NaN;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid] <= error) lo = mid + 1;
      else hi = mid;
    }
    return (100 * lo) / s.length;
  }

  /** The k population users with the highest reconstruction error, highest first. */
  anomalies(k: number, exclude: Exclusion = NO_EXCLUSION): AnomalyEntry[] {
    this.checkPopulation();
    return topK(this.errors, k, exclude).map((n) => ({
      row: n.index,
      error: n.score,
      percentile: this.percentile(n.score),
    }));
  }

  /** The user vector of a history (the encoder mean; AutoRec: the folded-in decoder row). */
  userEmbedding(history: CsrMatrix): Float32Array {
    return this.factorized().encode(history);
  }

  /** The item vector of column `col`: the decoder's output weights into it (without the bias). */
  itemEmbedding(col: number): Float32Array {
    this.factorized();
    this.checkColumn(col);
    const model = this.factor!;
    const D = model.itemVectorDim;
    this.itemVectorsCache ??= model.itemVectors();
    return this.itemVectorsCache.slice(col * D, col * D + D - 1);
  }

  /**
   * Every item's vector in the user→item space ([numItems × dim], row i = [W_i, b_i], so that a
   * history's score for i is userQuery(history) · row i), or null for EASE.
   */
  itemVectorMatrix(): { vectors: Float32Array; dim: number } | null {
    if (!this.factor) return null;
    this.itemVectorsCache ??= this.factor.itemVectors();
    return { vectors: this.itemVectorsCache, dim: this.factor.itemVectorDim };
  }

  /** Whether the model has user/item embeddings (every kind but EASE). */
  get hasEmbeddings(): boolean {
    return this.factor !== null;
  }

  /** Whether the model is generative (Mult-VAE): {@link sampleUsers} works. */
  get canSampleUsers(): boolean {
    return isGenerative(this.factor);
  }

  /**
   * The population's encoder means fitted as a diagonal Gaussian (Mult-VAE, once the population is
   * ready), for synthetic users that resemble it; null otherwise.
   */
  get populationLatent(): { mean: Float32Array; std: Float32Array } | null {
    return this.latentFit;
  }

  private latentFit: { mean: Float32Array; std: Float32Array } | null = null;

  /** Synthetic users drawn from the prior (or options.latent) through the decoder (Mult-VAE only); see MultVAE.sampleUsers. */
  sampleUsers(
    count: number,
    itemsPerUser: number,
    seed: number,
    options: SampleUsersOptions = {},
  ): SyntheticUserSample[] {
    if (!isGenerative(this.factor))
      throw new Error(`sampleUsers: only Mult-VAE versions are generative (this is ${this.kind})`);
    return this.factor.sampleUsers(count, itemsPerUser, seed, options);
  }

  /** Predicted ratings for (history, items) — AutoRec only; clipped to [1, 5]. */
  predictRatings(history: CsrMatrix, cols: ArrayLike<number>): Float32Array {
    if (this.model.scoreUnit !== 'rating' || !this.factor)
      throw new Error('predictRatings: only AutoRec versions predict ratings');
    const query = this.factor.userQueries(history);
    const D = this.factor.itemVectorDim;
    this.itemVectorsCache ??= this.factor.itemVectors();
    const items = this.itemVectorsCache;
    const out = new Float32Array(cols.length);
    for (let k = 0; k < cols.length; k++) {
      this.checkColumn(cols[k]);
      let score = 0;
      for (let d = 0; d < D; d++) score += query[d] * items[cols[k] * D + d];
      out[k] = clipRating(score);
    }
    return out;
  }

  /** Frees the model's tensors and the indexes. */
  dispose(): void {
    this.disposed = true;
    this.model.dispose();
    for (const index of [this.itemIndex, this.itemSimilarity, this.userIndex]) index?.dispose();
    this.similarity?.dispose();
    this.similarity = null;
    this.populationHistories = null;
  }

  private itemVectorsCache: Float32Array | undefined;

  /** The model behind embeddings, reconstructions and anomaly scores: the autoencoder, or an ensemble's autoencoder member. */
  private readonly factor: Autoencoder | null;

  private factorized(): Autoencoder {
    if (!this.factor) throw new Error('EASE versions have no user or item embeddings');
    return this.factor;
  }

  private checkPopulation(): void {
    if (!this.populationDone) throw new Error('ServedModel: the population is not ready yet (await populationReady())');
  }

  private checkColumn(col: number): void {
    if (!(Number.isInteger(col) && col >= 0 && col < this.numItems))
      throw new RangeError(`item column ${col} out of range [0, ${this.numItems})`);
  }
}

/**
 * Puts the user→user index graph of a {@link ComputedPopulation}'s vectors [rows × latentDim]
 * (centred on their mean, as ServedModel.load centres them) in the index store under `key`, so
 * that a process loading that population with the same index options finds the graph instead of
 * building it. Nothing is stored below `exactBelow` vectors (an exact scan has no graph).
 */
export async function storeUserIndex(
  latentDim: number,
  vectors: Float32Array,
  key: string,
  options: Partial<IndexOptions>,
  store: IndexStore,
): Promise<void> {
  const centred = Float32Array.from(vectors);
  centreRows(centred, latentDim);
  const index = await storedIndex('users-cosine', 'cosine', latentDim, centred, options, store, { key });
  index.dispose();
}

/**
 * A model's item graphs: user→item (inner product over the item vectors) and item→item (cosine
 * over the item vectors without the bias: popularity, not direction); null for kinds without
 * item vectors. Loaded from `store` when graphs with the same build parameters are there, else
 * built (and stored).
 */
async function itemIndexes(
  model: ServableModel,
  options: Partial<IndexOptions>,
  store?: IndexStore,
): Promise<{ itemIndex: VectorIndex | null; itemSimilarity: VectorIndex | null }> {
  const factor = model.factor;
  if (!factor) return { itemIndex: null, itemSimilarity: null };
  const D = factor.itemVectorDim;
  const itemVectors = factor.itemVectors();
  const itemIndex = await storedIndex('items-ip', 'ip', D, itemVectors, options, store);
  const itemSimilarity = await storedIndex(
    'items-cosine',
    'cosine',
    D - 1,
    dropLastColumn(itemVectors, D),
    options,
    store,
  );
  return { itemIndex, itemSimilarity };
}

/**
 * Builds and stores a model's item graphs (above the exact-search threshold) as {@link ServedModel.load}
 * looks for them with the same index options, so that no API process builds them: the training
 * worker calls it once per version. Returns whether graphs were stored (false: exact search, or
 * a model without item vectors).
 */
export async function storeItemIndexes(
  model: ServableModel,
  options: Partial<IndexOptions>,
  store: IndexStore,
): Promise<boolean> {
  const { itemIndex, itemSimilarity } = await itemIndexes(model, options, store);
  const stored = itemIndex?.kind === 'hnsw';
  itemIndex?.dispose();
  itemSimilarity?.dispose();
  return stored;
}

/** An item index loaded from the store when a graph with the same build parameters is there, else built (and stored). */
async function storedIndex(
  name: string,
  metric: Metric,
  dim: number,
  vectors: Float32Array,
  options: Partial<IndexOptions>,
  store?: IndexStore,
  extra: Record<string, unknown> = {},
): Promise<VectorIndex> {
  const exactBelow = options.exactBelow ?? INDEX_DEFAULTS.exactBelow;
  const size = vectors.length / dim;
  if (size < exactBelow || !store) return buildVectorIndex(metric, dim, vectors, options);
  const hnsw = resolveHnsw(size, options.hnsw);
  const params = {
    format: 1,
    metric,
    dim,
    size,
    m: hnsw.m,
    efConstruction: hnsw.efConstruction,
    seed: hnsw.seed,
    ...extra,
  };
  const bytes = await store.get(name, params).catch(() => null);
  if (bytes) {
    try {
      return HnswIndex.fromBytes(metric, dim, vectors, bytes, hnsw.ef);
    } catch {
      // unreadable or mismatched graph: rebuild below
    }
  }
  const built = await HnswIndex.build(metric, dim, vectors, hnsw, options.yieldEvery);
  await store.put(name, params, built.toBytes()).catch(() => undefined);
  return built;
}

/** Item `col`'s k best neighbours by an item scorer (NaN scores never, `col` itself and `exclude` skipped). */
function scorerNeighbours(
  scorer: ItemScorer,
  numItems: number,
  col: number,
  k: number,
  exclude: Exclusion,
): Neighbor[] {
  const scores = new Float32Array(numItems);
  scorer(col, scores);
  for (let j = 0; j < scores.length; j++) if (scores[j] !== scores[j]) scores[j] = -Infinity;
  return topK(scores, k, { has: (i: number) => i === col || exclude.has(i), size: exclude.size + 1 });
}

/**
 * The model part of a population's load-time work for some of its rows (non-empty histories):
 * each row's reconstruction error (EASE's own, else the autoencoder's: an ensemble's autoencoder
 * member, or its EASE member when it has none) and, for an autoencoder, its user vector
 * [rows × latentDim] (null for EASE). What {@link ServedModel.load} computes, here or in a model thread.
 */
export function populationModelWork(
  model: ServableModel,
  population: Population,
  rows: Int32Array,
): { errors: Float64Array; vectors: Float32Array | null } {
  const sub = csrSelectRows(population.histories, Array.from(rows));
  const known = population.trainingRows ? Int32Array.from(rows, (r) => population.trainingRows![r]) : undefined;
  const errors = model.reconstructionErrors(sub, known);
  const factor = model.factor;
  return { errors, vectors: factor ? factor.encode(sub, known) : null };
}

/**
 * The similar-item lists of a served model's kinds that score items with an item scorer (all but
 * AutoRec), computed apart from a {@link ServedModel}, e.g. in a model thread: column c's list is
 * exactly ServedModel.similarItems(c, depth, exclude) once the population is read.
 */
export class SimilarLists {
  private readonly scorer: DisposableItemScorer | null;

  constructor(
    private readonly model: ServableModel,
    population: CsrMatrix | null,
  ) {
    this.scorer = model.itemScorer(population);
  }

  /** Whether the model kind has an item scorer (AutoRec has not: {@link lists} returns null). */
  get available(): boolean {
    return this.scorer !== null;
  }

  /**
   * Lists of the columns [from, to), packed: column c's neighbours at (c − from) · depth …, best
   * first, index −1 (score NaN) past the end of a short list. Ascending column order is fastest.
   */
  lists(
    from: number,
    to: number,
    depth: number,
    exclude: Exclusion = NO_EXCLUSION,
  ): { indices: Int32Array; scores: Float32Array } | null {
    if (!this.scorer) return null;
    const count = Math.max(0, to - from);
    const indices = new Int32Array(count * depth).fill(-1);
    const scores = new Float32Array(count * depth).fill(Number.NaN);
    for (let c = from; c < to; c++) {
      const list = scorerNeighbours(this.scorer, this.model.numItems, c, depth, exclude);
      list.forEach((nb, j) => {
        indices[(c - from) * depth + j] = nb.index;
        scores[(c - from) * depth + j] = nb.score;
      });
    }
    return { indices, scores };
  }

  dispose(): void {
    this.scorer?.dispose();
  }
}

/**
 * Subtracts the column means from every row of `m` [rows × dim] in place.
 * @returns the means [dim] (zeros for no rows)
 */
export function centreRows(m: Float32Array, dim: number): Float32Array {
  const rows = m.length / dim;
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] += m[r * dim + d];
  const out = new Float32Array(dim);
  for (let d = 0; d < dim; d++) out[d] = rows > 0 ? mean[d] / rows : 0;
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) m[r * dim + d] -= out[d];
  return out;
}

/** The buffers of a {@link ScoreMaterial}, to transfer it between threads without copying. */
export function materialBuffers(material: ScoreMaterial): ArrayBuffer[] {
  const arrays: ArrayBufferView[] =
    material.kind === 'scores'
      ? [material.scores, ...(material.queries ? [material.queries] : [])]
      : material.kind === 'queries'
        ? [material.queries]
        : [material.blend, ...material.mean, ...material.std, ...(material.queries ? [material.queries] : [])];
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays)
    if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength)
      buffers.add(a.buffer);
  return [...buffers];
}
