import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import type { ComplexityEstimator } from 'graphql-query-complexity';
import { MAX_PAGE_SIZE, type PageRequest } from '../db/pagination.js';
import { listCost } from '../model/query-cost.js';

/** Relay-style pagination. Cursors are opaque: base64url JSON of the row's sort key. */

@ObjectType({ description: 'Where a page sits in its connection.' })
export class PageInfo {
  @Field(() => Boolean, { description: 'Whether more items follow `endCursor`.' })
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'Whether items precede this page (true when `after` was given).' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first edge.' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge; pass it as `after` for the next page.' })
  endCursor!: string | null;
}

/** Checked by `pageProblems` (input/input-checks.ts) before any resolver runs. */
@ArgsType()
export class PageArgs implements PageRequest {
  @Field(() => Int, { defaultValue: 20, description: `Page size, 1 to ${MAX_PAGE_SIZE}.` })
  first: number = 20;

  @Field(() => String, { nullable: true, description: 'Cursor after which the page starts (`pageInfo.endCursor`).' })
  after?: string | null;
}

/**
 * The query cost of a connection field, for type-graphql's `complexity` option: its page size times 1 plus what
 * it selects. A page is counted at most MAX_PAGE_SIZE: a larger one is refused by PageArgs anyway.
 */
export const pageCost: ComplexityEstimator = ({ args, childComplexity }) => {
  const first: unknown = args['first'];
  const size = typeof first === 'number' ? Math.min(Math.max(first, 0), MAX_PAGE_SIZE) : MAX_PAGE_SIZE;
  return size * (1 + childComplexity);
};

/** Builds the `XConnection` and `XEdge` object types for a node type. */
export function Connection<T extends object>(node: ClassType<T>, name: string, description: string) {
  @ObjectType(`${name}Edge`, { description: `One ${name} in a page.` })
  class Edge {
    @Field(() => String, { description: 'Opaque position of this edge.' })
    cursor!: string;

    @Field(() => node, { description: `The ${name}.` })
    node!: T;
  }

  @ObjectType(`${name}Connection`, { description })
  class ConnectionType {
    @Field(() => [Edge], { description: 'The page.', complexity: listCost(1) }) // once: the connection counted its page size
    edges!: Edge[];

    @Field(() => PageInfo, { description: 'Pagination state.' })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Number of items matching the filter, across all pages.' })
    totalCount!: number;
  }
  return ConnectionType;
}

/**
 * Whether the connection field being resolved selects `totalCount` (directly, or in a fragment): a page then counts in
 * the same statement (`pageOfRows`). A `@skip`/`@include` is not evaluated: a skipped count is only counted for nothing.
 */
export function selectsTotalCount(info: GraphQLResolveInfo): boolean {
  const selects = (set: SelectionSetNode | undefined): boolean =>
    set?.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === 'totalCount';
      if (selection.kind === Kind.INLINE_FRAGMENT) return selects(selection.selectionSet);
      return selects(info.fragments[selection.name.value]?.selectionSet);
    }) ?? false;
  return info.fieldNodes.some((node) => selects(node.selectionSet));
}
