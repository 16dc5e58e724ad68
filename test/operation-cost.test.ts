import { buildSchema, getOperationAST, parse, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { operationEstimator } from '../src/graphql/limits/operation-cost.js';
import { createSchema } from '../src/graphql/schema.js';

/**
 * The cost estimate on the app's schema, without a server: what each list costs, that fragments are costed once
 * each, and that the server does not start with a list or connection field whose cost is unknown. The limit
 * itself, over HTTP and WebSocket, is covered by limits.test.ts.
 */

describe('operation cost', () => {
  let schema: GraphQLSchema;
  let estimate: ReturnType<typeof operationEstimator>;
  const cost = (query: string, variables?: Record<string, unknown>) => {
    const document = parse(query);
    return estimate(document, getOperationAST(document)!, variables)?.cost;
  };

  beforeAll(async () => {
    schema = await createSchema();
    estimate = operationEstimator(schema);
  });

  it('a list costs its longest: 50 steps, 50 emails per enrollment, 20 enrollments per lead, 7 weekdays', () => {
    // sequences 10 × (1 + edges 1 + node 1 + steps 50 × (1 + subject 1) + sendWindow (1 + weekdays 7))
    expect(cost('{ sequences(first: 10) { edges { node { steps { subject } sendWindow { weekdays } } } } }')).toBe(10 * (1 + 1 + 1 + 100 + 8));
    // leadSequenceStatus 1 + enrollments 20 × (1 + emails 50 × (1 + 1))
    expect(cost('{ leadSequenceStatus(leadId: "x") { enrollments { emails { id } } } }')).toBe(1 + 20 * (1 + 100));
  });

  it("importLeads' answer about its own rows counts once, and introspection nothing", () => {
    // importLeads 1 + rows 1 × (1 + index 1 + errors 1 × (1 + field 1 + message 1))
    expect(cost('mutation { importLeads(inputs: []) { rows { index errors { field message } } } }')).toBe(1 + (1 + 1 + (1 + 2)));
    expect(cost('{ __schema { types { name fields { name } } } __type(name: "Lead") { name } __typename }')).toBe(1);
  });

  it('a fragment is costed once, even when it is spread at every level of a deep document', () => {
    // Each level doubles the answer, so the cost is huge; estimating it must still take linear time.
    let query = '{ leadSequenceStatus(leadId: "x") { enrollments { ...E0 } } }\n';
    for (let i = 0; i < 22; i++)
      query += `fragment E${i} on Enrollment { a: emails { enrollment { ...E${i + 1} } } b: emails { enrollment { ...E${i + 1} } } }\n`;
    query += 'fragment E22 on Enrollment { id }';
    const started = performance.now();
    expect(cost(query)).toBeGreaterThan(1e40);
    expect(performance.now() - started).toBeLessThan(200);
    // A fragment spread twice in one selection runs once, unless the first spread is skipped.
    expect(cost('{ ...F ...F } fragment F on Query { viewer { id } }')).toBe(2);
    expect(cost('query($s: Boolean!) { ...F @skip(if: $s) ...F } fragment F on Query { viewer { id } }', { s: true })).toBe(2);
  });

  it('the server refuses a schema with a list or connection field whose cost is unknown', () => {
    const unsized = buildSchema(`
      type Query { items: [Item!]! page(first: Int): ItemConnection! }
      type Item { id: ID! }
      type ItemConnection { edges: [Item!]! pageInfo: Boolean! }
    `);
    expect(() => operationEstimator(unsized)).toThrow('missing: Query.items, Query.page, ItemConnection.edges');
  });
});
