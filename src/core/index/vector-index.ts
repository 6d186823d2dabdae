import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import hnswlib from 'hnswlib-node';
import { NO_EXCLUSION, topK, type Exclusion, type Neighbor } from './top-k.js';

/**
 * `ip`: score = query · vector (maximum inner-product search; the decoder's logits).
 * `cosine`: score = cos(query, vector) in [-1, 1] (zero vectors score 0).
 */
export type Metric = 'ip' | 'cosine';

export interface HnswOptions {
  /** Graph degree (hnswlib's M). Default by index size ({@link hnswParamsFor}). */
  m: number;
  /** Candidate list size while building. Default by index size ({@link hnswParamsFor}). */
  efConstruction: number;
  /** Candidate list size while searching (raised to k when k is larger). Default by index size. */
  ef: number;
  /** Seed of the level generator: the same vectors and seed build the same graph. Default 100. */
  seed: number;
}

export interface IndexOptions {
  /** Below this many vectors search is exact (a scan); at or above it HNSW. Default 20,000. */
  exactBelow: number;
  /** HNSW parameters; those left out (or undefined) are chosen by index size ({@link hnswParamsFor}). */
  hnsw: Partial<HnswOptions>;
  /** Called between build chunks so a server keeps answering while a large index builds. */
  yieldEvery?: () => Promise<void>;
}

/** Scans of at least this many values (size × dim) run as a tfjs matMul. */
const TF_SCAN_MIN = 1 << 16;

export const INDEX_DEFAULTS: Readonly<IndexOptions> = Object.freeze({
  exactBelow: 20000,
  hnsw: Object.freeze({ seed: 100 }),
});

/**
 * HNSW build and search parameters for an index of `size` vectors. At a fixed degree and
 * candidate list a graph's recall falls as it grows (more hops, more local minima); query-time
 * ef is the cheap, safe lever (it only widens the search: recall up, time up, no memory), the
 * degree M costs memory (≈ 2·M·4 bytes of links per vector) and build time.
 * Measured here: M 16 / efConstruction 200 reach recall@10 ≥ 0.99 against the exact scan up to
 * 100,000 vectors (10,000 Mult-VAE item vectors of `bench:scale` small: 1.000; 100,000 × 64:
 * 0.990 at ef 50, 0.996 at ef 200, docs/platform-notes.md), so up to 100,000 vectors they stay
 * hnswlib's defaults with ef 100. Above, ef doubles to 200 (about 2× the query time) to hold
 * recall as the graph grows; that band is an extrapolation, not yet measured: `npm run
 * bench:hnsw` on a version whose stored population has more users measures it.
 */
export function hnswParamsFor(size: number): Omit<HnswOptions, 'seed'> {
  if (size <= 100_000) return { m: 16, efConstruction: 200, ef: 100 };
  return { m: 16, efConstruction: 200, ef: 200 };
}

/** The HNSW parameters of an index of `size` vectors: those given (not undefined), else by size, seed 100. */
export function resolveHnsw(size: number, options: Partial<HnswOptions> = {}): HnswOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { seed: 100, ...hnswParamsFor(size), ...given };
}

/**
 * A searchable set of vectors, rows 0..size-1 of a row-major [size × dim] matrix. Scores are
 * always exact (`ip`: dot product, `cosine`: cosine), whatever the search structure.
 */
export abstract class VectorIndex {
  abstract readonly kind: 'exact' | 'hnsw';
  readonly size: number;
  /** Row-major vectors as given (cosine: normalised to unit length, zero rows stay zero). */
  protected readonly vectors: Float32Array;

  protected constructor(
    readonly metric: Metric,
    readonly dim: number,
    vectors: Float32Array,
  ) {
    if (!(Number.isInteger(dim) && dim > 0)) throw new Error(`VectorIndex: dim must be a positive integer, got ${dim}`);
    if (vectors.length % dim !== 0) throw new Error(`VectorIndex: ${vectors.length} values are not rows of ${dim}`);
    this.size = vectors.length / dim;
    this.vectors = metric === 'cosine' ? normalizeRows(vectors, dim) : vectors;
  }

  /** The k best rows for `query` (best first), skipping excluded rows. */
  abstract search(query: Float32Array, k: number, exclude?: Exclusion): Neighbor[];

  /** Exact search restricted to `candidates` (e.g. the items of a category). */
  searchAmong(
    query: Float32Array,
    k: number,
    candidates: ArrayLike<number>,
    exclude: Exclusion = NO_EXCLUSION,
  ): Neighbor[] {
    const q = this.prepareQuery(query);
    const scores = new Float32Array(this.size);
    for (let c = 0; c < candidates.length; c++) {
      const i = candidates[c];
      if (i >= 0 && i < this.size) scores[i] = this.dot(q, i);
    }
    return topK(
      scores,
      k,
      exclude,
      Array.from(candidates).filter((i) => i >= 0 && i < this.size),
    );
  }

