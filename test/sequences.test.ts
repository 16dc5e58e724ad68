import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient } from './helpers/graphql.js';

const DAY = 86_400_000;

const STATUS = `query($id: ID!) {
  leadSequenceStatus(leadId: $id) {
    lead { id score }
    enrollments { id status stopReason startedAt sequence { id name } emails { id emailNumber status scheduledSendDate } }
    nextEmail { emailNumber scheduledSendDate }
  }
}`;

interface Email {
  id: string;
  emailNumber: number;
  status: string;
  scheduledSendDate: string;
}
interface EnrollmentView {
  id: string;
  status: string;
  stopReason: string | null;
  sequence: { id: string; name: string };
  emails: Email[];
}

describe('leads, sequences and enrollments', () => {
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;

  beforeAll(async () => {
    t = await startTestApp();
  });
  beforeEach(async () => {
    t.clock.set(new Date('2026-06-01T10:00:00Z'));
    tenant = await createTenant(t);
    gql = t.as(tenant.apiKey);
  });
  afterAll(() => t?.dispose());

  async function createLead(input: Record<string, unknown>): Promise<string> {
    return ok(await gql(`mutation($input: LeadInput!) { createLead(input: $input) { id } }`, { input })).createLead.id;
  }
  async function status(leadId: string): Promise<{ enrollments: EnrollmentView[]; nextEmail: { emailNumber: number } | null; lead: { score: number } }> {
    return ok(await gql(STATUS, { id: leadId })).leadSequenceStatus;
  }
  async function createSequence(input: Record<string, unknown>): Promise<string> {
    return ok(await gql(`mutation($input: CreateSequenceInput!) { createSequence(input: $input) { id } }`, { input })).createSequence.id;
  }
  const step = (delayDays: number, subject = `Day ${delayDays}`) => ({
    delayDays,
    subject,
    body: `<p>Hello {{ lead.first_name | default: "there" }}, day ${delayDays}.</p>`,
  });
  async function timeline(leadId: string): Promise<string[]> {
    const rows = await t.app.orm.em
      .fork()
      .getConnection()
      .execute<{ type: string }[]>(`select type from activity where lead_id = ? order by occurred_at, id`, [leadId]);
    return rows.map((row) => row.type);
  }
  const daysAfter = (iso: string, start: Date) => (new Date(iso).getTime() - start.getTime()) / DAY;

  it('a new company has the default welcome sequence: active, LEAD_CREATED, 5 emails over 14 days', async () => {
    const { sequences } = ok(
      await gql(
        `{ sequences { totalCount edges { node { name active trigger isDefault totalEmails durationDays steps { delayDays delayHours subject } } } } }`,
      ),
    );
    expect(sequences.totalCount).toBe(1);
    const welcome = sequences.edges[0].node;
    expect(welcome).toMatchObject({ name: 'Welcome sequence', active: true, trigger: 'LEAD_CREATED', isDefault: true, totalEmails: 5, durationDays: 14 });
    expect(welcome.steps.map((s: { delayDays: number }) => s.delayDays)).toEqual([0, 3, 7, 10, 14]);
  });

  it('a lead with an email gets 5 PENDING emails on days 0, 3, 7, 10 and 14, in the same request', async () => {
    const start = t.clock.now();
    const leadId = await createLead({ email: 'Dana@Example.com', firstName: 'Dana' });
    const { enrollments, nextEmail } = await status(leadId);
    expect(enrollments).toHaveLength(1);
    expect(enrollments[0]).toMatchObject({ status: 'ACTIVE', sequence: { name: 'Welcome sequence' } });
    expect(enrollments[0]!.emails.map((e) => e.status)).toEqual(Array(5).fill('PENDING'));
    expect(enrollments[0]!.emails.map((e) => daysAfter(e.scheduledSendDate, start))).toEqual([0, 3, 7, 10, 14]);
    expect(nextEmail?.emailNumber).toBe(1);

    const { lead } = ok(await gql(`query($id: ID!) { lead(id: $id) { email activities { edges { node { type } } } } }`, { id: leadId }));
    expect(lead.email).toBe('dana@example.com');
    expect(lead.activities.edges.map((e: { node: { type: string } }) => e.node.type)).toEqual(['ENROLLED', 'LEAD_CREATED']);
  });

  it('a lead without an email gets no enrollment and no email', async () => {
    const leadId = await createLead({ firstName: 'Nomail' });
    const { enrollments, nextEmail } = await status(leadId);
    expect(enrollments).toEqual([]);
    expect(nextEmail).toBeNull();
    expect(errorOf(await gql(`mutation($l: ID!) { startSequence(leadId: $l) { id } }`, { l: leadId })).extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'LEAD_HAS_NO_EMAIL',
    });
  });

  it('starting a sequence twice returns the same enrollment and creates nothing', async () => {
    const sequenceId = await createSequence({ name: 'Manual', trigger: 'MANUAL', steps: [step(0), step(2)] });
    const leadId = await createLead({ email: 'twice@example.com' });
    const start = `mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id status } }`;
    const first = ok(await gql(start, { l: leadId, s: sequenceId })).startSequence;
    const second = ok(await gql(start, { l: leadId, s: sequenceId })).startSequence;
    expect(second).toEqual(first);
    // Without a sequence id it is the default sequence, which the lead is already in.
    const welcome = (await status(leadId)).enrollments.find((e) => e.sequence.name === 'Welcome sequence')!;
    expect(ok(await gql(start, { l: leadId, s: null })).startSequence.id).toBe(welcome.id);

    const { enrollments } = await status(leadId);
    expect(enrollments).toHaveLength(2);
    expect(enrollments.flatMap((e) => e.emails)).toHaveLength(7);
  });

  it('stop cancels the pending emails; stopping again changes nothing', async () => {
    const leadId = await createLead({ email: 'stop@example.com' });
    const stop = `mutation($l: ID!) { stopSequence(leadId: $l) { status stopReason } }`;
    expect(ok(await gql(stop, { l: leadId })).stopSequence).toEqual({ status: 'STOPPED', stopReason: 'MANUAL' });
    const [enrollment] = (await status(leadId)).enrollments;
    expect(enrollment!.emails.map((e) => e.status)).toEqual(Array(5).fill('CANCELED'));
    expect(ok(await gql(stop, { l: leadId })).stopSequence.status).toBe('STOPPED');
    expect((await status(leadId)).nextEmail).toBeNull();
  });

  it('pause holds the emails; resume reschedules the remaining ones from now with the same spacing', async () => {
    const leadId = await createLead({ email: 'pause@example.com' });
    expect(ok(await gql(`mutation($l: ID!) { pauseSequence(leadId: $l) { status } }`, { l: leadId })).pauseSequence.status).toBe('PAUSED');
    expect((await status(leadId)).nextEmail).toBeNull();

    t.clock.advance(5 * DAY);
    const resumedAt = t.clock.now();
    expect(ok(await gql(`mutation($l: ID!) { resumeSequence(leadId: $l) { status } }`, { l: leadId })).resumeSequence.status).toBe('ACTIVE');
    const [enrollment] = (await status(leadId)).enrollments;
    expect(enrollment!.emails.map((e) => daysAfter(e.scheduledSendDate, resumedAt))).toEqual([0, 3, 7, 10, 14]);
    expect(enrollment!.emails.every((e) => e.status === 'PENDING')).toBe(true);
  });

  it('a paused enrollment’s emails, even those its sequence gains meanwhile, leave pendingEmails until resumed', async () => {
    const sequenceId = await createSequence({ name: 'Held', trigger: 'LEAD_CREATED', steps: [step(0), step(2), step(4)] });
    const leadId = await createLead({ email: 'held@example.com' });
    const farFuture = new Date(t.clock.now().getTime() + 365 * DAY).toISOString();
    const pendingCount = async () =>
      ok(await gql(`query($d: DateTime!) { pendingEmails(dueBefore: $d, first: 100) { totalCount edges { node { id } } } }`, { d: farFuture })).pendingEmails
        .totalCount;
    const setSteps = (steps: unknown[]) =>
      gql(`mutation($id: ID!, $input: UpdateSequenceInput!) { updateSequence(id: $id, input: $input) { id } }`, { id: sequenceId, input: { steps } });
    expect(await pendingCount()).toBe(5 + 3); // the welcome sequence's and this one's

    ok(await setSteps([step(0), step(2)])); // email 3 canceled while active
    ok(await gql(`mutation($l: ID!, $s: ID) { pauseSequence(leadId: $l, sequenceId: $s) { id } }`, { l: leadId, s: sequenceId }));
    expect(await pendingCount()).toBe(5);
    ok(await setSteps([step(0), step(2), step(4), step(6)])); // email 3 comes back and email 4 is added, both held
    expect(await pendingCount()).toBe(5);
    expect((await status(leadId)).enrollments.find((e) => e.sequence.id === sequenceId)!.emails.map((e) => e.status)).toEqual(Array(4).fill('PENDING'));

    ok(await gql(`mutation($l: ID!, $s: ID) { resumeSequence(leadId: $l, sequenceId: $s) { id } }`, { l: leadId, s: sequenceId }));
    expect(await pendingCount()).toBe(5 + 4);
  });

  it('a send window moves emails into local business hours, correctly across the DST change', async () => {
    const berlin = await createTenant(t, { timezone: 'Europe/Berlin' });
    const client = t.as(berlin.apiKey);
    // Friday 27 March 2026, 18:00 in Berlin (CET, UTC+1); summer time starts on Sunday 29 March.
    t.clock.set(new Date('2026-03-27T17:00:00Z'));
    const sequenceId = ok(
      await client(`mutation($input: CreateSequenceInput!) { createSequence(input: $input) { id } }`, {
        input: {
          name: 'Business hours',
          trigger: 'MANUAL',
          steps: [step(0), step(1), step(3)],
          sendWindow: { weekdays: [1, 2, 3, 4, 5], startTime: '09:00', endTime: '17:00' },
        },
      }),
    ).createSequence.id;
    const leadId = ok(await client(`mutation { createLead(input: { email: "berlin@example.com", timezone: "Europe/Berlin" }) { id } }`)).createLead.id;
    ok(await client(`mutation($l: ID!, $s: ID!) { startSequence(leadId: $l, sequenceId: $s) { id } }`, { l: leadId, s: sequenceId }));

    const { leadSequenceStatus } = ok(await client(STATUS, { id: leadId }));
    const emails = (leadSequenceStatus.enrollments as EnrollmentView[]).find((e) => e.sequence.id === sequenceId)!.emails;
    // Day 0 (Fri 18:00) and day 1 (Sat) wait for Monday 09:00, now CEST (UTC+2); day 3 (Mon 18:00) goes Tuesday 09:00.
    expect(emails.map((e) => e.scheduledSendDate)).toEqual(['2026-03-30T07:00:00.000Z', '2026-03-30T07:00:00.000Z', '2026-03-31T07:00:00.000Z']);
  });

  it('crossing a score threshold upward starts the threshold sequence, once', async () => {
    const sequenceId = await createSequence({ name: 'Hot leads', trigger: 'SCORE_THRESHOLD', scoreThreshold: 50, steps: [step(0), step(1)] });
    const leadId = await createLead({ email: 'hot@example.com' });
    const adjust = (delta: number) =>
      gql(`mutation($l: ID!, $d: Int!) { adjustLeadScore(leadId: $l, delta: $d, reason: "sales call") { previousScore score delta } }`, {
        l: leadId,
        d: delta,
      });
    const inHotLeads = async () => (await status(leadId)).enrollments.filter((e) => e.sequence.id === sequenceId);

    expect(ok(await adjust(30)).adjustLeadScore).toEqual({ previousScore: 0, score: 30, delta: 30 });
    expect(await inHotLeads()).toHaveLength(0);

    expect(ok(await adjust(30)).adjustLeadScore).toEqual({ previousScore: 30, score: 60, delta: 30 });
    const [enrollment] = await inHotLeads();
    expect(enrollment).toMatchObject({ status: 'ACTIVE' });
    expect(enrollment!.emails).toHaveLength(2);

    await adjust(-20);
    await adjust(20); // crosses 50 upward again
    expect(await inHotLeads()).toHaveLength(1);
    expect((await inHotLeads())[0]!.emails).toHaveLength(2);
    expect(ok(await adjust(90)).adjustLeadScore).toEqual({ previousScore: 60, score: 100, delta: 40 });

    const { lead } = ok(
      await gql(`query($id: ID!) { lead(id: $id) { score activities(first: 50) { edges { node { type scoreDelta scoreAfter reason } } } } }`, { id: leadId }),
    );
    const changes = lead.activities.edges.map((e: { node: { type: string } }) => e.node).filter((a: { type: string }) => a.type === 'SCORE_CHANGED');
    expect(changes.map((c: { scoreDelta: number }) => c.scoreDelta)).toEqual([40, 20, -20, 30, 30]);
    expect(changes.reduce((sum: number, c: { scoreDelta: number }) => sum + c.scoreDelta, 0)).toBe(lead.score);
  });

  it('a suppressed address is not enrolled on creation and cannot be started', async () => {
    await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`insert into suppression (id, company_id, email, reason, created_at) values (gen_random_uuid(), ?, 'gone@example.com', 'UNSUBSCRIBED', now())`, [
        tenant.companyId,
      ]);
    const leadId = await createLead({ email: 'gone@example.com' });
    expect((await status(leadId)).enrollments).toEqual([]);
    expect(await timeline(leadId)).toEqual(['LEAD_CREATED', 'ENROLLMENT_SKIPPED']);
    const error = errorOf(await gql(`mutation($l: ID!) { startSequence(leadId: $l) { id } }`, { l: leadId }));
    expect(error.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LEAD_SUPPRESSED' });
  });

  it('deleting a lead cancels its pending emails and frees its address', async () => {
    const leadId = await createLead({ email: 'delete@example.com' });
    expect(ok(await gql(`mutation($id: ID!) { deleteLead(id: $id) { id canceledEmails } }`, { id: leadId })).deleteLead).toEqual({
      id: leadId,
      canceledEmails: 5,
    });
    expect(errorOf(await gql(`query($id: ID!) { lead(id: $id) { id } }`, { id: leadId })).extensions?.code).toBe('NOT_FOUND');
    const rows = await t.app.orm.em.fork().getConnection().execute<{ status: string }[]>(`select status from sequence_email where lead_id = ?`, [leadId]);
    expect(rows.map((r: { status: string }) => r.status)).toEqual(Array(5).fill('CANCELED'));
    await createLead({ email: 'delete@example.com' });
  });

  it('editing a sequence applies to the emails not yet sent', async () => {
    const sequenceId = await createSequence({ name: 'Editable', trigger: 'LEAD_CREATED', steps: [step(0), step(2), step(4)] });
    const start = t.clock.now();
    const leadId = await createLead({ email: 'edit@example.com' });
    const emailsOf = async () => (await status(leadId)).enrollments.find((e) => e.sequence.id === sequenceId)!.emails;
    expect((await emailsOf()).map((e) => daysAfter(e.scheduledSendDate, start))).toEqual([0, 2, 4]);

    t.clock.advance(DAY);
    ok(
      await gql(`mutation($id: ID!, $input: UpdateSequenceInput!) { updateSequence(id: $id, input: $input) { id } }`, {
        id: sequenceId,
        input: { steps: [step(0), step(3)] },
      }),
    );
    const emails = await emailsOf();
    expect(emails.map((e) => [e.status, daysAfter(e.scheduledSendDate, start)])).toEqual([
      ['PENDING', 0],
      ['PENDING', 3],
      ['CANCELED', 4],
    ]);

    ok(
      await gql(`mutation($id: ID!, $input: UpdateSequenceInput!) { updateSequence(id: $id, input: $input) { totalEmails } }`, {
        id: sequenceId,
        input: { steps: [step(0), step(3), step(5), step(6)] },
      }),
    );
    const grown = await emailsOf();
    expect(grown.map((e) => [e.emailNumber, e.status])).toEqual([
      [1, 'PENDING'],
      [2, 'PENDING'],
      [3, 'PENDING'],
      [4, 'PENDING'],
    ]);
    expect(daysAfter(grown[3]!.scheduledSendDate, start)).toBe(6);
  });

  it('previewEmail renders the step for the lead', async () => {
    const leadId = await createLead({ email: 'preview@example.com', firstName: 'Priya', companyName: 'Initech' });
    const sequenceId = ok(await gql(`{ sequences { edges { node { id } } } }`)).sequences.edges[0].node.id;
    const { previewEmail } = ok(
      await gql(`query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject html text } }`, { s: sequenceId, l: leadId }),
    );
    expect(previewEmail.subject).toContain('Priya');
    expect(previewEmail.html).toContain('<html');
    expect(previewEmail.text).toContain('Priya');
    expect(previewEmail.text).toMatch(/unsubscribe/i);
    expect(
      errorOf(await gql(`query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 6, leadId: $l) { subject } }`, { s: sequenceId, l: leadId })).extensions,
    ).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('when enrolling fails, the leads are still created, with the failure on their timelines', async () => {
    // A real database failure in the middle of enrollment: PostgreSQL refuses this company's email rows.
    const sql = t.app.orm.em.fork().getConnection();
    await sql.execute(`create function refuse_email() returns trigger language plpgsql as $$ begin raise exception 'disk full (test)'; end $$`);
    await sql.execute(
      `create trigger refuse_email before insert on sequence_email for each row when (new.company_id = '${tenant.companyId}') execute function refuse_email()`,
    );
    try {
      const leadId = await createLead({ email: 'unlucky@example.com' });
      const inputs = [{ email: 'unlucky1@example.com' }, { email: 'unlucky2@example.com' }];
      const { importLeads } = ok(await gql(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created rows { leadId } } }`, { i: inputs }));
      expect(importLeads.created).toBe(2);
      for (const id of [leadId, ...importLeads.rows.map((row: { leadId: string }) => row.leadId)]) {
        expect((await status(id)).enrollments).toEqual([]);
        expect(await timeline(id)).toEqual(['LEAD_CREATED', 'ENROLLMENT_FAILED']);
      }
      const [rows] = await sql.execute(
        `select (select count(*) from enrollment where company_id = ?)::int as enrollments, (select count(*) from sequence_email where company_id = ?)::int as emails`,
        [tenant.companyId, tenant.companyId],
      );
      expect(rows).toEqual({ enrollments: 0, emails: 0 });
    } finally {
      await sql.execute('drop trigger refuse_email on sequence_email');
      await sql.execute('drop function refuse_email');
    }
  });

  it('importLeads creates and enrolls every valid row in a few statements', async () => {
    const inputs = Array.from({ length: 250 }, (_, i) => ({ email: `import${i}@example.com`, firstName: `Lead ${i}` }));
    const { importLeads } = ok(await gql(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created duplicates invalid } }`, { i: inputs }));
    expect(importLeads).toEqual({ created: 250, duplicates: 0, invalid: 0 });
    const [row] = await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`select count(*)::int as n from sequence_email where company_id = ? and status = 'PENDING'`, [tenant.companyId]);
    expect(row!.n).toBe(250 * 5);
  });

  it('leads are filtered by score, ordered, and paginated with cursors', async () => {
    for (const [i, score] of [10, 80, 50, 95, 30].entries()) {
      const id = await createLead({ email: `page${i}@example.com`, lastName: i % 2 ? 'Smith' : 'Jones' });
      await gql(`mutation($l: ID!, $d: Int!) { adjustLeadScore(leadId: $l, delta: $d, reason: "seed") { score } }`, { l: id, d: score });
    }
    const page = (after: string | null) =>
      gql(
        `query($after: String) { leads(first: 2, after: $after, filter: { minScore: 30 }, orderBy: SCORE_DESC) { totalCount pageInfo { hasNextPage endCursor } edges { node { score } } } }`,
        { after },
      );
    const first = ok(await page(null)).leads;
    expect(first.totalCount).toBe(4);
    expect(first.edges.map((e: { node: { score: number } }) => e.node.score)).toEqual([95, 80]);
    const second = ok(await page(first.pageInfo.endCursor)).leads;
    expect(second.edges.map((e: { node: { score: number } }) => e.node.score)).toEqual([50, 30]);
    expect(second.pageInfo.hasNextPage).toBe(false);

    const { leads } = ok(await gql(`{ leads(filter: { search: "smi" }) { totalCount } }`));
    expect(leads.totalCount).toBe(2);
  });

  it('pendingEmails lists due emails oldest first, page by page', async () => {
    await createLead({ email: 'due1@example.com' });
    t.clock.advance(60_000);
    await createLead({ email: 'due2@example.com' });
    const dueBefore = new Date(t.clock.now().getTime() + 4 * DAY).toISOString();
    const query = `query($d: DateTime!, $after: String) { pendingEmails(dueBefore: $d, first: 3, after: $after) { totalCount pageInfo { endCursor hasNextPage } edges { node { emailNumber scheduledSendDate } } } }`;
    const first = ok(await gql(query, { d: dueBefore })).pendingEmails;
    expect(first.totalCount).toBe(4); // emails 1 and 2 of both leads
    const second = ok(await gql(query, { d: dueBefore, after: first.pageInfo.endCursor })).pendingEmails;
    const dates = [...first.edges, ...second.edges].map((e: { node: { scheduledSendDate: string } }) => e.node.scheduledSendDate);
    expect(dates).toHaveLength(4);
    expect([...dates].sort()).toEqual(dates);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });
});
