import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient, type GraphQLErrorBody, type GraphQLResponse, type Untyped } from './helpers/graphql.js';

/** Bad input is BAD_USER_INPUT naming the offending field, and nothing is written. */

const STEP = { delayDays: 0, subject: 'Hi {{ lead.first_name | default: "there" }}', body: '<p>Hello</p>' };
const WINDOW = { weekdays: [1, 2, 3, 4, 5], startTime: '09:00', endTime: '17:00' };

const CREATE_LEAD = `mutation($input: LeadInput!) { createLead(input: $input) { id email } }`;
const CREATE_SEQUENCE = `mutation($input: CreateSequenceInput!) { createSequence(input: $input) { id } }`;
const UPDATE_SEQUENCE = `mutation($id: ID!, $input: UpdateSequenceInput!) { updateSequence(id: $id, input: $input) { id } }`;
const IMPORT_LEADS = `mutation($inputs: [LeadInput!]!) {
  importLeads(inputs: $inputs) { created duplicates invalid rows { index status email leadId errors { field message } } }
}`;
const SEQUENCE = `query($id: ID!) {
  sequence(id: $id) {
    id name description active isDefault trigger scoreThreshold totalEmails durationDays updatedAt
    sendWindow { weekdays startTime endTime timeZone }
    steps { delayDays delayHours subject body }
    emailCounts { PENDING SENDING SENT OPENED CLICKED BOUNCED FAILED CANCELED }
  }
}`;

type FieldProblem = { field: string; message: string; variable?: string };

function steps(count: number) {
  return Array.from({ length: count }, (_, i) => ({ ...STEP, delayDays: i }));
}

/** Steps whose problem is at `field`, valid in every other respect. */
const BAD_STEPS: [string, string, unknown[]][] = [
  ['no steps', 'input.steps', []],
  ['51 steps', 'input.steps', steps(51)],
  ['a negative delayDays', 'input.steps.0.delayDays', [{ ...STEP, delayDays: -1 }]],
  ['an unknown variable in step 2’s subject', 'input.steps.1.subject', [STEP, { ...STEP, delayDays: 1, subject: 'Hey {{ lead.favorite_color }}' }]],
  ['a Liquid syntax error in a body', 'input.steps.0.body', [{ ...STEP, body: '<p>{% if %}yes{% endif %}</p>' }]],
  ['an include in a body', 'input.steps.0.body', [{ ...STEP, body: `<p>{% include 'x' %}</p>` }]],
  ['a 1 MB body', 'input.steps.0.body', [{ ...STEP, body: 'x'.repeat(1_000_000) }]],
];

const BAD_WINDOWS: [string, Record<string, unknown>][] = [
  ['no weekdays', { ...WINDOW, weekdays: [] }],
  ['startTime 25:00', { ...WINDOW, startTime: '25:00', endTime: '26:00' }],
  ['end before start', { ...WINDOW, startTime: '17:00', endTime: '09:00' }],
];

/** The error is BAD_USER_INPUT and names `field`, and no other field. */
function expectBadInput(response: GraphQLResponse, field: string): GraphQLErrorBody {
  expect(response.data ?? null).toBeNull();
  const error = errorOf(response);
  expect(error.extensions?.code).toBe('BAD_USER_INPUT');
  const fields = (error.extensions?.fields ?? []).map((f) => f.field);
  expect(fields.length, `fields of ${JSON.stringify(error)}`).toBeGreaterThan(0);
  expect(
    fields.filter((name) => name !== field),
    `fields of ${JSON.stringify(error)}`,
  ).toEqual([]);
  return error;
}

