import { NestFactory } from '@nestjs/core';
import { GraphQLSchemaBuilderModule, GraphQLSchemaFactory } from '@nestjs/graphql';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { ApiKeysResolver } from '../auth/api-keys.resolver.js';
import { ViewerResolver } from '../auth/viewer.resolver.js';
import { ItemsResolver } from '../catalog/items.resolver.js';
import { OverviewResolver } from '../catalog/overview.resolver.js';
import { ItemImageInfoResolver, ItemImagesResolver } from '../images/item-images.resolver.js';
import { UsersResolver } from '../catalog/users.resolver.js';
import { ExperimentsResolver } from '../experiments/experiments.resolver.js';
import { InteractionsResolver, UserInteractionsResolver } from '../interactions/interactions.resolver.js';
import { LatentMapResolver } from '../serving/latent-map.resolver.js';
import { ModelVersionsResolver } from '../serving/model-versions.resolver.js';
import { ServingResolver, UserAnomalyResolver } from '../serving/serving.resolver.js';
import { TrainingResolver } from '../training/training.resolver.js';

/** Every resolver of the API; the schema printer and its test use this list. */
export const RESOLVERS = [
  ItemsResolver,
  ItemImagesResolver,
  ItemImageInfoResolver,
  UsersResolver,
  InteractionsResolver,
  UserInteractionsResolver,
  ServingResolver,
  UserAnomalyResolver,
  ModelVersionsResolver,
  TrainingResolver,
  ApiKeysResolver,
  OverviewResolver,
  LatentMapResolver,
  ViewerResolver,
  ExperimentsResolver,
];

/** The SDL committed as schema.gql: sorted, so diffs show real API changes only. */
export function printSortedSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/**
 * The API's schema built from the resolvers, without a database or HTTP server: the one the server
 * executes, field extensions (query costs) included, which the SDL of schema.gql leaves out.
 */
export async function buildApiSchema(): Promise<GraphQLSchema> {
  const app = await NestFactory.createApplicationContext(GraphQLSchemaBuilderModule, { logger: false });
  await app.init();
  const schema = await app.get(GraphQLSchemaFactory).create(RESOLVERS);
  await app.close();
  return schema;
}

/** The SDL of {@link buildApiSchema}. */
export async function buildSchemaSdl(): Promise<string> {
  return printSortedSchema(await buildApiSchema());
}
