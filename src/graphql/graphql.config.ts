import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import type { Env } from '../config/env.js';
import { formatExecutionErrors } from './error-mapping.js';

/** Largest nesting a query may have (user → interactions → item is depth 4). */
export const MAX_QUERY_DEPTH = 10;

export function graphqlConfig(env: Env): MercuriusDriverConfig {
  return {
    driver: MercuriusDriver,
    // The schema is built in memory; `npm run schema:print` writes schema.gql, which is committed
    // and checked by a test so API changes show up in review.
    autoSchemaFile: true,
    sortSchema: true,
    graphiql: env.graphiql,
    path: '/graphql',
    queryDepth: MAX_QUERY_DEPTH,
    errorFormatter: (execution) => formatExecutionErrors(execution),
  };
}
