/**
 * Serving model work off the event loop: a small pool of worker threads (src/serving/model-worker.ts)
 * that hold the weights of the versions this process serves and run the batched forward passes of
 * recommendation batches. The main thread parses, authorizes, reads Postgres, searches and
 * serializes; a batch's scoring runs in a thread while the event loop answers other requests.
 *
 * - A version is loaded into every thread before it starts serving (ActiveModelService awaits
 *   {@link ModelPool.load} before the swap) and unloaded when it is disposed, so a batch scored
 *   with version v always finds v in its thread: hot swaps stay atomic.
 * - The weights are copied once into a SharedArrayBuffer that every thread reads its model from.
 * - A batch goes to the thread with the fewest batches in flight. A thread that crashes or
 *   outlives a batch's deadline is terminated; its batches fail (the caller falls back to the
 *   event loop for them) and a new thread, with every served version, replaces it.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { compiledEntry } from '../config/compiled-entry.js';
import type { CsrMatrix } from '../core/data/csr.js';
import { DeadlineExceededError } from '../core/serving/micro-batcher.js';
import type { Population, ScoreMaterial } from '../core/serving/served-model.js';

/** The compiled thread entry (dist/src/serving/model-worker.js). */
export function modelWorkerEntry(): string {
  return compiledEntry(import.meta.url, 'model-worker.js');
}

export type ModelWorkerRequest =
  | { type: 'load'; seq: number; id: number; kind: string; weights: Uint8Array }
  | { type: 'unload'; seq: number; id: number }
  | {
      type: 'score';
      seq: number;
      id: number;
      exact: boolean;
      numRows: number;
      numCols: number;
      indptr: Int32Array;
      indices: Int32Array;
      values: Float32Array;
    }
  | {
      type: 'sample';
      seq: number;
      id: number;
      count: number;
      itemsPerUser: number;
      seed: number;
      exclude: Int32Array;
      latent?: { mean: Float32Array; std: Float32Array };
    }
  | { type: 'population-data'; seq: number; id: number; histories: CsrMatrix; trainingRows?: Int32Array }
  | { type: 'population'; seq: number; id: number; rows: Int32Array }
  | { type: 'similar'; seq: number; id: number; from: number; to: number; depth: number; deleted: Int32Array };

export type ModelWorkerReply =
  | { ready: true }
  | {
      seq: number;
      ok: true;
      material?: ScoreMaterial;
      samples?: Int32Array[];
      population?: PopulationPart;
      lists?: SimilarListsPart | null;
    }
  | { seq: number; ok: false; message: string };

export interface ModelPoolOptions {
  /** Worker threads; 0: none (model work runs on the event loop). */
  threads: number;
  /** tfjs backend of the threads (as the main thread's). */
  backend: 'auto' | 'node' | 'wasm' | 'cpu';
  /** Whether their large matMuls run on the native GEMM (default 'auto', as initBackend's). */
  native?: 'auto' | 'off';
  /** A batch running longer than this in a thread: the thread is terminated and replaced. */
  deadlineMs: number;
  /** Thread entry (default {@link modelWorkerEntry}). */
  entry?: string;
}

/** Errors and user vectors of some population rows (populationModelWork). */
export type PopulationPart = { errors: Float64Array; vectors: Float32Array | null };
/** Packed similar-item lists of a range of columns (SimilarLists.lists). */
export type SimilarListsPart = { indices: Int32Array; scores: Float32Array };
type Reply = {
  material?: ScoreMaterial;
  samples?: Int32Array[];
  population?: PopulationPart;
  lists?: SimilarListsPart | null;
};

interface Job {
  seq: number;
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Versions this thread has been asked to load. */
  loaded: Set<number>;
  /** Versions whose population histories this thread holds. */
  populations: Set<number>;
}

export class ModelPool {
  private slots: Slot[] = [];
  private readonly versions = new Map<number, { kind: string; weights: Uint8Array }>();
  private seq = 1;
  private closed = false;
  private readonly entry: string;
  /** Batches scored in threads, and thread replacements (crash or deadline). */
  readonly stats = { scored: 0, replaced: 0 };

  constructor(private readonly options: ModelPoolOptions) {
    this.entry = options.entry ?? modelWorkerEntry();
  }

  get threads(): number {
    return this.options.threads;
  }

