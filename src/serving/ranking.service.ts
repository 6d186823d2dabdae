import { Inject, Injectable, Logger } from '@nestjs/common';
import { HistoryCache } from '../catalog/history-cache.service.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { csrFromRowRuns } from '../core/data/csr.js';
import type { Ranker } from '../core/serving/served-model.js';
import { DeadlineExceededError, MicroBatcher, type BatchOutcome } from '../core/serving/micro-batcher.js';
import { ActiveModelService } from './active-model.service.js';
import { DEFAULT_MIN_RATING, type LoadedVersion } from './loaded-version.js';
import { ModelPool } from './model-pool.js';
import { admissionError } from './model-work.service.js';
import { ServingHooks, type ServingRoute, type ServingSubject } from './serving-hooks.js';
import { ServingStages } from './serving-stages.js';

/** What a recommendation request needs from the model: a user's current history, or a list of items (internal ids). */
export type RankRequest = ({ kind: 'user'; externalId: string } | { kind: 'items'; itemIds: number[] }) & {
  subject: ServingSubject;
};

/** A batch's answer to one {@link RankRequest}. */
export interface RankTicket {
  /** The version the request was ranked with (null: none active): the active one, or its experiment arm's. */
  version: LoadedVersion | null;
  route: ServingRoute;
  /** 'user' requests: the user's internal id and every item of the history; null for an unknown user. */
  user: { userId: number; seen: Int32Array } | null;
  /** The history's ranking; null when the history has nothing the version knows (or no version). */
  ranker: Ranker | null;
}

/**
 * The recommendation hot path: requests are micro-batched (src/core/serving/micro-batcher.ts):
 * requests that arrive together share one history read (arrays per user), one forward pass and
 * one scoring step, with the version that was active when their batch started (a swap never
 * splits a batch), and each gets exactly the ranking it would get alone. The queue in front of
 * the model is bounded.
 */
@Injectable()
export class RankingService {
  private readonly logger = new Logger('Serving');
  /** Recommendation requests → batched history reads and forward passes. */
  readonly batcher: MicroBatcher<RankRequest, RankTicket>;

  constructor(
    private readonly models: ActiveModelService,
    private readonly stages: ServingStages,
    private readonly threads: ModelPool,
    @Inject(ENV) env: Env,
    private readonly hooks: ServingHooks,
    /** Histories of recommendation batches (read through DATABASE_READ_URL's pool, cached). */
    private readonly histories: HistoryCache,
  ) {
    const w = env.modelWork;
    this.batcher = new MicroBatcher<RankRequest, RankTicket>(
      {
        maxBatch: w.maxBatch,
        windowMs: w.windowMs,
        maxInFlight: w.inFlight,
        maxQueue: w.maxQueue,
        deadlineMs: w.deadlineMs,
      },
      (batch) => this.rankBatch(batch),
    );
  }

  /** Ranks one request in the next batch (SERVICE_UNAVAILABLE when the queue is full or the deadline passes). */
  async submit(request: RankRequest): Promise<RankTicket> {
    try {
      const { value, info } = await this.batcher.submit(request);
      this.stages.observe('queue', info.queuedMs);
      return value;
    } catch (error) {
      throw admissionError(error);
    }
  }

  /**
   * One batch of recommendation requests, grouped by the version that serves each (the active one,
   * or an experiment arm's: ServingHooks.route); per version, the users' histories in one statement
   * (an array of items per user), then one forward pass over every history the version knows. The
   * histories are built exactly as LoadedVersion.historyRow / positivesRow build them one by one.
   */
  private async rankBatch(batch: RankRequest[]): Promise<BatchOutcome<RankTicket>[]> {
    // Each request's version: the active one, or the arm of a running experiment (ServingHooks).
    const active = this.models.version;
    const routes = batch.map(
      (r): ServingRoute => this.hooks.route?.(r.subject) ?? { version: active, experimentId: null, arm: null },
    );
    const groups = new Map<LoadedVersion | null, number[]>();
    routes.forEach((route, k) => {
      const list = groups.get(route.version);
      if (list) list.push(k);
      else groups.set(route.version, [k]);
    });
    const tickets = new Array<RankTicket>(batch.length);
    for (const [version, members] of groups) {
      const part = await this.rankGroup(
        version,
        members.map((k) => batch[k]),
      );
      members.forEach((k, j) => (tickets[k] = { ...part[j], route: routes[k] }));
    }
    return tickets.map((value) => ({ ok: true, value }));
  }

  /** The requests of a batch that one version ranks. */
  private async rankGroup(version: LoadedVersion | null, batch: RankRequest[]): Promise<Omit<RankTicket, 'route'>[]> {
    const userIds = [...new Set(batch.flatMap((r) => (r.kind === 'user' ? [r.externalId] : [])))];
    const t0 = performance.now();
    const histories = await this.histories.read(
      userIds,
      version?.historyView ?? { ratings: false, minRating: DEFAULT_MIN_RATING },
    );
    const t1 = performance.now();
    const tickets: Omit<RankTicket, 'route'>[] = batch.map((r) => {
      if (r.kind === 'items') return { version, user: null, ranker: null };
      const h = histories.get(r.externalId);
      return { version, user: h ? { userId: h.userId, seen: h.items } : null, ranker: null };
    });
    if (version) {
      const ratings = version.served.kind === 'autorec';
      const starts: number[] = [0];
      const cols: number[] = [];
      const vals: number[] = [];
      const rowOf = new Int32Array(batch.length).fill(-1);
      let n = 0;
      batch.forEach((r, k) => {
        const start = cols.length;
        if (r.kind === 'user') {
          const h = histories.get(r.externalId);
          if (!h) return;
          for (let j = 0; j < h.items.length; j++) {
            const v = h.values[j];
            const c = v !== v ? -1 : version.columnOf(h.items[j]); // NaN: does not count
            if (c < 0) continue;
            cols.push(c);
            vals.push(v);
          }
        } else {
          for (const id of r.itemIds) {
            const c = version.columnOf(id);
            if (c < 0) continue;
            cols.push(c);
            vals.push(ratings ? 5 : 1);
          }
        }
        if (cols.length > start) {
          rowOf[k] = n++;
          starts.push(cols.length);
        }
      });
      if (n > 0) {
        const histories = csrFromRowRuns(version.served.numItems, starts, cols, vals);
        let rankers: Ranker[] | null = null;
        if (this.threads.serves(version.id)) {
          try {
            rankers = version.served.rankersFrom(
              await this.threads.score(version.id, histories, version.served.exactScoring),
              n,
            );
          } catch (error) {
            if (error instanceof DeadlineExceededError) throw error;
            this.logger.warn(`model threads: ${(error as Error).message}; this batch runs on the event loop`);
          }
        }
        rankers ??= version.served.rankers(histories);
        tickets.forEach((t, k) => (t.ranker = rowOf[k] >= 0 ? rankers[rowOf[k]] : null));
      }
    }
    const t2 = performance.now();
    for (const r of batch) {
      if (r.kind === 'user') this.stages.observe('sql', t1 - t0);
      this.stages.observe('encode', t2 - t1);
    }
    return tickets;
  }
}
