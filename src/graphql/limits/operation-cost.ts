import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isInterfaceType,
  isListType,
  isObjectType,
  isScalarType,
  typeFromAST,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { MAX_STEPS } from '../../sequences/sequence.validation.js';
import { TEMPLATE_VARIABLES } from '../../templates/templates.js';
import { MAX_PAGE_SIZE } from '../connection.js';

/**
 * What an operation may cost, estimated from its document before anything runs: the most field values its answer
 * can hold. Every field counts 1 plus what it selects; a connection multiplies that by its page size (`first` or
 * `last`, counted at most MAX_PAGE_SIZE: a larger page is refused by the resolver anyway), a list by the most
 * items it can hold (LIST_SIZES). Introspection (`__schema`, `__type`) is free, as for the depth limit: its size
 * is the schema's, and it is off in production.
 *
 * Fragments are costed once each, so a document of fragments spreading fragments costs linear time to estimate.
 */

/**
 * The most items each list field of the schema can hold. The server refuses to start when a list field is missing
 * here (or an entry names no field), so a new list cannot slip in uncosted. Connections' `edges` are not listed:
 * the connection is costed by its page size.
 */
export const LIST_SIZES: Readonly<Record<string, number>> = {
  'EmailSequence.steps': MAX_STEPS,
  'Enrollment.emails': MAX_STEPS, // one email per step
  'SendWindow.weekdays': 7,
  'Query.templateVariables': TEMPLATE_VARIABLES.length,
  // Not capped by the data: a lead has one enrollment per sequence it entered. Costed at what a large account sees.
  'LeadSequenceStatus.enrollments': 20,
  // importLeads' answer about each of its own input rows, built in memory: it grows with the request itself (at
  // most MAX_IMPORT_ROWS rows within MAX_REQUEST_BYTES), not with what the request reaches, so it counts once.
  'ImportLeadsResult.rows': 1,
  'ImportLeadRow.errors': 1,
};

export interface OperationEstimate {
  /** The estimated cost (see above). */
  readonly cost: number;
  /** Distinct root fields it runs: for a mutation, the number of writes it asks for. */
  readonly rootFields: number;
}

/**
 * An estimator for `schema`'s operations. It returns undefined when the operation's variables do not coerce:
 * execution refuses those before any resolver runs.
 */
export function operationEstimator(schema: GraphQLSchema): (document: DocumentNode, operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | undefined) => OperationEstimate | undefined {
  checkListSizes(schema);
  return (document, operation, rawVariables) => {
    const variables = costVariables(schema, operation, rawVariables);
    if (!variables) return undefined;
    const walk = new Walk(schema, document, variables);
    const root = schema.getRootType(operation.operation);
    if (!root) return undefined;
    return { cost: walk.selectionCost(operation.selectionSet, root), rootFields: walk.rootFieldCount(operation.selectionSet) };
  };
}

/**
 * Only the Int and Boolean variables matter to the estimate (page sizes, @skip/@include): coercing just those
 * keeps a 10,000-row `importLeads` from being coerced twice.
 */
