/**
 * The EASE closed form (Steck 2019) as solver steps (see ease-solver.ts): the Gram matrix, the
 * inverse P = (XᵀX + λI)⁻¹, and the weights B = I − P·diag(1/diag(P)) with diag(B) = 0, computed
 * in place in one n × n float32 matrix that becomes the model's weights.
 *
 * Two ways to P, chosen by {@link planEase}:
 * - **primal** (the usual one): G = XᵀX + λI accumulated from the sparse histories (lower
 *   triangle), then the blocked sweep inverse: n³ flops.
 * - **dual** (Woodbury identity), when there are few users (U ≤ n/4, e.g. ml-latest-small: 610
 *   users, 9,700 items): P = (I − Xᵀ(XXᵀ + λI)⁻¹X)/λ. The U × U inverse costs U³, the products
 *   Z = K⁻¹X (sparse, in JavaScript float64) 2·nnz·U, and Q = XᵀZ (lower triangle, tfjs) n²·U.
 *   The diagonal of Q, on which diag(P) = (1 − Q_jj)/λ depends, is accumulated in float64.
 */
import { csrSelectRows, type CsrMatrix } from '../data/csr.js';
import {
  DEFAULT_TILING,
  sweepInverse,
  sweepInverseFlops,
  type EasePhase,
  type Gemm,
  type SolverStep,
  type SweepTiling,
} from './ease-solver.js';

/** How P is computed (see the module comment). */
export type EaseMethod = 'primal' | 'dual';

/** What a fit will do and cost. */
export interface EasePlan {
  method: EaseMethod;
  numItems: number;
  /** Users with at least one item (the dual's dimension). */
  numUsers: number;
  /** Flop-equivalents the fit reports as progress (products: 2 per multiply-add). */
  totalFlops: number;
  /** Peak bytes of the fit beyond the training matrix (see {@link easeMemoryBytes}). */
  memoryBytes: number;
}

/** Options shared by the fits. */
export interface EasePlanOptions {
  /** 'auto' (default): dual when numUsers ≤ numItems / 4, else primal. */
  method?: 'auto' | EaseMethod;
  tiling?: SweepTiling;
  /** Threads running products (each holds its own tfjs wasm heap); default 1. */
  threads?: number;
}

const GRAM_CHUNK = 2e7; // flop-equivalents of JavaScript work between two yields
const WEIGHT_CHUNK = 1e7;

/** Number of users with at least one item. */
function nonEmptyRows(x: CsrMatrix): number {
  let u = 0;
  for (let r = 0; r < x.numRows; r++) if (x.indptr[r + 1] > x.indptr[r]) u++;
  return u;
}

function chooseMethod(numItems: number, numUsers: number, method: EasePlanOptions['method']): EaseMethod {
  if (method === 'primal' || method === 'dual') return method;
  return numUsers * 4 <= numItems ? 'dual' : 'primal';
}

/**
 * Peak bytes of an EASE fit with `numItems` items: the n × n float32 matrix that becomes the
 * weights (4·n² bytes: 400 MB for 10,000 items), the sweep's panels (3·n·b floats), and the
 * products' buffers in each thread's tfjs heap; the dual adds the U × U inverse (4·U² bytes).
 * The training matrix and its transpose (about 16 bytes per interaction) are not included.
 *
 * @param options.numUsers users with items; when omitted, the most over any number of users
 */
