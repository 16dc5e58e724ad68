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
    // Anything deeper than maxDepth is "too deep": depths are counted up to `cap` and no further, so a hostile
    // document costs no more than the limit to walk.
    const cap = maxDepth + 1;
    // Each fragment's own depth is computed once: walking every spread of fragments spreading fragments again
    // would take time exponential in the document's size.
    const fragmentDepths = new Map<string, number>();

    const fragmentDepth = (name: string): number => {
      let depth = fragmentDepths.get(name);
      if (depth === undefined) {
        const fragment = fragments.get(name);
        fragmentDepths.set(name, 0); // unknown or cyclic fragments are reported by other rules
        depth = fragment ? depthOf(fragment.selectionSet, cap) : 0;
        fragmentDepths.set(name, depth);
      }
      return depth;
    };

    /** The nesting below `selectionSet`, counted up to `limit`. */
    const depthOf = (selectionSet: SelectionSetNode, limit: number): number => {
      let deepest = 0;
      for (const selection of selectionSet.selections) {
        if (deepest >= limit) break;
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          deepest = Math.max(deepest, 1 + (selection.selectionSet && limit > 1 ? depthOf(selection.selectionSet, limit - 1) : 0));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, limit));
        } else {
          deepest = Math.max(deepest, Math.min(fragmentDepth(selection.name.value), limit));
        }
      }
      return deepest;
    };

    return {
      OperationDefinition(operation) {
        if (depthOf(operation.selectionSet, cap) > maxDepth) {
          context.reportError(new GraphQLError(`Operation is nested more than ${maxDepth} levels deep (the limit is ${maxDepth})`, { nodes: [operation] }));
        }
      },
    };
  };
}