  /**
   * Exact scores of every row (a scan). Large matrices are scored by the tfjs backend as one
   * [1 × dim]·[dim × size] matMul against a resident transposed copy (on wasm XNNPACK: about
   * 0.7 ms for 3,706 × 601 against 4 ms for the JS loop); small ones in JS.
   */
  scoreAll(query: Float32Array): Float32Array {
    const q = this.prepareQuery(query);
    if (this.size * this.dim >= TF_SCAN_MIN) {
      this.transposed ??= tf.tidy(() => tf.transpose(tf.tensor2d(this.vectors, [this.size, this.dim])));
      const t = tf.tidy(() => tf.matMul(tf.tensor2d(q, [1, this.dim]), this.transposed!));
      const out = t.dataSync() as Float32Array;
      t.dispose();
      return out;
    }
    const out = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.dot(q, i);
    return out;
  }

  private transposed: tf.Tensor2D | undefined;

  /** The stored (for cosine: normalised) vector of row i. */
  vector(i: number): Float32Array {
    return this.vectors.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /** Frees native memory (HNSW graph, the scan's tensor). The index is unusable afterwards. */
  dispose(): void {
    this.transposed?.dispose();
    this.transposed = undefined;
  }

  protected prepareQuery(query: Float32Array): Float32Array {
    if (query.length !== this.dim)
      throw new Error(`VectorIndex: query has ${query.length} values, index dim is ${this.dim}`);
    return this.metric === 'cosine' ? normalizeRows(query, this.dim) : query;
  }

  protected dot(q: Float32Array, i: number): number {
    const v = this.vectors;
    const off = i * this.dim;
    let s = 0;
    for (let d = 0; d < this.dim; d++) s += q[d] * v[off + d];
    return s;
  }
}

/** Brute-force search: a scan of every row, O(size · dim) per query. */
export class ExactIndex extends VectorIndex {
  readonly kind = 'exact' as const;

  constructor(metric: Metric, dim: number, vectors: Float32Array) {
    super(metric, dim, vectors);
  }

  search(query: Float32Array, k: number, exclude: Exclusion = NO_EXCLUSION): Neighbor[] {
    return topK(this.scoreAll(query), Math.min(k, this.size), exclude);
  }
}

/** Longest run of graph insertions between two yields of {@link HnswIndex.build}. */
const YIELD_AFTER_MS = 10;

/**
 * Approximate search with hnswlib (Malkov & Yashunin's HNSW graphs).
 *
 * Inner product is not a metric, and HNSW graphs built in raw inner-product space degrade (a few
 * long vectors become hubs). For `ip` the index uses the standard reduction of maximum
 * inner-product search to nearest-neighbour search (Bachrach et al. 2014): each vector x becomes
 * [x, √(M² − ‖x‖²)] / M (M = the largest norm), so all rows have unit length, and a query q becomes
 * [q, 0]; the angular order of the transformed rows is then exactly the order of q · x. Candidates
 * are rescored with the exact dot product.
 */
export class HnswIndex extends VectorIndex {
  readonly kind = 'hnsw' as const;
  private graph: hnswlib.HierarchicalNSW | undefined;

  private constructor(
    metric: Metric,
    dim: number,
    vectors: Float32Array,
    private readonly ef: number,
  ) {
    super(metric, dim, vectors);
  }

  /**
   * Builds the graph; with `yieldEvery`, yields to the event loop whenever insertions have run
   * {@link YIELD_AFTER_MS} without a pause.
   */
  static async build(
    metric: Metric,
    dim: number,
    vectors: Float32Array,
    options: Partial<HnswOptions> = {},
    yieldEvery?: () => Promise<void>,
  ): Promise<HnswIndex> {
    const o = resolveHnsw(vectors.length / dim, options);
    const index = new HnswIndex(metric, dim, vectors, o.ef);
    const n = index.size;
    const graphDim = metric === 'ip' ? dim + 1 : dim;
    const graph = new hnswlib.HierarchicalNSW(metric === 'ip' ? 'ip' : 'cosine', graphDim);
    graph.initIndex({ maxElements: Math.max(1, n), m: o.m, efConstruction: o.efConstruction, randomSeed: o.seed });
    let maxNorm = 0;
    if (metric === 'ip') for (let i = 0; i < n; i++) maxNorm = Math.max(maxNorm, Math.sqrt(index.squaredNorm(i)));
    const scale = maxNorm > 0 ? 1 / maxNorm : 1;
    const row = new Array<number>(graphDim);
    let ranSince = performance.now();
    for (let i = 0; i < n; i++) {
      const off = i * dim;
      for (let d = 0; d < dim; d++) row[d] = index.vectors[off + d] * scale;
      if (metric === 'ip') row[dim] = Math.sqrt(Math.max(0, 1 - index.squaredNorm(i) * scale * scale));
      graph.addPoint(row, i);
      // By time, not by count: one insertion into a 10⁵ × 600 graph takes milliseconds.
      if (yieldEvery && performance.now() - ranSince >= YIELD_AFTER_MS) {
        await yieldEvery();
        ranSince = performance.now();
      }
    }
    graph.setEf(o.ef);
    index.graph = graph;
    return index;
  }

