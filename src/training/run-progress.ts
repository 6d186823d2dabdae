import type { Logger } from '@nestjs/common';
import type { EpochReport } from '../core/models/autoencoder.js';
import type { PrismaService } from '../database/prisma.service.js';
import {
  heartbeat,
  recordCandidate,
  recordEpoch,
  recordProgress,
  setRunTimings,
  type RunCandidate,
} from './training-runs.queries.js';
import type { TrainingLock } from './training-lock.js';

const HEARTBEAT_MS = 2000;
/** Progress is written at most this often (EASE solves report it often). */
const PROGRESS_MS = 2000;

/**
 * What a running training run writes while it trains — a heartbeat every 2 s, its epochs, its
 * progress, its candidates and timings — in order, one write at a time, each failure logged and
 * skipped; and what those writes learn: that the run was cancelled, or that the worker lost the
 * training lock (its connection broke and another worker took it).
 */
export class RunProgress {
  /** The run was cancelled (a heartbeat or progress write saw status CANCELLED). */
  cancel = false;
  /** The lock's connection broke and another worker holds the lock now. */
  lockLost = false;
  /** Seconds the data read took (onData), once known. */
  dataSeconds: number | null = null;
  private writes: Promise<unknown> = Promise.resolve();
  private progressWritten = 0;
  private readonly beat: NodeJS.Timeout;

  constructor(
    private readonly prisma: PrismaService,
    private readonly runId: number,
    lock: TrainingLock,
    private readonly logger: Logger,
  ) {
    this.beat = setInterval(
      () =>
        this.write(async () => {
          // The lock's connection broke (e.g. Postgres restarted): take the lock again, or stop if
          // another worker has it (it will have marked this run FAILED).
          if (!lock.connected && !(await lock.tryLock())) this.lockLost = true;
          this.cancel = (await heartbeat(this.prisma, this.runId)) || this.cancel;
        }),
      HEARTBEAT_MS,
    );
  }

  /** Queues a write after the others. */
  write(f: () => Promise<unknown>): void {
    this.writes = this.writes
      .then(f)
      .catch((e: Error) => this.logger.warn(`run ${this.runId}: progress not written (${e.message})`));
  }

  readonly onData = (info: { seconds: number }): void => {
    this.dataSeconds = info.seconds;
    this.write(() => setRunTimings(this.prisma, this.runId, { dataSeconds: info.seconds }));
  };

  readonly onEpoch = (e: EpochReport, candidate?: string): void =>
    this.write(async () => {
      const point = {
        epoch: e.epoch,
        loss: e.loss,
        validation: e.validation ?? null,
        seconds: e.seconds,
        ...(candidate ? { candidate } : {}),
      };
      this.cancel = (await recordEpoch(this.prisma, this.runId, point)) || this.cancel;
    });

  readonly onProgress = (fraction: number, stage: string): void => {
    const now = Date.now();
    if (now - this.progressWritten < PROGRESS_MS && fraction < 1) return;
    this.progressWritten = now;
    this.write(async () => {
      this.cancel = (await recordProgress(this.prisma, this.runId, fraction, stage)) || this.cancel;
    });
  };

  readonly onPlan = (plan: { epochs: number }): void =>
    this.write(() => setRunTimings(this.prisma, this.runId, { epochs: plan.epochs }));

  readonly onCandidate = (c: RunCandidate): void => this.write(() => recordCandidate(this.prisma, this.runId, c));

  /** Waits for every queued write. */
  flush(): Promise<unknown> {
    return this.writes;
  }

  /** Stops the heartbeat. */
  stop(): void {
    clearInterval(this.beat);
  }
}
