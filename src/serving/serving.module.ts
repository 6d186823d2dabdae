import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ActiveModelService } from './active-model.service.js';
import { LatentMapResolver } from './latent-map.resolver.js';
import { LatentMapService } from './latent-map.service.js';
import { ModelVersionsResolver } from './model-versions.resolver.js';
import { ServingResolver, UserAnomalyResolver } from './serving.resolver.js';
import { ServingService } from './serving.service.js';
import { VisualModelService } from './visual-model.service.js';

/** Model versions → indexes → recommendations, similarity, reconstructions and anomaly scores. */
@Module({
  imports: [CatalogModule],
  providers: [ActiveModelService, VisualModelService, ServingService, ServingResolver, UserAnomalyResolver, ModelVersionsResolver, LatentMapService, LatentMapResolver],
  exports: [ActiveModelService, VisualModelService],
})
export class ServingModule {}
