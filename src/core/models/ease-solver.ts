/**
 * Dense symmetric positive-definite (SPD) inversion for EASE, blocked so that almost all of the
 * O(n³) work is large matrix products that a fast kernel runs (tfjs' `matMul`: XNNPACK on the
 * wasm backend, about 25 GFLOP/s on 2,048-column tiles here) while the small per-block work stays
 * in JavaScript float64.
 *
 * Algorithm: the block **sweep operator** (Goodnight 1979, "A tutorial on the SWEEP operator"),
 * i.e. symmetric Gauss-Jordan elimination without pivoting (stable for SPD matrices), on the
 * lower triangle only. Sweeping the block K of a symmetric M (R = the other indices):
 *
 *     S = M_KK⁻¹,   M_RR ← M_RR − M_RK·S·M_KR,   M_RK ← M_RK·S,   M_KK ← −S
 *
 * After sweeping every block, M = −A⁻¹. With block size b each step is one rank-b update of the
 * lower triangle (b·n² flops), so the whole inverse costs n³ flops: the same as LAPACK's
 * potrf + potri (Cholesky, triangular inverse, LᵀL), half of plain Gauss-Jordan's 2n³.
 *
 * The work is expressed as a generator of {@link SolverStep}s: batches of independent
 * {@link Gemm} operations (C ← β·C + α·A·B on row-major views of Float32Arrays, optionally only
 * the lower triangle of C) and JavaScript work already done. A driver runs the batches:
 * {@link runSolverSync} with the JavaScript kernel {@link gemmJs}, or {@link runSolverAsync}
 * with a tfjs kernel ({@link TfGemmExecutor}), optional worker threads, progress reports and
 * cancellation between operations. Both drivers run the same steps, so their results agree up to
 * float32 summation order.
 */
import type * as tfjs from '@tensorflow/tfjs';

type Tf = typeof tfjs;

/** What a fit is doing; reported with progress. */
export type EasePhase = 'gram' | 'inverse' | 'weights';

/**
 * One matrix product C ← β·C + α·A·B on row-major views (all float32 storage).
 * A [m × k] is `a[aOffset + r·k + p]` (contiguous rows); B [k × n] is `b[p·bStride + bCol + j]`;
 * C [m × n] is `c[cOffset + r·cStride + j]`.
 */
export interface Gemm {
  a: Float32Array;
  aOffset: number;
  m: number;
  k: number;
  b: Float32Array;
  bStride: number;
  bCol: number;
  n: number;
  /**
   * When set, an executor may keep the B tiles it uploads while consecutive operations carry the
   * same key (B must not change in between).
   */
  bKey?: number;
  c: Float32Array;
  cOffset: number;
  cStride: number;
  alpha: number;
  /** 0: C is overwritten; 1: accumulated into. */
  beta: 0 | 1;
  /** When set, only the entries C[r][j] with j ≤ r + lower are written (a lower-triangular target). */
  lower?: number;
}

/** Floating-point operations of a {@link Gemm} (2·m·k·n). */
export function gemmFlops(op: Gemm): number {
  return 2 * op.m * op.k * op.n;
}

/** A unit of work yielded by a solver generator. */
export type SolverStep =
  /** Independent products: they may run in any order and on any thread. */
  | { kind: 'gemm'; phase: EasePhase; ops: Gemm[] }
  /** Work the generator has just done itself, counted in flop-equivalents. */
  | { kind: 'work'; phase: EasePhase; flops: number };

/** Runs {@link Gemm}s on the calling thread. */
export interface GemmExecutor {
  run(op: Gemm): void;
  /** Frees whatever the executor keeps between operations (e.g. an uploaded B). */
  release(): void;
}

/** Last column (exclusive) written in row r of `op`. */
function rowEnd(op: Gemm, r: number): number {
  return op.lower === undefined ? op.n : Math.min(op.n, r + op.lower + 1);
}

