/**
 * Decoding and normalising an uploaded image is synchronous pure-JavaScript work (pngjs, jpeg-js):
 * up to seconds and hundreds of MB for a 4096×4096 image. Done on the event loop it would stall
 * every other request, so `setItemImage` hands it to this small pool of worker threads
 * (src/images/decode-worker.ts runs normaliseImage). Threads start on first use and are replaced
 * when one crashes or is killed over its time limit; jobs beyond the threads wait in a bounded
 * queue. Rejections come back as ImageRejected with the same reason and message.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { compiledEntry } from '../config/compiled-entry.js';
import { ImageRejected, type ImageRejection } from './image-decode.js';
import type { NormalisedImage, NormaliseOptions } from './normalise.js';

/** The compiled thread entry (dist/src/images/decode-worker.js). */
export function decodeWorkerEntry(): string {
  return compiledEntry(import.meta.url, 'decode-worker.js');
}

/** Main thread → worker. `bytes` owns its ArrayBuffer, which is transferred. */
export interface DecodeJob {
  id: number;
  bytes: Uint8Array;
  options: NormaliseOptions;
}

/** Worker → main thread: ready (once, when loaded), then per job the result (pixels transferred), or an ImageRejected's reason and message, or another error's text. */
export type DecodeReply =
  | { ready: true }
  | { id: number; ok: true; image: NormalisedImage }
  | { id: number; ok: false; reason?: ImageRejection; message: string };

export interface ImageDecodePoolOptions {
  /** Worker threads (default 1). */
  threads?: number;
  /** Jobs allowed to wait for a thread (default 32); one more is refused with ImageDecoderBusy. */
  maxQueue?: number;
  /** Longest a job may run in its thread (default 15 s; counted once the thread has loaded); the thread is then terminated and replaced. */
  timeoutMs?: number;
  /** Thread entry (default {@link decodeWorkerEntry}). */
  entry?: string;
}

/** The queue is full: the caller should retry later. */
export class ImageDecoderBusy extends Error {
  constructor(readonly waiting: number) {
    super(`the image decoder is busy (${waiting} images waiting)`);
    this.name = 'ImageDecoderBusy';
  }
}

interface Pending {
  id: number;
  bytes: Uint8Array;
  options: NormaliseOptions;
  resolve: (image: NormalisedImage) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** The thread has loaded its modules (its first job's time limit starts then). */
  ready: boolean;
  job: Pending | null;
  timer: NodeJS.Timeout | null;
}

export class ImageDecodePool {
  readonly threads: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  private readonly entry: string;
  private slots: Slot[] = [];
  private queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: ImageDecodePoolOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? 1));
    this.maxQueue = Math.max(0, Math.floor(options.maxQueue ?? 32));
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.entry = options.entry ?? decodeWorkerEntry();
  }

  /** Live worker threads (started lazily, at most `threads`). */
  get liveThreads(): number {
    return this.slots.length;
  }

  /** Jobs waiting for a thread. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * normaliseImage(bytes, options) in a worker thread; `bytes` is copied, not taken. Rejects with
   * ImageRejected as normaliseImage would (reason 'timeout' past the time limit), ImageDecoderBusy
   * when the queue is full, or an Error when the thread died or the pool was shut down.
   */
  normalise(bytes: Uint8Array, options: NormaliseOptions): Promise<NormalisedImage> {
    if (this.closed) return Promise.reject(new Error('the image decoder is shut down'));
    const free = this.slots.some((s) => s.job === null) || this.slots.length < this.threads;
    if (!free && this.queue.length >= this.maxQueue) return Promise.reject(new ImageDecoderBusy(this.queue.length));
    return new Promise<NormalisedImage>((resolve, reject) => {
      // A copy that owns its ArrayBuffer (a Buffer may be a slice of Node's shared pool), transferred to the thread.
      this.queue.push({ id: this.nextId++, bytes: new Uint8Array(bytes), options: { ...options }, resolve, reject });
      this.pump();
    });
  }

  /** Terminates the threads; waiting and running jobs fail. */
  async destroy(): Promise<void> {
    this.closed = true;
    const closed = new Error('the image decoder is shut down');
    for (const job of this.queue.splice(0)) job.reject(closed);
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map((slot) => {
        this.finish(slot)?.reject(closed);
        return slot.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot) {
        if (this.slots.length >= this.threads) return;
        try {
          slot = this.spawn();
        } catch (error) {
          this.queue.shift()!.reject(error as Error);
          continue;
        }
      }
      this.run(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot {
    if (!existsSync(this.entry))
      throw new Error(`the image decoder thread entry ${this.entry} is missing (npm run build)`);
    const worker = new Worker(this.entry, { name: 'recoder-image-decoder' });
    const slot: Slot = { worker, ready: false, job: null, timer: null };
    worker.on('message', (reply: DecodeReply) => this.onReply(slot, reply));
    worker.on('error', (error) => this.retire(slot, new Error(`the image decoder thread failed: ${error.message}`)));
    worker.on('exit', (code) => this.retire(slot, new Error(`the image decoder thread exited (code ${code})`)));
    worker.unref(); // idle threads do not keep the process alive
    this.slots.push(slot);
    return slot;
  }

  private run(slot: Slot, job: Pending): void {
    slot.job = job;
    slot.worker.ref();
    if (slot.ready) this.startTimer(slot);
    const message: DecodeJob = { id: job.id, bytes: job.bytes, options: job.options };
    slot.worker.postMessage(message, [job.bytes.buffer as ArrayBuffer]);
  }

  private startTimer(slot: Slot): void {
    slot.timer = setTimeout(() => {
      const seconds = +(this.timeoutMs / 1000).toFixed(3);
      this.retire(slot, new ImageRejected('timeout', `took longer than ${seconds} s to decode`));
      void slot.worker.terminate();
    }, this.timeoutMs);
  }

  private onReply(slot: Slot, reply: DecodeReply): void {
    if ('ready' in reply) {
      slot.ready = true;
      if (slot.job && !slot.timer) this.startTimer(slot);
      return;
    }
    if (slot.job?.id !== reply.id) return;
    const job = this.finish(slot)!;
    slot.worker.unref();
    if (reply.ok) job.resolve(reply.image);
    else
      job.reject(
        reply.reason ? new ImageRejected(reply.reason, reply.message) : new Error(`image decoder: ${reply.message}`),
      );
    this.pump();
  }

  /** The thread is gone (crashed, exited, or killed over its time limit): its job fails; a new thread starts when work waits. */
  private retire(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return; // already retired
    this.slots.splice(index, 1);
    this.finish(slot)?.reject(error);
    this.pump();
  }

  private finish(slot: Slot): Pending | null {
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.job = null;
    slot.timer = null;
    return job;
  }
}
