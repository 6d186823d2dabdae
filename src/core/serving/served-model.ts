import type { CsrMatrix } from '../data/csr.js';
import { csrSelectRows } from '../data/csr.js';
import { buildVectorIndex, HnswIndex, INDEX_DEFAULTS, type IndexOptions, type Metric, type VectorIndex } from '../index/vector-index.js';
import { NO_EXCLUSION, topK, type Exclusion, type Neighbor } from '../index/top-k.js';
import type { Autoencoder } from '../models/autoencoder.js';
import { AutoRec, clipRating } from '../models/autorec.js';
import { Ease } from '../models/ease.js';
import { Ensemble } from '../models/ensemble.js';
import { MultVAE, type SampleUsersOptions, type SyntheticUserSample } from '../models/mult-vae.js';
import { LatentGaussianFit } from '../models/synthetic-users.js';
import { MultinomialAutoencoder } from '../models/multinomial-ae.js';
import { cosineScorer, easeScorer, itemSimilarityScorer, mixedScorer, type ItemScorer } from './similarity.js';

/** What a model's scores mean; reconstruction values are reported in this unit. */
export type ScoreUnit = 'probability' | 'rating' | 'score';

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
  populationWork?: (population: Population, rows: Int32Array) => Promise<{ errors: Float64Array; vectors: Float32Array | null }>;
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

/** A model a version serves: an autoencoder, EASE, or an ensemble of them. */
export type ServableModel = Autoencoder | Ease | Ensemble;

/**
 * A model version ready to serve: the model, its indexes (user→item inner product over the
 * decoder's item vectors, item→item and user→user cosine) and the population's reconstruction
 * errors. Plain TypeScript: the server maps external ids to model columns and population rows.
 *
 * Histories passed to the query methods are one-row CSR matrices over the model's columns, read
 * at request time, so every answer folds in the user's current history (docs/architecture.md, "Fold-in").
 *
 * Reconstruction error (higher = more unusual):
 * - Mult-VAE / Mult-DAE: the mean negative log-likelihood of the history's items under the
 *   reconstructed multinomial, −Σ x_i log softmax(z)_i / Σ x_i;
 * - AutoRec: the RMSE of the reconstructed ratings over the rated items;
 * - EASE: the mean squared error ‖x − xB‖² / |x| over all items, per history item.
 */
