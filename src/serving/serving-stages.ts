import { Injectable } from '@nestjs/common';

/**
 * Where a served request's time goes, stage by stage (exported by MetricsService as
 * `recoder_serving_stage_seconds{stage}`; `npm run bench:serve` prints the per-request means):
 * - `queue`: waiting for a model batch to start (micro-batching window, batches ahead of it);
 * - `sql`: the batch's history read (one statement for the batch);
 * - `encode`: the batch's forward pass / scoring (every request of the batch waits for all of it);
 * - `search`: top-k search, visibility filtering and the cold-start merge of one request;
 * - `parse`, `execute`, `serialize`: GraphQL parsing and validation, resolver execution (all of
 *   the above included), JSON serialization of the answer (timed by the HTTP hooks).
 */
export type ServingStage = 'queue' | 'sql' | 'encode' | 'search' | 'parse' | 'execute' | 'serialize';

@Injectable()
export class ServingStages {
  private sink: ((stage: ServingStage, seconds: number) => void) | null = null;

  /** Where observations go (MetricsService installs its histogram); none: they are dropped. */
  connect(sink: (stage: ServingStage, seconds: number) => void): void {
    this.sink = sink;
  }

  /** Records `ms` milliseconds spent in `stage` by one request. */
  observe(stage: ServingStage, ms: number): void {
    this.sink?.(stage, ms / 1000);
  }
}