function costVariables(schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined {
  const definitions = (operation.variableDefinitions ?? []).filter((definition) => {
    const type = getNullableType(typeFromAST(schema, definition.type));
    return isScalarType(type) && (type.name === 'Int' || type.name === 'Boolean');
  });
  const result = getVariableValues(schema, definitions, { ...raw });
  return result.coerced;
}

class Walk {
  readonly #fragments = new Map<string, FragmentDefinitionNode>();
  readonly #fragmentCosts = new Map<string, number>();

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
  ) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.#fragments.set(definition.name.value, definition);
    }
  }

  selectionCost(selectionSet: SelectionSetNode, type: GraphQLNamedType): number {
    let total = 0;
    const spread = new Set<string>(); // as in execution, a fragment spread twice in one selection runs once
    for (const selection of selectionSet.selections) {
      if (!this.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        total += this.fieldCost(selection, type);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition && this.schema.getType(selection.typeCondition.name.value);
        total += this.selectionCost(selection.selectionSet, condition ?? type);
      } else if (!spread.has(selection.name.value)) {
        spread.add(selection.name.value);
        total += this.fragmentCost(selection.name.value);
      }
    }
    return total;
  }

  /** Response keys at the root, fragments followed once each (as graphql-js collects them). */
  rootFieldCount(selectionSet: SelectionSetNode): number {
    const keys = new Set<string>();
    const seen = new Set<string>();
    const collect = (set: SelectionSetNode) => {
      for (const selection of set.selections) {
        if (!this.included(selection)) continue;
        if (selection.kind === Kind.FIELD) {
          if (!selection.name.value.startsWith('__')) keys.add(selection.alias?.value ?? selection.name.value);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          collect(selection.selectionSet);
        } else if (!seen.has(selection.name.value)) {
          seen.add(selection.name.value);
          const fragment = this.#fragments.get(selection.name.value);
          if (fragment) collect(fragment.selectionSet);
        }
      }
    };
    collect(selectionSet);
    return keys.size;
  }

  private fragmentCost(name: string): number {
    let cost = this.#fragmentCosts.get(name);
    if (cost === undefined) {
      const fragment = this.#fragments.get(name);
      const type = fragment && this.schema.getType(fragment.typeCondition.name.value);
      this.#fragmentCosts.set(name, 0); // a cycle (refused by validation) adds nothing
      cost = type ? this.selectionCost(fragment.selectionSet, type) : 0;
      this.#fragmentCosts.set(name, cost);
    }
    return cost;
  }

  private fieldCost(node: FieldNode, parent: GraphQLNamedType): number {
    const name = node.name.value;
    if (name === '__typename') return 1;
    if (name.startsWith('__')) return 0; // introspection
    const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
    if (!field) return 0; // unknown fields are refused by validation
    const type = getNamedType(field.type);
    const below = node.selectionSet ? this.selectionCost(node.selectionSet, type) : 0;
    return this.itemsOf(parent, field, node) * (1 + below);
  }

  /** How many times a field's selection can appear in the answer. */
  private itemsOf(parent: GraphQLNamedType, field: GraphQLField<unknown, unknown>, node: FieldNode): number {
    if (isConnection(getNamedType(field.type))) return this.pageSize(field, node);
    if (!isListType(getNullableType(field.type)) || isConnection(parent)) return 1; // edges: the connection counted its page
    return LIST_SIZES[`${parent.name}.${field.name}`]!; // every list field has a size: checkListSizes
  }

  private pageSize(field: GraphQLField<unknown, unknown>, node: FieldNode): number {
    for (const name of ['first', 'last']) {
      const argument = field.args.find((a) => a.name === name);
      if (!argument) continue;
      const given = node.arguments?.find((a) => a.name.value === name);
      const value: unknown = given ? valueFromAST(given.value, argument.type, this.variables) : argument.defaultValue;
      if (typeof value === 'number') return Math.min(Math.max(value, 0), MAX_PAGE_SIZE);
    }
    return MAX_PAGE_SIZE;
  }

  private included(node: FieldNode | InlineFragmentNode | FragmentSpreadNode): boolean {
    if (!node.directives?.length) return true;
    if (getDirectiveValues(GraphQLSkipDirective, node, this.variables)?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, this.variables)?.if !== false;
  }
}

function isConnection(type: GraphQLNamedType): boolean {
  if (!isObjectType(type)) return false;
  const fields = type.getFields();
  return 'edges' in fields && 'pageInfo' in fields;
}

/** Every list field of the schema has a size in LIST_SIZES, and every entry names a list field. */
function checkListSizes(schema: GraphQLSchema): void {
  const lists = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !isObjectType(type) || isConnection(type)) continue;
    for (const field of Object.values(type.getFields())) {
      if (isListType(getNullableType(field.type))) lists.add(`${type.name}.${field.name}`);
    }
  }
  const missing = [...lists].filter((name) => !(name in LIST_SIZES));
  const stale = Object.keys(LIST_SIZES).filter((name) => !lists.has(name));
  if (missing.length > 0 || stale.length > 0) {
    throw new Error(
      `Query cost: LIST_SIZES (src/graphql/operation-cost.ts) must size every list field of the schema` +
        `${missing.length > 0 ? `; missing: ${missing.join(', ')}` : ''}${stale.length > 0 ? `; no such list field: ${stale.join(', ')}` : ''}`,
    );
  }
}