export class ServedModel {
  readonly kind: 'vae' | 'dae' | 'autorec' | 'ease' | 'ensemble';
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
    this.kind = model instanceof Ease ? 'ease' : model.kind;
    this.factor = factorOf(model);
    this.numItems = model.numItems;
    this.scoreUnit = this.kind === 'autorec' ? 'rating' : this.kind === 'ease' ? 'score' : 'probability';
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
    population: Population | (() => Promise<Population>),
    options: ServedModelOptions = { index: {} },
  ): Promise<ServedModel> {
    const indexOptions = { ...options.index, yieldEvery: options.yieldEvery };
    let itemIndex: VectorIndex | null = null;
    let itemSimilarity: VectorIndex | null = null;
    const factor = factorOf(model);
    if (factor) {
      const D = factor.itemVectorDim;
      const itemVectors = factor.itemVectors();
      itemIndex = await storedIndex('items-ip', 'ip', D, itemVectors, indexOptions, options.indexStore);
      // Item–item: cosine over the item vectors without the bias (popularity, not direction).
      itemSimilarity = await storedIndex('items-cosine', 'cosine', D - 1, dropLastColumn(itemVectors, D), indexOptions, options.indexStore);
    }
    const served = new ServedModel(model, itemIndex, itemSimilarity, (self) => self.computePopulation(population, options, indexOptions));
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
    source: Population | (() => Promise<Population>),
    options: ServedModelOptions,
    indexOptions: Partial<IndexOptions>,
  ): Promise<void> {
    await Promise.resolve(); // run after the constructor has returned
    const population = typeof source === 'function' ? await source() : source;
    // EASE's own errors, else the autoencoder's (an ensemble's autoencoder member, or its EASE member when it has none).
    const model = this.model instanceof Ease ? this.model : (this.factor ?? ((this.model as Ensemble).members[0].model as Ease));
    if (population.histories.numCols !== model.numItems) {
      throw new Error(`ServedModel: population has ${population.histories.numCols} columns, the model ${model.numItems} items`);
    }
    const pause = options.yieldEvery ?? (() => Promise.resolve());
    const batch = options.batchSize ?? 256;
    const { histories } = population;
    const nonEmpty: number[] = [];
    for (let r = 0; r < histories.numRows; r++) if (histories.indptr[r + 1] > histories.indptr[r]) nonEmpty.push(r);
    const errors = new Float64Array(histories.numRows).fill(Number.NaN);
    let userIndex: VectorIndex | null = null;
    const dim = model instanceof Ease ? 0 : model.latentDim;
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
      const part = populationModelWork(this.model, population, rows);
      rows.forEach((r, k) => (errors[r] = part.errors[k]));
      if (dim > 0) userVectors.set(part.vectors!, start * dim);
      await pause();
    }
    if (!(model instanceof Ease) && !this.disposed) {
      if (model instanceof MultVAE && nonEmpty.length > 0) {
        // The population's encoder means as a diagonal Gaussian: synthetic users drawn from it
        // follow the real popularity far more closely than prior draws (see sampleUsers).
        const fit = new LatentGaussianFit(model.latentDim);
        fit.add(userVectors);
        this.latentFit = fit.result();
      }
      // User similarity is the cosine of the vectors centred on the population's mean: encoder
      // outputs share a large common component (what every history has in common: popularity),
      // which makes the cosine of raw vectors ≈ 1 for every pair of users.
      this.userMean = centreRows(userVectors, model.latentDim);
      if (!this.disposed) userIndex = await buildVectorIndex('cosine', model.latentDim, userVectors, indexOptions);
    }
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
   * Whether recommendation batches score every item ({@link scoreMaterial} with `exact`) instead of
   * searching the item index: EASE and ensembles always do; an autoencoder when its item index is
   * an exact scan (a catalog below RECODER_EXACT_SEARCH_BELOW).
   */
  get exactScoring(): boolean {
    return this.model instanceof Ease || this.model instanceof Ensemble || this.searchKind === 'exact';
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
  recommend(history: CsrMatrix, k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>): Neighbor[] {
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
    return this.rankersFrom(scoreMaterial(this.model, histories, this.exactScoring), histories.numRows);
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
        return Object.assign((k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>) => topK(scores, k, exclude, candidates), {
          query: queries ? queries.subarray(r * D, (r + 1) * D) : null,
          toRankingScore: identity,
        });
      });
    }
    if (material.kind === 'blend') {
      // Exact blended scores of every item (Ensemble.score: the function AUTO evaluated).
      const ensemble = this.model as Ensemble;
      const factor = this.factor;
      const queries = material.queries;
      const D = factor?.itemVectorDim ?? 0;
      return Array.from({ length: rows }, (_, r) => {
        const scores = material.blend.subarray(r * n, (r + 1) * n);
        let toRankingScore = identity;
        if (factor) {
          // A raw factor score on the blend's scale; the other members score an unknown item 0.
          let offset = 0;
          let scale = 0;
          ensemble.members.forEach((m, i) => {
            const std = material.std[i][r];
            if (m.weight === 0 || !(std > 0)) return;
            offset -= (m.weight * material.mean[i][r]) / std;
            if (m.model === factor) scale = m.weight / std;
          });
          toRankingScore = (raw: number) => offset + scale * raw;
        }
        return Object.assign((k: number, exclude: Exclusion = NO_EXCLUSION, candidates?: ArrayLike<number>) => topK(scores, k, exclude, candidates), {
          query: queries ? queries.subarray(r * D, (r + 1) * D) : null,
          toRankingScore,
        });
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
    return this.populationHistories !== null || !usesCooccurrence(this.model);
  }

  /** The item scorer of {@link similarItems}, rebuilt once when the population's histories arrive. */
  private itemScorer(): ItemScorer | null {
    const histories = this.populationHistories;
    if (this.similarity === undefined || (histories && !this.similarityHasPopulation)) {
      this.similarity?.dispose();
      this.similarity = itemScorerFor(this.model, histories);
      this.similarityHasPopulation = histories !== null;
    }
    return this.similarity;
  }

  private similarity: (ItemScorer & { dispose(): void }) | null | undefined;
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
    const empty = history.indptr[1] === history.indptr[0];
    if (this.model instanceof Ease) {
      const values = this.model.score(history);
      return { values, error: empty ? Number.NaN : easeError(history, 0, values) };
    }
    const factor = this.factor!;
    const raw = factor.reconstruct(history);
    const error = empty ? Number.NaN : modelError(factor.kind, history, 0, raw);
    return { values: this.kind === 'autorec' ? raw.map((x) => clipRating(x)) : softmax(raw), error };
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
    return topK(this.errors, k, exclude).map((n) => ({ row: n.index, error: n.score, percentile: this.percentile(n.score) }));
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
    return this.factor instanceof MultVAE;
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
  sampleUsers(count: number, itemsPerUser: number, seed: number, options: SampleUsersOptions = {}): SyntheticUserSample[] {
    if (!(this.factor instanceof MultVAE)) throw new Error(`sampleUsers: only Mult-VAE versions are generative (this is ${this.kind})`);
    return this.factor.sampleUsers(count, itemsPerUser, seed, options);
  }

  /** Predicted ratings for (history, items) — AutoRec only; clipped to [1, 5]. */
  predictRatings(history: CsrMatrix, cols: ArrayLike<number>): Float32Array {
    if (!(this.model instanceof AutoRec)) throw new Error('predictRatings: only AutoRec versions predict ratings');
    const query = this.model.userQueries(history);
    const D = this.model.itemVectorDim;
    this.itemVectorsCache ??= this.model.itemVectors();
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
    if (!(this.model instanceof Ease)) this.model.dispose();
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
    if (!(Number.isInteger(col) && col >= 0 && col < this.numItems)) throw new RangeError(`item column ${col} out of range [0, ${this.numItems})`);
  }
}

/** An item index loaded from the store when a graph with the same build parameters is there, else built (and stored). */
async function storedIndex(name: string, metric: Metric, dim: number, vectors: Float32Array, options: Partial<IndexOptions>, store?: IndexStore): Promise<VectorIndex> {
  const exactBelow = options.exactBelow ?? INDEX_DEFAULTS.exactBelow;
  const size = vectors.length / dim;
  if (size < exactBelow || !store) return buildVectorIndex(metric, dim, vectors, options);
  const hnsw = { ...INDEX_DEFAULTS.hnsw, ...options.hnsw };
  const params = { format: 1, metric, dim, size, m: hnsw.m, efConstruction: hnsw.efConstruction, seed: hnsw.seed };
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

/** Numerically stable softmax of one row. */
export function softmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

function modelError(kind: Autoencoder['kind'], histories: CsrMatrix, row: number, recon: Float32Array): number {
  const lo = histories.indptr[row];
  const hi = histories.indptr[row + 1];
  if (hi === lo) return Number.NaN;
  if (kind === 'autorec') {
    let se = 0;
    for (let k = lo; k < hi; k++) {
      se += (clipRating(recon[histories.indices[k]]) - histories.values[k]) ** 2;
    }
    return Math.sqrt(se / (hi - lo));
  }
  // log softmax(z)_i = z_i − logsumexp(z)
  let max = -Infinity;
  for (const x of recon) if (x > max) max = x;
  let sum = 0;
  for (const x of recon) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  let nll = 0;
  let weight = 0;
  for (let k = lo; k < hi; k++) {
    nll -= histories.values[k] * (recon[histories.indices[k]] - lse);
    weight += histories.values[k];
  }
  return nll / weight;
}

function easeError(histories: CsrMatrix, row: number, scores: Float32Array): number {
  const lo = histories.indptr[row];
  const hi = histories.indptr[row + 1];
  if (hi === lo) return Number.NaN;
  let se = 0;
  for (let i = 0; i < scores.length; i++) se += scores[i] * scores[i];
  for (let k = lo; k < hi; k++) {
    const s = scores[histories.indices[k]];
    const x = histories.values[k];
    se += (x - s) ** 2 - s * s;
  }
  return se / (hi - lo);
}

/**
 * The item–item scorer of a model kind (docs/similarity.md, `npm run bench:similarity`: genre
 * precision@10 of the 10 neighbours against the cosine of raw interaction columns, ML-1M /
 * ml-latest-small):
 * - Mult-DAE / Mult-VAE: ½ cosine of [encoder input row, decoder W_i] + ½ co-occurrence cosine
 *   (1.018× / 1.010× on ML-1M; 0.99× where the decoder alone fell to 0.79× under the demo's budget);
 * - EASE: ½ column B[·, i] + ½ co-occurrence cosine (1.007×; its row B[i, ·] alone: 0.947×);
 * - an EASE + autoencoder ensemble: ½ EASE's partial correlation −P_ij/√(P_ii P_jj) + ½ (½ encoder
 *   + ½ decoder cosine) (1.026×; 1.034× on ml-latest-small);
 * - AutoRec: null (cosine of W_i through the item-similarity index).
 * Without `interactions` (before the population is read) the model's part alone.
 */
function itemScorerFor(model: ServableModel, interactions: CsrMatrix | null): (ItemScorer & { dispose(): void }) | null {
  const options = { blockSize: 16 };
  if (model instanceof Ensemble) return ensembleItemScorer(model);
  if (model instanceof Ease) {
    return itemSimilarityScorer({ numItems: model.numItems, easeWeights: model.weights, interactions: interactions ?? undefined }, options);
  }
  if (model instanceof MultinomialAutoencoder) {
    const autoencoder = { itemVectors: model.itemVectors(), itemVectorDim: model.itemVectorDim, inputItemVectors: model.inputItemVectors() };
    return itemSimilarityScorer({ numItems: model.numItems, autoencoder, interactions: interactions ?? undefined }, options);
  }
  return null;
}

/** Item `col`'s k best neighbours by an item scorer (NaN scores never, `col` itself and `exclude` skipped). */
function scorerNeighbours(scorer: ItemScorer, numItems: number, col: number, k: number, exclude: Exclusion): Neighbor[] {
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
export function populationModelWork(served: ServableModel, population: Population, rows: Int32Array): { errors: Float64Array; vectors: Float32Array | null } {
  const model = served instanceof Ease ? served : (factorOf(served) ?? ((served as Ensemble).members[0].model as Ease));
  const sub = csrSelectRows(population.histories, Array.from(rows));
  const errors = new Float64Array(rows.length);
  const n = model.numItems;
  if (model instanceof Ease) {
    const scores = model.score(sub);
    for (let k = 0; k < rows.length; k++) errors[k] = easeError(sub, k, scores.subarray(k * n, (k + 1) * n));
    return { errors, vectors: null };
  }
  const known = population.trainingRows ? Int32Array.from(rows, (r) => population.trainingRows![r]) : undefined;
  const recon = model instanceof AutoRec ? model.reconstruct(sub, known) : model.reconstruct(sub);
  for (let k = 0; k < rows.length; k++) errors[k] = modelError(model.kind, sub, k, recon.subarray(k * n, (k + 1) * n));
  const vectors = model instanceof AutoRec ? model.encode(sub, known) : model.encode(sub);
  return { errors, vectors };
}

/**
 * The similar-item lists of a served model's kinds that score items with an item scorer (all but
 * AutoRec), computed apart from a {@link ServedModel}, e.g. in a model thread: column c's list is
 * exactly ServedModel.similarItems(c, depth, exclude) once the population is read.
 */
export class SimilarLists {
  private readonly scorer: (ItemScorer & { dispose(): void }) | null;

  constructor(
    private readonly model: ServableModel,
    population: CsrMatrix | null,
  ) {
    this.scorer = itemScorerFor(model, population);
  }

  /** Whether the model kind has an item scorer (AutoRec has not: {@link lists} returns null). */
  get available(): boolean {
    return this.scorer !== null;
  }

  /**
   * Lists of the columns [from, to), packed: column c's neighbours at (c − from) · depth …, best
   * first, index −1 (score NaN) past the end of a short list. Ascending column order is fastest.
   */
  lists(from: number, to: number, depth: number, exclude: Exclusion = NO_EXCLUSION): { indices: Int32Array; scores: Float32Array } | null {
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

/** Whether {@link itemScorerFor} mixes in the population's co-occurrence for this model. */
function usesCooccurrence(model: ServableModel): boolean {
  return model instanceof Ease || model instanceof MultinomialAutoencoder;
}

/** The ensemble part of {@link itemScorerFor}; null when the ensemble lacks either member kind. */
function ensembleItemScorer(model: Ensemble): (ItemScorer & { dispose(): void }) | null {
  const ease = easeMember(model);
  const ae = model.factorized;
  if (!ease || !(ae instanceof MultinomialAutoencoder)) return null;
  const n = model.numItems;
  const input = ae.inputItemVectors();
  const encoder = cosineScorer(input.vectors, input.dim, { blockSize: 16 });
  const decoder = cosineScorer(dropLastColumn(ae.itemVectors(), ae.itemVectorDim), ae.itemVectorDim - 1, { blockSize: 16 });
  const autoencoder = mixedScorer(n, [
    { scorer: encoder, weight: 0.5 },
    { scorer: decoder, weight: 0.5 },
  ]);
  const mixed = mixedScorer(n, [
    { scorer: easeScorer(ease.weights, n, 'geometric'), weight: 0.5 },
    { scorer: autoencoder, weight: 0.5 },
  ]);
  return Object.assign(mixed, { dispose: () => (encoder.dispose(), decoder.dispose()) });
}

/** An ensemble's EASE member (its item–item weights serve similar items), or null. */
function easeMember(model: Ensemble): Ease | null {
  for (const m of model.members) if (m.model instanceof Ease) return m.model;
  return null;
}

/** The autoencoder that gives a servable model its embeddings (null for EASE). */
function factorOf(model: ServableModel): Autoencoder | null {
  if (model instanceof Ease) return null;
  if (model instanceof Ensemble) return model.factorized;
  return model;
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

function dropLastColumn(m: Float32Array, dim: number): Float32Array {
  const rows = m.length / dim;
  const out = new Float32Array(rows * (dim - 1));
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * dim, r * dim + dim - 1), r * (dim - 1));
  return out;
}


/**
 * What a batch's rankings are built from (one forward pass over its histories): EASE's scores of
 * every item, an ensemble's blend with each member's per-row mean and standard deviation (and its
 * autoencoder's queries), or an autoencoder's queries [h_u, 1] for the inner-product index.
 * Plain typed arrays, so that another thread holding the same weights can compute it.
 */
export type ScoreMaterial =
  /** Every item's score per row; `queries` for an autoencoder scored exactly (cold-start items use them). */
  | { kind: 'scores'; scores: Float32Array; queries?: Float32Array }
  | { kind: 'blend'; blend: Float32Array; mean: Float64Array[]; std: Float64Array[]; queries: Float32Array | null }
  | { kind: 'queries'; queries: Float32Array };

/**
 * The {@link ScoreMaterial} of a batch of histories (one row each). An autoencoder's rows are
 * its queries, searched in the item index, or with `exact` every item's score (one matMul for the
 * batch: the exact scan of a catalog below RECODER_EXACT_SEARCH_BELOW, done where the batch runs).
 */
export function scoreMaterial(model: ServableModel, histories: CsrMatrix, exact = false): ScoreMaterial {
  if (model instanceof Ease) return { kind: 'scores', scores: model.score(histories) };
  if (model instanceof Ensemble) {
    const parts = model.scoreParts(histories);
    const factor = factorOf(model);
    return { kind: 'blend', blend: parts.blend, mean: parts.mean, std: parts.std, queries: factor ? factor.userQueries(histories) : null };
  }
  const queries = model.userQueries(histories);
  if (exact) return { kind: 'scores', scores: model.scoreQueries(queries, histories.numRows), queries };
  return { kind: 'queries', queries };
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
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) buffers.add(a.buffer);
  return [...buffers];
}

/** Frees a servable model's tensors (EASE holds none). */
export function disposeServable(model: ServableModel): void {
  if (!(model instanceof Ease)) model.dispose();
}
