import { GraphQLError, Kind, type FragmentDefinitionNode, type SelectionSetNode, type ValidationRule } from 'graphql';

/**
 * Rejects operations nested deeper than `maxDepth` selection levels, before any resolver runs.
 * Introspection fields (`__schema`, `__type`) are not counted: Sandbox's own introspection query is deep.
 */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }

    const depthOf = (selectionSet: SelectionSetNode, level: number, seen: Set<string>): number => {
      let deepest = level;
      for (const selection of selectionSet.selections) {
        // Stop descending once over the limit: the answer is already "too deep", and hostile documents
        // could otherwise make this walk expensive.
        if (deepest > maxDepth) break;
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          const below = selection.selectionSet ? depthOf(selection.selectionSet, level + 1, seen) : level + 1;
          deepest = Math.max(deepest, below);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, level, seen));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || seen.has(name)) continue; // unknown or cyclic fragments are reported by other rules
          deepest = Math.max(deepest, depthOf(fragment.selectionSet, level, new Set([...seen, name])));
        }
      }
      return deepest;
    };

    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation.selectionSet, 0, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`Operation is nested more than ${maxDepth} levels deep (the limit is ${maxDepth})`, { nodes: [operation] }),
          );
        }
      },
    };
  };
}
