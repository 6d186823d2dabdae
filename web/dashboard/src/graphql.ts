import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * GraphQL documents typed against schema.gql: `npm run dashboard:types` (gql.tada) writes
 * graphql-env.d.ts from it, and every query's result and variables types follow from the schema.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSONObject: Record<string, unknown>; ID: string };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