export function easeMemoryBytes(
  numItems: number,
  options: { numUsers?: number; threads?: number; tiling?: SweepTiling; method?: 'auto' | EaseMethod } = {},
): number {
  const n = numItems;
  const t = { ...DEFAULT_TILING, ...options.tiling };
  const threads = Math.max(1, options.threads ?? 1);
  const sweepScratch = (dim: number) => {
    const b = Math.min(t.blockSize, dim);
    return 4 * (3 * dim * b + b * b) + 8 * b * b;
  };
  // Per thread: an A tile, the B tiles kept for a step (≤ k·cols), one more B tile and a product.
  const heap = (k: number, cols: number) => 4 * (t.rowTile * k + k * cols + k * t.colTile + t.rowTile * t.colTile);
  const primal = 4 * n * n + sweepScratch(n) + threads * heap(Math.min(t.blockSize, n), n) + 8 * n;
  const dual = (u: number) =>
    4 * n * n +
    4 * u * u +
    Math.max(
      sweepScratch(u) + threads * heap(Math.min(t.blockSize, u), u),
      12 * t.colTile * u + 4 * t.rowTile * u + threads * heap(u, t.colTile),
    ) +
    8 * n;
  if (options.numUsers !== undefined) {
    return chooseMethod(n, options.numUsers, options.method) === 'dual' ? dual(options.numUsers) : primal;
  }
  return options.method === 'primal' ? primal : Math.max(primal, dual(Math.floor(n / 4)));
}

/**
 * The largest catalog whose EASE fit fits in `budgetBytes` ({@link easeMemoryBytes}); 0 if none.
 * @example maxEaseItems(4 * 2 ** 30) // ≈ 31,700 items in 4 GiB
 */
