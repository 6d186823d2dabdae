/**
 * Worker-thread entry of the data-parallel Mult-VAE/DAE trainer (see multinomial-workers.ts):
 * computes one slice of a mini-batch's gradient with {@link lossAndGradients} on its own tfjs
 * backend instance, and updates one slice of every parameter array with Adam. Master weights,
 * gradients, Adam moments and the training matrix live in SharedArrayBuffers shared with the
 * main thread; messages carry only the mini-batch slice and small control values.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CsrMatrix } from '../data/csr.js';
import { initBackend } from '../engine/backend.js';
import { adamUpdate, adamUpdateRows, type AdamConfig } from './adam.js';
import { lossAndGradients, rowsOf, type NetSpec, type SampledStep } from './multinomial-net.js';
import type { SparseRows } from './sparse-input.js';

/** workerData of a gradient worker. */
export interface WorkerInit {
  index: number;
  backend: 'node' | 'wasm' | 'cpu';
  /** Whether the parent's large matMuls run on the native GEMM (backend.ts). */
  native: 'auto' | 'off';
  spec: NetSpec;
  train: CsrMatrix;
  /** Shared master weights, one array per layer. */
  weights: Float32Array[];
  /** grads[k][l]: worker k's gradient of layer l (shared). */
  grads: Float32Array[][];
  /** Shared Adam moments, one array per layer. */
  m: Float32Array[];
  v: Float32Array[];
  adam: AdamConfig;
}

/** Main → worker. */
export type WorkerRequest =
  | {
      cmd: 'grad';
      x: SparseRows;
      rowIds: Int32Array;
      eps?: Float32Array;
      beta: number;
      sampled?: SampledStep;
    }
  | {
      cmd: 'adam';
      step: number;
      scales: number[];
      /** Per layer, the share to update: [from, to) of its values, or of its `rows` when listed. */
      ranges: Array<[number, number]>;
      /** Per layer, the rows a row-sparse step updated (sampledRows), undefined = every value. */
      rows?: (Int32Array | undefined)[];
    };

/** Worker → main. */
export type WorkerReply = { ok: true; loss?: number } | { ok: false; error: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('multinomial-worker: not running in a worker thread');
  const init = workerData as WorkerInit;
  const { tf } = await initBackend({ prefer: init.backend, native: init.native });
  port.on('message', (req: WorkerRequest) => {
    try {
      if (req.cmd === 'grad') {
        const { loss, grads } = lossAndGradients(
          tf,
          init.spec,
          init.weights,
          req.x,
          { csr: init.train, rowIds: req.rowIds },
          req.eps,
          req.beta,
          req.sampled,
        );
        grads.forEach((g, l) => init.grads[init.index][l].set(g));
        port.postMessage({ ok: true, loss } satisfies WorkerReply);
      } else {
        const used = req.scales.map((_, k) => k).filter((k) => req.scales[k] !== 0); // workers that had rows
        init.weights.forEach((w, l) => {
          const [a, b] = req.ranges[l];
          const rows = req.rows?.[l];
          if (rows) {
            const width = w.length / rowsOf(init.spec, l);
            adamUpdateRows(
              w,
              used.map((k) => init.grads[k][l]),
              used.map((k) => req.scales[k]),
              init.m[l],
              init.v[l],
              req.step,
              init.adam,
              rows,
              width,
              a,
              b,
            );
            return;
          }
          adamUpdate(
            w.subarray(a, b),
            used.map((k) => init.grads[k][l].subarray(a, b)),
            used.map((k) => req.scales[k]),
            init.m[l].subarray(a, b),
            init.v[l].subarray(a, b),
            req.step,
            init.adam,
          );
        });
        port.postMessage({ ok: true } satisfies WorkerReply);
      }
    } catch (error) {
      port.postMessage({
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies WorkerReply);
    }
  });
  port.postMessage({ ok: true } satisfies WorkerReply); // ready
}

main().catch((error: unknown) => {
  parentPort?.postMessage({
    ok: false,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies WorkerReply);
});
