import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module.js';
import { EmbeddedWorker } from './embedded-worker.service.js';
import { JOB_QUEUE_ROLE, JobQueue } from './job-queue.js';
import { TrainingRunsService } from './training-runs.service.js';
import { TrainingResolver } from './training.resolver.js';

/** Training as a service in the API: trainModel / trainingRun(s) / cancelTrainingRun, and the worker thread. */
@Module({
  imports: [RegistryModule],
  providers: [
    { provide: JOB_QUEUE_ROLE, useValue: 'api' },
    JobQueue,
    TrainingRunsService,
    TrainingResolver,
    EmbeddedWorker,
  ],
  exports: [TrainingRunsService],
})
export class TrainingModule {}
