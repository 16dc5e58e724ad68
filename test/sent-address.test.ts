import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Dispatcher } from '../src/delivery/dispatcher.js';
import { applySesEvent } from '../src/delivery/ses-events/ses-events.service.js';
import { readSesEvent } from '../src/delivery/ses-events/ses-event.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type GraphQLClient, type Untyped } from './helpers/graphql.js';
import { headerOf, sesDispatcher, startMailbox, type SesMailbox } from './helpers/ses.js';

const DAY = 86_400_000;

/**
 * An email's unsubscribe, bounce and complaint act on the address it was sent to (stored with it when claimed),
 * not on its lead's address of the moment: after updateLead, an old email's one-click POST must not suppress the
 * new address and leave the old one mailable.
 */
describe('the address an email went to', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;
  let dispatcher: Dispatcher;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0' });
    dispatcher = sesDispatcher(t, mailbox, 'sent-address-test');
  });
  beforeEach(async () => {
    t.clock.set(new Date());
    tenant = await createTenant(t);
    gql = t.as(tenant.apiKey);
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  function rows<T = Record<string, Untyped>>(text: string, params: unknown[] = []): Promise<T[]> {
    return t.app.orm.em.fork().getConnection().execute<T[]>(text, params);
  }

  async function suppressed(): Promise<Record<string, string>> {
    const list = await rows<{ email: string; reason: string }>(`select email, reason from suppression where company_id = ?`, [tenant.companyId]);
    return Object.fromEntries(list.map((r) => [r.email, r.reason]));
  }

  /** A lead whose welcome email went out to `oldAddress`, then moved to `newAddress` by updateLead. */
  async function sentThenMoved(oldAddress: string, newAddress: string) {
    const leadId = ok(await gql(`mutation($e: String!) { createLead(input: { email: $e }) { id } }`, { e: oldAddress })).createLead.id as string;
    await dispatcher.dispatchDue();
    const [email] = await rows<{ id: string; provider_message_id: string }>(
      `select id, provider_message_id from sequence_email where lead_id = ? and status = 'SENT'`,
      [leadId],
    );
    const stored = (await mailbox.emails()).find((e) => headerOf(e, 'X-LN-Email-Id') === email!.id)!;
    expect(stored.destination.to).toEqual([oldAddress]);
    ok(await gql(`mutation($id: ID!, $e: String!) { updateLead(id: $id, input: { email: $e }) { id } }`, { id: leadId, e: newAddress }));
    return { leadId, emailId: email!.id, messageId: email!.provider_message_id, unsubscribe: new URL(headerOf(stored, 'List-Unsubscribe')!.slice(1, -1)) };
  }

  it('the email records and exposes its address (toAddress), which stays after updateLead', async () => {
    const sent = await sentThenMoved('first@example.com', 'second@example.com');
    const { leadSequenceStatus } = ok(
      await gql(`query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { emails { id status toAddress } } } }`, { id: sent.leadId }),
    );
    const emails = leadSequenceStatus.enrollments[0].emails as { id: string; status: string; toAddress: string | null }[];
    expect(emails[0]).toEqual({ id: sent.emailId, status: 'SENT', toAddress: 'first@example.com' });
    expect(emails.slice(1).every((e) => e.toAddress === null)).toBe(true); // not claimed yet

    // The next email goes to the new address, and records it.
    t.clock.advance(20 * DAY);
    await dispatcher.dispatchDue();
    const [second] = await rows<{ to_address: string }>(`select to_address from sequence_email where lead_id = ? and email_number = 2`, [sent.leadId]);
    expect(second!.to_address).toBe('second@example.com');
  });

  it('the one-click POST of an old email suppresses the OLD address; the new one stays mailable', async () => {
    const sent = await sentThenMoved('old-unsub@example.com', 'new-unsub@example.com');
    const post = await fetch(`${t.baseUrl}${sent.unsubscribe.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(post.status).toBe(200);
    expect(await suppressed()).toEqual({ 'old-unsub@example.com': 'UNSUBSCRIBED' });
    const { lead } = ok(await gql(`query($id: ID!) { lead(id: $id) { email unsubscribedAt } }`, { id: sent.leadId }));
    expect(lead).toEqual({ email: 'new-unsub@example.com', unsubscribedAt: null });
  });

  it('a bounce of an old email suppresses the OLD address, never the new one nor an address the event lists', async () => {
    const sent = await sentThenMoved('old-bounce@example.com', 'new-bounce@example.com');
    const event = readSesEvent(
      JSON.stringify({
        eventType: 'Bounce',
        bounce: {
          bounceType: 'Permanent',
          bounceSubType: 'General',
          bouncedRecipients: [{ emailAddress: 'new-bounce@example.com' }, { emailAddress: 'someone-else@example.com' }],
          timestamp: new Date().toISOString(),
        },
        mail: { messageId: sent.messageId, tags: { email_id: [sent.emailId] } },
      }),
    )!;
    const outcome = await applySesEvent(t.app.orm.em.fork(), { dedupeKey: randomUUID(), event, now: t.clock.now() });
    expect(outcome).toEqual({ result: 'processed', emailId: sent.emailId, companyId: tenant.companyId });
    expect(await suppressed()).toEqual({ 'old-bounce@example.com': 'HARD_BOUNCE' });

    const complaint = readSesEvent(
      JSON.stringify({
        eventType: 'Complaint',
        complaint: { complainedRecipients: [{ emailAddress: 'new-bounce@example.com' }], timestamp: new Date().toISOString() },
        mail: { messageId: sent.messageId, tags: { email_id: [sent.emailId] } },
      }),
    )!;
    await applySesEvent(t.app.orm.em.fork(), { dedupeKey: randomUUID(), event: complaint, now: t.clock.now() });
    expect(await suppressed()).toEqual({ 'old-bounce@example.com': 'HARD_BOUNCE' });
  });
});
