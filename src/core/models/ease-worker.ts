/**
 * Worker-thread entry of the EASE products (see ease-workers.ts): runs {@link Gemm}s with its own
 * tfjs backend. Every array of a product lives in a SharedArrayBuffer shared with the caller, so
 * the result is written in place and messages carry only views.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../engine/backend.js';
import { TfGemmExecutor, gemmJs, type Gemm } from './ease-solver.js';

/** workerData of a product worker. */
export interface EaseWorkerInit {
  backend: 'node' | 'wasm' | 'cpu';
  /** Whether the parent's large matMuls run on the native GEMM (backend.ts). */
  native: 'auto' | 'off';
  /** This worker's slot in `flops`. */
  index: number;
  /** [next product index of the current batch, stop flag], shared with every thread. */
  control: Int32Array;
  /** Flops completed by each worker. */
  flops: BigInt64Array;
}

/** Main → worker: run products of `ops` (taking indices from control[0]) until none is left or stop is set. */
export type EaseWorkerRequest = { cmd: 'gemms'; ops: Gemm[] } | { cmd: 'release' };

/** Worker → main. */
export type EaseWorkerReply = { ok: true } | { ok: false; error: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('ease-worker: not running in a worker thread');
  const init = workerData as EaseWorkerInit;
  const { tf } = await initBackend({ prefer: init.backend, native: init.native });
  const executor = init.backend === 'cpu' ? { run: gemmJs, release: () => undefined } : new TfGemmExecutor(tf);
  port.on('message', (req: EaseWorkerRequest) => {
    try {
      if (req.cmd === 'gemms') {
        const { control, flops, index } = init;
        while (Atomics.load(control, 1) === 0) {
          const i = Atomics.add(control, 0, 1);
          if (i >= req.ops.length) break;
          const op = req.ops[i];
          executor.run(op);
          Atomics.add(flops, index, BigInt(2 * op.m * op.k * op.n));
        }
      } else {
        executor.release();
      }
      port.postMessage({ ok: true } satisfies EaseWorkerReply);
    } catch (error) {
      port.postMessage({
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies EaseWorkerReply);
    }
  });
  port.postMessage({ ok: true } satisfies EaseWorkerReply); // ready
}

main().catch((error: unknown) => {
  parentPort?.postMessage({
    ok: false,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies EaseWorkerReply);
});