  /** Whether batches of version `id` can be scored in the threads. */
  serves(id: number): boolean {
    return this.options.threads > 0 && !this.closed && this.versions.has(id);
  }

  /** Loads a version into every thread (starting them if needed); resolves when all have it. */
  async load(id: number, kind: string, weights: Uint8Array): Promise<void> {
    if (this.options.threads === 0 || this.closed) return;
    if (!existsSync(this.entry)) throw new Error(`the model thread entry ${this.entry} is missing (npm run build)`);
    const shared = new Uint8Array(new SharedArrayBuffer(weights.byteLength));
    shared.set(weights);
    this.versions.set(id, { kind, weights: shared });
    while (this.slots.length < this.options.threads) this.spawn();
    await Promise.all(this.slots.map((slot) => this.ensureLoaded(slot, id)));
  }

  /** Frees a version in every thread. */
  unload(id: number): void {
    if (!this.versions.delete(id)) return;
    for (const slot of this.slots) {
      slot.populations.delete(id);
      if (!slot.loaded.delete(id)) continue;
      this.request(slot, { type: 'unload', seq: this.seq++, id }).catch(() => undefined);
    }
  }

  /**
   * The batch's score material (see ServedModel.rankersFrom), computed in the least busy thread;
   * `exact`: every item's score (ServedModel.exactScoring), not only an autoencoder's queries.
   */
  async score(id: number, histories: CsrMatrix, exact = false): Promise<ScoreMaterial> {
    if (!this.serves(id)) throw new Error(`model version ${id} is not loaded in the model threads`);
    while (this.slots.length < this.options.threads) this.spawn();
    const slot = this.slots.reduce((best, s) => (s.jobs.size < best.jobs.size ? s : best));
    await this.ensureLoaded(slot, id);
    const { indptr, indices, values } = histories;
    const reply = await this.request(
      slot,
      {
        type: 'score',
        seq: this.seq++,
        id,
        exact,
        numRows: histories.numRows,
        numCols: histories.numCols,
        indptr,
        indices,
        values,
      },
      this.options.deadlineMs,
    );
    this.stats.scored++;
    return reply.material!;
  }

  /**
   * Synthetic users of a Mult-VAE version (MultVAE.sampleUsers) in the least busy thread: each
   * user's item columns in draw order. `exclude`: columns never drawn; `latent`: a fitted Gaussian.
   */
  async sampleUsers(
    id: number,
    count: number,
    itemsPerUser: number,
    seed: number,
    exclude: Int32Array,
    latent?: { mean: Float32Array; std: Float32Array },
  ): Promise<Int32Array[]> {
    if (!this.serves(id)) throw new Error(`model version ${id} is not loaded in the model threads`);
    while (this.slots.length < this.options.threads) this.spawn();
    const slot = this.slots.reduce((best, s) => (s.jobs.size < best.jobs.size ? s : best));
    await this.ensureLoaded(slot, id);
    const reply = await this.request(
      slot,
      { type: 'sample', seq: this.seq++, id, count, itemsPerUser, seed, exclude, latent },
      this.options.deadlineMs,
    );
    return reply.samples!;
  }

  /**
   * The model part of a version's population work (populationModelWork) in one thread, `chunk`
   * rows per message so that recommendation batches sent meanwhile run between the chunks. The
   * thread keeps the histories for {@link similarLists}. Rejects if the thread fails (the caller
   * computes on the event loop instead).
   */
  async population(id: number, population: Population, rows: Int32Array, chunk = 256): Promise<PopulationPart> {
    const slot = await this.populationSlot(id, population);
    const errors = new Float64Array(rows.length);
    let vectors: Float32Array | null = null;
    for (let start = 0; start < rows.length; start += chunk) {
      const part = (
        await this.request(
          slot,
          { type: 'population', seq: this.seq++, id, rows: rows.slice(start, start + chunk) },
          this.options.deadlineMs,
        )
      ).population!;
      errors.set(part.errors, start);
      if (part.vectors) {
        const dim = part.vectors.length / part.errors.length;
        vectors ??= new Float32Array(rows.length * dim);
        vectors.set(part.vectors, start * dim);
      }
    }
    return { errors, vectors };
  }

