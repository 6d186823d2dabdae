/**
 * Data-parallel training steps for Mult-VAE/DAE on worker threads (node:worker_threads).
 *
 * The wasm backend runs on one thread in Node, so a mini-batch is split by rows across `count`
 * workers, each with its own tfjs backend: worker k computes the gradient of the mean loss over
 * its rows (n_k of n), the full-batch gradient is Σ_k (n_k / n)·g_k, and then every worker
 * applies Adam to its share of each parameter array. Weights, gradients, Adam moments and the
 * training matrix are SharedArrayBuffers: per step the messages carry only the mini-batch slice
 * (its sparse input rows, row ids and VAE noise). The dropout masks and noise are drawn on the
 * main thread from the same streams as single-threaded training, so the result differs from it
 * only by floating-point summation order (and is itself deterministic).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CsrMatrix } from '../data/csr.js';
import { activeNativeGemm } from '../engine/backend.js';
import type { AdamConfig } from './adam.js';
import { sampledRows, type NetSpec, type SampledStep, type Tf } from './multinomial-net.js';

import type { SparseRows } from './sparse-input.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './multinomial-worker.js';

/** Where the compiled worker entry is expected: next to this module. */
const DEFAULT_WORKER_URL = new URL('./multinomial-worker.js', import.meta.url);

function sharedCopy<T extends Float32Array | Int32Array>(a: T): T {
  const ctor = a.constructor as { new (buffer: SharedArrayBuffer): T };
  const out = new ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

function sharedZeros(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * n));
}

/** Rows [start, end) of sparse input rows `x` (entries are sorted by row). */
function sliceRows(x: SparseRows, start: number, end: number): SparseRows {
  let a = 0;
  while (a < x.rowIds.length && x.rowIds[a] < start) a++;
  let b = a;
  while (b < x.rowIds.length && x.rowIds[b] < end) b++;
  const rowIds = x.rowIds.slice(a, b);
  for (let k = 0; k < rowIds.length; k++) rowIds[k] -= start;
  return {
    numRows: end - start,
    numCols: x.numCols,
    rowIds,
    colIds: x.colIds.slice(a, b),
    values: x.values.slice(a, b),
    rowScale: x.rowScale?.slice(start, end),
  };
}

/** A pool of gradient workers sharing one set of master weights. */
export class GradientWorkers {
  /** Master weights (shared with the workers): read for validation, updated by {@link step}. */
  readonly weights: Float32Array[];

  private constructor(
    private readonly workers: Worker[],
    weights: Float32Array[],
    private readonly spec: NetSpec,
  ) {
    this.weights = weights;
  }

  /**
   * Starts `count` workers (each initialises its own tfjs backend, the same kind as `tf`'s).
   * @param weights initial weights (copied into shared memory)
   * @param workerUrl the compiled worker entry (default: multinomial-worker.js next to this module)
   * @returns undefined when the worker entry is not there (e.g. running from TypeScript sources
   *   under a test runner): the caller trains on the current thread instead
   */
  static async start(
    tf: Tf,
    count: number,
    spec: NetSpec,
    train: CsrMatrix,
    weights: readonly Float32Array[],
    adam: AdamConfig,
    workerUrl: URL = DEFAULT_WORKER_URL,
  ): Promise<GradientWorkers | undefined> {
    if (workerUrl.protocol === 'file:' && !existsSync(fileURLToPath(workerUrl))) return undefined;
    const backendName = tf.getBackend();
    const backend = backendName === 'tensorflow' ? 'node' : backendName === 'wasm' ? 'wasm' : 'cpu';
    const native = activeNativeGemm() ? 'auto' : 'off';
    const shared = weights.map(sharedCopy);
    const sharedTrain: CsrMatrix = {
      numRows: train.numRows,
      numCols: train.numCols,
      indptr: sharedCopy(train.indptr),
      indices: sharedCopy(train.indices),
      values: sharedCopy(train.values),
    };
    const grads = Array.from({ length: count }, () => weights.map((w) => sharedZeros(w.length)));
    const m = weights.map((w) => sharedZeros(w.length));
    const v = weights.map((w) => sharedZeros(w.length));
    const workers: Worker[] = [];
    try {
      for (let index = 0; index < count; index++) {
        const init: WorkerInit = {
          index,
          backend,
          native,
          spec,
          train: sharedTrain,
          weights: shared,
          grads,
          m,
          v,
          adam,
        };
        workers.push(new Worker(workerUrl, { workerData: init }));
      }
      await Promise.all(workers.map((w) => reply(w)));
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new GradientWorkers(workers, shared, spec);
  }

  /**
   * One training step: gradients of the mini-batch on the workers, then Adam (step number
   * `step`, 1-based) on the shared weights.
   * @param x [n × numItems] the batch's input rows (normalised, dropout applied)
   * @param rowIds [n] the batch's rows of the training matrix (the targets)
   * @param eps [n × latentDim] the VAE's noise
   * @param sampled a row-sparse step (the same candidates and input items for every worker's rows):
   *   the workers' gradients of layers 0 and L − 1 then cover only {@link sampledRows}, and Adam
   *   updates only those rows
   * @returns the mini-batch loss
   */
  async step(
    x: SparseRows,
    rowIds: Int32Array,
    eps: Float32Array | undefined,
    beta: number,
    step: number,
    sampled?: SampledStep,
  ): Promise<number> {
    const n = x.numRows;
    const k = Math.min(this.workers.length, n);
    const Z = this.spec.latentDim;
    const bounds = Array.from({ length: k + 1 }, (_, j) => Math.round((j * n) / k));
    const losses = await Promise.all(
      Array.from({ length: k }, (_, j) => {
        const [a, b] = [bounds[j], bounds[j + 1]];
        const req: WorkerRequest = {
          cmd: 'grad',
          x: sliceRows(x, a, b),
          rowIds: rowIds.slice(a, b),
          eps: eps?.slice(a * Z, b * Z),
          beta,
          sampled,
        };
        return reply(this.workers[j], req);
      }),
    );
    const scales = this.workers.map((_, j) => (j < k ? (bounds[j + 1] - bounds[j]) / n : 0));
    const loss = losses.reduce((s: number, r, j) => s + scales[j] * (r.loss ?? 0), 0);
    const count = this.workers.length;
    const rows = sampled ? sampledRows(this.spec, sampled) : undefined;
    await Promise.all(
      this.workers.map((w, j) => {
        // Each worker updates a share of every array: of its values, or of its listed rows.
        const ranges = this.weights.map((p, l) => {
          const size = rows?.[l]?.length ?? p.length;
          return [Math.round((j * size) / count), Math.round(((j + 1) * size) / count)] as [number, number];
        });
        return reply(w, { cmd: 'adam', step, scales, ranges, rows });
      }),
    );
    return loss;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Sends `req` (if given) and resolves with the worker's next reply; rejects on error or exit. */
function reply(worker: Worker, req?: WorkerRequest): Promise<WorkerReply & { ok: true }> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (r: WorkerReply) => {
      cleanup();
      if (r.ok) resolve(r);
      else reject(new Error(`Mult-VAE/DAE gradient worker failed: ${r.error}`));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`Mult-VAE/DAE gradient worker exited with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    if (req) worker.postMessage(req);
  });
}
