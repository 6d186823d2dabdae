import { Module } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { ModelPool } from './model-pool.js';
import { CatalogModule } from '../catalog/catalog.module.js';
import { RegistryModule } from '../registry/registry.module.js';
import { ActiveModelService } from './active-model.service.js';
import { LatentMapResolver } from './latent-map.resolver.js';
import { LatentMapService } from './latent-map.service.js';
import { ModelVersionsResolver } from './model-versions.resolver.js';
import { ServingResolver, UserAnomalyResolver } from './serving.resolver.js';
import { ColdStartService } from './cold-start.service.js';
import { ModelWorkService } from './model-work.service.js';
import { PopularityService } from './popularity.service.js';
import { RankingService } from './ranking.service.js';
import { ReconstructionService } from './reconstruction.service.js';
import { RecommendationsService } from './recommendations.service.js';
import { ServingInputs } from './serving-inputs.service.js';
import { SimilarityService } from './similarity.service.js';
import { SyntheticUsersService } from './synthetic-users.service.js';
import { ServingStages } from './serving-stages.js';
import { ServingHooks } from './serving-hooks.js';
import { VisualModelService } from './visual-model.service.js';

/** Model versions → indexes → recommendations, similarity, reconstructions and anomaly scores. */
@Module({
  imports: [CatalogModule, RegistryModule],
  providers: [
    {
      provide: ModelPool,
      useFactory: (env: Env) =>
        new ModelPool({
          threads: env.modelWork.threads,
          backend: env.tfBackend,
          native: env.nativeGemm,
          deadlineMs: env.modelWork.deadlineMs,
        }),
      inject: [ENV],
    },
    ActiveModelService,
    VisualModelService,
    ServingStages,
    ServingHooks,
    ServingInputs,
    ModelWorkService,
    RankingService,
    PopularityService,
    ColdStartService,
    RecommendationsService,
    SimilarityService,
    ReconstructionService,
    SyntheticUsersService,
    ServingResolver,
    UserAnomalyResolver,
    ModelVersionsResolver,
    LatentMapService,
    LatentMapResolver,
  ],
  exports: [
    ModelPool,
    ActiveModelService,
    VisualModelService,
    ServingStages,
    ServingHooks,
    RankingService,
    ModelWorkService,
  ],
})
export class ServingModule {}
