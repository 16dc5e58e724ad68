import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/core/config.js';
import { readSesEvent } from '../src/delivery/ses-events/ses-event.js';
import { applySesEvent } from '../src/delivery/ses-events/ses-events.service.js';
import { sweepStuckEmails } from '../src/delivery/sweeper.js';
import { retryEmailNow } from '../src/state/email-state.js';
import type { Config } from '../src/core/config.js';
import type * as ClaimModule from '../src/delivery/claim.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { LOSE_ANSWER, startFaultProxy, type Fault, type FaultProxy, type Hold } from './helpers/fault-proxy.js';
import { ok, type Untyped } from './helpers/graphql.js';
import { startMailbox, waitFor, type SesMailbox } from './helpers/ses.js';
import { queryRows, testDispatcher } from './helpers/dispatch.js';

/** A hook run right after a dispatcher's claim (and before it renders): where a test puts what happens meanwhile. */
const afterClaim = vi.hoisted(() => ({ hook: undefined as undefined | (() => Promise<void>) }));
vi.mock('../src/delivery/claim.js', async (importOriginal) => {
  const original = await importOriginal<typeof ClaimModule>();
  return {
    ...original,
    claimDueEmails: async (...args: Parameters<typeof original.claimDueEmails>) => {
      const claimed = await original.claimDueEmails(...args);
      const hook = afterClaim.hook;
      if (hook && claimed.length > 0) {
        afterClaim.hook = undefined;
        await hook();
      }
      return claimed;
    },
  };
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A held answer and the function that lets it go. */
function gate(): Hold & { release: () => void } {
  let release!: () => void;
  const until = new Promise<void>((resolve) => (release = resolve));
  return { until, release };
}

interface EmailRow {
  id: string;
  status: string;
  attempts: number;
  paused: boolean;
  provider_message_id: string | null;
  failure_reason: string | null;
}

/**
 * Issue 14, items 1, 2, 3, 7 and 8: faults of PostgreSQL, SES and the worker between claim and settle never send an
 * email twice and never lose one (each email ends SENT with its message id, or back in the queue untouched).
 */
describe('dispatch faults: never twice and nothing lost', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  const disposers: (() => unknown)[] = [];

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0' });
  });
  beforeEach(async () => {
    await mailbox.clear();
    await rows(`update sequence_email set status = 'CANCELED' where status in ('PENDING', 'SENDING', 'UNKNOWN')`);
    t.clock.set(new Date());
    tenant = await createTenant(t);
  });
  afterEach(async () => {
    afterClaim.hook = undefined;
    while (disposers.length) await disposers.pop()!();
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  const rows = <T = Record<string, Untyped>>(text: string, params: unknown[] = []) => queryRows<T>(t, text, params);

  const dispatcher = (workerId: string, endpoint = mailbox.url, config?: Config) => testDispatcher(t, disposers, workerId, endpoint, config);

  async function proxy(decide: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
    const started = await startFaultProxy(mailbox.url, decide);
    disposers.push(() => started.dispose());
    return started;
  }

  /** `count` leads; the first email of each is due now. */
  async function importLeads(count: number): Promise<{ id: string; email: string }[]> {
    const inputs = Array.from({ length: count }, (_, i) => ({ email: `f${i}-${tenant.companyId.slice(-8)}@example.com`, firstName: `F${i}` }));
    ok(await t.as(tenant.apiKey)(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created } }`, { i: inputs }));
    return rows(`select id, email from lead where company_id = ? order by email`, [tenant.companyId]);
  }

  /** The first email of every lead of the tenant (the due ones). */
  function firstEmails(): Promise<EmailRow[]> {
    return rows<EmailRow>(
      `select id, status, attempts, paused, provider_message_id, failure_reason from sequence_email where company_id = ? and email_number = 1 order by id`,
      [tenant.companyId],
    );
  }

  const countOf = (emails: EmailRow[], status: string) => emails.filter((e) => e.status === status).length;
  const isSendEmail = (path: string) => path.includes('outbound-emails');

  it('item 1: a refusal mid-batch hands every email SES did not take back to the queue', async () => {
    await importLeads(60);
    const paused: Fault = { status: 400, errorType: 'SendingPausedException', message: 'Sending is paused for this account.' };
    let sends = 0;
    const refusing = await proxy((call) => (isSendEmail(call.path) && ++sends > 9 ? paused : undefined));
    const worker = dispatcher('worker-refused', refusing.url);
    try {
      await worker.dispatchDue();
    } finally {
      await dispatcher('worker-account').account(true); // the emulator's account sends again for the next tests
    }

    const emails = await firstEmails();
    expect(emails).toHaveLength(60);
    expect(countOf(emails, 'SENDING') + countOf(emails, 'UNKNOWN')).toBe(0);
    expect(countOf(emails, 'SENT') + countOf(emails, 'PENDING')).toBe(60);
    const counts = await mailbox.countsByEmailId();
    expect([...counts.keys()].sort()).toEqual(emails.filter((e) => e.status === 'SENT').map((e) => e.id));
    for (const email of emails.filter((e) => e.status === 'PENDING')) expect(email.attempts).toBe(0);
  });

  it('item 2: a settle PostgreSQL refuses is retried until it lands; nothing is unhandled and no message id is lost', async () => {
    await importLeads(100);
    await rows(`create table if not exists fault_flag (on_ boolean)`);
    await rows(
      `create or replace function refuse_settle() returns trigger language plpgsql as $fn$ begin
         if exists (select 1 from fault_flag) and old.status = 'SENDING' and new.status <> 'SENDING' then raise exception 'settle refused (test fault)'; end if;
         return new;
       end $fn$`,
    );
    await rows(`create trigger refuse_settle before update on sequence_email for each row execute function refuse_settle()`);
    await rows(`insert into fault_flag values (true)`);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const run = worker();
      await waitFor('SES to take every email', async () => (await mailbox.emails()).length >= 100, 20_000);
      await sleep(700); // settles keep failing meanwhile
      expect(countOf(await firstEmails(), 'SENDING')).toBe(100);
      await rows(`delete from fault_flag`);
      await run;
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await rows(`drop trigger if exists refuse_settle on sequence_email`);
      await rows(`delete from fault_flag`);
    }
    expect(unhandled).toEqual([]);
    const emails = await firstEmails();
    expect(countOf(emails, 'SENT')).toBe(100);
    const stored = new Map((await mailbox.emails()).map((e) => [e.messageId, e]));
    for (const email of emails) expect(stored.has(email.provider_message_id!)).toBe(true);
    const counts = await mailbox.countsByEmailId();
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    function worker() {
      return dispatcher('worker-settle-refused').dispatchDue();
    }
  }, 60_000);

  it('item 2: a database error before sending hands the whole batch back, its attempts refunded', async () => {
    await importLeads(10);
    await rows(`alter table suppression rename to suppression_away`);
    let error: unknown;
    try {
      await dispatcher('worker-prepare-fails').dispatchDue();
    } catch (caught) {
      error = caught;
    } finally {
      await rows(`alter table suppression_away rename to suppression`);
    }
    expect(String(error)).toContain('suppression');
    const emails = await firstEmails();
    expect(emails.map((e) => [e.status, e.attempts])).toEqual(emails.map(() => ['PENDING', 0]));
    expect(await mailbox.emails()).toHaveLength(0);

    await dispatcher('worker-after-fault').dispatchDue();
    expect(countOf(await firstEmails(), 'SENT')).toBe(10);
  });

  it('item 3: swept while SES answers late, the email still ends SENT with its message id, and SES has one copy', async () => {
    await importLeads(1);
    const answer = gate();
    const slow = await proxy((call) => (isSendEmail(call.path) ? answer : undefined));
    const run = dispatcher('worker-in-flight', slow.url).dispatchDue();
    await waitFor('SES to take the email', async () => (await mailbox.emails()).length === 1);

    // A sweeper that thinks the lease is over (one configured shorter, say) takes the email while the answer travels.
    t.clock.advance(1000);
    expect(await sweepStuckEmails(t.app.orm.em.fork(), t.clock.now(), 0)).toBe(1);
    expect((await firstEmails())[0]!.status).toBe('UNKNOWN');
    answer.release();
    await run;

    const [email] = await firstEmails();
    const [stored] = await mailbox.emails();
    expect(email).toMatchObject({ status: 'SENT', provider_message_id: stored!.messageId, failure_reason: null });
    const retried = await t.as(tenant.apiKey)(`mutation($id: ID!) { retryEmail(id: $id) { status } }`, { id: email!.id });
    expect(retried.errors?.[0]?.extensions?.reason).toBe('EMAIL_NOT_RETRYABLE');
    expect((await mailbox.countsByEmailId()).get(email!.id)).toBe(1);
  });

  it('item 3: SES reports the email delivered before its settle, then the worker dies: the sweeper makes it SENT, not UNKNOWN for good', async () => {
    await importLeads(1);
    const answer = gate();
    const slow = await proxy((call) => (isSendEmail(call.path) ? answer : undefined));
    void dispatcher('worker-dies-after-delivery', slow.url)
      .dispatchDue()
      .catch(() => undefined);
    await waitFor('SES to take the email', async () => (await mailbox.emails()).length === 1);
    const [sending] = await firstEmails();
    // The Delivery event as applySesEvent records it on an email still SENDING (its row gets delivered_at only).
    await rows(`update sequence_email set delivered_at = now() where id = ?`, [sending!.id]);
    t.clock.advance(1000);
    // The worker never answers (it died): the sweeper settles the email.
    expect(await sweepStuckEmails(t.app.orm.em.fork(), t.clock.now(), 0)).toBe(0);
    expect((await firstEmails())[0]).toMatchObject({ status: 'SENT', failure_reason: null });
    answer.release();
  });

  it('item 3: evidence of delivery that lands after retryEmail read the email still stops the re-queue (checked under the row lock)', async () => {
    await importLeads(1);
    const [email] = await firstEmails();
    await rows(`update sequence_email set status = 'UNKNOWN' where id = ?`, [email!.id]);
    // A machine open (the status stays UNKNOWN) commits between retryEmail's read and its move.
    await rows(`update sequence_email set open_count = 1 where id = ?`, [email!.id]);
    expect(await retryEmailNow(t.app.orm.em.fork(), { id: email!.id, companyId: tenant.companyId, now: t.clock.now() })).toBe(false);
    expect((await firstEmails())[0]!.status).toBe('UNKNOWN');
  });

  it('item 2: a worker that dies mid-batch leaves UNKNOWN only the emails it may have offered, not its whole batch', async () => {
    await importLeads(40);
    const answer = gate();
    const held = await proxy((call) => (isSendEmail(call.path) ? answer : undefined));
    const config = { ...t.app.config, delivery: { ...t.app.config.delivery, concurrency: 4 } };
    const run = dispatcher('worker-dies-mid-batch', held.url, config)
      .dispatchDue()
      .catch(() => undefined);
    await waitFor('four sends in flight', () => Promise.resolve(held.calls.filter((c) => isSendEmail(c.path)).length === 4));
    // The worker "dies" here: its lease ends (a sweeper with lease 0), before any answer.
    t.clock.advance(1000);
    const unknown = await sweepStuckEmails(t.app.orm.em.fork(), t.clock.now(), 0);
    const emails = await firstEmails();
    expect(unknown).toBeGreaterThanOrEqual(4);
    expect(unknown).toBeLessThanOrEqual(8); // the wave in flight and the one written ahead (was: all 40)
    expect(countOf(emails, 'PENDING')).toBe(40 - unknown);
    const offered = new Set(emails.filter((e) => e.status === 'UNKNOWN').map((e) => e.id));
    answer.release();
    await run;
    // (This worker was not really dead.) What it had not offered when swept, it never sent: those went back to the queue.
    const sent = await mailbox.countsByEmailId();
    expect([...sent.keys()].every((id) => offered.has(id))).toBe(true);
    expect([...sent.values()].every((copies) => copies === 1)).toBe(true);
  });

  it('item 3: swept while SES answers late and retried as stuckEmails advises, it is still sent once', async () => {
    await importLeads(1);
    const answer = gate();
    const slow = await proxy((call) => (isSendEmail(call.path) ? answer : undefined));
    const run = dispatcher('worker-in-flight-retried', slow.url).dispatchDue();
    await waitFor('SES to take the email', async () => (await mailbox.emails()).length === 1);
    t.clock.advance(1000);
    expect(await sweepStuckEmails(t.app.orm.em.fork(), t.clock.now(), 0)).toBe(1);
    const [swept] = await firstEmails();
    const { retryEmail } = ok(await t.as(tenant.apiKey)(`mutation($id: ID!) { retryEmail(id: $id) { status } }`, { id: swept!.id }));
    expect(retryEmail.status).toBe('PENDING');
    answer.release();
    await run;

    // SES's answer says it took the email: that is the truth, and the re-queued email is not sent again.
    const [stored] = await mailbox.emails();
    expect((await firstEmails())[0]).toMatchObject({ status: 'SENT', provider_message_id: stored!.messageId });
    await dispatcher('worker-after-retry').dispatchDue();
    expect((await mailbox.countsByEmailId()).get(swept!.id)).toBe(1);
  });

  it('item 2: emails claimed but never offered to SES (the claim’s answer lost, the worker gone) go back to the queue at lease end', async () => {
    await importLeads(3);
    afterClaim.hook = () => Promise.reject(new Error('connection terminated (test fault)'));
    await expect(dispatcher('worker-claim-lost').dispatchDue()).rejects.toThrow(/test fault/);
    expect(countOf(await firstEmails(), 'SENDING')).toBe(3);

    t.clock.advance(1000);
    expect(await sweepStuckEmails(t.app.orm.em.fork(), t.clock.now(), 0)).toBe(0); // none of unknown outcome
    const emails = await firstEmails();
    expect(emails.map((e) => [e.status, e.attempts])).toEqual(emails.map(() => ['PENDING', 0]));
    await dispatcher('worker-after-lost-claim').dispatchDue();
    expect(countOf(await firstEmails(), 'SENT')).toBe(3);
    expect([...(await mailbox.countsByEmailId()).values()]).toEqual([1, 1, 1]);
  });

  it('item 3: a worker whose lease cannot cover a send does not send; its emails go back untouched', async () => {
    await importLeads(3);
    const short = { ...t.app.config, delivery: { ...t.app.config.delivery, claimLeaseSeconds: 1 } };
    await dispatcher('worker-short-lease', mailbox.url, short).dispatchDue();
    const emails = await firstEmails();
    expect(emails.map((e) => [e.status, e.attempts])).toEqual(emails.map(() => ['PENDING', 0]));
    expect(await mailbox.emails()).toHaveLength(0);
  });

  it('item 3: a worker clock an hour behind does not make its fresh claim look expired to a sweeper elsewhere', async () => {
    await importLeads(1);
    await rows(`update sequence_email set scheduled_send_date = now() - interval '2 hours' where company_id = ? and email_number = 1`, [tenant.companyId]);
    t.clock.set(new Date(Date.now() - 3_600_000));
    const answer = gate();
    const slow = await proxy((call) => (isSendEmail(call.path) ? answer : undefined));
    const run = dispatcher('worker-behind', slow.url).dispatchDue();
    await waitFor('SES to take the email', async () => (await mailbox.emails()).length === 1);

    // The sweeper runs on another host whose clock is right.
    expect(await sweepStuckEmails(t.app.orm.em.fork(), new Date(), t.app.config.delivery.claimLeaseSeconds)).toBe(0);
    answer.release();
    await run;
    expect((await firstEmails())[0]!.status).toBe('SENT');
  });

  it('item 3: a lease shorter than a send can take is refused by the configuration, naming the minimum', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', CLAIM_LEASE_SECONDS: '5' })).toThrow(/CLAIM_LEASE_SECONDS must be at least 30/);
    expect(loadConfig({ NODE_ENV: 'test', CLAIM_LEASE_SECONDS: '30' }).delivery.claimLeaseSeconds).toBe(30);
  });

  it('item 3: an UNKNOWN email SES reports delivered becomes SENT, one opened becomes OPENED; retryEmail refuses one known to have arrived', async () => {
    await importLeads(2);
    const lossy = await proxy((call) => (isSendEmail(call.path) ? LOSE_ANSWER : undefined));
    await dispatcher('worker-lossy', lossy.url).dispatchDue();
    const [first, second] = await firstEmails();
    expect([first!.status, second!.status]).toEqual(['UNKNOWN', 'UNKNOWN']);

    // SES reports the first delivered: found by its email_id tag (the message id was lost with the answer).
    const stored = (await mailbox.emails()).find((e) => JSON.stringify(e).includes(first!.id))!;
    const event = readSesEvent(
      JSON.stringify({
        eventType: 'Delivery',
        delivery: { timestamp: new Date().toISOString(), recipients: stored.destination.to },
        mail: { messageId: stored.messageId, destination: stored.destination.to, tags: { email_id: [first!.id] } },
      }),
    )!;
    await applySesEvent(t.app.orm.em.fork(), { dedupeKey: randomUUID(), event, now: t.clock.now() });
    expect((await firstEmails()).find((e) => e.id === first!.id)).toMatchObject({
      status: 'SENT',
      provider_message_id: stored.messageId,
      failure_reason: null,
    });

    // The second is opened: it arrived (its tracking tokens are in no other email), so it is not sent again.
    const opened = (await mailbox.emails()).find((e) => JSON.stringify(e).includes(second!.id))!;
    const pixel = /\/t\/o\/[^"'<>\s]+\.gif/.exec(opened.body.html!)![0];
    expect((await fetch(`${t.baseUrl}${pixel}`)).status).toBe(200);
    await waitFor('the open to be stored', async () => (await firstEmails()).find((e) => e.id === second!.id)!.status === 'OPENED');
    expect((await firstEmails()).find((e) => e.id === second!.id)!.failure_reason).toBeNull();
    const retried = await t.as(tenant.apiKey)(`mutation($id: ID!) { retryEmail(id: $id) { status } }`, { id: second!.id });
    expect(retried.errors?.[0]?.extensions?.reason).toBe('EMAIL_NOT_RETRYABLE');
    // Before this rule, a Delivery event left an UNKNOWN email UNKNOWN (with deliveredAt): retrying one is refused too.
    await rows(`update sequence_email set status = 'UNKNOWN', open_count = 0, delivered_at = now() where id = ?`, [second!.id]);
    const refused = await t.as(tenant.apiKey)(`mutation($id: ID!) { retryEmail(id: $id) { status } }`, { id: second!.id });
    expect(refused.errors?.[0]?.extensions?.reason).toBe('EMAIL_ALREADY_DELIVERED');
  });

  it('item 7: an enrollment paused between claim and render keeps its email waiting, and resume sends it', async () => {
    const [lead] = await importLeads(1);
    afterClaim.hook = async () => {
      ok(await t.as(tenant.apiKey)(`mutation($l: ID!) { pauseSequence(leadId: $l) { id } }`, { l: lead!.id }));
    };
    await dispatcher('worker-paused-meanwhile').dispatchDue();
    expect(afterClaim.hook).toBeUndefined(); // the pause did happen between claim and render
    expect((await firstEmails())[0]).toMatchObject({ status: 'PENDING', paused: true, attempts: 0 });
    expect(await mailbox.emails()).toHaveLength(0);

    ok(await t.as(tenant.apiKey)(`mutation($l: ID!) { resumeSequence(leadId: $l) { id } }`, { l: lead!.id }));
    await dispatcher('worker-resumed').dispatchDue();
    expect((await firstEmails())[0]!.status).toBe('SENT');
    expect(await mailbox.emails()).toHaveLength(1);
  });

  it('item 8: an accepted email is SENT in the database while the rest of its batch is still being sent', async () => {
    await importLeads(5);
    const later = gate();
    let sends = 0;
    const slow = await proxy((call) => (isSendEmail(call.path) && ++sends > 1 ? later : undefined));
    const run = dispatcher('worker-group-commit', slow.url).dispatchDue();
    try {
      await waitFor('the first accepted email to be SENT', async () => countOf(await firstEmails(), 'SENT') === 1, 8_000);
      expect(countOf(await firstEmails(), 'SENDING')).toBe(4);
    } finally {
      later.release();
      await run;
    }
    expect(countOf(await firstEmails(), 'SENT')).toBe(5);
  });
});