/** Writes a product `out` [m × n] (row-major) into op's C. */
function writeBack(op: Gemm, out: Float32Array | Float64Array, outOffset = 0): void {
  const { c, cOffset, cStride, alpha, beta, n } = op;
  for (let r = 0; r < op.m; r++) {
    const end = rowEnd(op, r);
    const co = cOffset + r * cStride;
    const oo = outOffset + r * n;
    if (beta === 0) for (let j = 0; j < end; j++) c[co + j] = alpha * out[oo + j];
    else if (alpha === -1) for (let j = 0; j < end; j++) c[co + j] -= out[oo + j];
    else for (let j = 0; j < end; j++) c[co + j] += alpha * out[oo + j];
  }
}

/**
 * The JavaScript kernel: one row at a time, accumulated in float64 (about 1 GFLOP/s).
 * Skips the entries a `lower` operation does not write.
 */
export function gemmJs(op: Gemm): void {
  const { a, aOffset, k, b, bStride, bCol } = op;
  const acc = new Float64Array(op.n);
  for (let r = 0; r < op.m; r++) {
    const end = rowEnd(op, r);
    if (end <= 0) continue;
    acc.fill(0, 0, end);
    const ar = aOffset + r * k;
    for (let p = 0; p < k; p++) {
      const av = a[ar + p];
      if (av === 0) continue;
      const bp = p * bStride + bCol;
      for (let j = 0; j < end; j++) acc[j] += av * b[bp + j];
    }
    const { c, alpha } = op;
    const co = op.cOffset + r * op.cStride;
    if (op.beta === 0) for (let j = 0; j < end; j++) c[co + j] = alpha * acc[j];
    else for (let j = 0; j < end; j++) c[co + j] += alpha * acc[j];
  }
}

/** {@link gemmJs} as an executor. */
export const jsGemmExecutor: GemmExecutor = { run: gemmJs, release: () => undefined };

interface WasmHeapBackend {
  typedArrayFromHeap(t: tfjs.TensorInfo): Float32Array;
}

/**
 * Runs {@link Gemm}s with `tf.matMul` (both operands non-transposed: the form the wasm backend
 * hands to XNNPACK). On wasm the product is read straight from the wasm heap instead of copied
 * out with `dataSync`. Every tensor it creates is disposed by the end of {@link run}, except the
 * B tiles of operations with a `bKey`: those are uploaded once per (bCol, n) and kept until the
 * key changes or {@link release}. (No `tf.slice` of a resident B: the wasm Slice kernel copies
 * its whole input out of the heap first.)
 */
export class TfGemmExecutor implements GemmExecutor {
  private key?: number;
  private readonly tiles = new Map<string, tfjs.Tensor2D>();

  constructor(private readonly tf: Tf) {}

  private upload(op: Gemm): tfjs.Tensor2D {
    const { k, n, bStride, bCol } = op;
    if (bStride === n && bCol === 0) return this.tf.tensor2d(op.b.subarray(0, k * n), [k, n]);
    const copy = new Float32Array(k * n);
    for (let p = 0; p < k; p++) copy.set(op.b.subarray(p * bStride + bCol, p * bStride + bCol + n), p * n);
    return this.tf.tensor2d(copy, [k, n]);
  }

  run(op: Gemm): void {
    const tf = this.tf;
    const { m, k, n } = op;
    if (m === 0 || n === 0) return;
    if (k === 0) {
      writeBack(op, new Float32Array(m * n));
      return;
    }
    let b: tfjs.Tensor2D;
    let ownB = true;
    if (op.bKey !== undefined) {
      if (this.key !== op.bKey) {
        this.release();
        this.key = op.bKey;
      }
      const id = `${op.bCol}:${n}`;
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = this.upload(op);
        this.tiles.set(id, tile);
      }
      b = tile;
      ownB = false;
    } else {
      b = this.upload(op);
    }
    const a = tf.tensor2d(op.a.subarray(op.aOffset, op.aOffset + m * k), [m, k]);
    const out = tf.matMul(a, b);
    try {
      const backend = tf.backend() as unknown as Partial<WasmHeapBackend>;
      const view =
        tf.getBackend() === 'wasm' && typeof backend.typedArrayFromHeap === 'function'
          ? backend.typedArrayFromHeap(out)
          : (out.dataSync() as Float32Array);
      writeBack(op, view);
    } finally {
      out.dispose();
      a.dispose();
      if (ownB) b.dispose();
    }
  }

  release(): void {
    for (const t of this.tiles.values()) t.dispose();
    this.tiles.clear();
    this.key = undefined;
  }
}

