import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sweepStuckEmails } from '../src/delivery/sweeper.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type Untyped } from './helpers/graphql.js';
import { startFaultProxy, type Fault } from './helpers/fault-proxy.js';
import { startMailbox, waitFor, type SesMailbox } from './helpers/ses.js';
import { queryRows, testDispatcher } from './helpers/dispatch.js';

const DAY = 86_400_000;

/** The guarantees of "Never twice", tested against the real SES v2 client and the emulator. */
describe('dispatching: once and only once', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  const disposers: (() => unknown)[] = [];

  beforeAll(async () => {
    mailbox = await startMailbox();
    // Jobs off: each test drives dispatchers itself. Unlimited budget unless a test sets one.
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', DISPATCH_BATCH_SIZE: '50' });
  });
  beforeEach(async () => {
    await mailbox.clear();
    // Earlier tests' leftovers must not be due for this one.
    await rows(`update sequence_email set status = 'CANCELED' where status in ('PENDING', 'SENDING')`);
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

  const dispatcher = (workerId: string, endpoint = mailbox.url) => testDispatcher(t, disposers, workerId, endpoint);

  /** `leads` leads, each with their 5 emails; with `allDue`, the clock moves so all 5 are due. */
  async function importLeads(leads: number, allDue = false): Promise<void> {
    const inputs = Array.from({ length: leads }, (_, i) => ({ email: `lead${i}-${tenant.companyId.slice(-6)}@example.com`, firstName: `Lead${i}` }));
    const result = ok(await t.as(tenant.apiKey)(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created } }`, { i: inputs }));
    expect(result.importLeads.created).toBe(leads);
    if (allDue) t.clock.advance(15 * DAY);
  }

  async function statusCounts(): Promise<Record<string, number>> {
    const counts = await rows<{ status: string; n: number }>(`select status, count(*)::int as n from sequence_email where company_id = ? group by status`, [
      tenant.companyId,
    ]);
    return Object.fromEntries(counts.map((c) => [c.status, c.n]));
  }

  it('two dispatchers at once over 2,000 due emails send each exactly once', async () => {
    await importLeads(400, true);
    const [a, b] = [dispatcher('worker-a'), dispatcher('worker-b')];
    const [ra, rb] = await Promise.all([a.dispatchDue(60_000), b.dispatchDue(60_000)]);

    expect(ra.sent + rb.sent).toBe(2000);
    expect(ra.sent).toBeGreaterThan(0);
    expect(rb.sent).toBeGreaterThan(0); // both really worked
    expect(await statusCounts()).toEqual({ SENT: 2000 });
    const counts = await mailbox.countsByEmailId();
    expect(counts.size).toBe(2000);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const [completed] = await rows<{ n: number }>(`select count(*)::int as n from enrollment where company_id = ? and status = 'COMPLETED'`, [
      tenant.companyId,
    ]);
    expect(completed!.n).toBe(400);
  });

  it('one dispatchDue sends everything due: a lane whose claim came back short because the other lane held rows goes on', async () => {
    // Several companies with a backlog: both lanes' fair and fill passes lock rows of the same companies at once, so
    // one lane's claim can come back short though plenty is due. Stopping on a short batch left due emails for the
    // next recurring run (the scale bench left 14,827 of them).
    const others = [tenant, await createTenant(t), await createTenant(t)];
    for (const other of others) {
      tenant = other;
      await importLeads(60);
    }
    t.clock.advance(15 * DAY);
    const result = await dispatcher('worker-drain').dispatchDue(60_000);
    const [due] = await rows<{ n: number }>(`select count(*)::int as n from sequence_email where status = 'PENDING' and scheduled_send_date <= ?`, [
      t.clock.now(),
    ]);
    expect({ due: due!.n, more: result.more }).toEqual({ due: 0, more: false });
    expect(result.sent).toBe(3 * 60 * 5);
  });

  it('with SES answering 429 to a third of calls, every email is still sent once and none fails', async () => {
    await importLeads(60, true);
    const proxy = await startFaultProxy(mailbox.url, (call, index) =>
      call.path.includes('outbound-emails') && index % 3 === 0
        ? { status: 429, errorType: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' }
        : undefined,
    );
    disposers.push(() => proxy.dispose());
    const worker = dispatcher('worker-429', proxy.url);
    for (let round = 0; round < 30 && (await statusCounts()).SENT !== 300; round++) {
      await worker.dispatchDue();
      t.clock.advance(2 * 60_000); // past any backoff
    }

    expect(await statusCounts()).toEqual({ SENT: 300 });
    const counts = await mailbox.countsByEmailId();
    expect(counts.size).toBe(300);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(proxy.calls.filter((c) => c.path.includes('outbound-emails')).length).toBeGreaterThan(300); // throttled calls were retried

    // On the wire: correlation tags for company, lead and email.
    const body = JSON.parse(proxy.calls.find((c) => c.path.includes('outbound-emails'))!.body) as { EmailTags: { Name: string; Value: string }[] };
    expect(body.EmailTags.map((tag) => tag.Name).sort()).toEqual(['company_id', 'email_id', 'lead_id']);
    expect(body.EmailTags.find((tag) => tag.Name === 'company_id')!.Value).toBe(tenant.companyId);
  });

  it('a permanent rejection fails that email with the provider reason; the batch goes on', async () => {
    await importLeads(5);
    const rejected: Fault = { status: 400, errorType: 'MessageRejected', message: 'Email address is not verified: lead2' };
    const proxy = await startFaultProxy(mailbox.url, (call) => (call.body.includes('"lead2-') ? rejected : undefined));
    disposers.push(() => proxy.dispose());
    await dispatcher('worker-reject', proxy.url).dispatchDue();

    const failed = await rows<{ failure_reason: string }>(`select failure_reason from sequence_email where company_id = ? and status = 'FAILED'`, [
      tenant.companyId,
    ]);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.failure_reason).toContain('MessageRejected');
    expect(failed[0]!.failure_reason).toContain('not verified');
    expect((await statusCounts()).SENT).toBe(4);
  });

  it('an unreachable SES is retried later, never counted as sent', async () => {
    await importLeads(3);
    await dispatcher('worker-down', 'http://127.0.0.1:9').dispatchDue(); // nothing listens on port 9
    expect((await statusCounts()).PENDING).toBe(15);
    t.clock.advance(10 * 60_000);
    await dispatcher('worker-up').dispatchDue();
    expect((await statusCounts()).SENT).toBe(3);
  });

  it('a paused enrollment’s due email is neither sent nor canceled; resumed, it goes', async () => {
    await importLeads(2);
    const [lead0] = await rows<{ id: string }>(`select id from lead where company_id = ? and first_name = 'Lead0'`, [tenant.companyId]);
    ok(await t.as(tenant.apiKey)(`mutation($l: ID!) { pauseSequence(leadId: $l) { id } }`, { l: lead0!.id }));
    await dispatcher('worker-held').dispatchDue();
    expect(await statusCounts()).toEqual({ SENT: 1, PENDING: 9 });

    ok(await t.as(tenant.apiKey)(`mutation($l: ID!) { resumeSequence(leadId: $l) { id } }`, { l: lead0!.id }));
    await dispatcher('worker-resumed').dispatchDue();
    expect(await statusCounts()).toEqual({ SENT: 2, PENDING: 8 });
    expect(await mailbox.emails()).toHaveLength(2);
  });

  it('a rendering error fails that one email with a clear reason; the rest are sent', async () => {
    await importLeads(3);
    const [sequence] = await rows<{ id: string; steps: { body: string }[] }>(`select id, steps from email_sequence where company_id = ?`, [tenant.companyId]);
    const broken = sequence!.steps.map((s, i) => (i === 0 ? { ...s, body: '<mjml><mj-body>{% if %}</mj-body></mjml>' } : s));
    // Saved templates are checked; this simulates one that breaks later (e.g. after an upgrade).
    await rows(`update email_sequence set steps = ?::jsonb where id = ?`, [JSON.stringify(broken), sequence!.id]);
    const [lead0] = await rows<{ id: string }>(`select id from lead where company_id = ? and first_name = 'Lead0'`, [tenant.companyId]);
    // Only Lead0's first email uses the broken step alone: make the others' first emails not due.
    await rows(`update sequence_email set scheduled_send_date = now() + interval '1 year' where company_id = ? and lead_id <> ?`, [
      tenant.companyId,
      lead0!.id,
    ]);
    await dispatcher('worker-render').dispatchDue();

    const [failed] = await rows<{ status: string; failure_reason: string }>(
      `select status, failure_reason from sequence_email where lead_id = ? and email_number = 1`,
      [lead0!.id],
    );
    expect(failed).toMatchObject({ status: 'FAILED' });
    expect(failed!.failure_reason).toMatch(/^Rendering failed/);
    expect(await mailbox.emails()).toHaveLength(0);
  });

  it('a paused account pauses dispatch, deliveryStatus says why, and /readyz stays ready', async () => {
    await importLeads(2);
    const saved = process.env.AWS_SES_ACCOUNT!;
    const account = JSON.parse(saved) as { SendingEnabled: boolean; EnforcementStatus: string };
    process.env.AWS_SES_ACCOUNT = JSON.stringify({ ...account, SendingEnabled: false, EnforcementStatus: 'SHUTDOWN' });
    try {
      const worker = dispatcher('worker-paused');
      await worker.account(true);
      expect((await worker.dispatchDue()).claimed).toBe(0);
      expect((await statusCounts()).PENDING).toBe(10);

      const { deliveryStatus } = ok(await t.as(tenant.apiKey)(`{ deliveryStatus { sendingEnabled pausedReason dueEmails } }`));
      expect(deliveryStatus).toMatchObject({ sendingEnabled: false, dueEmails: 2 });
      expect(deliveryStatus.pausedReason).toContain('SHUTDOWN');
      // Readiness is about this process serving its own traffic: a paused account does not take the API out.
      expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
    } finally {
      process.env.AWS_SES_ACCOUNT = saved;
    }
    const worker = dispatcher('worker-resumed');
    await worker.account(true);
    await worker.dispatchDue();
    expect((await statusCounts()).SENT).toBe(2);
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
  });

  it('a worker killed with SIGKILL mid-batch: nothing is sent twice and every email is accounted for', async () => {
    await importLeads(300); // 300 emails due now (the worker runs on the real clock)
    const worker = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: t.app.databaseUrl,
        SES_ENDPOINT: mailbox.url,
        SES_MAX_SEND_RATE: '150',
        DISPATCH_BATCH_SIZE: '100',
        DISPATCH_INTERVAL_SECONDS: '1',
        WORKER_ID: 'doomed-worker',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    worker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await waitFor(
      'the worker to send some emails',
      async () => {
        if (worker.exitCode !== null) throw new Error(`the worker exited (${worker.exitCode}): ${stderr}`);
        return ((await statusCounts()).SENT ?? 0) >= 40;
      },
      30_000,
    );
    worker.kill('SIGKILL');
    await exited;

    const afterKill = await statusCounts();
    expect(afterKill.SENT).toBeLessThan(300);
    expect(afterKill.SENDING ?? 0).toBeGreaterThan(0); // killed mid-batch: it held claims
    // The sweeper settles what the dead worker held once the lease has passed; the rest is sent normally.
    // Leases are timed by the database's clock: its claims are made one lease older, as if the lease had passed.
    // The app's clock moves as far, past any backoff of the emails the worker handed back.
    await rows(`update sequence_email set claimed_at = claimed_at - make_interval(secs => ?) where company_id = ? and status = 'SENDING'`, [
      t.app.config.delivery.claimLeaseSeconds + 1,
      tenant.companyId,
    ]);
    t.clock.set(new Date(Date.now() + (t.app.config.delivery.claimLeaseSeconds + 1) * 1000));
    await sweepStuckEmails(t.app.orm.em.fork(), t.clock.now(), t.app.config.delivery.claimLeaseSeconds);
    await dispatcher('survivor').dispatchDue(60_000);

    const final = await rows<{ id: string; status: string; failure_reason: string | null }>(
      `select id, status, failure_reason from sequence_email where company_id = ? and email_number = 1`,
      [tenant.companyId],
    );
    expect(final).toHaveLength(300);
    for (const email of final) {
      expect(['SENT', 'UNKNOWN']).toContain(email.status);
      if (email.status === 'UNKNOWN') expect(email.failure_reason).toMatch(/not re-sent automatically/i);
    }
    const counts = await mailbox.countsByEmailId();
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const sent = final.filter((e) => e.status === 'SENT').map((e) => e.id);
    for (const id of sent) expect(counts.get(id)).toBe(1);

    const { stuckEmails } = ok(await t.as(tenant.apiKey)(`{ stuckEmails(first: 100) { totalCount edges { node { id status } } } }`));
    expect(stuckEmails.totalCount).toBe(final.length - sent.length);
  }, 60_000);

  it('retryEmail re-queues a failed email on purpose and it is sent once more', async () => {
    await importLeads(1);
    const proxy = await startFaultProxy(mailbox.url, () => ({ status: 400, errorType: 'MessageRejected', message: 'rejected once' }));
    disposers.push(() => proxy.dispose());
    await dispatcher('worker-fail', proxy.url).dispatchDue();
    const [failed] = await rows<{ id: string }>(`select id from sequence_email where company_id = ? and status = 'FAILED'`, [tenant.companyId]);

    const { retryEmail } = ok(await t.as(tenant.apiKey)(`mutation($id: ID!) { retryEmail(id: $id) { status } }`, { id: failed!.id }));
    expect(retryEmail.status).toBe('PENDING');
    await dispatcher('worker-retry').dispatchDue();
    expect((await mailbox.countsByEmailId()).get(failed!.id)).toBe(1);
  });

  it('emails of suppressed leads and stopped enrollments are canceled at claim time', async () => {
    await importLeads(3);
    const leads = await rows<{ id: string; email: string }>(`select id, email from lead where company_id = ? order by first_name`, [tenant.companyId]);
    await rows(`insert into suppression (id, company_id, email, reason, created_at) values (gen_random_uuid(), ?, ?, 'HARD_BOUNCE', now())`, [
      tenant.companyId,
      leads[0]!.email,
    ]);
    ok(await t.as(tenant.apiKey)(`mutation($l: ID!) { stopSequence(leadId: $l) { status } }`, { l: leads[1]!.id }));
    await dispatcher('worker-cancel').dispatchDue();

    const emails = await rows<{ lead_id: string; status: string }>(`select lead_id, status from sequence_email where company_id = ? and email_number = 1`, [
      tenant.companyId,
    ]);
    const statusOf = (leadId: string) => emails.find((e) => e.lead_id === leadId)!.status;
    expect(statusOf(leads[0]!.id)).toBe('CANCELED');
    expect(statusOf(leads[1]!.id)).toBe('CANCELED');
    expect(statusOf(leads[2]!.id)).toBe('SENT');
    expect((await mailbox.emails()).map((e) => e.destination.to[0])).toEqual([leads[2]!.email]);
  });
});
