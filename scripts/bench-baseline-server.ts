/**
 * The yardstick of `npm run bench:serve`: the same stack as Recoder's API (NestJS 12, Fastify,
 * Mercurius, the same GraphQL config and output types) whose `recommendations` and `similarItems`
 * return 20 fixed items from memory. The bench script starts this file as a server (PORT sets its
 * port); createBaselineApp builds the same application in process.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Args, GraphQLModule, ID, Int, Query, Resolver } from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Item } from '../src/catalog/dto/item.type.js';
import { loadEnv, type Env } from '../src/config/env.js';
import { graphqlConfig } from '../src/graphql/graphql.config.js';
import { Recommendations, RecommendationSource, SimilarItem } from '../src/serving/dto/serving.types.js';
import { runMain } from './cli.js';

const ITEMS: Item[] = Array.from({ length: 20 }, (_, k) => ({
  id: String(1000 + k),
  title: `Fixed item ${k}`,
  categories: ['Drama', 'Comedy'],
  attributes: {},
  hidden: false,
  createdAt: new Date('2026-01-01T00:00:00Z'),
  updatedAt: new Date('2026-01-01T00:00:00Z'),
}));

@Resolver()
class FixedResolver {
  @Query(() => Recommendations)
  recommendations(
    @Args('userId', { type: () => ID }) _userId: string,
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
  ): Recommendations {
    return {
      items: ITEMS.slice(0, limit).map((item, k) => ({ item, score: 20 - k, source: RecommendationSource.MODEL })),
      source: RecommendationSource.MODEL,
      modelVersionId: 1,
      reason: null,
      recommendationId: randomUUID(),
    };
  }

  @Query(() => Recommendations)
  recommendationsForHistory(
    @Args('itemIds', { type: () => [ID] }) _itemIds: string[],
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
  ): Recommendations {
    return this.recommendations('', limit);
  }

  @Query(() => [SimilarItem])
  similarItems(
    @Args('itemId', { type: () => ID }) _itemId: string,
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
  ): SimilarItem[] {
    return ITEMS.slice(0, limit).map((item, k) => ({ item, score: 1 - k / 100 }));
  }
}

/** The baseline application, built but not listening. */
export async function createBaselineApp(env: Env): Promise<NestFastifyApplication> {
  @Module({ imports: [GraphQLModule.forRoot<MercuriusDriverConfig>(graphqlConfig(env))], providers: [FixedResolver] })
  class BaselineModule {}
  return NestFactory.create<NestFastifyApplication>(BaselineModule, new FastifyAdapter(), {
    logger: ['error', 'warn'],
  });
}

async function main(): Promise<void> {
  const env = loadEnv({ ...process.env, GRAPHIQL: 'false' });
  const app = await createBaselineApp(env);
  await app.listen(env.port, env.host);
  console.log(`baseline listening on ${env.port}`);
}

// Started as a program (not imported by a benchmark that builds the app in process).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(main, { exit: 'now' });
