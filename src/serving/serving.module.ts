import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ActiveModelService } from './active-model.service.js';
import { ModelVersionsResolver } from './model-versions.resolver.js';
import { ServingResolver, UserAnomalyResolver } from './serving.resolver.js';
import { ServingService } from './serving.service.js';
import { ServingStages } from './serving-stages.js';
import { VisualModelService } from './visual-model.service.js';

/** Model versions → indexes → recommendations, similarity, reconstructions and anomaly scores. */
@Module({
  imports: [CatalogModule],
  providers: [ActiveModelService, VisualModelService, ServingStages, ServingService, ServingResolver, UserAnomalyResolver, ModelVersionsResolver],
  exports: [ActiveModelService, VisualModelService, ServingStages, ServingService],
})
export class ServingModule {}
