import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  TypeInfo,
  ValidationContext,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isInputType,
  isListType,
  isObjectType,
  isScalarType,
  typeFromAST,
  valueFromAST,
  type ASTNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type FieldNode,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import type { ComplexityEstimator } from 'graphql-query-complexity';
import type * as QueryComplexity from 'graphql-query-complexity/cjs';
import { createRequire } from 'node:module';

// The CommonJS build, required: the ESM one deep-imports graphql's `.mjs` files, a second graphql beside the
// app's CommonJS one, which refuses a schema "from another module or realm"; and an `import` of the CommonJS
// build gets a different default export under Node and under Vite (vitest).
const { createComplexityRule, fieldExtensionsEstimator, simpleEstimator } = createRequire(import.meta.url)(
  'graphql-query-complexity/cjs',
) as typeof QueryComplexity;

/**
 * What an operation may cost, estimated from its document before anything runs: the most field values its answer
 * can hold, added up by graphql-query-complexity from each field's `complexity` (type-graphql's option). Every
 * field counts 1 plus what it selects; a connection multiplies that by its page size (`pageCost`), a list by the
 * most items it can hold (`listCost`). Introspection (`__schema`, `__type`) is free, as for the depth limit: its
 * size is the schema's, and it is off in production.
 *
 * Fragments are costed once each, so a document of fragments spreading fragments costs linear time to estimate
 * (graphql-query-complexity alone walks a fragment at every spread: 2^22 walks for 23 fragments spreading the
 * next one twice). As in execution, a fragment spread twice in one selection runs, and counts, once.
 */

/** Introspection's fields cost nothing, whatever they select. */
const introspectionIsFree: ComplexityEstimator = ({ field }) => (field.name === '__schema' || field.name === '__type' ? 0 : undefined);

const ESTIMATORS: ComplexityEstimator[] = [introspectionIsFree, fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];

export interface OperationEstimate {
  /** The estimated cost (see above). */
  readonly cost: number;
  /** Distinct root fields it runs: for a mutation, the number of writes it asks for. */
  readonly rootFields: number;
  /**
   * Some field's arguments did not coerce, so it and everything under it were costed 0. Execution refuses such a
   * request, but the estimate holds only for these exact values: it must never stand for another request.
   */
  readonly partial: boolean;
}

type Variables = Record<string, unknown>;

/**
 * An estimator for `schema`'s operations. It returns undefined when the operation's variables do not coerce:
 * execution refuses those before any resolver runs.
 */
export function operationEstimator(
  schema: GraphQLSchema,
): (document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Variables> | undefined) => OperationEstimate | undefined {
  checkComplexities(schema);
  return (document, operation, rawVariables) => {
    const variables = costVariables(schema, operation, rawVariables);
    const root = schema.getRootType(operation.operation);
    if (!variables || !root) return undefined;
    const { cost, partial } = operationCost(schema, document, operation, root, variables);
    return { cost, partial, rootFields: rootFieldCount(document, operation.selectionSet, variables) };
  };
}

/**
 * Only the Int and Boolean variables matter to the estimate (page sizes, @skip/@include): coercing just those
 * keeps a 10,000-row `importLeads` from being coerced twice. The others keep the value sent (or their default),
 * so that every field still has its arguments and is costed.
 */
function costVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Readonly<Variables> | undefined): Variables | undefined {
  const values: Variables = { ...raw };
  const sizes = (operation.variableDefinitions ?? []).filter((definition) => {
    const type = typeFromAST(schema, definition.type);
    const nullable = getNullableType(type);
    if (isScalarType(nullable) && (nullable.name === 'Int' || nullable.name === 'Boolean')) return true;
    const name = definition.variable.name.value;
    if (values[name] === undefined && definition.defaultValue && isInputType(type)) values[name] = valueFromAST(definition.defaultValue, type);
    return false;
  });
  const { coerced } = getVariableValues(schema, sizes, values);
  return coerced && { ...values, ...coerced };
}

/**
 * graphql-query-complexity's walk over the operation (`nodeComplexity`, what its validation rule runs), with each
 * node, so each fragment, costed once. It is called directly rather than through the rule's visitor, which would
 * coerce every variable again (see costVariables).
 */
function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  root: GraphQLObjectType,
  variables: Variables,
): { cost: number; partial: boolean } {
  // A field whose arguments do not coerce costs nothing: execution does not run it either.
  let partial = false;
  const context = new ValidationContext(schema, document, new TypeInfo(schema), () => {
    partial = true;
  });
  const walk = createComplexityRule({ estimators: ESTIMATORS, maximumComplexity: Infinity, maxQueryNodes: Infinity })(context);
  walk.variableValues = variables;
  const costs = new Map<ASTNode, number>(); // a node's type is fixed by where it stands in the document
  const nodeCost = walk.nodeComplexity.bind(walk);
  walk.nodeComplexity = (node, type, activeFragments) => {
    let cost = costs.get(node);
    if (cost === undefined) {
      cost = nodeCost(withoutRepeatedSpreads(node, variables), type, activeFragments);
      costs.set(node, cost);
    }
    return cost;
  };
  const cost = walk.nodeComplexity(operation, root);
  return { cost, partial };
}

/** The node, without the spreads of a fragment an earlier (included) spread of its selection already runs. */
function withoutRepeatedSpreads<T extends { selectionSet?: SelectionSetNode | undefined }>(node: T, variables: Variables): T {
  const selections = node.selectionSet?.selections;
  if (!selections?.some((s) => s.kind === Kind.FRAGMENT_SPREAD)) return node;
  const spread = new Set<string>();
  const kept = selections.filter((selection) => {
    if (selection.kind !== Kind.FRAGMENT_SPREAD || !included(selection, variables)) return true;
    if (spread.has(selection.name.value)) return false;
    spread.add(selection.name.value);
    return true;
  });
  return kept.length === selections.length ? node : { ...node, selectionSet: { ...node.selectionSet!, selections: kept } };
}

/** Response keys at the root, fragments followed once each (as graphql-js collects them). */
function rootFieldCount(document: DocumentNode, selectionSet: SelectionSetNode, variables: Variables): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const keys = new Set<string>();
  const seen = new Set<string>();
  const collect = (selections: readonly SelectionNode[]) => {
    for (const selection of selections) {
      if (!included(selection, variables)) continue;
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) keys.add(selection.alias?.value ?? selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet.selections);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet.selections);
      }
    }
  };
  collect(selectionSet.selections);
  return keys.size;
}

function included(node: FieldNode | InlineFragmentNode | FragmentSpreadNode, variables: Variables): boolean {
  if (!node.directives?.length) return true;
  if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] !== false;
}

function isConnection(type: GraphQLNamedType): boolean {
  if (!isObjectType(type)) return false;
  const fields = type.getFields();
  return 'edges' in fields && 'pageInfo' in fields;
}

/**
 * Every list and connection field of the schema has a `complexity` (`listCost`, `pageCost`): without one it
 * would count as a single value, whatever the number of items it holds.
 */
function checkComplexities(schema: GraphQLSchema): void {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const sized = isListType(getNullableType(field.type)) || isConnection(getNamedType(field.type));
      if (sized && field.extensions['complexity'] === undefined) missing.push(`${type.name}.${field.name}`);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `Query cost: every list and connection field needs a complexity (type-graphql's \`complexity\` option: listCost or pageCost); missing: ${missing.join(', ')}`,
    );
  }
}
