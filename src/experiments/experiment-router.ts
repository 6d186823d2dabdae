import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PgListener } from '../database/pg-listener.js';
import { PgPool } from '../database/pg-pool.js';
import { ActiveModelService } from '../serving/active-model.service.js';
import type { LoadedVersion } from '../serving/loaded-version.js';
import { ServingHooks, type ServingRoute, type ServingSubject } from '../serving/serving-hooks.js';
import { assignArm } from './assignment.js';
import { EXPERIMENT_CHANNEL, runningExperiments } from './experiments.queries.js';

/** The slot recommendations are served from. */
export const RECOMMENDATION_SLOT = 'default';

interface Routing {
  experimentId: number;
  weights: number[];
  versions: LoadedVersion[];
}

/**
 * Routes recommendation requests of a running experiment to the version of their arm (through
 * ServingHooks.route). Every process keeps every arm loaded (ActiveModelService.pin: the active
 * version is shared), LISTENs on "recoder_experiments" (starts, stops, and stops caused by an
 * activation: a trigger announces those) and re-reads the running experiment on each notice and
 * after a reconnect. A request without a subject (an anonymous history without sessionId), or
 * arriving while the arms load, is served by the active version outside the experiment.
 */
@Injectable()
export class ExperimentRouter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Experiments');
  private routing: Routing | null = null;
  private refreshing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly pool: PgPool,
    private readonly listener: PgListener,
    private readonly models: ActiveModelService,
    private readonly hooks: ServingHooks,
  ) {}

  async onModuleInit(): Promise<void> {
    this.hooks.route = (subject) => this.route(subject);
    await this.listener.subscribe(EXPERIMENT_CHANNEL, {
      onNotify: () => void this.refresh(),
      onReconnect: () => void this.refresh(),
    });
    await this.refresh();
  }

  /** The running experiment's id in the recommendation slot as this process serves it (null: none). */
  get servingExperimentId(): number | null {
    return this.routing?.experimentId ?? null;
  }

  route(subject: ServingSubject): ServingRoute | null {
    const r = this.routing;
    if (!r || subject.id === null) return null;
    const arm = assignArm(r.experimentId, subject.id, r.weights);
    return { version: r.versions[arm], experimentId: r.experimentId, arm };
  }

  /** Re-reads the running experiment and loads its arms; calls are serialised. Resolves when done. */
  refresh(): Promise<void> {
    const next = this.refreshing.then(() => this.reload());
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  private async reload(): Promise<void> {
    if (this.closed) return;
    try {
      const running = (await runningExperiments(this.pool)).find((e) => e.slot === RECOMMENDATION_SLOT) ?? null;
      if (!running) {
        if (this.routing)
          this.logger.log(`experiment ${this.routing.experimentId} stopped: the active version serves every request`);
        this.routing = null;
        await this.models.pin([]);
        return;
      }
      if (this.routing?.experimentId === running.id) return;
      const loaded = await this.models.pin(running.arms.map((a) => a.versionId));
      const versions = running.arms.map((a) => loaded.get(a.versionId));
      if (versions.some((v) => !v)) {
        this.routing = null;
        this.logger.error(
          `experiment ${running.id}: an arm's version could not be loaded; this process serves the active version outside the experiment`,
        );
        return;
      }
      this.routing = {
        experimentId: running.id,
        weights: running.arms.map((a) => a.weight),
        versions: versions as LoadedVersion[],
      };
      this.logger.log(
        `experiment ${running.id} serving: ${running.arms.map((a) => `arm ${a.arm} version ${a.versionId} (weight ${a.weight})`).join(', ')}`,
      );
    } catch (error) {
      if (!this.closed) this.logger.error(`experiments could not be read: ${(error as Error).message}`);
    }
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.routing = null;
    this.hooks.route = null;
  }
}
