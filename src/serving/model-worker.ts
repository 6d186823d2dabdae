/**
 * Worker-thread entry of the serving model pool (src/serving/model-pool.ts): holds the weights of
 * the versions the process serves (loaded from their bytes, one model object per version) and
 * runs the batched forward passes of recommendation batches (`scoreMaterial`: EASE scores, an
 * ensemble's blend, an autoencoder's queries), answering with the arrays (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CsrMatrix } from '../core/data/csr.js';
import { initBackend } from '../core/engine/backend.js';
import { isGenerative } from '../core/models/servable.js';
import { materialBuffers, type ServableModel } from '../core/serving/served-model.js';
import { modelFromBytes } from '../registry/model-kinds.js';
import type { ModelWorkerReply, ModelWorkerRequest } from './model-pool.js';

if (!parentPort) throw new Error('model-worker.js runs as a worker thread (src/serving/model-pool.ts)');
const port = parentPort;
const { tf } = await initBackend({ prefer: (workerData as { backend?: 'auto' | 'node' | 'wasm' | 'cpu' } | undefined)?.backend ?? 'auto', log: () => undefined });
const models = new Map<number, ServableModel>();

port.on('message', (m: ModelWorkerRequest) => {
  try {
    if (m.type === 'load') {
      if (!models.has(m.id)) models.set(m.id, modelFromBytes(tf, m.kind, m.weights));
      port.postMessage({ seq: m.seq, ok: true } satisfies ModelWorkerReply);
    } else if (m.type === 'unload') {
      const model = models.get(m.id);
      models.delete(m.id);
      model?.dispose();
      port.postMessage({ seq: m.seq, ok: true } satisfies ModelWorkerReply);
    } else if (m.type === 'sample') {
      const model = models.get(m.id);
      if (!isGenerative(model)) throw new Error(`model version ${m.id} is not a Mult-VAE loaded in this thread`);
      const excluded = new Set(m.exclude);
      const exclude = excluded.size ? { has: (c: number) => excluded.has(c), size: excluded.size } : undefined;
      const samples = model.sampleUsers(m.count, m.itemsPerUser, m.seed, { exclude, latent: m.latent }).map((s) => s.items);
      port.postMessage({ seq: m.seq, ok: true, samples } satisfies ModelWorkerReply);
    } else {
      const model = models.get(m.id);
      if (!model) throw new Error(`model version ${m.id} is not loaded in this thread`);
      const histories: CsrMatrix = { numRows: m.numRows, numCols: m.numCols, indptr: m.indptr, indices: m.indices, values: m.values };
      const material = model.scoreMaterial(histories);
      port.postMessage({ seq: m.seq, ok: true, material } satisfies ModelWorkerReply, materialBuffers(material));
    }
  } catch (error) {
    port.postMessage({ seq: m.seq, ok: false, message: String((error as Error)?.stack ?? error) } satisfies ModelWorkerReply);
  }
});

port.postMessage({ ready: true } satisfies ModelWorkerReply);
