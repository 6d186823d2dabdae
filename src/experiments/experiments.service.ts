import { Inject, Injectable, Logger } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { checkDate, checkLimit, checkString } from '../common/validation.js';
import { InteractionKind } from '../common/interaction-kind.js';
import { PgPool } from '../database/pg-pool.js';
import { ActiveModelService } from '../serving/active-model.service.js';
import {
  ExperimentStatus,
  type Difference,
  type Experiment,
  type ExperimentArm,
  type ExperimentArmInput,
  type OnlineMetrics,
} from './dto/experiments.types.js';
import { ExperimentRouter, RECOMMENDATION_SLOT } from './experiment-router.js';
import {
  getExperiment,
  insertExperiment,
  listExperiments,
  markStopped,
  runningExperimentIn,
  versionKinds,
  type ExperimentRow,
} from './experiments.queries.js';
import { ImpressionLog } from './impression-log.service.js';
import { metricsCounts, type MetricsCounts, type MetricsScope } from './online-metrics.queries.js';
import { meanDifference, meanEstimate, proportionDifference, wilson } from './stats.js';

/** Most arms of an experiment. */
export const MAX_ARMS = 8;
/** Largest k of CTR@k. */
export const MAX_K = 1000;
/** Longest time range of onlineMetrics (days): the query scans the range's impressions. */
export const MAX_RANGE_DAYS = 400;

/**
 * Experiments between model versions and online metrics (docs/experiments.md). Starting and
 * stopping write `experiments` and NOTIFY every process (ExperimentRouter); the metrics are
 * computed from the impression log and the interactions at read time.
 */
@Injectable()
export class ExperimentsService {
  private readonly logger = new Logger('Experiments');

  constructor(
    private readonly pool: PgPool,
    private readonly models: ActiveModelService,
    private readonly router: ExperimentRouter,
    private readonly impressions: ImpressionLog,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /**
   * Starts an experiment in `slot` between the arms' versions (arm 0 is the control); returns once
   * this process serves it (the others follow on the notice). CONFLICT when one already runs there.
   */
  async start(
    slot: string,
    arms: ExperimentArmInput[],
    name?: string | null,
    trainingRunId?: number | null,
  ): Promise<Experiment> {
    const checked = await this.checkArms(slot, arms);
    const n = name == null ? null : checkString('name', name, 128);
    let id: number;
    try {
      id = await this.pool.transaction((tx) => insertExperiment(tx, { name: n, slot, arms: checked, trainingRunId }));
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        const running = await runningExperimentIn(this.pool, slot);
        throw new DomainError(
          ErrorCode.CONFLICT,
          `an experiment is already running in slot "${slot}"${running ? ` (id ${running.id})` : ''}: stop it first`,
          'slot',
          {
            experimentId: running?.id ?? null,
          },
        );
      }
      throw error;
    }
    this.logger.log(
      `experiment ${id} started in slot ${slot}: ${checked.map((a, i) => `arm ${i} version ${a.versionId} (weight ${a.weight})`).join(', ')}`,
    );
    await this.router.refresh();
    return toExperiment((await getExperiment(this.pool, id))!);
  }

