import { Module } from '@nestjs/common';
import { ServingModule } from '../serving/serving.module.js';
import { ExperimentRouter } from './experiment-router.js';
import { ExperimentsResolver } from './experiments.resolver.js';
import { ExperimentsService } from './experiments.service.js';
import { ImpressionLog } from './impression-log.service.js';

/** Impressions, attribution-based online metrics and experiments between model versions (docs/experiments.md). */
@Module({
  imports: [ServingModule],
  providers: [ImpressionLog, ExperimentRouter, ExperimentsService, ExperimentsResolver],
  exports: [ExperimentsService, ImpressionLog],
})
export class ExperimentsModule {}
