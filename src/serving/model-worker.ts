/**
 * Worker-thread entry of the serving model pool (src/serving/model-pool.ts): holds the weights of
 * the versions the process serves (loaded from their bytes, one model object per version) and
 * runs the batched forward passes of recommendation batches (`scoreMaterial`: EASE scores, an
 * ensemble's blend, an autoencoder's queries), answering with the arrays (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CsrMatrix } from '../core/data/csr.js';
import { initBackend } from '../core/engine/backend.js';
import { excludeSet } from '../core/index/top-k.js';
import { isGenerative } from '../core/models/servable.js';
import {
  materialBuffers,
  populationModelWork,
  SimilarLists,
  type Population,
  type ServableModel,
} from '../core/serving/served-model.js';
import { modelFromBytes } from '../registry/model-kinds.js';
import type { ModelWorkerReply, ModelWorkerRequest } from './model-pool.js';

if (!parentPort) throw new Error('model-worker.js runs as a worker thread (src/serving/model-pool.ts)');
const port = parentPort;
const init = workerData as { backend?: 'auto' | 'node' | 'wasm' | 'cpu'; native?: 'auto' | 'off' } | undefined;
const { tf } = await initBackend({
  prefer: init?.backend ?? 'auto',
  native: init?.native ?? 'auto',
  log: () => undefined,
});
const models = new Map<number, ServableModel>();
/** Population histories of a version (for its errors, vectors and similar-item lists) and its lists' scorer. */
const populations = new Map<number, { population: Population; lists?: SimilarLists }>();

port.on('message', (m: ModelWorkerRequest) => {
  try {
    if (m.type === 'load') {
      if (!models.has(m.id)) models.set(m.id, modelFromBytes(tf, m.kind, m.weights));
      port.postMessage({ seq: m.seq, ok: true } satisfies ModelWorkerReply);
    } else if (m.type === 'unload') {
      const model = models.get(m.id);
      models.delete(m.id);
      populations.get(m.id)?.lists?.dispose();
      populations.delete(m.id);
      model?.dispose();
      port.postMessage({ seq: m.seq, ok: true } satisfies ModelWorkerReply);
    } else if (m.type === 'sample') {
      const model = models.get(m.id);
      if (!isGenerative(model)) throw new Error(`model version ${m.id} is not a Mult-VAE loaded in this thread`);
      const excluded = new Set(m.exclude);
      const exclude = excluded.size ? { has: (c: number) => excluded.has(c), size: excluded.size } : undefined;
      const samples = model
        .sampleUsers(m.count, m.itemsPerUser, m.seed, { exclude, latent: m.latent })
        .map((s) => s.items);
      port.postMessage({ seq: m.seq, ok: true, samples } satisfies ModelWorkerReply);
    } else if (m.type === 'population-data') {
      populations.get(m.id)?.lists?.dispose();
      populations.set(m.id, { population: { histories: m.histories, trainingRows: m.trainingRows } });
      port.postMessage({ seq: m.seq, ok: true } satisfies ModelWorkerReply);
    } else if (m.type === 'population' || m.type === 'similar') {
      const model = models.get(m.id);
      const held = populations.get(m.id);
      if (!model || !held) throw new Error(`model version ${m.id} or its population is not loaded in this thread`);
      if (m.type === 'population') {
        const population = populationModelWork(model, held.population, m.rows);
        port.postMessage({ seq: m.seq, ok: true, population } satisfies ModelWorkerReply, [
          population.errors.buffer as ArrayBuffer,
          ...(population.vectors ? [population.vectors.buffer as ArrayBuffer] : []),
        ]);
      } else {
        held.lists ??= new SimilarLists(model, held.population.histories);
        const lists = held.lists.lists(m.from, m.to, m.depth, excludeSet(m.deleted));
        port.postMessage(
          { seq: m.seq, ok: true, lists } satisfies ModelWorkerReply,
          lists ? [lists.indices.buffer as ArrayBuffer, lists.scores.buffer as ArrayBuffer] : [],
        );
      }
    } else {
      const model = models.get(m.id);
      if (!model) throw new Error(`model version ${m.id} is not loaded in this thread`);
      const histories: CsrMatrix = {
        numRows: m.numRows,
        numCols: m.numCols,
        indptr: m.indptr,
        indices: m.indices,
        values: m.values,
      };
      const material = model.scoreMaterial(histories, m.exact);
      port.postMessage({ seq: m.seq, ok: true, material } satisfies ModelWorkerReply, materialBuffers(material));
    }
  } catch (error) {
    port.postMessage({
      seq: m.seq,
      ok: false,
      message: String((error as Error)?.stack ?? error),
    } satisfies ModelWorkerReply);
  }
});

port.postMessage({ ready: true } satisfies ModelWorkerReply);