export function maxEaseItems(
  budgetBytes: number,
  options: { numUsers?: number; threads?: number; tiling?: SweepTiling } = {},
): number {
  let lo = 0;
  let hi = 1 << 20;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (easeMemoryBytes(mid, options) <= budgetBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** `x` without its empty rows. */
function dropEmptyRows(x: CsrMatrix): CsrMatrix {
  const keep: number[] = [];
  for (let r = 0; r < x.numRows; r++) if (x.indptr[r + 1] > x.indptr[r]) keep.push(r);
  return keep.length === x.numRows ? x : csrSelectRows(x, keep);
}

/** The transpose of `x` restricted to its non-empty rows (renumbered 0..U−1, in order). */
function transposeNonEmpty(x: CsrMatrix): CsrMatrix {
  const rowId = new Int32Array(x.numRows);
  let u = 0;
  for (let r = 0; r < x.numRows; r++) rowId[r] = x.indptr[r + 1] > x.indptr[r] ? u++ : -1;
  const nnz = x.indptr[x.numRows];
  const indptr = new Int32Array(x.numCols + 1);
  for (let p = 0; p < nnz; p++) indptr[x.indices[p] + 1]++;
  for (let c = 0; c < x.numCols; c++) indptr[c + 1] += indptr[c];
  const fill = indptr.slice(0, x.numCols);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let r = 0; r < x.numRows; r++) {
    for (let p = x.indptr[r]; p < x.indptr[r + 1]; p++) {
      const q = fill[x.indices[p]]++;
      indices[q] = rowId[r]; // ascending: rows are visited in order
      values[q] = x.values[p];
    }
  }
  return { numRows: x.numCols, numCols: u, indptr, indices, values };
}

function gramFlops(x: CsrMatrix, dim: number): number {
  let f = dim;
  for (let r = 0; r < x.numRows; r++) {
    const h = x.indptr[r + 1] - x.indptr[r];
    f += h * (h + 1);
  }
  return f;
}

/**
 * G = Σ_t a_t a_tᵀ + λI + ρ·diag(Σ_t a_t a_tᵀ) on the lower triangle, where a_t are the rows of
 * `a` (indices ascending) and `at` is aᵀ (its rows: for each r, the t with a_t[r] ≠ 0,
 * ascending). Filled row r of G at a time (G[r][s] for s ≤ r), so the writes stay in one row of G
 * instead of scattering over it.
 */
function* gramLower(
  a: CsrMatrix,
  at: CsrMatrix,
  g: Float32Array,
  lambda: number,
  rho = 0,
): Generator<SolverStep, void, void> {
  const dim = at.numRows;
  let pending = 0;
  for (let r = 0; r < dim; r++) {
    const row = r * dim;
    for (let p = at.indptr[r]; p < at.indptr[r + 1]; p++) {
      const t = at.indices[p];
      const x = at.values[p];
      const s0 = a.indptr[t];
      const e = a.indptr[t + 1];
      let q = s0;
      for (; q < e && a.indices[q] <= r; q++) g[row + a.indices[q]] += x * a.values[q];
      pending += 2 * (q - s0);
    }
    g[row + r] += lambda + rho * g[row + r];
    pending++;
    if (pending >= GRAM_CHUNK || r === dim - 1) {
      yield { kind: 'work', phase: 'gram', flops: pending };
      pending = 0;
    }
  }
  if (dim === 0) yield { kind: 'work', phase: 'gram', flops: 0 };
}

/**
 * In place: from a symmetric S held in the lower triangle of `m`, the EASE weights
 * B[i][j] = r[i]·S[i][j]·f[j] (both triangles; r = 1 when not given), diag(B) = 0.
 * n² flop-equivalents.
 */
function* weightsInPlace(
  m: Float32Array,
  n: number,
  f: Float64Array,
  r: Float64Array = new Float64Array(n).fill(1),
): Generator<SolverStep, void, void> {
  let pending = 0;
  for (let i0 = 0; i0 < n; i0 += 64) {
    const i1 = Math.min(n, i0 + 64);
    for (let j0 = 0; j0 <= i0; j0 += 64) {
      for (let i = i0; i < i1; i++) {
        const fi = f[i];
        const ri = r[i];
        const jEnd = Math.min(i, j0 + 64);
        const row = i * n;
        for (let j = j0; j < jEnd; j++) {
          const s = m[row + j];
          m[j * n + i] = s * r[j] * fi;
          m[row + j] = s * ri * f[j];
        }
      }
    }
    for (let i = i0; i < i1; i++) m[i * n + i] = 0;
    pending += (i1 - i0) * n;
    if (pending >= WEIGHT_CHUNK || i1 === n) {
      yield { kind: 'work', phase: 'weights', flops: pending };
      pending = 0;
    }
  }
  if (n === 0) yield { kind: 'work', phase: 'weights', flops: 0 };
}

interface FitContext {
  train: CsrMatrix;
  lambda: number;
  /** ρ = p / (1 − p) for the dropout p of EDLAE (0: plain EASE). */
  rho: number;
  tiling: Required<SweepTiling>;
  alloc: (length: number) => Float32Array;
}

function* primalSteps(ctx: FitContext, m: Float32Array): Generator<SolverStep, void, void> {
  const n = ctx.train.numCols;
  yield* gramLower(dropEmptyRows(ctx.train), transposeNonEmpty(ctx.train), m, ctx.lambda, ctx.rho);
  yield* sweepInverse(m, n, ctx.tiling, ctx.alloc, 'inverse', 0);
  // m = P; B = −P·diag(1/diag(P)).
  const f = new Float64Array(n);
  for (let j = 0; j < n; j++) f[j] = -1 / m[j * n + j];
  yield* weightsInPlace(m, n, f);
}

function dualFlops(xt: CsrMatrix, numUsers: number, t: Required<SweepTiling>): number {
  const n = xt.numRows;
  const u = numUsers;
  let f = gramFlops(xt, u) + sweepInverseFlops(u, t);
  for (let j0 = 0; j0 < n; j0 += t.colTile) {
    const j1 = Math.min(n, j0 + t.colTile);
    const nnz = xt.indptr[j1] - xt.indptr[j0];
    f += 2 * nnz * u + 2 * nnz + u * (j1 - j0);
    for (let i0 = j0 - (j0 % t.rowTile); i0 < n; i0 += t.rowTile) {
      const i1 = Math.min(n, i0 + t.rowTile);
      f += (i1 - i0) * u + (xt.indptr[i1] - xt.indptr[i0]) + 2 * (i1 - i0) * u * (j1 - j0);
    }
  }
  return f + n * n;
}

function* dualSteps(ctx: FitContext, m: Float32Array, xtRaw: CsrMatrix): Generator<SolverStep, void, void> {
  // With EDLAE's diagonal Λ = λI + ρ·diag(XᵀX), the dual runs on Y = X·Λ^(−1/2) with λ = 1:
  // XᵀX + Λ = Λ^(1/2)(YᵀY + I)Λ^(1/2), so P = D(I − Q)D with D = Λ^(−1/2), Q = Yᵀ(YYᵀ + I)⁻¹Y,
  // and B_ij = −P_ij / P_jj = (d_i / d_j)·Q_ij / (1 − Q_jj). Plain EASE (ρ = 0) keeps X and λ.
  const scale = ctx.rho > 0 ? edlaeScale(xtRaw, ctx.lambda, ctx.rho) : null;
  const xt = scale ? scaleRows(xtRaw, scale) : xtRaw;
  const x = scale ? scaleColumns(dropEmptyRows(ctx.train), scale) : dropEmptyRows(ctx.train);
  const lambda = scale ? 1 : ctx.lambda;
  const { alloc } = ctx;
  const { rowTile, colTile } = ctx.tiling;
  const n = xt.numRows;
  const u = xt.numCols;
  // K = XXᵀ + λI (U × U), then K⁻¹ (both triangles).
  const kinv = alloc(u * u);
  yield* gramLower(xt, x, kinv, lambda);
  yield* sweepInverse(kinv, u, ctx.tiling, alloc, 'inverse', 0);
  // Q = Xᵀ·K⁻¹·X by column tiles J: Z_J = K⁻¹·X[:, J] (float64, then float32), then the lower
  // triangle's rows I of Q[:, J] = X[:, I]ᵀ·Z_J.
  const qd = new Float64Array(n);
  const zt = new Float64Array(Math.min(colTile, n) * u);
  const z = alloc(u * Math.min(colTile, n));
  const xtile = alloc(Math.min(rowTile, n) * u);
  const { indptr, indices, values } = xt;
  let key = 1 << 30; // distinct from the sweep's keys
  for (let j0 = 0; j0 < n; j0 += colTile) {
    const j1 = Math.min(n, j0 + colTile);
    const cj = j1 - j0;
    zt.fill(0, 0, cj * u);
    let pending = u * cj; // the transpose below
    for (let j = j0; j < j1; j++) {
      const zo = (j - j0) * u;
      for (let p = indptr[j]; p < indptr[j + 1]; p++) {
        const x = values[p];
        const row = indices[p] * u;
        for (let r = 0; r < u; r++) zt[zo + r] += x * kinv[row + r];
      }
      let q = 0;
      for (let p = indptr[j]; p < indptr[j + 1]; p++) q += values[p] * zt[zo + indices[p]];
      qd[j] = q;
      pending += 2 * (indptr[j + 1] - indptr[j]) * (u + 1);
      if (pending >= GRAM_CHUNK && j + 1 < j1) {
        yield { kind: 'work', phase: 'inverse', flops: pending };
        pending = 0;
      }
    }
    for (let r = 0; r < u; r++) for (let c = 0; c < cj; c++) z[r * cj + c] = zt[c * u + r];
    yield { kind: 'work', phase: 'inverse', flops: pending };
    key++;
    for (let i0 = j0 - (j0 % rowTile); i0 < n; i0 += rowTile) {
      const i1 = Math.min(n, i0 + rowTile);
      xtile.fill(0, 0, (i1 - i0) * u);
      for (let i = i0; i < i1; i++) {
        const o = (i - i0) * u;
        for (let p = indptr[i]; p < indptr[i + 1]; p++) xtile[o + indices[p]] = values[p];
      }
      yield { kind: 'work', phase: 'inverse', flops: (i1 - i0) * u + (indptr[i1] - indptr[i0]) };
      const op: Gemm = {
        a: xtile,
        aOffset: 0,
        m: i1 - i0,
        k: u,
        b: z,
        bStride: cj,
        bCol: 0,
        n: cj,
        bKey: key,
        c: m,
        cOffset: i0 * n + j0,
        cStride: n,
        alpha: 1,
        beta: 0,
        lower: i0 - j0,
      };
      yield { kind: 'gemm', phase: 'inverse', ops: [op] };
    }
  }
  // P = (I − Q)/λ: B[i][j] = −P_ij/P_jj = Q_ij/(1 − Q_jj) (EDLAE: times d_i / d_j, see above).
  const f = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const d = 1 - qd[j];
    if (!(d > 0))
      throw new Error(`EASE (dual): diag(P) is not positive for item ${j} (1 − Q_jj = ${d}); use a larger λ`);
    f[j] = scale ? 1 / (d * scale[j]) : 1 / d;
  }
  yield* weightsInPlace(m, n, f, scale ?? undefined);
}

