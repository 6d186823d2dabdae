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
}

/** Main → worker. */
export type EaseWorkerRequest = { cmd: 'gemm'; op: Gemm } | { cmd: 'release' };

/** Worker → main. */
export type EaseWorkerReply = { ok: true } | { ok: false; error: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('ease-worker: not running in a worker thread');
  const init = workerData as EaseWorkerInit;
  const { tf } = await initBackend({ prefer: init.backend });
  const executor = init.backend === 'cpu' ? { run: gemmJs, release: () => undefined } : new TfGemmExecutor(tf);
  port.on('message', (req: EaseWorkerRequest) => {
    try {
      if (req.cmd === 'gemm') executor.run(req.op);
      else executor.release();
      port.postMessage({ ok: true } satisfies EaseWorkerReply);
    } catch (error) {
      port.postMessage({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies EaseWorkerReply);
    }
  });
  port.postMessage({ ok: true } satisfies EaseWorkerReply); // ready
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies EaseWorkerReply);
});
