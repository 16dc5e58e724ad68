import { getOperationAST, parse, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationChecks } from '../src/graphql/limits/operation-checks.js';
import { createSchema } from '../src/graphql/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient } from './helpers/graphql.js';

/*
 * The checks before execution (cost, previews) are computed once per document, operation and values of the variables
 * they read (src/graphql/limits/operation-checks.ts). What is kept must never answer for a request it does not fit:
 * a page size, a skipped field or a variable that does not coerce changes the answer; an input that no cost reads
 * does not.
 */

describe('operation checks, computed once per document and the variables they read', () => {
  let schema: GraphQLSchema;
  let checks: OperationChecks;
  const operationOf = (query: string): [DocumentNode, OperationDefinitionNode] => {
    const document = parse(query);
    return [document, getOperationAST(document)!];
  };

  beforeAll(async () => {
    schema = await createSchema();
    checks = new OperationChecks(schema);
  });

  it('the same document and page size is estimated once; another page size is estimated again', () => {
    const [document, operation] = operationOf('query($n: Int!) { leads(first: $n) { edges { node { id } } } }');
    const first = checks.factsOf(document, operation, { n: 10 });
    expect(first.estimate?.cost).toBe(10 * 4);
    expect(checks.factsOf(document, operation, { n: 10 }).estimate).toBe(first.estimate); // the very same answer, kept
    expect(checks.factsOf(document, operation, { n: 50 }).estimate?.cost).toBe(50 * 4);
    expect(checks.factsOf(document, operation, { n: 10 }).estimate).toBe(first.estimate);
  });

  it('an input no cost reads (createLead) shares one estimate, whatever its values', () => {
    const [document, operation] = operationOf('mutation($input: LeadInput!) { createLead(input: $input) { id } }');
    const first = checks.factsOf(document, operation, { input: { email: 'a@example.com' } });
    expect(checks.factsOf(document, operation, { input: { email: 'b@example.com', firstName: 'B' } }).estimate).toBe(first.estimate);
  });

  it('@skip and @include by a variable, a variable not sent, null, and one that does not coerce are each their own case', () => {
    const [document, operation] = operationOf(
      'query($all: Boolean!, $n: Int = 5) { viewer { id } leads(first: $n) @include(if: $all) { edges { node { id } } } }',
    );
    expect(checks.factsOf(document, operation, { all: false }).estimate).toEqual({ cost: 2, rootFields: 1, partial: false });
    expect(checks.factsOf(document, operation, { all: true }).estimate).toEqual({ cost: 2 + 5 * 4, rootFields: 2, partial: false });
    expect(checks.factsOf(document, operation, { all: true, n: 20 }).estimate?.cost).toBe(2 + 20 * 4);
    // null for `first: Int! = 20`: the field's arguments do not coerce, so it costs nothing (execution refuses it).
    expect(checks.factsOf(document, operation, { all: true, n: null }).estimate?.cost).toBe(2);
    expect(checks.factsOf(document, operation, { all: true }).estimate?.cost).toBe(2 + 5 * 4);
    expect(checks.factsOf(document, operation, { all: 'yes' }).estimate).toBeUndefined(); // execution refuses it
    expect(checks.factsOf(document, operation, { all: false }).estimate).toEqual({ cost: 2, rootFields: 1, partial: false });
  });

  it('an estimate made while another variable was missing or malformed is never kept for a valid request of the same text', () => {
    // `$id` is read by no cost, so it is not in the key; without it `lead`'s arguments do not coerce and graphql's
    // complexity walk costs the whole subtree 0. Kept, that 0 would let the same text with a valid id skip the limit.
    const [document, operation] = operationOf('query($id: ID!, $n: Int!) { lead(id: $id) { activities(first: $n) { edges { node { id } } } } }');
    const probe = checks.factsOf(document, operation, { n: 100 }).estimate;
    expect(probe).toMatchObject({ cost: 0, partial: true });
    const real = checks.factsOf(document, operation, { id: '0190a0e0-0000-7000-8000-000000000000', n: 100 }).estimate;
    expect(real?.partial).toBe(false);
    expect(real?.cost).toBeGreaterThanOrEqual(100);
  });

  it('previews are counted once per operation, fragments included', () => {
    const [document, operation] = operationOf(
      'query($id: ID!) { a: previewEmail(sequenceId: $id, emailNumber: 1) { subject } ...P } fragment P on Query { b: previewEmail(sequenceId: $id, emailNumber: 2) { subject } }',
    );
    expect(checks.factsOf(document, operation, { id: 'x' }).previews).toBe(2);
    expect(checks.factsOf(document, operation, { id: 'y' }).previews).toBe(2);
  });

  describe('over HTTP (MAX_QUERY_COMPLEXITY 400)', () => {
    let t: TestApp;
    let gql: GraphQLClient;
    beforeAll(async () => {
      t = await startTestApp({ MAX_QUERY_COMPLEXITY: '400' });
      gql = t.as((await createTenant(t)).apiKey);
    });
    afterAll(() => t?.dispose());

    it('one document alternating between a page under the limit and one over it is answered right every time', async () => {
      const page = 'query($n: Int!) { leads(first: $n) { edges { node { id email } } } }'; // n × 5
      for (let round = 0; round < 3; round++) {
        expect(ok(await gql(page, { n: 80 })).leads.edges).toEqual([]);
        expect(errorOf(await gql(page, { n: 81 })).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 405, limit: 400 });
      }
      // A size that does not coerce, after sizes that did: refused by execution (BAD_USER_INPUT), not by a kept estimate.
      const refused = await gql(page, { n: 'eighty' });
      expect(refused.status).toBe(400);
      expect(errorOf(refused).extensions?.code).toBe('BAD_USER_INPUT');
      expect(ok(await gql(page, { n: 80 })).leads.edges).toEqual([]);
    });

    it('a skipped costly selection runs; the same document including it is refused', async () => {
      const query = 'query($all: Boolean!) { viewer { id } leads(first: 100) @include(if: $all) { edges { node { id email } } } }';
      expect(ok(await gql(query, { all: false })).viewer.id).toBeTruthy();
      expect(errorOf(await gql(query, { all: true })).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 502 });
      expect(ok(await gql(query, { all: false })).viewer.id).toBeTruthy();
    });
  });
});
