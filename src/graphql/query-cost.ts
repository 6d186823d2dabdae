import {
  getNamedType,
  GraphQLError,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  Kind,
  valueFromAST,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Arguments that say how many elements a field returns: its sub-selection is counted that many
 * times (`count` × `itemsPerUser` for sampleSyntheticUsers: every user's items).
 */
export const SIZE_ARGUMENTS = ['limit', 'first', 'last', 'count', 'itemsPerUser'] as const;

export interface CostOptions {
  /** Size of a size argument that is neither given nor defaulted (the largest page). */
  defaultListSize: number;
}

/**
 * The cost of an operation as it will execute, variables included: every field costs 1 (a scalar)
 * or 2 (an object), times the number of times it is returned, which is the product of the size
 * arguments (limit, first, last, count, itemsPerUser) of the fields above it and its own; a list
 * argument of a query adds its length (each id asked for is work; a mutation's input lists are
 * bounded by RECODER_MAX_BATCH_SIZE instead). A field declared with a number
 * `complexity` (Nest's field option, in the field's extensions) costs that number instead, with
 * its sub-selection included; one declared with `@Extensions({ cost: n })` costs n itself, its
 * sub-selection counted as usual (resolvers that do real work per returned object). Introspection
 * fields cost nothing here (graphql-js bounds their depth). Fragments are counted where they are
 * spread.
 *
 * This is what `recommendations(limit: 100)` or `sampleSyntheticUsers(count: 100, itemsPerUser:
 * 1000)` really return, unlike the static estimate of graphql-armor's rule (run at validation, it
 * sees neither variables nor list sizes); the server checks both.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined,
  options: CostOptions,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    else if (d.kind === Kind.OPERATION_DEFINITION && (operationName ? d.name?.value === operationName : !operation))
      operation = d;
  }
  if (!operation) return 0;
  // Most served documents take only ids as variables: their cost is the document's, computed once.
  const fixed = costIgnoresVariables(schema, operation);
  const memoKey = `${operationName ?? ''}\u0000${options.defaultListSize}`;
  let memo: Map<string, number> | undefined;
  if (fixed) {
    let bySchema = fixedCosts.get(schema);
    if (!bySchema) fixedCosts.set(schema, (bySchema = new WeakMap()));
    memo = bySchema.get(document);
    if (!memo) bySchema.set(document, (memo = new Map()));
    const known = memo.get(memoKey);
    if (known !== undefined) return known;
  }
  const cost = operationCostOf(schema, operation, fragments, variables, options);
  memo?.set(memoKey, cost);
  return cost;
}

/**
 * Costs of operations whose variables cannot change them, by schema and document (Mercurius
 * reuses the parsed document of a query it has seen: its cache, DOCUMENT_CACHE_ENTRIES).
 */
const fixedCosts = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, number>>>();

/**
 * Whether an operation's cost is the same for any variable values: none of its variables is an
 * Int (a size argument may take it), a list (a query's list arguments count their length) or an
 * input object (which may hold either).
 */
function costIgnoresVariables(schema: GraphQLSchema, operation: OperationDefinitionNode): boolean {
  for (const definition of operation.variableDefinitions ?? []) {
    const type = definition.type.kind === Kind.NON_NULL_TYPE ? definition.type.type : definition.type;
    if (type.kind !== Kind.NAMED_TYPE || type.name.value === 'Int') return false;
    const named = schema.getType(type.name.value);
    if (!named || !isLeafType(named)) return false;
  }
  return true;
}

function operationCostOf(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown> | undefined,
  options: CostOptions,
): number {
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  if (!root) return 0;
  const vars = variables ?? {};
  // A mutation's input lists (recordInteractions' events, upsertItems' items) are bounded by
  // RECODER_MAX_BATCH_SIZE and their work is the database's: only a query's lists count.
  const countLists = operation.operation === 'query';

  const costOf = (set: SelectionSetNode, type: GraphQLNamedType, times: number, visiting: Set<string>): number => {
    let total = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const on = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) ?? type) : type;
        total += costOf(sel.selectionSet, on, times, visiting);
        continue;
      }
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const name = sel.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue; // graphql's own rules report these
        visiting.add(name);
        total += costOf(
          fragment.selectionSet,
          schema.getType(fragment.typeCondition.name.value) ?? type,
          times,
          visiting,
        );
        visiting.delete(name);
        continue;
      }
      const name = sel.name.value;
      if (name.startsWith('__')) continue;
      if (!isObjectType(type) && !isInterfaceType(type)) continue;
      const field: GraphQLField<unknown, unknown> | undefined = type.getFields()[name];
      if (!field) continue;
      let size = 1;
      let listArgs = 0;
      for (const arg of field.args) {
        const node = sel.arguments?.find((a) => a.name.value === arg.name);
        let value: unknown = node ? valueFromAST(node.value, arg.type, vars as Record<string, unknown>) : undefined;
        if (value === undefined) value = arg.defaultValue;
        if ((SIZE_ARGUMENTS as readonly string[]).includes(arg.name) && isIntArgument(arg.type)) {
          const n =
            typeof value === 'number' && Number.isFinite(value)
              ? value
              : value === null || value === undefined
                ? options.defaultListSize
                : 1;
          size *= Math.max(1, n);
        } else if (Array.isArray(value) && countLists) {
          listArgs += value.length;
        }
      }
      const named = getNamedType(field.type);
      // A field that declares its own cost (code-first `complexity: n`, e.g. latentMap: one cached
      // object whose lists are bounded by the resolver) costs that, whatever its sub-selection.
      const flat = (field.extensions as { complexity?: unknown } | undefined)?.complexity;
      if (typeof flat === 'number') {
        total += times * (flat + listArgs);
        continue;
      }
      // A field may declare its own cost (`@Extensions({ cost: n })`: work beyond returning a
      // value, e.g. a batched lookup per item) while its sub-selection still counts.
      const own = (field.extensions as { cost?: unknown } | undefined)?.cost;
      total += times * ((typeof own === 'number' ? own : isLeafType(named) ? 1 : 2) + listArgs);
      if (sel.selectionSet) total += costOf(sel.selectionSet, named, times * size, visiting);
      if (!Number.isFinite(total)) return Number.POSITIVE_INFINITY;
    }
    return total;
  };
  return costOf(operation.selectionSet, root, 1, new Set());
}

function isIntArgument(type: GraphQLInputType): boolean {
  const inner = isNonNullType(type) ? type.ofType : type;
  return !isListType(inner) && getNamedType(inner).name === 'Int';
}

/** The error of an operation over the cost limit (same message as the validation-time estimate: code QUERY_TOO_COMPLEX, HTTP 400). */
export function costLimitError(limit: number, cost: number): GraphQLError {
  return new GraphQLError(
    `Query Cost limit of ${limit} exceeded, found ${Number.isFinite(cost) ? Math.ceil(cost) : cost}.`,
  );
}
