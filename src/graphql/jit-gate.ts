import {
  getNamedType,
  isInputObjectType,
  Kind,
  typeFromAST,
  visit,
  BREAK,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/**
 * Which operations run compiled by graphql-jit (Mercurius' `jit`) rather than interpreted by
 * graphql-js: queries whose variables and literals hold no input object. graphql-jit 0.8.9
 * coerces input objects in variables without their fields' defaults (`kind: InteractionKind! =
 * IMPLICIT` is reported "was not provided"), so those operations, and every mutation (whose cost
 * is the database's, not the event loop's), stay on graphql-js. The hot read paths
 * (`recommendations`, `similarItems`, … with ID, Int, enum and list variables) compile: about a
 * third less event-loop time per field (docs/benchmarks.md).
 *
 * The verdict is cached per parsed document (Mercurius caches documents by their text).
 */
const verdicts = new WeakMap<DocumentNode, Map<string, boolean>>();

export function jitSafe(schema: GraphQLSchema, document: DocumentNode, operationName?: string): boolean {
  const key = operationName ?? '';
  let byName = verdicts.get(document);
  const known = byName?.get(key);
  if (known !== undefined) return known;
  const verdict = decide(schema, document, operationName);
  if (!byName) verdicts.set(document, (byName = new Map()));
  byName.set(key, verdict);
  return verdict;
}

function decide(schema: GraphQLSchema, document: DocumentNode, operationName?: string): boolean {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation =
    operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((o) => o.name?.value === operationName);
  if (!operation || operation.operation !== 'query') return false;
  for (const definition of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, definition.type);
    if (!type || isInputObjectType(getNamedType(type))) return false;
  }
  // An input object written in the document (an argument's literal), in any definition.
  let literalObject = false;
  visit(document, {
    ObjectValue() {
      literalObject = true;
      return BREAK;
    },
  });
  return !literalObject;
}
