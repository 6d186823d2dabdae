import { GraphQLError, Kind, type FragmentDefinitionNode, type SelectionSetNode, type ValidationRule } from 'graphql';
import { ErrorCode } from '../common/domain-error.js';

/**
 * Introspection roots left out of the depth: the standard introspection query (GraphiQL's, depth
 * 15) must pass the default limit of 10. graphql-js' MaxIntrospectionDepthRule (part of its
 * specifiedRules, which Mercurius always runs) bounds what they can nest instead.
 */
const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

/**
 * The nesting depth of a selection set: fields add a level, fragment spreads and inline fragments
 * do not. Iterative within a selection set; fragments are measured once (memo). Unknown and cyclic
 * fragments count 0 (graphql's own rules report them).
 */
function selectionDepth(
  root: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  memo: Map<string, number>,
  visiting: Set<string>,
): number {
  let max = 0;
  const stack: [SelectionSetNode, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [set, level] = stack.pop()!;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (INTROSPECTION_ROOTS.has(selection.name.value)) continue;
        max = Math.max(max, level + 1);
        if (selection.selectionSet) stack.push([selection.selectionSet, level + 1]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        stack.push([selection.selectionSet, level]);
      } else {
        const name = selection.name.value;
        let own = memo.get(name);
        if (own === undefined) {
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) {
            own = 0;
          } else {
            visiting.add(name);
            own = selectionDepth(fragment.selectionSet, fragments, memo, visiting);
            visiting.delete(name);
            memo.set(name, own);
          }
        }
        max = Math.max(max, level + own);
      }
    }
  }
  return max;
}

/**
 * At most `limit` nested field levels per operation (introspection excluded, see above), reported
 * as QUERY_TOO_COMPLEX (HTTP 400) before execution. Replaces Mercurius' `queryDepth`, which counts
 * introspection and so refused GraphiQL's schema query.
 */
export function maxDepthRule(limit: number): ValidationRule {
  return (context) => ({
    Document(document) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      const memo = new Map<string, number>();
      for (const op of document.definitions) {
        if (op.kind !== Kind.OPERATION_DEFINITION) continue;
        const depth = selectionDepth(op.selectionSet, fragments, memo, new Set());
        if (depth > limit) {
          context.reportError(
            new GraphQLError(
              `${op.name?.value ?? 'Anonymous'} query depth (${depth}) exceeds the query depth limit of ${limit}`,
              {
                nodes: op,
                extensions: { code: ErrorCode.QUERY_TOO_COMPLEX },
              },
            ),
          );
        }
      }
    },
  });
}