/**
 * Threads that share the products of a batch with the calling thread (see ease-workers.ts).
 * Every thread takes the next product index with `Atomics.add(control, 0, 1)` until the batch is
 * exhausted or `control[1]` (stop) is set, so the threads balance themselves without messages.
 * Products given to a pool must write C in a SharedArrayBuffer.
 */
export interface GemmWorkerPool {
  /** [next product index of the current batch, stop flag] (SharedArrayBuffer). */
  readonly control: Int32Array;
  /** Flops each worker has completed so far (SharedArrayBuffer; written by the workers). */
  readonly flops: BigInt64Array;
  /** Runs the batch on every worker (after control has been reset); resolves when all stopped. */
  run(ops: Gemm[]): Promise<void>;
  /** Frees what the workers keep between products. */
  release(): Promise<void>;
}

/** Inverts a small SPD matrix in place in float64, exploiting symmetry (about n³ flops). */
export function invertSpdSymmetricF64(a: Float64Array, n: number): void {
  const col = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const d = a[k * n + k];
    if (!(d > 0)) throw new Error(`invertSpdSymmetricF64: matrix is not positive definite (pivot ${k} = ${d})`);
    const s = 1 / d;
    // Column k of the symmetric state, read from the lower triangle.
    for (let i = 0; i < k; i++) col[i] = a[k * n + i];
    for (let i = k + 1; i < n; i++) col[i] = a[i * n + k];
    col[k] = 0;
    for (let i = 0; i < n; i++) {
      const ci = col[i] * s;
      if (ci === 0) continue;
      const row = i * n;
      for (let j = 0; j <= i; j++) a[row + j] -= ci * col[j];
    }
    for (let i = 0; i < k; i++) a[k * n + i] = col[i] * s;
    for (let i = k + 1; i < n; i++) a[i * n + k] = col[i] * s;
    a[k * n + k] = -s;
  }
  // a = −A⁻¹ in the lower triangle: negate and mirror.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = -a[i * n + j];
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
}

/** Tiling of the products. */
export interface SweepTiling {
  /** Block size b of the sweep: the inner dimension of the big products (default 256). */
  blockSize?: number;
  /** Rows per product (default 256). */
  rowTile?: number;
  /** Columns per product (default 2,048: XNNPACK is fastest when B's tile stays in cache). */
  colTile?: number;
}

export const DEFAULT_TILING: Required<SweepTiling> = { blockSize: 256, rowTile: 256, colTile: 2048 };

