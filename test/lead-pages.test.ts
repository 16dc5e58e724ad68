import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { queryRows } from './helpers/dispatch.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient } from './helpers/graphql.js';

/**
 * Lead pages are read as plain rows by one prepared statement, counted in the same statement when `totalCount` is
 * asked (issue #19): every order, filter and cursor must give exactly what SQL over the raw rows gives, every field
 * what `lead(id)` (the ORM's entity) gives, and a forged cursor a clear error.
 */
describe('lead pages', () => {
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;

  const ORDERS = {
    CREATED_AT_DESC: 'created_at desc, id desc',
    CREATED_AT_ASC: 'created_at asc, id asc',
    SCORE_DESC: 'score desc, id desc',
    SCORE_ASC: 'score asc, id asc',
  } as const;
  const FIELDS = 'id email firstName lastName companyName timezone score attributes unsubscribedAt createdAt updatedAt';

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t);
    gql = t.as(tenant.apiKey);
    const inputs = Array.from({ length: 45 }, (_, i) => ({
      email: `lead-${i}@example.com`,
      firstName: i % 5 === 0 ? `Ann_${i}%` : `Bob${i}`,
      lastName: i % 3 === 0 ? null : 'Smith',
      companyName: i % 4 === 0 ? 'Acme' : null,
      timezone: i % 2 === 0 ? 'Europe/Berlin' : null,
      attributes: { plan: i % 2 === 0 ? 'pro' : 'free', seats: i },
    }));
    ok(await gql(`mutation($inputs: [LeadInput!]!) { importLeads(inputs: $inputs) { created } }`, { inputs }));
    // Scores with ties (so `id` breaks them), one deleted lead, and another company's leads: none may show.
    await queryRows(t, `update lead set score = (abs(hashtext(email)) % 7) * 10 where company_id = ?`, [tenant.companyId]);
    await queryRows(t, `update lead set deleted_at = now() where company_id = ? and email = 'lead-7@example.com'`, [tenant.companyId]);
    const other = await createTenant(t);
    ok(await t.as(other.apiKey)(`mutation { createLead(input: { email: "other@example.com" }) { id } }`));
  });
  afterAll(() => t?.dispose());

  async function expected(order: string, where = '', params: unknown[] = []): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(t, `select id from lead where company_id = ? and deleted_at is null ${where} order by ${order}`, [
      tenant.companyId,
      ...params,
    ]);
    return rows.map((r) => r.id);
  }

  /** Every page of a connection with `first`, following `endCursor`; each page's totalCount too. */
  async function walk(args: string, variables: Record<string, unknown> = {}, first = 7): Promise<{ ids: string[]; counts: number[] }> {
    const ids: string[] = [];
    const counts: number[] = [];
    let after: string | null = null;
    for (;;) {
      const data: { leads: { totalCount: number; edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = ok(
        await gql(
          `query($first: Int!, $after: String, $filter: LeadFilter) { leads(first: $first, after: $after, filter: $filter ${args}) {
           totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
          { first, after, ...variables },
        ),
      );
      ids.push(...data.leads.edges.map((e) => e.node.id));
      counts.push(data.leads.totalCount);
      if (!data.leads.pageInfo.hasNextPage) return { ids, counts };
      after = data.leads.pageInfo.endCursor;
    }
  }

  it.each(Object.entries(ORDERS))('pages in %s order exactly as SQL orders the rows, and count them all on every page', async (order, sql) => {
    const want = await expected(sql);
    expect(want).toHaveLength(44);
    const { ids, counts } = await walk(`, orderBy: ${order}`);
    expect(ids).toEqual(want);
    expect(new Set(counts)).toEqual(new Set([44]));
  });

  it('filters by score range and by search text (with LIKE wildcards taken literally) as SQL does', async () => {
    const byScore = await walk('', { filter: { minScore: 20, maxScore: 40 } }, 5);
    expect(byScore.ids).toEqual(await expected(ORDERS.CREATED_AT_DESC, 'and score between ? and ?', [20, 40]));
    expect(byScore.counts.every((c) => c === byScore.ids.length)).toBe(true);
    const bySearch = await walk('', { filter: { search: '_1' } }, 2);
    expect(bySearch.ids).toEqual(await expected(ORDERS.CREATED_AT_DESC, `and first_name like '%\\_1%'`));
    expect(bySearch.ids.length).toBeGreaterThan(0);
    const none = ok(await gql(`{ leads(filter: { search: "%" }) { totalCount edges { node { id } } } }`));
    expect(none.leads).toEqual({ totalCount: (await expected(ORDERS.CREATED_AT_DESC, `and first_name like '%\\%%'`)).length, edges: expect.any(Array) });
  });

  it('counts with or without the page, through a fragment, and past the last row', async () => {
    const last = ok(await gql(`{ leads(first: 44) { pageInfo { endCursor } } }`)).leads.pageInfo.endCursor as string;
    const past = ok(await gql(`query($after: String) { leads(after: $after) { totalCount edges { cursor } } }`, { after: last }));
    expect(past.leads).toEqual({ totalCount: 44, edges: [] });
    const fragment = ok(await gql(`{ leads(first: 1) { ...Counted } } fragment Counted on LeadConnection { totalCount }`));
    expect(fragment.leads.totalCount).toBe(44);
    const bare = ok(await gql(`{ leads(first: 3) { edges { node { id } } } }`));
    expect(bare.leads.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual((await expected(ORDERS.CREATED_AT_DESC)).slice(0, 3));
  });

  it('answers every field of a lead as lead(id) does', async () => {
    const page = ok(await gql(`{ leads(first: 44) { edges { node { ${FIELDS} } } } }`));
    expect(page.leads.edges).toHaveLength(44);
    for (const { node } of page.leads.edges as { node: { id: string } }[]) {
      const single = ok(await gql(`query($id: ID!) { lead(id: $id) { ${FIELDS} } }`, { id: node.id }));
      expect(node).toEqual(single.lead);
    }
  });

  it("serves a lead's timeline from a page as from lead(id)", async () => {
    const [row] = await queryRows<{ id: string }>(t, `select id from lead where company_id = ? and email = 'lead-3@example.com'`, [tenant.companyId]);
    const id = row!.id;
    ok(await gql(`mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 5, reason: "call") { lead { id } } }`, { id }));
    const timeline = 'activities(first: 10) { totalCount edges { node { type reason occurredAt } } }';
    const page = ok(await gql(`{ leads(first: 44) { edges { node { id ${timeline} } } } }`));
    const fromPage = (page.leads.edges as { node: { id: string; activities: unknown } }[]).find((e) => e.node.id === id)!.node.activities;
    const single = ok(await gql(`query($id: ID!) { lead(id: $id) { ${timeline} } }`, { id }));
    expect(fromPage).toEqual(single.lead.activities);
    expect((fromPage as { totalCount: number }).totalCount).toBeGreaterThan(1);
  });

  it.each([
    ['a fraction', [1.5, '00000000-0000-4000-8000-000000000000']],
    ['a number past the integers', [2 ** 40, '00000000-0000-4000-8000-000000000000']],
    ['a date where a score belongs', ['2026-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']],
  ])('a score cursor holding %s is BAD_USER_INPUT INVALID_CURSOR', async (_, values) => {
    const after = Buffer.from(JSON.stringify(values)).toString('base64url');
    const response = await gql(`query($after: String) { leads(orderBy: SCORE_DESC, after: $after) { totalCount } }`, { after });
    expect(errorOf(response).extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR' });
  });
});