/** d_j = (λ + ρ·n_j)^(−1/2), n_j = Σ_u x_uj² (the Gram diagonal), from the rows of Xᵀ. */
function edlaeScale(xt: CsrMatrix, lambda: number, rho: number): Float64Array {
  const d = new Float64Array(xt.numRows);
  for (let j = 0; j < xt.numRows; j++) {
    let g = 0;
    for (let p = xt.indptr[j]; p < xt.indptr[j + 1]; p++) g += xt.values[p] * xt.values[p];
    d[j] = 1 / Math.sqrt(lambda + rho * g);
  }
  return d;
}

function scaleRows(m: CsrMatrix, s: Float64Array): CsrMatrix {
  const values = new Float32Array(m.values.length);
  for (let r = 0; r < m.numRows; r++)
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) values[p] = m.values[p] * s[r];
  return { ...m, values };
}

function scaleColumns(m: CsrMatrix, s: Float64Array): CsrMatrix {
  const values = new Float32Array(m.values.length);
  for (let p = 0; p < m.values.length; p++) values[p] = m.values[p] * s[m.indices[p]];
  return { ...m, values };
}

/** A planned fit: its plan and the steps that compute the weights into `weights`. */
export interface EaseFitJob {
  plan: EasePlan;
  /** Becomes the [numItems × numItems] weights (row-major, diagonal 0). */
  weights: Float32Array;
  steps: Generator<SolverStep, void, void>;
}