/** A product's rows [r0, r1) and columns [c0, c1) of an n × n matrix. */
interface Tile {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/**
 * Row-chunk × column-tile products covering the lower triangle of an n × n matrix except the rows
 * and columns [k0, k1) (the swept block, whose entries the sweep rewrites anyway).
 */
export function lowerTiles(n: number, rowTile: number, colTile: number, k0 = 0, k1 = 0): Tile[] {
  const tiles: Tile[] = [];
  const without = (a: number, b: number): Array<[number, number]> =>
    [
      [a, Math.min(b, k0)],
      [Math.max(a, k1), b],
    ].filter(([x, y]) => x < y) as Array<[number, number]>;
  for (let r0 = 0; r0 < n; r0 += rowTile) {
    const r1 = Math.min(n, r0 + rowTile);
    for (const [ra, rb] of without(r0, r1)) {
      // Columns [0, rb): full tiles, the last one ending at the chunk's diagonal.
      for (let c0 = 0; c0 < rb; c0 += colTile) {
        for (const [ca, cb] of without(c0, Math.min(rb, c0 + colTile))) tiles.push({ r0: ra, r1: rb, c0: ca, c1: cb });
      }
    }
  }
  return tiles;
}

/** Flop-equivalents {@link sweepInverse} reports for an n × n matrix (exactly what it yields). */
export function sweepInverseFlops(n: number, tiling: SweepTiling = {}): number {
  const { blockSize, rowTile, colTile } = { ...DEFAULT_TILING, ...tiling };
  let total = 0;
  for (let k0 = 0; k0 < n; k0 += blockSize) {
    const bs = Math.min(blockSize, n - k0);
    total += sweepStepWork(n, bs);
    total += 2 * n * bs * bs; // V = Pn·S
    for (const t of lowerTiles(n, rowTile, colTile, k0, k0 + bs)) total += 2 * (t.r1 - t.r0) * bs * (t.c1 - t.c0);
  }
  return total + n * n; // mirror
}

/** JavaScript work of one sweep step in flop-equivalents: panel, small inverse, transpose, write-back. */
function sweepStepWork(n: number, bs: number): number {
  return 3 * n * bs + bs * bs * bs;
}

/**
 * Inverts the SPD matrix in `m` (row-major n × n, float32; only the lower triangle is read) in
 * place: on return `m` holds A⁻¹, both triangles.
 *
 * @param alloc allocates scratch Float32Arrays (SharedArrayBuffer-backed ones when products run
 *   on worker threads)
 * @param keyBase first `bKey` this generator may use (keys must not repeat across generators
 *   that share an executor)
 * @throws Error when a pivot block is not positive definite
 */
export function* sweepInverse(
  m: Float32Array,
  n: number,
  tiling: SweepTiling = {},
  alloc: (length: number) => Float32Array = (len) => new Float32Array(len),
  phase: EasePhase = 'inverse',
  keyBase = 0,
): Generator<SolverStep, void, void> {
  const { blockSize, rowTile, colTile } = { ...DEFAULT_TILING, ...tiling };
  const b = Math.min(blockSize, n);
  const pn = alloc(n * b); // the panel M_{:,K}, n × bs
  const v = alloc(n * b); // Pn·S, n × bs
  const w = alloc(b * n); // Vᵀ, bs × n
  const sf = alloc(b * b);
  const s64 = new Float64Array(b * b);
  let step = 0;
  for (let k0 = 0; k0 < n; k0 += b, step++) {
    const k1 = Math.min(n, k0 + b);
    const bs = k1 - k0;
    // Panel Pn[i][c] = M[i][k0 + c], read from the lower triangle: rows below K hold it in place,
    // rows above K in row k0 + c (copied by 64-row tiles), rows in K in the lower K × K block.
    for (let i = k1; i < n; i++) pn.set(m.subarray(i * n + k0, i * n + k1), i * bs);
    for (let i0 = 0; i0 < k0; i0 += 64) {
      const i1 = Math.min(k0, i0 + 64);
      for (let c = 0; c < bs; c++) {
        const row = (k0 + c) * n;
        for (let i = i0; i < i1; i++) pn[i * bs + c] = m[row + i];
      }
    }
    for (let i = k0; i < k1; i++) {
      for (let c = 0; c < bs; c++) {
        const col = k0 + c;
        pn[i * bs + c] = i >= col ? m[i * n + col] : m[col * n + i];
      }
    }
    for (let r = 0; r < bs; r++) for (let c = 0; c < bs; c++) s64[r * bs + c] = pn[(k0 + r) * bs + c];
    try {
      invertSpdSymmetricF64(s64.subarray(0, bs * bs), bs);
    } catch {
      throw new Error(
        `sweepInverse: the matrix is not positive definite (block at row ${k0}); add more regularisation`,
      );
    }
    for (let i = 0; i < bs * bs; i++) sf[i] = s64[i];
    yield { kind: 'work', phase, flops: bs * bs * bs + n * bs };

    // V = Pn·S (n × bs).
    const vOps: Gemm[] = [];
    for (let r0 = 0; r0 < n; r0 += rowTile) {
      const r1 = Math.min(n, r0 + rowTile);
      vOps.push({
        a: pn,
        aOffset: r0 * bs,
        m: r1 - r0,
        k: bs,
        b: sf,
        bStride: bs,
        bCol: 0,
        n: bs,
        c: v,
        cOffset: r0 * bs,
        cStride: bs,
        alpha: 1,
        beta: 0,
      });
    }
    yield { kind: 'gemm', phase, ops: vOps };

    // W = Vᵀ (bs × n), blocked transpose.
    for (let i0 = 0; i0 < n; i0 += 64) {
      const i1 = Math.min(n, i0 + 64);
      for (let c = 0; c < bs; c++) {
        const wo = c * n;
        for (let i = i0; i < i1; i++) w[wo + i] = v[i * bs + c];
      }
    }
    yield { kind: 'work', phase, flops: n * bs };

    // M_RR ← M_RR − Pn·S·Pnᵀ on the lower triangle (rows and columns of K are rewritten below).
    // B tiles used by several products are kept uploaded for the step (bKey); the others, the
    // tiles that end at a chunk's diagonal, are uploaded for their one product.
    const key = keyBase + step;
    const tiles = lowerTiles(n, rowTile, colTile, k0, k1);
    const uses = new Map<string, number>();
    for (const t of tiles) uses.set(`${t.c0}:${t.c1}`, (uses.get(`${t.c0}:${t.c1}`) ?? 0) + 1);
    const ops = tiles.map((t): Gemm => ({
      a: pn,
      aOffset: t.r0 * bs,
      m: t.r1 - t.r0,
      k: bs,
      b: w,
      bStride: n,
      bCol: t.c0,
      n: t.c1 - t.c0,
      bKey: uses.get(`${t.c0}:${t.c1}`)! > 1 ? key : undefined,
      c: m,
      cOffset: t.r0 * n + t.c0,
      cStride: n,
      alpha: -1,
      beta: 1,
      lower: t.r0 - t.c0,
    }));
    yield { kind: 'gemm', phase, ops };

    // M_RK ← V_R (lower storage: rows below K hold M[i][K], row k0 + c holds M[K][i] for i < k0);
    // M_KK ← −S.
    for (let c = 0; c < bs; c++) m.set(w.subarray(c * n, c * n + k0), (k0 + c) * n);
    for (let i = k1; i < n; i++) m.set(v.subarray(i * bs, i * bs + bs), i * n + k0);
    for (let r = 0; r < bs; r++) for (let c = 0; c <= r; c++) m[(k0 + r) * n + k0 + c] = -s64[r * bs + c];
    yield { kind: 'work', phase, flops: n * bs };
  }
  // m = −A⁻¹ (lower): negate and mirror into the upper triangle, by 64 × 64 tiles.
  for (let i0 = 0; i0 < n; i0 += 64) {
    const i1 = Math.min(n, i0 + 64);
    for (let j0 = 0; j0 <= i0; j0 += 64) {
      for (let i = i0; i < i1; i++) {
        const jEnd = Math.min(i + 1, j0 + 64);
        for (let j = j0; j < jEnd; j++) {
          const x = -m[i * n + j];
          m[i * n + j] = x;
          m[j * n + i] = x;
        }
      }
    }
  }
  yield { kind: 'work', phase, flops: n * n };
}

/** Runs a solver generator to completion on this thread with `executor` (default: JavaScript). */
export function runSolverSync<T>(steps: Generator<SolverStep, T, void>, executor: GemmExecutor = jsGemmExecutor): T {
  try {
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done) return r.value;
      if (r.value.kind === 'gemm') for (const op of r.value.ops) executor.run(op);
    }
  } finally {
    executor.release();
  }
}

