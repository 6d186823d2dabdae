import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import { compiledEntry } from '../config/compiled-entry.js';
import { PROJECT_ROOT, type Env } from '../config/env.js';
import { DATABASE_URL } from '../database/prisma.service.js';
import { publishServingPressure, servingPressureBuffer } from './serving-pressure.js';

/** The compiled thread entry (dist/src/training/worker-thread.js). */
export function workerThreadEntry(): string {
  return compiledEntry(import.meta.url, 'worker-thread.js');
}

export interface WorkerThreadData {
  env: Env;
  databaseUrl: string;
  /** The API's serving-pressure flag (serving-pressure.ts): training pauses while the API serves. */
  pressure?: SharedArrayBuffer;
}

const RESTART_DELAY_MS = 5000;

/**
 * The single-process default (RECODER_TRAINING_WORKER=thread): the training worker runs in a
 * worker thread of the API process, at a lower CPU priority, so requests keep being answered while
 * a model trains. A thread that dies is restarted (its run is then marked FAILED by the new one).
 */
@Injectable()
export class EmbeddedWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EmbeddedWorker');
  private worker: Worker | null = null;
  private stopping = false;
  private ready: Promise<void> | null = null;
  /** Raised while this process's event loop is busy serving; the training thread then pauses (serving-pressure.ts). */
  private readonly pressure = servingPressureBuffer();
  private stopPressure: (() => void) | null = null;

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(DATABASE_URL) private readonly url: string,
  ) {}

  onApplicationBootstrap(): void {
    if (this.env.trainingWorker !== 'thread') return;
    this.stopPressure = publishServingPressure(this.pressure);
    this.start();
  }

  /** Resolves once the thread's worker is polling for jobs (tests and the demo wait on it). */
  whenReady(): Promise<void> {
    return this.ready ?? Promise.reject(new Error('no training worker thread (RECODER_TRAINING_WORKER=off)'));
  }

  private start(): void {
    const entry = workerThreadEntry();
    const worker = new Worker(entry, {
      workerData: { env: this.env, databaseUrl: this.url, pressure: this.pressure } satisfies WorkerThreadData,
      name: 'recoder-training',
    });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'ready') resolve();
        if (m.type === 'failed') reject(new Error(m.message));
      });
      worker.once('exit', () => reject(new Error('the training worker thread exited before it was ready')));
    });
    this.ready.catch((e: Error) => this.logger.error(e.message));
    worker.on('error', (e) => this.logger.error(`training worker thread: ${e.stack ?? e.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (this.stopping) return;
      this.logger.error(`training worker thread exited (code ${code}); restarting in ${RESTART_DELAY_MS / 1000} s`);
      setTimeout(() => !this.stopping && this.start(), RESTART_DELAY_MS).unref();
    });
    this.logger.log(
      `training worker thread started (${path.relative(PROJECT_ROOT, entry)}, nice ${this.env.trainingThreadNice})`,
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.stopPressure?.();
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'shutdown' });
    const timer = setTimeout(() => void worker.terminate(), 25_000);
    await exited;
    clearTimeout(timer);
  }
}
