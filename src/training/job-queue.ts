import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import PgBoss from 'pg-boss';
import { DATABASE_URL } from '../database/prisma.service.js';

/** The pg-boss queue of training runs: policy singleton = one active job (training) across all workers. */
export const TRAINING_QUEUE = 'recoder-training';
/** The queue the retraining schedule (pg-boss cron) sends its ticks to. */
export const RETRAIN_QUEUE = 'recoder-retrain';

export interface TrainingJobData {
  runId: number;
}

/** pg-boss expires active jobs after at most 24 h; a run longer than this is failed by pg-boss. */
const TRAINING_EXPIRE_SECONDS = 23 * 3600;

export const JOB_QUEUE_ROLE = Symbol('JOB_QUEUE_ROLE');
export type JobQueueRole = 'api' | 'worker';

/**
 * Starts pg-boss (creating its `pgboss` schema on first use) and makes sure Recoder's queues exist.
 * API processes only send and cancel ('api': no maintenance or cron); workers also run pg-boss's
 * maintenance and cron monitoring ('worker').
 */
export async function openJobQueue(url: string, role: JobQueueRole, onError: (e: Error) => void): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    max: role === 'worker' ? 4 : 2,
    application_name: `recoder-${role}-jobs`,
    supervise: role === 'worker',
    schedule: role === 'worker',
  });
  boss.on('error', onError);
  await boss.start();
  await ensureQueue(boss, TRAINING_QUEUE, {
    policy: 'singleton',
    retryLimit: 0,
    expireInSeconds: TRAINING_EXPIRE_SECONDS,
  });
  await ensureQueue(boss, RETRAIN_QUEUE, { policy: 'standard', retryLimit: 0, expireInSeconds: 300 });
  return boss;
}

async function ensureQueue(boss: PgBoss, name: string, options: Omit<PgBoss.Queue, 'name'>): Promise<void> {
  if (await boss.getQueue(name)) return;
  try {
    await boss.createQueue(name, { name, ...options });
  } catch (error) {
    // Another process created it between the check and here.
    if (!(await boss.getQueue(name))) throw error;
  }
}

/** The process's pg-boss instance, started with the module and stopped (gracefully) at shutdown. */
@Injectable()
export class JobQueue implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobQueue.name);
  private instance: PgBoss | null = null;

  constructor(
    @Inject(DATABASE_URL) private readonly url: string,
    @Inject(JOB_QUEUE_ROLE) readonly role: JobQueueRole,
  ) {}

  get boss(): PgBoss {
    if (!this.instance) throw new Error('the job queue is not started');
    return this.instance;
  }

  async onModuleInit(): Promise<void> {
    this.instance = await openJobQueue(this.url, this.role, (e) => this.logger.warn(`pg-boss: ${e.message}`));
  }

  /** After every module's onModuleDestroy (workers stop taking jobs there), before the process ends. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.instance?.stop({ graceful: true, timeout: 10_000, wait: true });
    this.instance = null;
  }

  /** Queues a training job for a run; returns the job id. */
  async sendTraining(runId: number): Promise<string> {
    const id = await this.boss.send(TRAINING_QUEUE, { runId } satisfies TrainingJobData);
    if (!id) throw new Error(`pg-boss did not accept the job of training run ${runId}`);
    return id;
  }
}
