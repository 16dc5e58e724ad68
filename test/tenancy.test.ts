import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient, type GraphQLResponse, type Untyped } from './helpers/graphql.js';

/**
 * Tenant isolation: an API key of company A can neither read nor change anything of company B, whatever id it
 * passes, and B's lists never leak into A's. A foreign id is indistinguishable from one that does not exist.
 */

const STEP = { delayDays: 0, subject: 'Hi {{ lead.first_name | default: "there" }}', body: '<p>Hello</p>' };
const FAR_FUTURE = '2100-01-01T00:00:00.000Z';

const CREATE_LEAD = `mutation($input: LeadInput!) { createLead(input: $input) { id } }`;
const CREATE_SEQUENCE = `mutation($input: CreateSequenceInput!) { createSequence(input: $input) { id } }`;

/** Everything of B that A might read or change, read back with B's own key. */
const SNAPSHOT = `query($leadId: ID!, $defaultId: ID!, $manualId: ID!) {
  lead(id: $leadId) {
    id email firstName lastName companyName timezone score attributes unsubscribedAt updatedAt
    activities(first: 100) { totalCount edges { node { id type } } }
  }
  leadSequenceStatus(leadId: $leadId) {
    enrollments { id status startedAt pausedAt endedAt stopReason sequence { id } emails { id status scheduledSendDate } }
    nextEmail { id }
  }
  defaultSeq: sequence(id: $defaultId) { ...seq }
  manualSeq: sequence(id: $manualId) { ...seq }
  leads(first: 100) { totalCount edges { node { id } } }
  sequences(first: 100) { totalCount edges { node { id } } }
  pendingEmails(first: 100, dueBefore: "${FAR_FUTURE}") { totalCount edges { node { id } } }
}
fragment seq on EmailSequence {
  id name description active isDefault trigger scoreThreshold updatedAt totalEmails
  steps { delayDays delayHours subject body }
  emailCounts { PENDING SENDING SENT OPENED CLICKED BOUNCED FAILED CANCELED }
}`;

interface Ids {
  leadId: string;
  defaultSequenceId: string;
  manualSequenceId: string;
  enrollmentId: string;
  emailIds: string[];
}

