import {
  Kind,
  TypeInfo,
  getNullableType,
  isScalarType,
  typeFromAST,
  visit,
  visitWithTypeInfo,
  type ArgumentNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
} from 'graphql';
import { operationEstimator, type OperationEstimate } from './operation-cost.js';

/** The query field that renders templates; its calls count against the caller's mutation budget. */
export const PREVIEW_FIELD = 'previewEmail';

/** What an operation's checks before execution found: its estimate (undefined: variables that do not coerce), its previews. */
export interface OperationFacts {
  readonly estimate: OperationEstimate | undefined;
  readonly previews: number;
}

/** Variable values of one operation per cache entry at most (the distinct page sizes a client asks for, say). */
const VALUES_PER_OPERATION = 64;
/** Longer keys (variables with big values a cost reads) are computed every time rather than kept. */
const MAX_KEY_LENGTH = 2_048;

interface PerOperation {
  /** The variables the estimate reads, in a fixed order: what the facts depend on beside the document. */
  readonly reads: readonly string[];
  readonly previews: number;
  readonly estimates: Map<string, OperationEstimate | undefined>;
}

/**
 * The cost estimate and preview count of an operation, computed once per distinct document, operation and values of
 * the variables they depend on, rather than on every request. They cannot change for those: they are functions of
 * the document (Apollo keeps one parsed document per distinct query text, so its nodes are the key, and entries go
 * with them) and of the values of the variables the estimate reads — those in a costed field's arguments (`first`),
 * in `@skip`/`@include`, and every Int or Boolean one (the estimate gives up when those do not coerce). A
 * `createLead` whose `$input` differs on every request is estimated once.
 */
export class OperationChecks {
  readonly #estimate: ReturnType<typeof operationEstimator>;
  readonly #operations = new WeakMap<OperationDefinitionNode, PerOperation>();

  constructor(private readonly schema: GraphQLSchema) {
    this.#estimate = operationEstimator(schema);
  }

  factsOf(document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | undefined): OperationFacts {
    let known = this.#operations.get(operation);
    if (!known) {
      known = { reads: variablesRead(this.schema, document, operation), previews: countPreviews(document, operation), estimates: new Map() };
      this.#operations.set(operation, known);
    }
    // `[]` for a variable not sent, `[value]` for one sent (null included): they coerce differently.
    const key = JSON.stringify(known.reads.map((name) => (variables && Object.hasOwn(variables, name) ? [variables[name]] : [])));
    if (key.length > MAX_KEY_LENGTH) return { estimate: this.#estimate(document, operation, variables), previews: known.previews };
    if (known.estimates.has(key)) return { estimate: known.estimates.get(key), previews: known.previews };
    const estimate = this.#estimate(document, operation, variables);
    // A partial estimate (some field's arguments did not coerce: another variable missing, null or of the wrong
    // shape, which the key does not hold) costed those fields 0; kept, it would let the next request of the same
    // text with valid values skip the cost limit.
    if (estimate?.partial) return { estimate, previews: known.previews };
    if (known.estimates.size >= VALUES_PER_OPERATION) known.estimates.delete(known.estimates.keys().next().value!);
    known.estimates.set(key, estimate);
    return { estimate, previews: known.previews };
  }
}

/** The variables whose values the estimate may read, sorted (see OperationChecks). */
function variablesRead(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const names = new Set<string>();
  for (const definition of operation.variableDefinitions ?? []) {
    const type = getNullableType(typeFromAST(schema, definition.type));
    if (isScalarType(type) && (type.name === 'Int' || type.name === 'Boolean')) names.add(definition.variable.name.value);
  }
  const addVariables = (args: readonly ArgumentNode[] | undefined) => {
    for (const arg of args ?? []) visit(arg, { Variable: (variable) => void names.add(variable.name.value) });
  };
  const typeInfo = new TypeInfo(schema);
  // The whole document: fragments are read wherever they are spread, and a name this operation does not declare
  // is simply never sent.
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field: (field) => {
        if (typeInfo.getFieldDef()?.extensions['complexity'] !== undefined) addVariables(field.arguments);
      },
      Directive: (directive) => addVariables(directive.arguments),
    }),
  );
  return [...names].sort();
}

/**
 * `previewEmail` fields at the root of a query, each alias and each fragment spread counted (skipped ones
 * too: counting them is cheaper than evaluating directives, and no honest document skips previews by the dozen).
 */
function countPreviews(document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const seen = new Set<string>();
  const count = (selections: readonly SelectionNode[]): number => {
    let total = 0;
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) total += selection.name.value === PREVIEW_FIELD ? 1 : 0;
      else if (selection.kind === Kind.INLINE_FRAGMENT) total += count(selection.selectionSet.selections);
      else if (!seen.has(selection.name.value)) {
        // A fragment spread twice runs its fields once (graphql-js merges them), so it counts once.
        seen.add(selection.name.value);
        total += count(fragments.get(selection.name.value)?.selectionSet.selections ?? []);
      }
    }
    return total;
  };
  return count(operation.selectionSet.selections);
}
