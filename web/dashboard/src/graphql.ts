import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

const tada = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSONObject: Record<string, unknown>; ID: string };
  // Fragments share selections between pages' queries; their fields are read directly.
  disableMasking: true;
}>();

/** The text of each document, sent as it was written (gql.tada keeps no source for operations). */
const sources = new WeakMap<object, string>();

/**
 * GraphQL documents typed against schema.gql (a document that spreads fragments lists them, and
 * its text carries theirs): `npm run dashboard:types` (gql.tada, also run by
 * `npm run schema:print`) writes graphql-env.d.ts from it, and every query's result and variables
 * types follow from the schema.
 */
export const graphql = Object.assign(
  ((text: string, fragments?: readonly object[]) => {
    const doc = tada(text, fragments as Parameters<typeof tada>[1]);
    sources.set(doc, [text, ...(fragments ?? []).map(documentText)].join('\n'));
    return doc;
  }) as typeof tada,
  { scalar: tada.scalar, persisted: tada.persisted },
);

/** The text of a document made by {@link graphql}. */
export function documentText(doc: object): string {
  const text = sources.get(doc);
  if (text === undefined) throw new Error('not a document made by graphql()');
  return text;
}

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
