import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { compiledEntry } from '../config/compiled-entry.js';
import type { CsrMatrix } from '../core/data/csr.js';

/** The compiled thread entry (dist/src/registry/population-worker.js). */
export function populationWorkerEntry(): string {
  return compiledEntry(import.meta.url, 'population-worker.js');
}

/** What each thread starts with: the version's model (its stored bytes) and the histories. */
export interface PopulationWorkerData {
  backend: 'auto' | 'node' | 'wasm' | 'cpu';
  native: 'auto' | 'off';
  kind: string;
  /** The version's weights, in a SharedArrayBuffer (not copied per thread). */
  weights: Uint8Array;
  histories: CsrMatrix;
  trainingRows?: Int32Array;
}

export type PopulationWorkerRequest =
  | { type: 'rows'; seq: number; rows: Int32Array }
  | { type: 'lists'; seq: number; from: number; to: number; depth: number; deleted: Int32Array };

export type PopulationWorkerReply =
  | { ready: true }
  | { seq: number; ok: true; errors: Float64Array; vectors: Float32Array | null }
  | { seq: number; ok: true; lists: { indices: Int32Array; scores: Float32Array } | null }
  | { seq: number; ok: false; message: string };

type Answer = Exclude<PopulationWorkerReply, { ready: true } | { ok: false }>;

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>;
}

/**
 * A version's population work spread over worker threads, for a process that does nothing else
 * meanwhile (the training worker after storing a version, `npm run train`): each thread holds the
 * model and the histories and takes the next chunk of rows (or of similar-item lists) as it
 * finishes one. The main thread only collects the parts. Each row and column is computed as on one
 * thread; the threads' products round differently from the caller's, by about 10⁻⁸ (tested).
 */
export class PopulationThreads {
  private seq = 1;
  private failed: Error | null = null;

  private constructor(private readonly threads: Thread[]) {}

  /** Starts `count` threads; resolves once each has loaded the model, rejects if one fails to. */
  static async start(
    count: number,
    data: PopulationWorkerData,
    entry = populationWorkerEntry(),
  ): Promise<PopulationThreads> {
    if (!(Number.isInteger(count) && count >= 1))
      throw new Error(`population threads: count must be a positive integer, got ${count}`);
    if (!existsSync(entry)) throw new Error(`the population thread entry ${entry} is missing (npm run build)`);
    const shared = new Uint8Array(new SharedArrayBuffer(data.weights.byteLength));
    shared.set(data.weights);
    const pool = new PopulationThreads([]);
    const ready: Promise<void>[] = [];
    for (let k = 0; k < count; k++) {
      const worker = new Worker(entry, { name: 'recoder-population', workerData: { ...data, weights: shared } });
      ready.push(pool.listen({ worker, pending: new Map() }));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await pool.close();
      throw new Error(`population threads failed to start: ${(error as Error).message}`, { cause: error });
    }
    return pool;
  }

  get size(): number {
    return this.threads.length;
  }

  /** Errors and user vectors (populationModelWork) of every row in [0, rows), `chunk` rows per message. */
  async rows(
    rows: number,
    chunk: number,
    shouldStop?: () => boolean,
  ): Promise<{ errors: Float64Array<ArrayBuffer>; vectors: Float32Array | null }> {
    const errors = new Float64Array(rows);
    let vectors: Float32Array | null = null;
    await this.spread(
      Math.ceil(rows / chunk),
      (k) => ({
        type: 'rows',
        seq: 0,
        rows: Int32Array.from({ length: Math.min(chunk, rows - k * chunk) }, (_, j) => k * chunk + j),
      }),
      (k, answer) => {
        if (!('errors' in answer)) throw new Error('population thread: expected rows');
        errors.set(answer.errors, k * chunk);
        if (answer.vectors) {
          const dim = answer.vectors.length / answer.errors.length;
          vectors ??= new Float32Array(rows * dim);
          vectors.set(answer.vectors, k * chunk * dim);
        }
      },
      shouldStop,
    );
    return { errors, vectors };
  }

  /**
   * Every column's similar-item lists, packed as PackedSimilarLists (column c at c · depth), or
   * null when the model kind has no item scorer. `chunk` columns per message.
   */
  async lists(
    numItems: number,
    depth: number,
    deleted: Int32Array,
    chunk: number,
    shouldStop?: () => boolean,
  ): Promise<{ indices: Int32Array; scores: Float32Array } | null> {
    const indices = new Int32Array(numItems * depth);
    const scores = new Float32Array(numItems * depth);
    let none = false;
    await this.spread(
      Math.ceil(numItems / chunk),
      (k) => ({ type: 'lists', seq: 0, from: k * chunk, to: Math.min(numItems, (k + 1) * chunk), depth, deleted }),
      (k, answer) => {
        if (!('lists' in answer)) throw new Error('population thread: expected lists');
        if (!answer.lists) none = true;
        else {
          indices.set(answer.lists.indices, k * chunk * depth);
          scores.set(answer.lists.scores, k * chunk * depth);
        }
      },
      shouldStop,
    );
    return none ? null : { indices, scores };
  }

  /** Terminates the threads. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  /** Tasks 0 … count − 1 over the threads, each taking the next task when it finishes one. */
  private async spread(
    count: number,
    message: (k: number) => PopulationWorkerRequest,
    take: (k: number, answer: Answer) => void,
    shouldStop?: () => boolean,
  ): Promise<void> {
    let next = 0;
    await Promise.all(
      this.threads.map(async (thread) => {
        while (next < count) {
          if (shouldStop?.()) throw new PopulationThreadsStopped();
          const k = next++;
          take(k, await this.request(thread, message(k)));
        }
      }),
    );
  }

  private request(thread: Thread, message: PopulationWorkerRequest): Promise<Answer> {
    if (this.failed) return Promise.reject(this.failed);
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      thread.pending.set(seq, { resolve, reject });
      thread.worker.postMessage({ ...message, seq });
    });
  }

  /** Adds a thread; resolves when it has loaded the model, rejects if it fails first. */
  private listen(thread: Thread): Promise<void> {
    this.threads.push(thread);
    let started: { resolve: () => void; reject: (e: Error) => void } | null = null;
    const ready = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
    const fail = (error: Error) => {
      started?.reject(error);
      this.failed ??= error;
      for (const t of this.threads) {
        for (const p of t.pending.values()) p.reject(error);
        t.pending.clear();
      }
    };
    thread.worker.on('message', (reply: PopulationWorkerReply) => {
      if ('ready' in reply) {
        started?.resolve();
        started = null;
        return;
      }
      const pending = thread.pending.get(reply.seq);
      if (!pending) return;
      thread.pending.delete(reply.seq);
      if (reply.ok) pending.resolve(reply);
      else pending.reject(new Error(`population thread: ${reply.message}`));
    });
    thread.worker.on('error', (error) => fail(new Error(`a population thread failed: ${error.message}`)));
    thread.worker.on('exit', (code) => fail(new Error(`a population thread exited (code ${code})`)));
    return ready;
  }
}

/** Thrown by {@link PopulationThreads} work when its `shouldStop` asked it to stop. */
export class PopulationThreadsStopped extends Error {
  constructor() {
    super('population work stopped');
    this.name = 'PopulationThreadsStopped';
  }
}
