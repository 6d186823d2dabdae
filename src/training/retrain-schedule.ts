import type { Logger } from '@nestjs/common';
import type PgBoss from 'pg-boss';
import type { Env } from '../config/env.js';
import { RETRAIN_QUEUE } from './job-queue.js';
import type { TrainingRunsService } from './training-runs.service.js';

/**
 * With RECODER_RETRAIN_SCHEDULE, a pg-boss cron schedule (one tick per slot across workers) whose
 * handler queues a run unless one is pending or no interaction arrived since the active version;
 * without it, any schedule registered before is removed.
 */
export async function configureRetrainSchedule(
  boss: PgBoss,
  env: Env,
  runs: TrainingRunsService,
  logger: Logger,
): Promise<void> {
  const { schedule } = env.retrain;
  if (!schedule) {
    await boss.unschedule(RETRAIN_QUEUE);
    return;
  }
  await boss.schedule(RETRAIN_QUEUE, schedule, {}, { tz: 'UTC' });
  await boss.work(RETRAIN_QUEUE, { batchSize: 1, pollingIntervalSeconds: 5 }, async () => {
    const outcome = await runs.scheduledRetrain();
    if ('queued' in outcome) logger.log(`schedule: queued training run ${outcome.queued.id}`);
    else logger.log(`schedule: skipped, ${outcome.skipped}`);
  });
  logger.log(`retraining scheduled: "${schedule}" (UTC), ${env.retrain.kind}, ${env.retrain.activate}`);
}