  /**
   * Stops a running experiment; with a winner (one of its versions), activates it in the slot.
   * NOT_FOUND for an unknown id, ALREADY_FINISHED for a stopped one.
   */
  async stop(id: number, winner?: number | null): Promise<Experiment> {
    const e = await getExperiment(this.pool, id);
    if (!e) throw new DomainError(ErrorCode.NOT_FOUND, `experiment ${id} not found`, 'id', { id });
    if (winner != null && !e.arms.some((a) => a.versionId === winner)) {
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `winner: version ${winner} is not an arm of experiment ${id} (${e.arms.map((a) => a.versionId).join(', ')})`,
        'winner',
      );
    }
    const reason =
      winner == null
        ? 'stopped by stopExperiment without a winner'
        : `stopped by stopExperiment; winner version ${winner} activated`;
    const stopped = await this.pool.transaction((tx) => markStopped(tx, id, reason, winner ?? null));
    if (!stopped)
      throw new DomainError(ErrorCode.ALREADY_FINISHED, `experiment ${id} is already stopped`, 'id', {
        status: 'STOPPED',
      });
    this.logger.log(`experiment ${id} ${reason}`);
    if (winner != null && e.slot === RECOMMENDATION_SLOT) await this.models.activate(winner);
    await this.router.refresh();
    return toExperiment((await getExperiment(this.pool, id))!);
  }

  async get(id: number): Promise<Experiment | null> {
    const e = await getExperiment(this.pool, id);
    return e ? toExperiment(e) : null;
  }

  async list(limit: number): Promise<Experiment[]> {
    checkLimit('limit', limit, this.env.maxPageSize);
    return (await listExperiments(this.pool, limit)).map(toExperiment);
  }

  /** Online metrics of a version's impressions in [since, until) (until: now). */
  async versionMetrics(
    versionId: number,
    since: Date,
    until: Date | null | undefined,
    k: number,
  ): Promise<OnlineMetrics> {
    const range = this.checkRange(since, until);
    this.checkK(k);
    const counts = await metricsCounts(this.pool, this.scope({ versionId, ...range, k }));
    return this.toMetrics(counts, range.since, range.until, k);
  }

  /** Every arm's metrics over the experiment's run, and each arm's difference to the control. */
  async arms(e: Experiment, k: number): Promise<ExperimentArm[]> {
    this.checkK(k);
    const since = e.startedAt;
    const until = e.stoppedAt ?? new Date();
    const counts: MetricsCounts[] = [];
    for (const a of e.armsStored)
      counts.push(
        await metricsCounts(this.pool, this.scope({ experiment: { id: e.id, arm: a.arm }, since, until, k })),
      );
    const control = counts[0];
    return e.armsStored.map((a, i) => {
      const c = counts[i];
      const isControl = i === 0;
      return {
        arm: a.arm,
        versionId: a.versionId,
        weight: a.weight,
        control: isControl,
        metrics: this.toMetrics(c, since, until, k),
        ctrDifference: isControl
          ? null
          : toDifference(
              proportionDifference(
                { successes: c.clicked, trials: c.impressions },
                { successes: control.clicked, trials: control.impressions },
              ),
            ),
        weightedConversionDifference: isControl
          ? null
          : toDifference(
              meanDifference(
                { n: c.impressions, sum: c.weightedSum, sumSquares: c.weightedSumSquares },
                { n: control.impressions, sum: control.weightedSum, sumSquares: control.weightedSumSquares },
              ),
            ),
      };
    });
  }

  /** Writes the impressions this process has buffered (tests; a reader in one process sees its own answers at once). */
  flushImpressions(): Promise<void> {
    return this.impressions.buffer.flush();
  }

  private scope(s: Omit<MetricsScope, 'attributionWindowHours' | 'weights'>): MetricsScope {
    return {
      ...s,
      attributionWindowHours: this.env.impressions.attributionWindowHours,
      weights: this.env.popularityWeights,
    };
  }

  private toMetrics(c: MetricsCounts, since: Date, until: Date, k: number): OnlineMetrics {
    const kinds = Object.keys(c.byKind).sort() as InteractionKind[];
    return {
      since,
      until,
      k,
      impressions: c.impressions,
      subjects: c.subjects,
      ctr: wilson(c.clicked, c.impressions),
      conversions: kinds.map((kind) => ({
        kind,
        weight: this.env.popularityWeights[kind] ?? 1,
        rate: wilson(c.byKind[kind], c.impressions),
      })),
      weightedConversion: meanEstimate(c.impressions, c.weightedSum, c.weightedSumSquares),
      attributedInteractions: c.attributed,
      attributedById: c.attributedById,
      itemsShown: c.itemsShown,
      catalogCoverage: c.catalogSize > 0 ? c.itemsShown / c.catalogSize : null,
      fallbackShare: wilson(c.fallbacks, c.impressions),
    };
  }

  private checkRange(since: Date, until: Date | null | undefined): { since: Date; until: Date } {
    // The DateTime scalar parses some malformed literals (a number) to null.
    if (!(since instanceof Date))
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'since: must be a date-time (ISO 8601)', 'since');
    if (until != null && !(until instanceof Date))
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'until: must be a date-time (ISO 8601)', 'until');
    const s = checkDate('since', since);
    const u = until == null ? new Date() : checkDate('until', until);
    if (u.getTime() <= s.getTime())
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'until: must be after since', 'until');
    if (u.getTime() - s.getTime() > MAX_RANGE_DAYS * 86_400_000)
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `until: the range is at most ${MAX_RANGE_DAYS} days`, 'until');
    return { since: s, until: u };
  }

  private checkK(k: number): void {
    checkLimit('k', k, MAX_K);
  }

  private async checkArms(slot: string, arms: ExperimentArmInput[]): Promise<{ versionId: number; weight: number }[]> {
    if (slot !== RECOMMENDATION_SLOT)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `slot: only "${RECOMMENDATION_SLOT}" serves recommendations`,
        'slot',
      );
    if (arms.length < 2 || arms.length > MAX_ARMS)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `arms: between 2 and ${MAX_ARMS} arms (arm 0 is the control)`,
        'arms',
      );
    const seen = new Set<number>();
    arms.forEach((a, i) => {
      if (!Number.isInteger(a.versionId) || a.versionId < 1)
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `arms[${i}].versionId: not a version id`,
          `arms[${i}].versionId`,
        );
      if (seen.has(a.versionId))
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `arms[${i}].versionId: version ${a.versionId} is already an arm`,
          `arms[${i}].versionId`,
        );
      seen.add(a.versionId);
      if (!(Number.isFinite(a.weight) && a.weight > 0 && a.weight <= 1e6))
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `arms[${i}].weight: must be a number in (0, 1e6]`,
          `arms[${i}].weight`,
        );
    });
    const kinds = await versionKinds(this.pool, [...seen]);
    arms.forEach((a, i) => {
      const kind = kinds.get(a.versionId);
      if (!kind)
        throw new DomainError(
          ErrorCode.NOT_FOUND,
          `arms[${i}].versionId: model version ${a.versionId} not found`,
          `arms[${i}].versionId`,
          { id: a.versionId },
        );
      if (kind === 'CONV_AE')
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `arms[${i}].versionId: version ${a.versionId} is an image autoencoder, which does not recommend`,
          `arms[${i}].versionId`,
        );
    });
    return arms.map((a) => ({ versionId: a.versionId, weight: a.weight }));
  }
}

function toExperiment(e: ExperimentRow): Experiment {
  return {
    id: e.id,
    name: e.name,
    slot: e.slot,
    status: e.status as ExperimentStatus,
    startedAt: e.startedAt,
    stoppedAt: e.stoppedAt,
    stopReason: e.stopReason,
    winnerVersionId: e.winnerVersionId,
    trainingRunId: e.trainingRunId,
    armsStored: e.arms ?? [],
  };
}

function toDifference(d: Difference): Difference {
  return d;
}