/**
 * Plans an EASE fit and returns its steps (run them with runSolverSync / runSolverAsync).
 * @param train [users × items] implicit feedback
 * @param alloc allocator for the weights and every scratch matrix the products write
 */
export function easeFitJob(
  train: CsrMatrix,
  lambda: number,
  options: EasePlanOptions & { dropout?: number } = {},
  alloc: (length: number) => Float32Array = (len) => new Float32Array(len),
): EaseFitJob {
  if (!(lambda > 0)) throw new Error(`EASE: λ must be positive (got ${lambda})`);
  const dropout = options.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`EASE: dropout must be in [0, 1) (got ${dropout})`);
  const n = train.numCols;
  const numUsers = nonEmptyRows(train);
  const method = chooseMethod(n, numUsers, options.method);
  const tiling = { ...DEFAULT_TILING, ...options.tiling };
  const memoryBytes = easeMemoryBytes(n, { numUsers, threads: options.threads, tiling, method });
  const weights = alloc(n * n);
  const ctx: FitContext = { train, lambda, rho: dropout / (1 - dropout), tiling, alloc };
  if (method === 'dual') {
    const xt = transposeNonEmpty(train);
    const totalFlops = dualFlops(xt, numUsers, tiling);
    return {
      plan: { method, numItems: n, numUsers, totalFlops, memoryBytes },
      weights,
      steps: dualSteps(ctx, weights, xt),
    };
  }
  const totalFlops = gramFlops(train, n) + sweepInverseFlops(n, tiling) + n * n;
  return {
    plan: { method, numItems: n, numUsers, totalFlops, memoryBytes },
    weights,
    steps: primalSteps(ctx, weights),
  };
}

/** Plans an EASE fit without allocating anything. */
export function planEase(train: CsrMatrix, options: EasePlanOptions = {}): EasePlan {
  const n = train.numCols;
  const numUsers = nonEmptyRows(train);
  const method = chooseMethod(n, numUsers, options.method);
  const tiling = { ...DEFAULT_TILING, ...options.tiling };
  const memoryBytes = easeMemoryBytes(n, { numUsers, threads: options.threads, tiling, method });
  const totalFlops =
    method === 'dual'
      ? dualFlops(transposeNonEmpty(train), numUsers, tiling)
      : gramFlops(train, n) + sweepInverseFlops(n, tiling) + n * n;
  return { method, numItems: n, numUsers, totalFlops, memoryBytes };
}

export type { EasePhase };