describe('bad input is BAD_USER_INPUT naming the field, and writes nothing', () => {
  let t: TestApp;
  let tenant: Tenant;
  let client: GraphQLClient;

  async function count(table: string, companyId = tenant.companyId): Promise<number> {
    const rows = await t.app.orm.em.fork().getConnection().execute(`select count(*)::int as n from ${table} where company_id = ?`, [companyId]);
    return rows[0]!.n as number;
  }

  /** Row counts of every tenant table. */
  async function counts(companyId = tenant.companyId): Promise<Record<string, number>> {
    const tables = ['lead', 'activity', 'suppression', 'email_sequence', 'enrollment', 'sequence_email'];
    return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await count(table, companyId)] as const)));
  }

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t);
    client = t.as(tenant.apiKey);
  });
  afterAll(() => t?.dispose());

  describe('createLead', () => {
    it.each(['not-an-email', 'a@b', 'spaces in@example.com'])('an invalid email %j is input.email', async (email) => {
      const before = await counts();
      expectBadInput(await client(CREATE_LEAD, { input: { email, firstName: 'Dana' } }), 'input.email');
      expect(await counts()).toEqual(before);
    });

    it.each(['Mars/Olympus_Mons', 'not a zone', 'UTC+25'])('a bad time zone %j is input.timezone', async (timezone) => {
      const before = await counts();
      expectBadInput(await client(CREATE_LEAD, { input: { email: 'tz@example.com', timezone } }), 'input.timezone');
      expect(await counts()).toEqual(before);
    });

    it('a duplicate email, in any case, is CONFLICT LEAD_EMAIL_TAKEN', async () => {
      const created = ok(await client(CREATE_LEAD, { input: { email: 'Dana@Example.com', firstName: 'Dana' } })).createLead;
      expect(created.email).toBe('dana@example.com');
      const before = await counts();

      for (const email of ['dana@example.com', 'Dana@Example.com', 'DANA@EXAMPLE.COM']) {
        const response = await client(CREATE_LEAD, { input: { email, firstName: 'Other' } });
        expect(response.data ?? null).toBeNull();
        expect(errorOf(response).extensions).toMatchObject({ code: 'CONFLICT', reason: 'LEAD_EMAIL_TAKEN' });
      }
      expect(await counts()).toEqual(before);
      const rows = await t.app.orm.em
        .fork()
        .getConnection()
        .execute('select count(*)::int as n from lead where company_id = ? and lower(email) = ?', [tenant.companyId, 'dana@example.com']);
      expect(rows[0]!.n).toBe(1);
    });
  });

  describe('createSequence', () => {
    it.each(BAD_STEPS)('%s is BAD_USER_INPUT at %s', async (_, field, badSteps) => {
      const before = await counts();
      const response = await client(CREATE_SEQUENCE, { input: { name: 'Bad', trigger: 'MANUAL', steps: badSteps } });
      expect(response.status).not.toBe(413);
      expectBadInput(response, field);
      expect(await counts()).toEqual(before);
    });

    it('the unknown variable is named in the error', async () => {
      const response = await client(CREATE_SEQUENCE, {
        input: { name: 'Bad', trigger: 'MANUAL', steps: [STEP, { ...STEP, delayDays: 1, subject: 'Hey {{ lead.favorite_color }}' }] },
      });
      const error = expectBadInput(response, 'input.steps.1.subject');
      const problems = (error.extensions?.fields ?? []) as FieldProblem[];
      const named = problems.some((p) => p.variable === 'lead.favorite_color' || p.message.includes('lead.favorite_color'));
      expect(named || error.message.includes('lead.favorite_color'), JSON.stringify(error)).toBe(true);
    });

    it.each([101, 0, -5])('trigger SCORE_THRESHOLD with scoreThreshold %i is input.scoreThreshold', async (scoreThreshold) => {
      const before = await counts();
      const response = await client(CREATE_SEQUENCE, { input: { name: 'Hot leads', trigger: 'SCORE_THRESHOLD', scoreThreshold, steps: [STEP] } });
      expectBadInput(response, 'input.scoreThreshold');
      expect(await counts()).toEqual(before);
    });

    it.each(BAD_WINDOWS)('a send window with %s is input.sendWindow', async (_, sendWindow) => {
      const before = await counts();
      const response = await client(CREATE_SEQUENCE, { input: { name: 'Windowed', trigger: 'MANUAL', sendWindow, steps: [STEP] } });
      expectBadInput(response, 'input.sendWindow');
      expect(await counts()).toEqual(before);
    });

    it('the same input with the problems fixed is accepted (the cases above fail for their one reason)', async () => {
      const before = await counts();
      const { createSequence } = ok(
        await client(CREATE_SEQUENCE, {
          input: { name: 'Good', trigger: 'SCORE_THRESHOLD', scoreThreshold: 100, sendWindow: WINDOW, steps: steps(50) },
        }),
      );
      expect(createSequence.id).toBeTruthy();
      expect(await count('email_sequence')).toBe(before.email_sequence! + 1);
    });
  });

  describe('updateSequence', () => {
    let sequenceId: string;
    let leadId: string;
    let stored: Record<string, Untyped>;
    let emailsBefore: unknown;

    const EMAILS = `query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { id status sequence { id } emails { id status scheduledSendDate } } } }`;

    beforeAll(async () => {
      sequenceId = ok(
        await client(CREATE_SEQUENCE, {
          input: { name: 'Editable', description: 'to be edited badly', trigger: 'MANUAL', sendWindow: WINDOW, steps: [STEP, { ...STEP, delayDays: 3 }] },
        }),
      ).createSequence.id;
      leadId = ok(await client(CREATE_LEAD, { input: { email: 'enrolled@example.com', firstName: 'Eve' } })).createLead.id;
      ok(await client(`mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id } }`, { l: leadId, s: sequenceId }));
      stored = ok(await client(SEQUENCE, { id: sequenceId })).sequence;
      expect(stored.totalEmails).toBe(2);
      expect(stored.emailCounts.PENDING).toBe(2);
      emailsBefore = ok(await client(EMAILS, { id: leadId }));
    });

    async function expectUnchanged() {
      expect(ok(await client(SEQUENCE, { id: sequenceId })).sequence).toEqual(stored);
      expect(ok(await client(EMAILS, { id: leadId }))).toEqual(emailsBefore);
    }

    it.each(BAD_STEPS)('%s is BAD_USER_INPUT at %s and the sequence is unchanged', async (_, field, badSteps) => {
      const before = await counts();
      const response = await client(UPDATE_SEQUENCE, { id: sequenceId, input: { name: 'Renamed', steps: badSteps } });
      expect(response.status).not.toBe(413);
      expectBadInput(response, field);
      await expectUnchanged();
      expect(await counts()).toEqual(before);
    });

    it.each([101, 0])('trigger SCORE_THRESHOLD with scoreThreshold %i is input.scoreThreshold and changes nothing', async (scoreThreshold) => {
      const before = await counts();
      const response = await client(UPDATE_SEQUENCE, { id: sequenceId, input: { name: 'Renamed', trigger: 'SCORE_THRESHOLD', scoreThreshold } });
      expectBadInput(response, 'input.scoreThreshold');
      await expectUnchanged();
      expect(await counts()).toEqual(before);
    });

    it.each(BAD_WINDOWS)('a send window with %s is input.sendWindow and changes nothing', async (_, sendWindow) => {
      const before = await counts();
      const response = await client(UPDATE_SEQUENCE, { id: sequenceId, input: { name: 'Renamed', sendWindow } });
      expectBadInput(response, 'input.sendWindow');
      await expectUnchanged();
      expect(await counts()).toEqual(before);
    });
  });

  describe('importLeads', () => {
    it('10,001 rows is BAD_USER_INPUT at inputs, and no lead is created', async () => {
      const fresh = await createTenant(t);
      const inputs = Array.from({ length: 10_001 }, (_, i) => ({ email: `bulk${i}@example.com` }));
      const response = await t.as(fresh.apiKey)(IMPORT_LEADS, { inputs });
      expectBadInput(response, 'inputs');
      expect(await counts(fresh.companyId)).toMatchObject({ lead: 0, enrollment: 0, sequence_email: 0, activity: 0 });
    });

    it('3 valid, 1 invalid and 1 duplicate row: 3 created, each row accounted for', async () => {
      const fresh = await createTenant(t);
      const inputs = [
        { email: 'one@example.com', firstName: 'One' },
        { email: 'two@example.com' },
        { email: 'not-an-email', firstName: 'Bad' },
        { email: 'ONE@example.com', firstName: 'Again' },
        { email: 'three@example.com' },
      ];
      const { importLeads } = ok(await t.as(fresh.apiKey)(IMPORT_LEADS, { inputs }));
      expect(importLeads).toMatchObject({ created: 3, invalid: 1, duplicates: 1 });
      expect(importLeads.rows.map((r: { index: number; status: string }) => [r.index, r.status])).toEqual([
        [0, 'CREATED'],
        [1, 'CREATED'],
        [2, 'INVALID'],
        [3, 'DUPLICATE'],
        [4, 'CREATED'],
      ]);
      const invalid = importLeads.rows[2];
      expect(invalid.leadId).toBeNull();
      expect(invalid.errors.map((e: FieldProblem) => e.field)).toEqual(['inputs.2.email']);
      expect(importLeads.rows[3]).toMatchObject({ leadId: null, errors: [], email: 'one@example.com' });
      for (const i of [0, 1, 4]) expect(importLeads.rows[i]).toMatchObject({ leadId: expect.any(String), errors: [] });

      expect(await count('lead', fresh.companyId)).toBe(3);
      const { leads } = ok(await t.as(fresh.apiKey)(`{ leads(first: 100) { totalCount edges { node { id email } } } }`));
      expect(leads.totalCount).toBe(3);
      expect(leads.edges.map((e: { node: { email: string } }) => e.node.email).sort()).toEqual(['one@example.com', 'three@example.com', 'two@example.com']);
      // Created rows are enrolled like createLead (the default sequence), the others are not.
      expect(await count('enrollment', fresh.companyId)).toBe(3);
    });
  });

  describe('adjustLeadScore', () => {
    let leadId: string;

    beforeAll(async () => {
      leadId = ok(await client(CREATE_LEAD, { input: { email: 'scored@example.com' } })).createLead.id;
    });

    const ADJUST = `mutation($id: ID!, $delta: Int!, $reason: String!) { adjustLeadScore(leadId: $id, delta: $delta, reason: $reason) { score } }`;

    it.each<[string, number, string, string]>([
      ['delta 101', 101, 'sales call', 'delta'],
      ['delta -101', -101, 'sales call', 'delta'],
      ['an empty reason', 5, '', 'reason'],
      ['a blank reason', 5, '   ', 'reason'],
      ['a 501-character reason', 5, 'r'.repeat(501), 'reason'],
    ])('%s is BAD_USER_INPUT and changes nothing', async (_, delta, reason, field) => {
      const before = await counts();
      const response = await client(ADJUST, { id: leadId, delta, reason });
      expectBadInput(response, field);
      expect(await counts()).toEqual(before);
      expect(ok(await client(`query($id: ID!) { lead(id: $id) { score } }`, { id: leadId })).lead.score).toBe(0);
    });
  });

  describe('pagination', () => {
    it.each([0, 101, -1])('leads(first: %i) is BAD_USER_INPUT', async (first) => {
      expectBadInput(await client(`query($first: Int!) { leads(first: $first) { totalCount } }`, { first }), 'first');
    });

    it('leads(after: "garbage") is BAD_USER_INPUT INVALID_CURSOR', async () => {
      const response = await client(`{ leads(after: "garbage") { totalCount } }`);
      expect(response.data ?? null).toBeNull();
      expect(errorOf(response).extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR' });
    });

    // A cursor of the right shape whose date PostgreSQL cannot hold (year 0, February 30) was an INTERNAL_SERVER_ERROR
    // (found by the fuzz sweep); a date in another form than the one cursors are issued in is refused the same way.
    it.each(['0000-01-01T00:00:00.000Z', '2026-02-30T00:00:00.000Z', '2026-01-01T00:00:00+14:00', '+010000-01-01T00:00:00.000Z'])(
      'a cursor dated %s is BAD_USER_INPUT INVALID_CURSOR',
      async (date) => {
        const after = Buffer.from(JSON.stringify([date, '00000000-0000-1000-8000-000000000000'])).toString('base64url');
        const response = await client(`query($after: String) { leads(first: 1, after: $after) { totalCount } }`, { after });
        expect(errorOf(response).extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_CURSOR' });
      },
    );

    it('a cursor dated on the first day PostgreSQL holds pages normally', async () => {
      const after = Buffer.from(JSON.stringify(['0001-01-01T00:00:00.000Z', '00000000-0000-1000-8000-000000000000'])).toString('base64url');
      ok(await client(`query($after: String) { leads(first: 1, after: $after) { totalCount } }`, { after }));
    });

    it('the bounds themselves are accepted', async () => {
      ok(await client(`{ a: leads(first: 1) { totalCount } b: leads(first: 100) { totalCount } }`));
    });
  });
});