/** Thrown by the async drivers when `shouldStop` returned true or the signal was aborted. */
export class EaseFitCancelled extends Error {
  constructor() {
    super('EASE fit cancelled');
    this.name = 'EaseFitCancelled';
  }
}

/** Options of {@link runSolverAsync}. */
export interface AsyncDriverOptions {
  /** Total flop-equivalents the generator will report (progress is clamped to it). */
  total: number;
  /** Called with monotone `done` ≤ `total`, at most every `progressMs` and once at the end with done = total. */
  onProgress?: (done: number, total: number, phase: EasePhase) => void;
  shouldStop?: () => boolean;
  signal?: AbortSignal;
  /** Minimum interval between progress reports (default 200 ms). */
  progressMs?: number;
  /**
   * Worker threads that share the products with this thread; a promise is awaited at the first
   * batch of products (so that the workers start while the Gram matrix is built).
   */
  workers?: GemmWorkerPool | Promise<GemmWorkerPool | undefined>;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a solver generator with `executor` on this thread (and `workers`), checking for
 * cancellation before every product on this thread (every 50 ms while only workers compute) and
 * after every JavaScript step, yielding to the event loop at least every 50 ms (so timers such as
 * heartbeats run) and reporting progress.
 *
 * @throws {@link EaseFitCancelled} when stopped (running worker products are awaited first; every
 *   tensor created here has been disposed)
 */
export async function runSolverAsync<T>(
  steps: Generator<SolverStep, T, void>,
  executor: GemmExecutor,
  options: AsyncDriverOptions,
): Promise<T> {
  const { total } = options;
  let workers = options.workers instanceof Promise ? undefined : options.workers;
  const pending = options.workers instanceof Promise ? options.workers : undefined;
  const progressMs = options.progressMs ?? 200;
  const stopped = () => Boolean(options.signal?.aborted || options.shouldStop?.());
  let doneHere = 0; // flops of this thread (products and JavaScript work)
  const done = () => {
    let d = doneHere;
    if (workers) for (const f of workers.flops) d += Number(f);
    return Math.min(d, total);
  };
  let lastReport = -Infinity;
  let lastYield = performance.now();
  let phase: EasePhase = 'gram';
  let reported = 0;
  const report = (force = false) => {
    const now = performance.now();
    if (!options.onProgress || (!force && now - lastReport < progressMs)) return;
    lastReport = now;
    reported = Math.max(reported, done());
    options.onProgress(reported, total, phase);
  };
  const maybeYield = async () => {
    if (performance.now() - lastYield >= 50) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  };
  let finished = false;
  try {
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done) {
        finished = true;
        doneHere = total;
        reported = total;
        if (options.onProgress) options.onProgress(total, total, phase);
        return r.value;
      }
      const step = r.value;
      if (step.phase !== phase) {
        phase = step.phase;
        report(true);
      }
      if (step.kind === 'work') {
        doneHere += step.flops;
        report();
        if (stopped()) throw new EaseFitCancelled();
        await maybeYield();
        continue;
      }
      const ops = step.ops;
      if (pending && !workers) workers = await pending;
      const shared =
        workers !== undefined && ops.length > 1 && ops.every((op) => op.c.buffer instanceof SharedArrayBuffer);
      let cancelled = false;
      if (!shared) {
        for (const op of ops) {
          if (stopped()) throw new EaseFitCancelled();
          executor.run(op);
          doneHere += gemmFlops(op);
          report();
          await maybeYield();
        }
        continue;
      }
      const pool = workers!;
      const { control } = pool;
      Atomics.store(control, 0, 0);
      Atomics.store(control, 1, 0);
      let workersDone = false;
      const running = pool.run(ops).finally(() => (workersDone = true));
      let failure: unknown;
      try {
        for (;;) {
          if (stopped()) {
            cancelled = true;
            Atomics.store(control, 1, 1);
            break;
          }
          const i = Atomics.add(control, 0, 1);
          if (i >= ops.length) break;
          executor.run(ops[i]);
          doneHere += gemmFlops(ops[i]);
          report();
          await maybeYield();
        }
        // The workers finish their last products; keep reporting and checking meanwhile.
        while (!workersDone) {
          await Promise.race([running.catch(() => undefined), sleep(50)]);
          lastYield = performance.now();
          report();
          if (!cancelled && !workersDone && stopped()) {
            cancelled = true;
            Atomics.store(control, 1, 1);
          }
        }
      } catch (error) {
        failure = error;
        Atomics.store(control, 1, 1);
      }
      try {
        await running;
      } catch (error) {
        failure ??= error;
      }
      if (failure !== undefined) throw failure;
      if (cancelled) throw new EaseFitCancelled();
      report();
    }
  } finally {
    executor.release();
    if (pending && !workers) workers = await pending.catch(() => undefined);
    await workers?.release();
    if (!finished) steps.return(undefined as T);
  }
}
