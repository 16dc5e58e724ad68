import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { LOSE_ANSWER, startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { ok, type Untyped } from './helpers/graphql.js';
import { startMailbox, type SesMailbox } from './helpers/ses.js';
import { queryRows, testDispatcher } from './helpers/dispatch.js';

/**
 * An email whose hand-over to SES has an unknown outcome has a status of its own, UNKNOWN (issue 13): SES took it,
 * but its answer was lost on the way back, so the dispatcher cannot know. It is never re-sent by itself; operators
 * see it in `stuckEmails`, `deliveryStatus` and the sequence's counts, and may `retryEmail` it on purpose.
 */
describe('an unknown outcome is UNKNOWN', () => {
  let mailbox: SesMailbox;
  let lossy: FaultProxy;
  let t: TestApp;
  let tenant: Tenant;
  const disposers: (() => unknown)[] = [];

  beforeAll(async () => {
    mailbox = await startMailbox();
    // SendEmail's answer is lost once SES has taken the email; every other call goes through.
    lossy = await startFaultProxy(mailbox.url, (call) => (call.path.includes('outbound-emails') ? LOSE_ANSWER : undefined));
    t = await startTestApp({ SES_MAX_SEND_RATE: '0' });
    tenant = await createTenant(t);
  });
  afterAll(async () => {
    while (disposers.length) await disposers.pop()!();
    await t?.dispose();
    await lossy?.dispose();
    await mailbox?.dispose();
  });

  const rows = <T = Record<string, Untyped>>(text: string, params: unknown[] = []) => queryRows<T>(t, text, params);

  const dispatcher = (workerId: string, endpoint: string) => testDispatcher(t, disposers, workerId, endpoint);

  it('is listed, counted, never re-sent by itself, and retryEmail sends it once more on purpose', async () => {
    ok(
      await t.as(tenant.apiKey)(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created } }`, {
        i: [{ email: 'lost.answer@example.com', firstName: 'Lost' }],
      }),
    );
    await dispatcher('worker-lossy', lossy.url).dispatchDue();

    const [email] = await rows<{ id: string; status: string; failure_reason: string }>(
      `select id, status, failure_reason from sequence_email where company_id = ? and email_number = 1`,
      [tenant.companyId],
    );
    expect(email!.status).toBe('UNKNOWN');
    expect(email!.failure_reason).toMatch(/not re-sent automatically/i);
    expect((await mailbox.countsByEmailId()).get(email!.id)).toBe(1); // SES did take it

    const seen = ok(
      await t.as(tenant.apiKey)(`{
        deliveryStatus { stuckEmails }
        stuckEmails(first: 10) { totalCount edges { node { id status } } }
        sequences(first: 1) { edges { node { emailCounts { UNKNOWN FAILED PENDING } } } }
      }`),
    );
    expect(seen.deliveryStatus.stuckEmails).toBe(1);
    expect(seen.stuckEmails).toMatchObject({ totalCount: 1, edges: [{ node: { id: email!.id, status: 'UNKNOWN' } }] });
    expect(seen.sequences.edges[0].node.emailCounts).toMatchObject({ UNKNOWN: 1, FAILED: 0 });

    // Another dispatcher, with SES answering normally, leaves it alone.
    await dispatcher('worker-after', mailbox.url).dispatchDue();
    expect((await rows<{ status: string }>(`select status from sequence_email where id = ?`, [email!.id]))[0]!.status).toBe('UNKNOWN');
    expect((await mailbox.countsByEmailId()).get(email!.id)).toBe(1);

    const { retryEmail } = ok(await t.as(tenant.apiKey)(`mutation($id: ID!) { retryEmail(id: $id) { status failureReason } }`, { id: email!.id }));
    expect(retryEmail).toEqual({ status: 'PENDING', failureReason: null });
    await dispatcher('worker-retry', mailbox.url).dispatchDue();
    expect((await rows<{ status: string }>(`select status from sequence_email where id = ?`, [email!.id]))[0]!.status).toBe('SENT');
    expect((await mailbox.countsByEmailId()).get(email!.id)).toBe(2);
    expect(ok(await t.as(tenant.apiKey)(`{ deliveryStatus { stuckEmails } }`)).deliveryStatus.stuckEmails).toBe(0);
  });
});
