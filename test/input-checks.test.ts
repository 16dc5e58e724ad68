import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient, type GraphQLResponse } from './helpers/graphql.js';

/**
 * Every argument goes through the one check before its resolver (graphql/input/): the operator mutations, the
 * scoring rules and the lead filter as much as leads and sequences (sequence-input.test.ts), and a rule that
 * needs the stored sequence answers in the same shape.
 */

function expectFields(response: GraphQLResponse, fields: string[], reason = 'INVALID_INPUT') {
  expect(response.data ?? null).toBeNull();
  const error = errorOf(response);
  expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason });
  expect((error.extensions?.fields ?? []).map((f) => f.field).sort()).toEqual([...fields].sort());
}

describe('input checks', () => {
  let t: TestApp;
  let tenant: Tenant;
  let client: GraphQLClient;

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t);
    client = t.as(tenant.apiKey);
  });
  afterAll(() => t?.dispose());

  it('createCompany: a blank or 201-character name and a long From name are named under input', async () => {
    const query = `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id } }`;
    expectFields(await t.operator(query, { input: { name: '  ', fromAddress: 'a@example.com' } }), ['input.name']);
    expectFields(await t.operator(query, { input: { name: 'n'.repeat(201), fromAddress: 'a@example.com', fromName: 'f'.repeat(201) } }), [
      'input.name',
      'input.fromName',
    ]);
  });

  it('createApiKey: a blank name is `name`, checked before the company is looked up', async () => {
    const query = `mutation($c: ID!, $n: String!) { createApiKey(companyId: $c, name: $n) { secret } }`;
    expectFields(await t.operator(query, { c: '00000000-0000-4000-8000-000000000000', n: '   ' }), ['name']);
  });

  it('updateScoringRules: each rule out of range is named, and nothing changes', async () => {
    const query = `mutation($input: ScoringRulesInput!) { updateScoringRules(input: $input) { id } }`;
    expectFields(await client(query, { input: { openPoints: 101, clickPoints: -1, maxScore: 0 } }), [
      'input.openPoints',
      'input.clickPoints',
      'input.maxScore',
    ]);
    const { viewer } = ok(await client(`{ viewer { scoringRules { openPoints clickPoints maxScore } } }`));
    expect(viewer.scoringRules).toEqual({ openPoints: 5, clickPoints: 10, maxScore: 100 });
  });

  it('leads: a 201-character search is filter.search; a page size of 0 on a field resolver is first', async () => {
    expectFields(await client(`query($s: String) { leads(filter: { search: $s }) { totalCount } }`, { s: 's'.repeat(201) }), ['filter.search']);
    const { createLead } = ok(await client(`mutation { createLead(input: { firstName: "Paged" }) { id } }`));
    expectFields(await client(`query($id: ID!) { lead(id: $id) { activities(first: 0) { totalCount } } }`, { id: createLead.id }), ['first']);
  });

  it('importLeads: over 10,000 rows is TOO_MANY_ROWS at inputs', async () => {
    const inputs = Array.from({ length: 10_001 }, () => ({}));
    expectFields(await client(`mutation($inputs: [LeadInput!]!) { importLeads(inputs: $inputs) { created } }`, { inputs }), ['inputs'], 'TOO_MANY_ROWS');
  });

  it('updateSequence: a threshold on a MANUAL sequence needs the stored trigger, and is named like the others', async () => {
    const { createSequence } = ok(
      await client(
        `mutation { createSequence(input: { name: "Manual", trigger: MANUAL, steps: [{ delayDays: 0, subject: "Hi", body: "<p>Hi</p>" }] }) { id } }`,
      ),
    );
    const update = `mutation($id: ID!, $input: UpdateSequenceInput!) { updateSequence(id: $id, input: $input) { trigger scoreThreshold } }`;
    expectFields(await client(update, { id: createSequence.id, input: { scoreThreshold: 50 } }), ['input.scoreThreshold']);
    expectFields(await client(update, { id: createSequence.id, input: { trigger: 'SCORE_THRESHOLD' } }), ['input.scoreThreshold']);
    expect(ok(await client(update, { id: createSequence.id, input: { trigger: 'SCORE_THRESHOLD', scoreThreshold: 50 } })).updateSequence).toEqual({
      trigger: 'SCORE_THRESHOLD',
      scoreThreshold: 50,
    });
    expect(ok(await client(update, { id: createSequence.id, input: { scoreThreshold: 60 } })).updateSequence.scoreThreshold).toBe(60);
  });
});
