/**
 * Worker threads that run EASE's products (ease-worker.ts) beside the calling thread. The wasm
 * backend computes on one thread in Node, so a second core is used by giving each worker its own
 * tfjs backend: the products of one solver step are independent, read their operands from
 * SharedArrayBuffers and write disjoint parts of the shared result.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { activeNativeGemm } from '../engine/backend.js';
import type { Gemm, GemmWorkerPool } from './ease-solver.js';
import type { EaseWorkerInit, EaseWorkerReply, EaseWorkerRequest } from './ease-worker.js';

type Tf = { getBackend(): string };

/** Where the compiled worker entry is expected: next to this module. */
const DEFAULT_WORKER_URL = new URL('./ease-worker.js', import.meta.url);

/** A Float32Array of `length` zeros in a SharedArrayBuffer. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * length));
}

/** A pool of product workers (runSolverAsync's `workers`). */
export class EaseWorkers implements GemmWorkerPool {
  private constructor(
    private readonly workers: Worker[],
    readonly control: Int32Array,
    readonly flops: BigInt64Array,
  ) {}

  async run(ops: Gemm[]): Promise<void> {
    await Promise.all(this.workers.map((w) => reply(w, { cmd: 'gemms', ops })));
  }

  async release(): Promise<void> {
    await Promise.all(this.workers.map((w) => reply(w, { cmd: 'release' })));
  }

  /**
   * Starts `count` workers with the same kind of tfjs backend as `tf`.
   * @returns undefined when the worker entry is not there (e.g. running from TypeScript sources
   *   under a test runner): the caller computes on its own thread only
   */
  static async start(tf: Tf, count: number, workerUrl: URL = DEFAULT_WORKER_URL): Promise<EaseWorkers | undefined> {
    if (count < 1) return undefined;
    if (workerUrl.protocol === 'file:' && !existsSync(fileURLToPath(workerUrl))) return undefined;
    const name = tf.getBackend();
    const backend = name === 'tensorflow' ? 'node' : name === 'wasm' ? 'wasm' : 'cpu';
    const control = new Int32Array(new SharedArrayBuffer(8));
    const flops = new BigInt64Array(new SharedArrayBuffer(8 * count));
    const workers: Worker[] = [];
    try {
      for (let index = 0; index < count; index++) {
        workers.push(
          new Worker(workerUrl, {
            workerData: {
              backend,
              native: activeNativeGemm() ? 'auto' : 'off',
              index,
              control,
              flops,
            } satisfies EaseWorkerInit,
          }),
        );
      }
      await Promise.all(workers.map((w) => reply(w)));
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new EaseWorkers(workers, control, flops);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Sends `req` (if given) and resolves with the worker's next reply; rejects on error or exit. */
function reply(worker: Worker, req?: EaseWorkerRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (r: EaseWorkerReply) => {
      cleanup();
      if (r.ok) resolve();
      else reject(new Error(`EASE product worker failed: ${r.error}`));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`EASE product worker exited with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    if (req) worker.postMessage(req);
  });
}