describe('tenant isolation', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let asA: GraphQLClient;
  let asB: GraphQLClient;
  /** A's own lead (enrolled in A's default sequence) and sequences. */
  let mine: Ids;
  /** B's lead, sequences, enrollment and emails. */
  let theirs: Ids;
  let snapshotOfB: Record<string, Untyped>;
  /** Strings that only B's data contains: if a response to A holds one of them, B's data leaked. */
  let secretsOfB: string[];

  async function setUpTenant(client: GraphQLClient, label: string): Promise<Ids> {
    const { createLead } = ok(
      await client<{ createLead: { id: string } }>(CREATE_LEAD, {
        input: { email: `${label}.lead@${label}.example.com`, firstName: `${label}First`, lastName: `${label}Last`, companyName: `${label} Corp` },
      }),
    );
    const { createSequence } = ok(
      await client<{ createSequence: { id: string } }>(CREATE_SEQUENCE, {
        input: { name: `${label} manual sequence`, trigger: 'MANUAL', steps: [STEP, { ...STEP, delayDays: 2 }] },
      }),
    );
    const { leadSequenceStatus } = ok(
      await client(`query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { id sequence { id isDefault } emails { id } } } }`, { id: createLead.id }),
    );
    expect(leadSequenceStatus.enrollments).toHaveLength(1);
    const enrollment = leadSequenceStatus.enrollments[0];
    expect(enrollment.sequence.isDefault).toBe(true);
    expect(enrollment.emails).toHaveLength(5);
    return {
      leadId: createLead.id,
      defaultSequenceId: enrollment.sequence.id,
      manualSequenceId: createSequence.id,
      enrollmentId: enrollment.id,
      emailIds: enrollment.emails.map((e: { id: string }) => e.id),
    };
  }

  async function snapshot(client: GraphQLClient, ids: Ids) {
    return ok(await client(SNAPSHOT, { leadId: ids.leadId, defaultId: ids.defaultSequenceId, manualId: ids.manualSequenceId }));
  }

  async function expectBUnchanged() {
    expect(await snapshot(asB, theirs)).toEqual(snapshotOfB);
  }

  /** NOT_FOUND, no data, and nothing of B in the whole response. */
  function expectNotFound(response: GraphQLResponse) {
    const error = errorOf(response);
    expect(error.extensions?.code).toBe('NOT_FOUND');
    expect(response.errors).toHaveLength(1);
    expect(response.data ?? null).toBeNull();
    const text = JSON.stringify(response);
    for (const secret of secretsOfB) expect(text).not.toContain(secret);
  }

  async function rowCount(table: string, where: string, params: unknown[]): Promise<number> {
    const rows = await t.app.orm.em.fork().getConnection().execute(`select count(*)::int as n from ${table} where ${where}`, params);
    return rows[0]!.n as number;
  }

  beforeAll(async () => {
    t = await startTestApp();
    a = await createTenant(t, { name: 'Alpha Tenant' });
    b = await createTenant(t, { name: 'Bravo Tenant' });
    asA = t.as(a.apiKey);
    asB = t.as(b.apiKey);
    mine = await setUpTenant(asA, 'alpha');
    theirs = await setUpTenant(asB, 'bravo');
    snapshotOfB = await snapshot(asB, theirs);
    secretsOfB = [
      'bravo.lead@bravo.example.com',
      'bravoFirst',
      'bravoLast',
      'bravo Corp',
      'bravo manual sequence',
      'Bravo Tenant',
      theirs.enrollmentId,
      ...theirs.emailIds,
    ];
    // The snapshot is what B itself sees: it must hold B's data, or "unchanged" would prove nothing.
    expect(snapshotOfB.lead.email).toBe('bravo.lead@bravo.example.com');
    expect(snapshotOfB.leadSequenceStatus.enrollments).toHaveLength(1);
    expect(snapshotOfB.leadSequenceStatus.enrollments[0].status).toBe('ACTIVE');
    expect(snapshotOfB.defaultSeq.emailCounts.PENDING).toBe(5);
    expect(snapshotOfB.leads.totalCount).toBe(1);
    expect(snapshotOfB.sequences.totalCount).toBe(2);
    expect(snapshotOfB.pendingEmails.totalCount).toBe(5);
  });
  afterAll(() => t?.dispose());

  describe('queries on B’s ids with A’s key are NOT_FOUND', () => {
    it.each<[string, string, () => Record<string, unknown>]>([
      ['lead(id)', `query($id: ID!) { lead(id: $id) { id email firstName score } }`, () => ({ id: theirs.leadId })],
      [
        'leadSequenceStatus(leadId)',
        `query($id: ID!) { leadSequenceStatus(leadId: $id) { lead { id email } enrollments { id emails { id } } nextEmail { id } } }`,
        () => ({ id: theirs.leadId }),
      ],
      [
        'sequence(id) of B’s default sequence',
        `query($id: ID!) { sequence(id: $id) { id name steps { subject body } } }`,
        () => ({ id: theirs.defaultSequenceId }),
      ],
      [
        'sequence(id) of B’s manual sequence',
        `query($id: ID!) { sequence(id: $id) { id name steps { subject body } } }`,
        () => ({ id: theirs.manualSequenceId }),
      ],
      [
        'previewEmail with B’s sequence and A’s lead',
        `query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject html text } }`,
        () => ({ s: theirs.manualSequenceId, l: mine.leadId }),
      ],
      [
        'previewEmail with A’s sequence and B’s lead',
        `query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject html text } }`,
        () => ({ s: mine.manualSequenceId, l: theirs.leadId }),
      ],
      [
        'previewEmail with B’s sequence and B’s lead',
        `query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject html text } }`,
        () => ({ s: theirs.defaultSequenceId, l: theirs.leadId }),
      ],
    ])('%s', async (_, query, variables) => {
      expectNotFound(await asA(query, variables()));
      await expectBUnchanged();
    });

    it('the same previews work for the owner (so NOT_FOUND above is about ownership)', async () => {
      const query = `query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject } }`;
      expect(ok(await asA(query, { s: mine.manualSequenceId, l: mine.leadId })).previewEmail.subject).toBe('Hi alphaFirst');
      expect(ok(await asB(query, { s: theirs.manualSequenceId, l: theirs.leadId })).previewEmail.subject).toBe('Hi bravoFirst');
    });
  });

  describe('mutations on B’s ids with A’s key are NOT_FOUND and change nothing', () => {
    it.each<[string, string, () => Record<string, unknown>]>([
      [
        'updateLead',
        `mutation($id: ID!) { updateLead(id: $id, input: { firstName: "Hacked", email: "hacked@example.com" }) { id firstName email } }`,
        () => ({ id: theirs.leadId }),
      ],
      ['deleteLead', `mutation($id: ID!) { deleteLead(id: $id) { id canceledEmails } }`, () => ({ id: theirs.leadId })],
      [
        'adjustLeadScore',
        `mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 50, reason: "cross-tenant") { score previousScore lead { id email } } }`,
        () => ({ id: theirs.leadId }),
      ],
      [
        'updateSequence (B’s manual sequence)',
        `mutation($id: ID!) { updateSequence(id: $id, input: { name: "Hacked", active: false, steps: [{ delayDays: 0, subject: "x", body: "<p>x</p>" }] }) { id name } }`,
        () => ({ id: theirs.manualSequenceId }),
      ],
      [
        'updateSequence (B’s default sequence)',
        `mutation($id: ID!) { updateSequence(id: $id, input: { active: false, isDefault: false }) { id name } }`,
        () => ({ id: theirs.defaultSequenceId }),
      ],
      [
        'startSequence with B’s lead and A’s sequence',
        `mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id status lead { id email } } }`,
        () => ({ l: theirs.leadId, s: mine.manualSequenceId }),
      ],
      [
        'startSequence with A’s lead and B’s sequence',
        `mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id status sequence { id name } } }`,
        () => ({ l: mine.leadId, s: theirs.manualSequenceId }),
      ],
      [
        'startSequence with B’s lead and B’s sequence',
        `mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id status } }`,
        () => ({ l: theirs.leadId, s: theirs.manualSequenceId }),
      ],
      [
        'startSequence with B’s lead and no sequence (A’s default)',
        `mutation($l: ID!) { startSequence(leadId: $l) { id status } }`,
        () => ({ l: theirs.leadId }),
      ],
      [
        'stopSequence with B’s lead and B’s sequence',
        `mutation($l: ID!, $s: ID) { stopSequence(leadId: $l, sequenceId: $s) { id status emails { id } } }`,
        () => ({ l: theirs.leadId, s: theirs.defaultSequenceId }),
      ],
      ['stopSequence with B’s lead and no sequence', `mutation($l: ID!) { stopSequence(leadId: $l) { id status } }`, () => ({ l: theirs.leadId })],
      [
        'stopSequence with B’s lead and A’s sequence',
        `mutation($l: ID!, $s: ID) { stopSequence(leadId: $l, sequenceId: $s) { id status } }`,
        () => ({ l: theirs.leadId, s: mine.defaultSequenceId }),
      ],
      [
        'pauseSequence with B’s lead and B’s sequence',
        `mutation($l: ID!, $s: ID) { pauseSequence(leadId: $l, sequenceId: $s) { id status emails { id } } }`,
        () => ({ l: theirs.leadId, s: theirs.defaultSequenceId }),
      ],
      ['pauseSequence with B’s lead and no sequence', `mutation($l: ID!) { pauseSequence(leadId: $l) { id status } }`, () => ({ l: theirs.leadId })],
      [
        'pauseSequence with A’s lead and B’s sequence',
        `mutation($l: ID!, $s: ID) { pauseSequence(leadId: $l, sequenceId: $s) { id status } }`,
        () => ({ l: mine.leadId, s: theirs.defaultSequenceId }),
      ],
      [
        'resumeSequence with B’s lead and B’s sequence',
        `mutation($l: ID!, $s: ID) { resumeSequence(leadId: $l, sequenceId: $s) { id status emails { id } } }`,
        () => ({ l: theirs.leadId, s: theirs.defaultSequenceId }),
      ],
      ['resumeSequence with B’s lead and no sequence', `mutation($l: ID!) { resumeSequence(leadId: $l) { id status } }`, () => ({ l: theirs.leadId })],
    ])('%s', async (_, mutation, variables) => {
      const enrollmentsBefore = await rowCount('enrollment', 'company_id = ?', [a.companyId]);
      const activitiesBefore = await rowCount('activity', 'company_id = ?', [a.companyId]);
      expectNotFound(await asA(mutation, variables()));
      await expectBUnchanged();
      // Nothing was written on A's side either (e.g. an enrollment of A's lead in B's sequence).
      expect(await rowCount('enrollment', 'company_id = ?', [a.companyId])).toBe(enrollmentsBefore);
      expect(await rowCount('activity', 'company_id = ?', [a.companyId])).toBe(activitiesBefore);
      expect(await rowCount('enrollment', 'sequence_id = ? or sequence_id = ?', [theirs.defaultSequenceId, theirs.manualSequenceId])).toBe(1);
    });

    it('B’s enrollment can still be paused and resumed by B afterwards (a paused one is also NOT_FOUND to A)', async () => {
      const pause = `mutation($l: ID!) { pauseSequence(leadId: $l) { id status } }`;
      const resume = `mutation($l: ID!, $s: ID) { resumeSequence(leadId: $l, sequenceId: $s) { id status } }`;
      expect(ok(await asB(pause, { l: theirs.leadId })).pauseSequence).toEqual({ id: theirs.enrollmentId, status: 'PAUSED' });
      try {
        const pausedB = await snapshot(asB, theirs);
        expectNotFound(await asA(resume, { l: theirs.leadId, s: theirs.defaultSequenceId }));
        expectNotFound(await asA(resume, { l: theirs.leadId }));
        expect(await snapshot(asB, theirs)).toEqual(pausedB);
      } finally {
        expect(ok(await asB(resume, { l: theirs.leadId, s: theirs.defaultSequenceId })).resumeSequence).toEqual({
          id: theirs.enrollmentId,
          status: 'ACTIVE',
        });
      }
      // Resuming reschedules B's emails, so B's snapshot is taken afresh for later tests.
      snapshotOfB = await snapshot(asB, theirs);
    });
  });

  describe('lists are scoped to the caller', () => {
    it('leads: A sees only its own lead, and totalCount counts only A’s', async () => {
      const { leads } = ok(await asA(`{ leads(first: 100) { totalCount edges { node { id email } } } }`));
      expect(leads.totalCount).toBe(1);
      expect(leads.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([mine.leadId]);
      expect(JSON.stringify(leads)).not.toContain(theirs.leadId);
    });

    it('leads with a search that matches only B’s lead finds nothing for A', async () => {
      const { leads } = ok(await asA(`{ leads(first: 100, filter: { search: "bravo" }) { totalCount edges { node { id } } } }`));
      expect(leads).toEqual({ totalCount: 0, edges: [] });
    });

    it('sequences: A sees its two sequences only', async () => {
      const { sequences } = ok(await asA(`{ sequences(first: 100) { totalCount edges { node { id name } } } }`));
      expect(sequences.totalCount).toBe(2);
      const ids = sequences.edges.map((e: { node: { id: string } }) => e.node.id);
      expect(ids.sort()).toEqual([mine.defaultSequenceId, mine.manualSequenceId].sort());
      expect(ids).not.toContain(theirs.defaultSequenceId);
      expect(ids).not.toContain(theirs.manualSequenceId);
    });

    it('pendingEmails: A sees only the emails of its own enrollment', async () => {
      const { pendingEmails } = ok(
        await asA(`query($due: DateTime) { pendingEmails(first: 100, dueBefore: $due) { totalCount edges { node { id } } } }`, { due: FAR_FUTURE }),
      );
      const ids = pendingEmails.edges.map((e: { node: { id: string } }) => e.node.id);
      expect(pendingEmails.totalCount).toBe(mine.emailIds.length);
      expect(ids.sort()).toEqual([...mine.emailIds].sort());
      for (const id of theirs.emailIds) expect(ids).not.toContain(id);
    });

    it('B’s own lists still hold B’s data (the scoping is per caller, not a global filter)', async () => {
      const current = await snapshot(asB, theirs);
      expect(current.leads.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([theirs.leadId]);
      expect(current.sequences.totalCount).toBe(2);
      expect(current.pendingEmails.edges.map((e: { node: { id: string } }) => e.node.id).sort()).toEqual([...theirs.emailIds].sort());
    });
  });

  describe('email uniqueness is per company, so it reveals nothing about other companies', () => {
    it('another company may create and import a lead with B’s lead email', async () => {
      const c = await createTenant(t, { name: 'Charlie Tenant' });
      const asC = t.as(c.apiKey);
      const created = ok(
        await asC(`mutation($input: LeadInput!) { createLead(input: $input) { id email } }`, { input: { email: 'BRAVO.lead@bravo.example.com' } }),
      );
      expect(created.createLead.email).toBe('bravo.lead@bravo.example.com');
      expect(created.createLead.id).not.toBe(theirs.leadId);

      const { importLeads } = ok(
        await asC(`mutation($inputs: [LeadInput!]!) { importLeads(inputs: $inputs) { created duplicates invalid rows { status leadId } } }`, {
          inputs: [{ email: 'alpha.lead@alpha.example.com' }],
        }),
      );
      expect(importLeads).toMatchObject({ created: 1, duplicates: 0, invalid: 0, rows: [{ status: 'CREATED' }] });
      expect(importLeads.rows[0].leadId).not.toBe(mine.leadId);
      await expectBUnchanged();
    });
  });

  describe('a malformed id is NOT_FOUND, not an internal error', () => {
    it.each<[string, string, () => Record<string, unknown>]>([
      ['lead', `query($id: ID!) { lead(id: $id) { id } }`, () => ({ id: 'not-a-uuid' })],
      ['leadSequenceStatus', `query($id: ID!) { leadSequenceStatus(leadId: $id) { lead { id } } }`, () => ({ id: 'not-a-uuid' })],
      ['sequence', `query($id: ID!) { sequence(id: $id) { id } }`, () => ({ id: 'not-a-uuid' })],
      [
        'previewEmail (bad sequence id)',
        `query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject } }`,
        () => ({ s: 'not-a-uuid', l: mine.leadId }),
      ],
      [
        'previewEmail (bad lead id)',
        `query($s: ID!, $l: ID!) { previewEmail(sequenceId: $s, step: 1, leadId: $l) { subject } }`,
        () => ({ s: mine.manualSequenceId, l: 'not-a-uuid' }),
      ],
      ['updateLead', `mutation($id: ID!) { updateLead(id: $id, input: { firstName: "x" }) { id } }`, () => ({ id: 'not-a-uuid' })],
      ['deleteLead', `mutation($id: ID!) { deleteLead(id: $id) { id } }`, () => ({ id: 'not-a-uuid' })],
      ['adjustLeadScore', `mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 1, reason: "x") { score } }`, () => ({ id: 'not-a-uuid' })],
      ['updateSequence', `mutation($id: ID!) { updateSequence(id: $id, input: { name: "x" }) { id } }`, () => ({ id: 'not-a-uuid' })],
      [
        'startSequence (bad lead id)',
        `mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id } }`,
        () => ({ l: 'not-a-uuid', s: mine.manualSequenceId }),
      ],
      [
        'startSequence (bad sequence id)',
        `mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id } }`,
        () => ({ l: mine.leadId, s: 'not-a-uuid' }),
      ],
      ['stopSequence', `mutation($l: ID!) { stopSequence(leadId: $l) { id } }`, () => ({ l: 'not-a-uuid' })],
      ['pauseSequence', `mutation($l: ID!, $s: ID) { pauseSequence(leadId: $l, sequenceId: $s) { id } }`, () => ({ l: mine.leadId, s: 'not-a-uuid' })],
      ['resumeSequence', `mutation($l: ID!) { resumeSequence(leadId: $l) { id } }`, () => ({ l: 'not-a-uuid' })],
    ])('%s', async (_, operation, variables) => {
      const mineBefore = await snapshot(asA, mine);
      expectNotFound(await asA(operation, variables()));
      expect(await snapshot(asA, mine)).toEqual(mineBefore);
    });
  });
});
