import { Module, type DynamicModule } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import { AuthModule } from './auth/auth.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import { ConfigModule } from './config/config.module.js';
import type { Env } from './config/env.js';
import { DatabaseModule } from './database/database.module.js';
import { ExperimentsModule } from './experiments/experiments.module.js';
import { graphqlConfig } from './graphql/graphql.config.js';
import { ImagesModule } from './images/images.module.js';
import { InteractionsModule } from './interactions/interactions.module.js';
import { OpsModule } from './ops/ops.module.js';
import { ServingModule } from './serving/serving.module.js';
import { TrainingModule } from './training/training.module.js';

/** The API process: GraphQL over Fastify on a resolved database URL. */
@Module({})
export class AppModule {
  static forRoot(env: Env, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(env),
        DatabaseModule.forRoot(databaseUrl),
        GraphQLModule.forRoot<MercuriusDriverConfig>(graphqlConfig(env)),
        AuthModule,
        CatalogModule,
        ImagesModule,
        InteractionsModule,
        ServingModule,
        ExperimentsModule,
        TrainingModule,
        OpsModule,
      ],
    };
  }
}
