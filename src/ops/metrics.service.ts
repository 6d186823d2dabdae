import { Inject, Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { ActiveModelService } from '../serving/active-model.service.js';
import { HistoryCache } from '../catalog/history-cache.service.js';
import { ServingStages } from '../serving/serving-stages.js';
import { ModelWorkService } from '../serving/model-work.service.js';
import { RankingService } from '../serving/ranking.service.js';
import { LabelBudget } from './graphql-operation.js';
import { OpsDatabase } from './ops-database.js';

/** Distinct `operation` label values before new ones are counted as `other`. */
const MAX_OPERATION_LABELS = 200;
/** Seconds: sub-millisecond recommendations up to 10,000-event batches. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const TRAINING_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
/** A scrape does not wait longer for the training gauges. */
const TRAINING_QUERY_TIMEOUT_MS = 1000;

export type Outcome = 'ok' | 'error';

interface TrainingRow {
  status: string;
  n: number;
  epoch: number | null;
}

/**
 * Prometheus metrics of one API application, in a registry of its own (several apps in one
 * process, as in the tests, do not share series). Served at /metrics by OpsRoutes when
 * RECODER_METRICS is on; the counters are cheap and kept either way.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly logger = new Logger('Metrics');
  private readonly graphqlDuration: Histogram<'operation' | 'outcome'>;
  readonly graphqlInFlight: Gauge;
  private readonly ingested: Counter;
  private readonly operations = new LabelBudget(MAX_OPERATION_LABELS);
  private trainingQuery: Promise<TrainingRow[] | null> | null = null;
  private trainingQueryFailed = false;

  constructor(
    @Inject(ENV) env: Env,
    activeModel: ActiveModelService,
    db: OpsDatabase,
    stages: ServingStages,
    ranking: RankingService,
    modelWork: ModelWorkService,
    histories: HistoryCache,
  ) {
    const registers = [this.registry];
    if (env.metrics) collectDefaultMetrics({ register: this.registry, prefix: 'recoder_' });
    this.graphqlDuration = new Histogram({
      name: 'recoder_graphql_request_duration_seconds',
      help: 'GraphQL requests over HTTP, from the request line to the last byte of the response, by root field(s) (invalid: refused before execution — no valid API key, rate-limited, not a GraphQL request, or the document did not parse or validate) and outcome (error: HTTP status >= 400 or errors in the response)',
      labelNames: ['operation', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.graphqlInFlight = new Gauge({
      name: 'recoder_graphql_requests_in_flight',
      help: 'GraphQL requests received and not yet answered',
      registers,
    });
    const stageSeconds = new Histogram({
      name: 'recoder_serving_stage_seconds',
      help: 'Time one served request spent in a stage: queue (waiting for its model batch), sql (the batch history read), encode (the batch forward pass), search (top-k, visibility, cold start), parse (GraphQL parse and validation), execute (resolvers), serialize (the JSON answer)',
      labelNames: ['stage'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    // One child per stage, made once: observing through it skips the label hashing per call.
    const byStage = new Map<string, { observe(seconds: number): void }>();
    stages.connect((stage, seconds) => {
      let child = byStage.get(stage);
      if (!child) byStage.set(stage, (child = stageSeconds.labels({ stage })));
      child.observe(seconds);
    });
    const { batcher } = ranking;
    const { work } = modelWork;
    new Gauge({
      name: 'recoder_model_queue_requests',
      help: 'Requests waiting for model work (recommendation batches and other model calls)',
      registers,
      collect() {
        this.set(batcher.queued + work.queued);
      },
    });
    new Counter({
      name: 'recoder_model_batches_total',
      help: 'Model batches run (recommendations, recommendationsForHistory)',
      registers,
      collect() {
        this.reset();
        this.inc(batcher.stats.batches);
      },
    });
    new Counter({
      name: 'recoder_model_batched_requests_total',
      help: 'Requests served by model batches (divided by recoder_model_batches_total: the mean batch size)',
      registers,
      collect() {
        this.reset();
        this.inc(batcher.stats.requests);
      },
    });
    new Counter({
      name: 'recoder_model_refused_total',
      help: 'Requests refused with SERVICE_UNAVAILABLE: the model queue was full (reason queue_full) or they waited past their deadline (deadline)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        this.inc({ reason: 'queue_full' }, batcher.stats.refused + work.stats.refused);
        this.inc({ reason: 'deadline' }, batcher.stats.expired + work.stats.expired);
      },
    });
    new Counter({
      name: 'recoder_history_cache_reads_total',
      help: "Users' histories a recommendation batch needed: from the process's cache (result hit) or read from PostgreSQL (miss)",
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, histories.stats.hits);
        this.inc({ result: 'miss' }, histories.stats.misses);
      },
    });
    new Gauge({
      name: 'recoder_history_cache_interactions',
      help: 'Interactions held by the history cache (at most RECODER_HISTORY_CACHE)',
      registers,
      collect() {
        this.set(histories.size);
      },
    });
    this.ingested = new Counter({
      name: 'recoder_interactions_ingested_total',
      help: 'Interactions stored by recordInteractions (duplicates of a stored eventId not counted)',
      registers,
    });
    new Gauge({
      name: 'recoder_active_model_version',
      help: 'Id of the model version this process serves (0: none)',
      registers,
      collect() {
        this.set(activeModel.version?.id ?? 0);
      },
    });
    const training = () => this.trainingRuns(db);
    new Gauge({
      name: 'recoder_training_runs',
      help: 'Training runs in the database by status',
      labelNames: ['status'],
      registers,
      async collect() {
        const rows = await training();
        this.reset();
        if (!rows) return;
        for (const status of TRAINING_STATUSES) this.set({ status }, rows.find((r) => r.status === status)?.n ?? 0);
      },
    });
    new Gauge({
      name: 'recoder_training_run_epoch',
      help: 'Epochs finished by the running training run (0: none running)',
      registers,
      async collect() {
        const rows = await training();
        this.reset();
        if (rows) this.set(rows.find((r) => r.status === 'RUNNING')?.epoch ?? 0);
      },
    });
  }

  /** A GraphQL request answered; `operation` is bounded to {@link MAX_OPERATION_LABELS} values. */
  observeGraphql(operation: string, outcome: Outcome, seconds: number): void {
    this.graphqlDuration.observe({ operation: this.operations.admit(operation), outcome }, seconds);
  }

  /** `count` interactions were stored (committed) by recordInteractions. */
  countIngested(count: number): void {
    if (count > 0) this.ingested.inc(count);
  }

  /**
   * One query per scrape for both training gauges (their collect() start together, so the second
   * shares the first's pending query): status counts and the running run's epoch. null when the
   * database does not answer (the gauges are then left out rather than stale).
   */
  private trainingRuns(db: OpsDatabase): Promise<TrainingRow[] | null> {
    this.trainingQuery ??= db
      .query<TrainingRow>(
        `SELECT status::text AS status, count(*)::int AS n, max(epoch) FILTER (WHERE status = 'RUNNING')::int AS epoch FROM training_runs GROUP BY status`,
        TRAINING_QUERY_TIMEOUT_MS,
      )
      .then(
        (rows) => {
          this.trainingQueryFailed = false;
          return rows;
        },
        (error: unknown) => {
          if (!this.trainingQueryFailed)
            this.logger.warn(`training_runs unavailable for metrics: ${(error as Error).message}`);
          this.trainingQueryFailed = true;
          return null;
        },
      )
      .finally(() => {
        this.trainingQuery = null;
      });
    return this.trainingQuery;
  }
}