  /** The graph in hnswlib's file format (to store it beside the model version). */
  toBytes(): Uint8Array {
    const graph = this.live();
    return withTempFile((file) => {
      graph.writeIndexSync(file);
      return new Uint8Array(readFileSync(file));
    });
  }

  /**
   * Restores an index written by {@link toBytes} for the same vectors (kept for exact rescoring).
   * Throws when the bytes do not hold a graph of `vectors`' size and dimension.
   */
  static fromBytes(
    metric: Metric,
    dim: number,
    vectors: Float32Array,
    bytes: Uint8Array,
    ef: number = hnswParamsFor(vectors.length / dim).ef,
  ): HnswIndex {
    const index = new HnswIndex(metric, dim, vectors, ef);
    const graphDim = metric === 'ip' ? dim + 1 : dim;
    const graph = new hnswlib.HierarchicalNSW(metric === 'ip' ? 'ip' : 'cosine', graphDim);
    withTempFile((file) => {
      writeFileSync(file, bytes);
      graph.readIndexSync(file);
    });
    if (graph.getCurrentCount() !== index.size)
      throw new Error(`HnswIndex.fromBytes: graph holds ${graph.getCurrentCount()} vectors, expected ${index.size}`);
    graph.setEf(ef);
    index.graph = graph;
    return index;
  }

  search(query: Float32Array, k: number, exclude: Exclusion = NO_EXCLUSION): Neighbor[] {
    const graph = this.live();
    const want = Math.min(k, this.size);
    if (want <= 0) return [];
    const q = this.prepareQuery(query);
    const point = new Array<number>(this.metric === 'ip' ? this.dim + 1 : this.dim);
    for (let d = 0; d < this.dim; d++) point[d] = q[d];
    if (this.metric === 'ip') point[this.dim] = 0;
    let fetch = Math.min(this.size, want + exclude.size);
    for (;;) {
      graph.setEf(Math.max(this.ef, fetch));
      const { neighbors } = graph.searchKnn(point, fetch);
      const out: Neighbor[] = [];
      for (const i of neighbors) if (!exclude.has(i)) out.push({ index: i, score: this.dot(q, i) });
      if (out.length >= want || fetch >= this.size) {
        out.sort((a, b) => b.score - a.score || a.index - b.index);
        return out.slice(0, want);
      }
      fetch = Math.min(this.size, fetch * 2);
    }
  }

  override dispose(): void {
    super.dispose();
    this.graph = undefined; // hnswlib frees the graph when the wrapper is collected
  }

  private live(): hnswlib.HierarchicalNSW {
    if (!this.graph) throw new Error('HnswIndex: the index was disposed');
    return this.graph;
  }

  private squaredNorm(i: number): number {
    let s = 0;
    const off = i * this.dim;
    for (let d = 0; d < this.dim; d++) s += this.vectors[off + d] * this.vectors[off + d];
    return s;
  }
}

/**
 * Exact below `exactBelow` rows (a scan is as fast and has recall 1), HNSW at or above it.
 * @param vectors row-major [size × dim]; kept by reference for exact rescoring (ip) or copied normalised (cosine)
 */
export async function buildVectorIndex(
  metric: Metric,
  dim: number,
  vectors: Float32Array,
  options: Partial<IndexOptions> = {},
): Promise<VectorIndex> {
  const exactBelow = options.exactBelow ?? INDEX_DEFAULTS.exactBelow;
  if (vectors.length / dim < exactBelow) return new ExactIndex(metric, dim, vectors);
  return HnswIndex.build(metric, dim, vectors, options.hnsw ?? {}, options.yieldEvery);
}

/** hnswlib reads and writes graphs through files only. */
function withTempFile<T>(fn: (file: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'recoder-hnsw-'));
  try {
    return fn(path.join(dir, 'index.bin'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Copy of `m` ([rows × dim]) with each row scaled to unit length (zero rows stay zero). */
export function normalizeRows(m: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let off = 0; off < m.length; off += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += m[off + d] * m[off + d];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) out[off + d] = m[off + d] * inv;
  }
  return out;
}

/** recall@k of `approx` against `exact` result lists (|approx ∩ exact| / |exact|), averaged. */
export function recallAtK(approx: Neighbor[][], exact: Neighbor[][]): number {
  let sum = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = new Set(exact[q].map((n) => n.index));
    if (truth.size === 0) {
      sum += 1;
      continue;
    }
    let hit = 0;
    for (const n of approx[q]) if (truth.has(n.index)) hit++;
    sum += hit / truth.size;
  }
  return exact.length ? sum / exact.length : 1;
}