  /**
   * Similar-item lists of columns [from, to) of a version (SimilarLists.lists over the population
   * given to {@link population} earlier), computed in the thread that holds that population; null
   * when the model kind has no item scorer. Rejects when no thread holds the population.
   */
  async similarLists(
    id: number,
    from: number,
    to: number,
    depth: number,
    deleted: Int32Array,
  ): Promise<SimilarListsPart | null> {
    const slot = this.slots.find((s) => s.populations.has(id));
    if (!slot || !this.serves(id)) throw new Error(`no model thread holds the population of version ${id}`);
    return (
      (
        await this.request(
          slot,
          { type: 'similar', seq: this.seq++, id, from, to, depth, deleted },
          this.options.deadlineMs,
        )
      ).lists ?? null
    );
  }

  /** The thread that holds (or is now given) a version's population histories. */
  private async populationSlot(id: number, population: Population): Promise<Slot> {
    if (!this.serves(id)) throw new Error(`model version ${id} is not loaded in the model threads`);
    while (this.slots.length < this.options.threads) this.spawn();
    const slot =
      this.slots.find((s) => s.populations.has(id)) ??
      this.slots.reduce((best, s) => (s.jobs.size < best.jobs.size ? s : best));
    await this.ensureLoaded(slot, id);
    if (!slot.populations.has(id)) {
      slot.populations.add(id);
      await this.request(slot, {
        type: 'population-data',
        seq: this.seq++,
        id,
        histories: population.histories,
        trainingRows: population.trainingRows,
      });
    }
    return slot;
  }

  /** Terminates the threads; pending batches fail. */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map((slot) => {
        this.fail(slot, new Error('the model threads are shut down'));
        return slot.worker.terminate();
      }),
    );
  }

  private ensureLoaded(slot: Slot, id: number): Promise<unknown> {
    if (slot.loaded.has(id)) return Promise.resolve();
    const version = this.versions.get(id);
    if (!version) return Promise.reject(new Error(`model version ${id} is not loaded in the model threads`));
    slot.loaded.add(id);
    return this.request(slot, {
      type: 'load',
      seq: this.seq++,
      id,
      kind: version.kind,
      weights: version.weights,
    }).catch((error: unknown) => {
      slot.loaded.delete(id);
      throw error;
    });
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry, {
      name: 'recoder-model',
      workerData: { backend: this.options.backend, native: this.options.native ?? 'auto' },
    });
    const slot: Slot = { worker, jobs: new Map(), loaded: new Set(), populations: new Set() };
    worker.on('message', (reply: ModelWorkerReply) => {
      if ('ready' in reply) return;
      const job = slot.jobs.get(reply.seq);
      if (!job) return;
      slot.jobs.delete(reply.seq);
      if (job.timer) clearTimeout(job.timer);
      if (slot.jobs.size === 0) worker.unref();
      if (reply.ok) job.resolve(reply);
      else job.reject(new Error(`model thread: ${reply.message}`));
    });
    worker.on('error', (error) => this.retire(slot, new Error(`a model thread failed: ${error.message}`)));
    worker.on('exit', (code) => this.retire(slot, new Error(`a model thread exited (code ${code})`)));
    worker.unref(); // idle threads do not keep the process alive
    this.slots.push(slot);
    return slot;
  }

  private request(slot: Slot, message: ModelWorkerRequest, deadlineMs?: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const job: Job = { seq: message.seq, resolve, reject, timer: null };
      if (deadlineMs !== undefined) {
        job.timer = setTimeout(() => {
          this.retire(
            slot,
            new DeadlineExceededError(
              `the model took longer than the deadline of ${deadlineMs} ms for this batch; retry shortly`,
              Math.max(1, Math.ceil(deadlineMs / 1000)),
            ),
          );
          void slot.worker.terminate();
        }, deadlineMs);
      }
      slot.jobs.set(message.seq, job);
      slot.worker.ref();
      slot.worker.postMessage(message);
    });
  }

  /** The thread is gone: its jobs fail; the next load or batch starts a replacement with every version. */
  private retire(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    if (!this.closed) this.stats.replaced++;
    this.fail(slot, error);
  }

  private fail(slot: Slot, error: Error): void {
    for (const job of slot.jobs.values()) {
      if (job.timer) clearTimeout(job.timer);
      job.reject(error);
    }
    slot.jobs.clear();
  }
}
