import { Global, Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ServingModule } from '../serving/serving.module.js';
import { MetricsService } from './metrics.service.js';
import { OpsDatabase } from './ops-database.js';
import { OpsRoutes } from './ops.routes.js';

/**
 * Operations: /health, /ready, /metrics and GraphQL request timing. Global so that feature
 * services can count into MetricsService, and so that it initialises before GraphQLModule (see
 * OpsRoutes.onModuleInit).
 */
@Global()
@Module({
  imports: [CatalogModule, ServingModule],
  providers: [OpsDatabase, MetricsService, OpsRoutes],
  exports: [MetricsService],
})
export class OpsModule {}
