import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DatabaseModule } from '../database/database.module.js';
import { RegistryModule } from '../registry/registry.module.js';
import { JOB_QUEUE_ROLE, JobQueue } from './job-queue.js';
import { TrainingRunsService } from './training-runs.service.js';
import { TrainingWorkerService } from './training-worker.service.js';

/** The training worker: a Nest application context without HTTP (`npm run worker`, or the API's worker thread). */
@Module({})
export class WorkerModule {
  static forRoot(env: Env, databaseUrl: string): DynamicModule {
    return {
      module: WorkerModule,
      imports: [ConfigModule.forRoot(env), DatabaseModule.forRoot(databaseUrl), RegistryModule],
      providers: [
        { provide: JOB_QUEUE_ROLE, useValue: 'worker' },
        JobQueue,
        TrainingRunsService,
        TrainingWorkerService,
      ],
    };
  }
}
