import type { ComplexityEstimator } from 'graphql-query-complexity';

/**
 * The query cost of a list field, for type-graphql's `complexity` option (src/graphql/limits/operation-cost.ts
 * adds the costs up): each of its at most `maxItems` items counts 1 plus what it selects. The server refuses to
 * start when a list field has no complexity, so a new list cannot slip in uncosted.
 */
export function listCost(maxItems: number): ComplexityEstimator {
  return ({ childComplexity }) => maxItems * (1 + childComplexity);
}
