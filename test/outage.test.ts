import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backoffMs, MAX_BACKOFF_MS } from '../src/delivery/retry-policy.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type Untyped } from './helpers/graphql.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { startMailbox, type SesMailbox } from './helpers/ses.js';
import { queryRows, testDispatcher } from './helpers/dispatch.js';
import type { Dispatcher } from '../src/delivery/dispatcher.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const BATCH = 10;

/** SES down or throttling for a while: nothing fails for it, nothing is sent twice, and SES is not hammered meanwhile. */
describe('SES outages and sustained throttling', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  const disposers: (() => unknown)[] = [];

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', DISPATCH_BATCH_SIZE: String(BATCH) });
  });
  beforeEach(async () => {
    await mailbox.clear();
    await rows(`update sequence_email set status = 'CANCELED' where status in ('PENDING', 'SENDING')`);
    // Each test starts with SES in good standing (an earlier one may have stopped while the account backed off).
    await rows(`update send_budget set backoff_level = 0, backoff_until = null, backoff_probe = false, last_send_error = null, last_send_error_at = null`);
    t.clock.set(new Date());
    tenant = await createTenant(t);
  });
  afterEach(async () => {
    while (disposers.length) await disposers.pop()!();
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  const rows = <T = Record<string, Untyped>>(text: string, params: unknown[] = []) => queryRows<T>(t, text, params);

  const dispatcher = (workerId: string, endpoint: string) => testDispatcher(t, disposers, workerId, endpoint);

  /** `leads` leads; each one's first email is due now. */
  async function importLeads(leads: number): Promise<void> {
    const inputs = Array.from({ length: leads }, (_, i) => ({ email: `lead${i}-${tenant.companyId.slice(-6)}@example.com`, firstName: `Lead${i}` }));
    ok(await t.as(tenant.apiKey)(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created } }`, { i: inputs }));
  }

  async function firstEmails(): Promise<{ id: string; status: string }[]> {
    return rows(`select id, status from sequence_email where company_id = ? and email_number = 1`, [tenant.companyId]);
  }

  /** Moves the clock in `step`s, dispatching after each, until `until` says stop or `limit` is spent. */
  async function drive(worker: Dispatcher, step: number, limit: number, until: () => boolean | Promise<boolean> = () => false): Promise<void> {
    for (let spent = 0; spent < limit && !(await until()); spent += step) {
      await worker.dispatchDue();
      t.clock.advance(step);
    }
  }

  /** After SES is back: dispatch (the clock moving past any back-off) until every first email is sent; then each was sent exactly once. */
  async function expectAllSentOnce(worker: Dispatcher, leads: number): Promise<void> {
    const allSent = async () => (await firstEmails()).every((e) => e.status === 'SENT');
    await drive(worker, 10 * MINUTE, 3 * HOUR, allSent);
    const emails = await firstEmails();
    expect(emails.filter((e) => e.status !== 'SENT')).toEqual([]);
    const counts = await mailbox.countsByEmailId();
    expect(emails.map((e) => counts.get(e.id))).toEqual(emails.map(() => 1));
    expect(counts.size).toBe(leads);
  }

  const STATUS = `{ deliveryStatus { sendingEnabled retryingEmails nextRetryAt lastSendError lastSendErrorAt backingOffUntil } }`;

  it('SES refusing connections for 10 minutes fails nothing: the emails wait (and say why), then each is sent once', async () => {
    await importLeads(5);
    const down = dispatcher('worker-outage', 'http://127.0.0.1:9'); // nothing listens on port 9: ECONNREFUSED
    const started = t.clock.now().getTime();
    // Well past the old ~30 s of attempts after which an email failed for good.
    await drive(down, 5 * SECOND, 10 * MINUTE);

    const waiting = await firstEmails();
    expect(waiting.filter((e) => e.status !== 'PENDING')).toEqual([]);
    const { deliveryStatus } = ok(await t.as(tenant.apiKey)(STATUS));
    expect(deliveryStatus).toMatchObject({ sendingEnabled: true, retryingEmails: 5 });
    expect(deliveryStatus.lastSendError).toContain('ECONNREFUSED');
    expect(Date.parse(deliveryStatus.lastSendErrorAt)).toBeLessThanOrEqual(t.clock.now().getTime());
    expect(Date.parse(deliveryStatus.backingOffUntil)).toBeGreaterThan(t.clock.now().getTime() - 5 * SECOND);
    expect(Date.parse(deliveryStatus.nextRetryAt)).toBeGreaterThan(t.clock.now().getTime() - 5 * SECOND);
    // Per email: why it waits and when it is tried next, through the email's own fields.
    const { pendingEmails } = ok(
      await t.as(tenant.apiKey)(
        `query($d: DateTime!) { pendingEmails(dueBefore: $d, first: 50) { edges { node { id failureReason scheduledSendDate attempts } } } }`,
        {
          d: new Date(t.clock.now().getTime() + 2 * HOUR).toISOString(),
        },
      ),
    );
    const nodes = (pendingEmails.edges as { node: { id: string; failureReason: string | null; scheduledSendDate: string; attempts: number } }[])
      .map((edge) => edge.node)
      .filter((node) => waiting.some((e) => e.id === node.id));
    expect(nodes).toHaveLength(5);
    for (const node of nodes) {
      expect(node.failureReason).toContain('ECONNREFUSED');
      expect(node.attempts).toBeGreaterThan(1);
      // Moved by its own backoff (it is not tried before that, nor before the account's back-off ends).
      expect(Date.parse(node.scheduledSendDate)).toBeGreaterThan(started + 10 * SECOND);
    }

    await expectAllSentOnce(dispatcher('worker-back', mailbox.url), 5);
    const after = ok(await t.as(tenant.apiKey)(STATUS)).deliveryStatus;
    expect(after).toMatchObject({ retryingEmails: 0, nextRetryAt: null, backingOffUntil: null });
    expect(after.lastSendError).toContain('ECONNREFUSED'); // what happened last, still readable
  }, 120_000);

  it('sustained throttling: SES sees a number of calls growing with the log of the time, not linearly; then each email is sent once', async () => {
    const leads = 4 * BATCH;
    await importLeads(leads);
    let throttling = true;
    const proxy = await startFaultProxy(mailbox.url, (call) =>
      throttling && call.path.includes('outbound-emails')
        ? { status: 429, errorType: 'ThrottlingException', message: 'Daily message quota exceeded.' }
        : undefined,
    );
    disposers.push(() => proxy.dispose());
    const sendCalls = () => proxy.calls.filter((c) => c.path.includes('outbound-emails')).length;
    const worker = dispatcher('worker-throttled', proxy.url);

    // One call per due email every few seconds (the old behaviour) would be thousands; stop early once far past the bound.
    const bound = 2 * BATCH * (Math.log2(HOUR / SECOND) + 4);
    await drive(worker, 10 * SECOND, HOUR, () => sendCalls() > 2 * bound);
    const firstHour = sendCalls();
    expect(firstHour).toBeLessThanOrEqual(bound);
    await drive(worker, 10 * SECOND, HOUR, () => sendCalls() > 4 * bound);
    const secondHour = sendCalls() - firstHour;
    // Logarithmic: the second hour (back-off at its one-hour cap) probes SES a few times at most.
    expect(secondHour).toBeLessThanOrEqual(Math.max(3 * BATCH, firstHour / 4));
    expect((await firstEmails()).filter((e) => e.status !== 'PENDING')).toEqual([]);
    const { deliveryStatus } = ok(await t.as(tenant.apiKey)(STATUS));
    expect(deliveryStatus.retryingEmails).toBe(leads);
    expect(deliveryStatus.lastSendError).toContain('ThrottlingException');

    throttling = false;
    await expectAllSentOnce(worker, leads);
    expect((await rows(`select backoff_level, backoff_until from send_budget`))[0]).toEqual({ backoff_level: 0, backoff_until: null });
  }, 120_000);

  it('the backoff starts at about a second and doubles up to an hour, never more', () => {
    expect([backoffMs(1, () => 0), backoffMs(1, () => 1)]).toEqual([500, 1000]);
    expect(backoffMs(5, () => 1)).toBe(16_000);
    expect(backoffMs(13, () => 1)).toBe(MAX_BACKOFF_MS);
    expect(backoffMs(10_000, () => 0)).toBe(MAX_BACKOFF_MS / 2);
  });
});
