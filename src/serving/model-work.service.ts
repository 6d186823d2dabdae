import { Inject, Injectable } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { DeadlineExceededError, MicroBatcher, QueueFullError } from '../core/serving/micro-batcher.js';
import { ServingStages } from './serving-stages.js';

/** Maps the micro-batcher's admission errors to SERVICE_UNAVAILABLE (HTTP 503 with Retry-After). */
export function admissionError(error: unknown): unknown {
  if (error instanceof QueueFullError || error instanceof DeadlineExceededError) {
    return new DomainError(ErrorCode.SERVICE_UNAVAILABLE, error.message, undefined, {
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
  return error;
}

/**
 * Model work other than recommendation batches (reconstructions, embeddings, similar users,
 * synthetic users): one synchronous call at a time, with the same queue bound and deadline as
 * the recommendation batcher (RankingService).
 */
@Injectable()
export class ModelWorkService {
  readonly work: MicroBatcher<() => unknown, unknown>;

  constructor(
    private readonly stages: ServingStages,
    @Inject(ENV) env: Env,
  ) {
    const w = env.modelWork;
    this.work = new MicroBatcher<() => unknown, unknown>(
      { maxBatch: 1, windowMs: 0, maxInFlight: 1, maxQueue: w.maxQueue, deadlineMs: w.deadlineMs },
      async (calls) =>
        calls.map((call) => {
          try {
            return { ok: true, value: call() };
          } catch (error) {
            return { ok: false, error };
          }
        }),
    );
  }

  /** Runs a synchronous model call through the work queue (bounded, with a deadline; SERVICE_UNAVAILABLE beyond). */
  async run<T>(call: () => T): Promise<T> {
    try {
      const { value, info } = await this.work.submit(call);
      this.stages.observe('queue', info.queuedMs);
      return value as T;
    } catch (error) {
      throw admissionError(error);
    }
  }
}
