/**
 * Worker-thread entry of {@link PopulationThreads} (population-threads.ts): one version's model
 * (from its stored bytes) and the population's histories, given at start; answers chunks of
 * population rows (errors and user vectors, populationModelWork) and of similar-item lists
 * (SimilarLists), with the arrays transferred.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../core/engine/backend.js';
import { excludeSet } from '../core/index/top-k.js';
import { populationModelWork, SimilarLists, type Population } from '../core/serving/served-model.js';
import { modelFromBytes } from './model-kinds.js';
import type { PopulationWorkerData, PopulationWorkerReply, PopulationWorkerRequest } from './population-threads.js';

if (!parentPort) throw new Error('population-worker.js runs as a worker thread (src/registry/population-threads.ts)');
const port = parentPort;
const init = workerData as PopulationWorkerData;
const { tf } = await initBackend({ prefer: init.backend, native: init.native, log: () => undefined });
const model = modelFromBytes(tf, init.kind, init.weights);
const population: Population = { histories: init.histories, trainingRows: init.trainingRows };
let lists: SimilarLists | undefined;

port.on('message', (m: PopulationWorkerRequest) => {
  try {
    if (m.type === 'rows') {
      const part = populationModelWork(model, population, m.rows);
      port.postMessage(
        { seq: m.seq, ok: true, errors: part.errors, vectors: part.vectors } satisfies PopulationWorkerReply,
        [part.errors.buffer as ArrayBuffer, ...(part.vectors ? [part.vectors.buffer as ArrayBuffer] : [])],
      );
    } else {
      lists ??= new SimilarLists(model, population.histories);
      const part = lists.lists(m.from, m.to, m.depth, excludeSet(m.deleted));
      port.postMessage(
        { seq: m.seq, ok: true, lists: part } satisfies PopulationWorkerReply,
        part ? [part.indices.buffer as ArrayBuffer, part.scores.buffer as ArrayBuffer] : [],
      );
    }
  } catch (error) {
    port.postMessage({
      seq: m.seq,
      ok: false,
      message: String((error as Error)?.stack ?? error),
    } satisfies PopulationWorkerReply);
  }
});

port.postMessage({ ready: true } satisfies PopulationWorkerReply);
