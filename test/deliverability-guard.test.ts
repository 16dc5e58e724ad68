import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type DeliverabilityLevels } from '../src/core/config.js';
import { migrate, openOrm } from '../src/db/orm.js';
import { query, sql } from '../src/db/sql.js';
import { claimDueEmails } from '../src/delivery/claim.js';
import type { Dispatcher } from '../src/delivery/dispatcher.js';
import { evaluateCompany } from '../src/delivery/guard/guard.service.js';
import { percent, verdictOf, windowOf } from '../src/delivery/guard/levels.js';
import { DeliverabilityState } from '../src/model/sequence.enums.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { queryRows } from './helpers/dispatch.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type Untyped } from './helpers/graphql.js';
import { sesDispatcher, startMailbox, type SesMailbox } from './helpers/ses.js';
import { connectWs, subscribe, subscriptionsOpen, type Subscription, type WsConnection } from './helpers/ws.js';

const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
const DAY = 86_400_000;
const QUARTER_HOUR = 15 * 60_000;
const DEFAULTS: DeliverabilityLevels = {
  warningBounceRate: 0.04,
  warningComplaintRate: 0.0008,
  pauseBounceRate: 0.08,
  pauseComplaintRate: 0.003,
  minimumSends: 200,
};

const CHANGE = `subscription { deliverabilityChanged { state previousState reason at windows { days sent bounced complained bounceRate enoughVolume } } }`;
const DELIVERABILITY = `{ deliverability { state reason changedAt pausedAt resumedAt resumedBy
  windows { days sent bounced complained bounceRate complaintRate enoughVolume }
  levels { warningBounceRate warningComplaintRate pauseBounceRate pauseComplaintRate sesReviewBounceRate sesReviewComplaintRate sesPauseBounceRate sesPauseComplaintRate minimumSends } } }`;
const RESUME = `mutation($c: ID!) { resumeCompanySending(companyId: $c) { state reason pausedAt resumedAt resumedBy windows { days sent bounced } } }`;

interface Change {
  deliverabilityChanged: { state: string; previousState: string; reason: string | null; at: string; windows: Untyped[] };
}

interface SentEmail {
  id: string;
  messageId: string;
  address: string;
}

describe('levels and windows (pure)', () => {
  const window = (sent: number, bounced: number, complained = 0, days = 7) => windowOf({ days, sent, bounced, complained }, DEFAULTS.minimumSends);

  it('a window under the minimum volume never triggers, whatever its rates', () => {
    expect(verdictOf([window(199, 199, 199), window(199, 199, 199, 30)], DEFAULTS)).toEqual({ state: DeliverabilityState.OK, reason: null });
    expect(window(199, 199)).toMatchObject({ bounceRate: 1, enoughVolume: false });
    expect(window(0, 0)).toMatchObject({ bounceRate: null, complaintRate: null, enoughVolume: false });
  });

  it('reaching a level counts; the most severe level wins; the reason names rate, window, volume and level', () => {
    expect(verdictOf([window(200, 7)], DEFAULTS).state).toBe(DeliverabilityState.OK);
    expect(verdictOf([window(200, 8)], DEFAULTS)).toEqual({
      state: DeliverabilityState.WARNING,
      reason: 'Bounce rate 4% (8 of 200 sends) over the last 7 days reached the warning level of 4%',
    });
    expect(verdictOf([window(200, 16)], DEFAULTS).state).toBe(DeliverabilityState.PAUSED);
    // A warning in the short window does not hide a pause in the long one.
    expect(verdictOf([window(200, 9), window(1000, 80, 0, 30)], DEFAULTS)).toMatchObject({
      state: DeliverabilityState.PAUSED,
      reason: expect.stringMatching(/last 30 days/),
    });
    // Complaints: 0.08% warns, 0.3% pauses (2 of 2,500 = 0.08%).
    expect(verdictOf([window(2500, 0, 2)], DEFAULTS)).toMatchObject({
      state: DeliverabilityState.WARNING,
      reason: expect.stringMatching(/^Complaint rate 0.08%/),
    });
    expect(verdictOf([window(1000, 0, 3)], DEFAULTS).state).toBe(DeliverabilityState.PAUSED);
    expect([percent(0.0818181), percent(0.003), percent(0.1)]).toEqual(['8.18%', '0.3%', '10%']);
  });

  it('levels are configurable and validated: 0 < warning < pause <= 1', () => {
    const env = { NODE_ENV: 'test' };
    expect(loadConfig(env).deliverability).toEqual(DEFAULTS);
    expect(loadConfig({ ...env, DELIVERABILITY_PAUSE_BOUNCE_RATE: '0.06', DELIVERABILITY_MINIMUM_SENDS: '50' }).deliverability).toMatchObject({
      pauseBounceRate: 0.06,
      minimumSends: 50,
    });
    const problems = (extra: Record<string, string>) => {
      try {
        loadConfig({ ...env, ...extra });
        return [];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ DELIVERABILITY_WARNING_BOUNCE_RATE: '0.08' })).toEqual([
      expect.stringMatching(/WARNING_BOUNCE_RATE \(0.08\) must be below .*PAUSE_BOUNCE_RATE/),
    ]);
    expect(problems({ DELIVERABILITY_PAUSE_COMPLAINT_RATE: '0.0005' })).toEqual([expect.stringMatching(/WARNING_COMPLAINT_RATE .* must be below/)]);
    for (const bad of ['0', '-0.1', '1.5', 'NaN', '4%', 'Infinity']) {
      expect(problems({ DELIVERABILITY_PAUSE_BOUNCE_RATE: bad }), bad).toEqual([expect.stringMatching(/PAUSE_BOUNCE_RATE must be a fraction/)]);
    }
    expect(problems({ DELIVERABILITY_MINIMUM_SENDS: '0' })).toEqual([expect.stringMatching(/MINIMUM_SENDS/)]);
  });
});

/**
 * The guard end to end: real SES client against the emulator, SES events as SNS signs them (a test certificate the
 * app trusts through its injected fetcher, as test/ses-events.test.ts does), graphql-ws subscribers per company.
 */
describe('the deliverability guard', () => {
  let dir: string;
  let key: string;
  let cert: string;
  let mailbox: SesMailbox;
  let t: TestApp;
  let dispatcher: Dispatcher;
  let x: Tenant;
  let y: Tenant;
  let z: Tenant;
  let xSent: SentEmail[];
  const sockets: WsConnection[] = [];
  let xChanges: Subscription<Change>;
  let yChanges: Subscription<Change>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guard-test-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=sns.amazonaws.com');
    [key, cert] = ['key.pem', 'cert.pem'].map((file) => readFileSync(join(dir, file), 'utf8')) as [string, string];
    mailbox = await startMailbox();
    t = await startTestApp(
      { SES_MAX_SEND_RATE: '0', SES_SNS_TOPIC_ARNS: TOPIC },
      {
        sesWebhook: {
          fetchCertificate: (url) => (url === CERT_URL ? Promise.resolve(cert) : Promise.reject(new Error('connect ETIMEDOUT'))),
          confirmSubscription: () => Promise.resolve(),
        },
      },
    );
    dispatcher = sesDispatcher(t, mailbox, 'guard-test');
    [x, y, z] = [await createTenant(t, { name: 'Careless' }), await createTenant(t, { name: 'Bystander' }), await createTenant(t, { name: 'Small' })];
  });
  afterAll(async () => {
    for (const socket of sockets) await socket.client.dispose();
    await t?.dispose();
    await mailbox?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function importLeads(tenant: Tenant, count: number, prefix: string): Promise<void> {
    const inputs = Array.from({ length: count }, (_, i) => ({ email: `${prefix}${i}-${randomUUID().slice(0, 6)}@example.com`, firstName: 'Ada' }));
    const { importLeads: result } = ok(
      await t.as(tenant.apiKey)<{ importLeads: { created: number } }>(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created } }`, { i: inputs }),
    );
    expect(result.created).toBe(count);
  }

  /**
   * Dispatches until nothing is due but the paused companies' emails. An email SES did not take (the emulator slow on a loaded machine) waits a second
   * or more for its retry: the clock is moved on a little so it falls due (the sends stay in the same quarter hour).
   */
  async function sendAllDue(): Promise<void> {
    for (let round = 0; round < 10; round++) {
      await dispatcher.dispatchDue();
      const [row] = await queryRows<{ due: number }>(
        t,
        `select count(*)::int as due from sequence_email where status in ('PENDING', 'SENDING') and scheduled_send_date <= ? and company_id not in (select company_id from company_sending_paused)`,
        [t.clock.now()],
      );
      if (row!.due === 0) return;
      t.clock.advance(5_000);
    }
    throw new Error('emails still due after 10 rounds of dispatch');
  }

  function sentEmails(tenant: Tenant): Promise<SentEmail[]> {
    return queryRows<SentEmail>(
      t,
      `select id, provider_message_id as "messageId", to_address as address from sequence_email where company_id = ? and sent_at is not null order by id`,
      [tenant.companyId],
    );
  }

  /** A permanent bounce of `email`, as SES publishes it and SNS signs it, posted to the real webhook. */
  async function bounce(email: SentEmail): Promise<void> {
    const event = {
      eventType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [{ emailAddress: email.address, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
        timestamp: new Date().toISOString(),
        feedbackId: randomUUID(),
      },
      mail: { timestamp: new Date().toISOString(), source: 'team@example.com', messageId: email.messageId, destination: [email.address], tags: {} },
    };
    const fields: Record<string, string> = {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: TOPIC,
      Subject: 'Amazon SES Email Event Notification',
      Message: JSON.stringify(event),
      Timestamp: new Date().toISOString(),
    };
    const canonical = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'].map((k) => `${k}\n${fields[k]}\n`).join('');
    const signed = { ...fields, SignatureVersion: '2', Signature: createSign('RSA-SHA256').update(canonical).sign(key, 'base64'), SigningCertURL: CERT_URL };
    const response = await fetch(`${t.baseUrl}/webhooks/ses`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      body: JSON.stringify(signed),
    });
    expect(await response.json()).toEqual({ status: 'processed' });
  }

  async function deliverability(tenant: Tenant) {
    return ok(await t.as(tenant.apiKey)<{ deliverability: Untyped }>(DELIVERABILITY)).deliverability;
  }

  function listen(tenant: Tenant): Subscription<Change> {
    const socket = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    sockets.push(socket);
    return subscribe<Change>(socket.client, CHANGE);
  }

  /** The guard's window counted independently, from the raw rows: sends in [now − days, now] on quarter-hour edges. */
  async function independentWindow(tenant: Tenant, days: number) {
    const now = t.clock.now().getTime();
    const ceil = (ms: number) => new Date(Math.ceil(ms / QUARTER_HOUR) * QUARTER_HOUR);
    const [row] = await queryRows<{ sent: number; bounced: number; complained: number }>(
      t,
      `select count(*)::int as sent,
              count(*) filter (where exists (select 1 from email_event v where v.email_id = e.id and v.kind = 'BOUNCE' and v.detail like 'Permanent%'))::int as bounced,
              count(*) filter (where exists (select 1 from email_event v where v.email_id = e.id and v.kind = 'COMPLAINT'))::int as complained
       from sequence_email e where e.company_id = ? and e.sent_at >= ? and e.sent_at < ?`,
      [tenant.companyId, ceil(now - days * DAY), ceil(now)],
    );
    return row!;
  }

  it('sends the fixture: 220 emails of X, 199 of Z, a few of Y, all through the emulator', async () => {
    // A minute into the next quarter hour, so the sends and the resume below share one of the counters' 15-minute
    // buckets (the case the resume's baseline is for); the clock moves only when the test moves it. (Ahead of the real
    // time, not behind it: the SNS test certificate is valid from now.)
    t.clock.set(new Date(Math.ceil(Date.now() / QUARTER_HOUR) * QUARTER_HOUR + 60_000));
    await importLeads(x, 220, 'x');
    await importLeads(y, 5, 'y');
    await importLeads(z, 199, 'z');
    await sendAllDue();
    xSent = await sentEmails(x);
    expect([xSent.length, (await sentEmails(y)).length, (await sentEmails(z)).length]).toEqual([220, 5, 199]);
    expect((await mailbox.emails()).length).toBe(424);

    xChanges = listen(x);
    yChanges = listen(y);
    await subscriptionsOpen(() => t.app.pubSub.stats(), 2);
    expect(await deliverability(x)).toMatchObject({
      state: 'OK',
      reason: null,
      pausedAt: null,
      levels: { ...DEFAULTS, sesReviewBounceRate: 0.05, sesPauseComplaintRate: 0.005 },
    });
  });

  it('two processes judging at once move the state once and publish once; the state also moves back down', async () => {
    for (const email of xSent.slice(0, 5)) await bounce(email);
    expect((await deliverability(x)).state).toBe('OK'); // 5 of 220: 2.3%
    // Six judges at once with a 2% warning level, each with its own EntityManager (its own connection), as processes would.
    const strict = { ...DEFAULTS, warningBounceRate: 0.02 };
    const results = await Promise.all(Array.from({ length: 6 }, () => evaluateCompany(t.app.orm.em.fork(), x.companyId, t.clock.now(), strict)));
    expect(results.map((r) => r.state)).toEqual(Array(6).fill('WARNING'));
    const warned = await xChanges.next();
    expect(warned.deliverabilityChanged).toMatchObject({
      state: 'WARNING',
      previousState: 'OK',
      reason: expect.stringMatching(/^Bounce rate 2.27% \(5 of 220 sends\)/),
    });
    expect(await xChanges.within(300)).toEqual([]);
    const [{ version }] = (await queryRows<{ version: number }>(t, `select deliverability_version as version from company where id = ?`, [x.companyId])) as [
      { version: number },
    ];
    expect(version).toBe(1);

    // Back under the levels (the deployment's own): WARNING → OK, once.
    await Promise.all(Array.from({ length: 3 }, () => evaluateCompany(t.app.orm.em.fork(), x.companyId, t.clock.now(), DEFAULTS)));
    expect((await xChanges.next()).deliverabilityChanged).toMatchObject({ state: 'OK', previousState: 'WARNING' });
    expect(await xChanges.within(200)).toEqual([]);
  });

  it('bounces past the warning level warn X, then past the pause level pause it; only X hears of it', async () => {
    for (const email of xSent.slice(5, 8)) await bounce(email);
    expect((await deliverability(x)).state).toBe('OK'); // 8 of 220: 3.6%
    expect(await xChanges.within(100)).toEqual([]);
    await bounce(xSent[8]!); // 9 of 220: 4.09%
    const warning = (await xChanges.next()).deliverabilityChanged;
    expect(warning).toMatchObject({
      state: 'WARNING',
      previousState: 'OK',
      reason: 'Bounce rate 4.09% (9 of 220 sends) over the last 7 days reached the warning level of 4%',
    });
    expect(warning.windows).toEqual([
      { days: 7, sent: 220, bounced: 9, complained: 0, bounceRate: 9 / 220, enoughVolume: true },
      { days: 30, sent: 220, bounced: 9, complained: 0, bounceRate: 9 / 220, enoughVolume: true },
    ]);
    for (const email of xSent.slice(9, 17)) await bounce(email);
    expect((await deliverability(x)).state).toBe('WARNING'); // 17 of 220: 7.7%
    await bounce(xSent[17]!); // 18 of 220: 8.18%
    const paused = (await xChanges.next()).deliverabilityChanged;
    expect(paused).toMatchObject({
      state: 'PAUSED',
      previousState: 'WARNING',
      reason: expect.stringMatching(/^Bounce rate 8.18% \(18 of 220 sends\).*pause level of 8%$/),
    });
    // A paused company stays paused whatever comes next: no more changes.
    await bounce(xSent[18]!);
    expect(await xChanges.within(200)).toEqual([]);
    expect(await yChanges.within(0)).toEqual([]);
  });

  it('`deliverability` equals an independent count over the raw rows; `deliveryStatus` says when and why', async () => {
    const seen = await deliverability(x);
    expect(seen).toMatchObject({ state: 'PAUSED', pausedAt: expect.any(String), reason: expect.stringMatching(/^Bounce rate 8.18%/) });
    for (const [index, days] of [7, 30].entries()) {
      const counted = await independentWindow(x, days);
      expect(counted).toEqual({ sent: 220, bounced: 19, complained: 0 });
      expect(seen.windows[index]).toEqual({ days, ...counted, bounceRate: counted.bounced / counted.sent, complaintRate: 0, enoughVolume: true });
    }
    const { deliveryStatus } = ok(
      await t.as(x.apiKey)<{ deliveryStatus: Untyped }>(`{ deliveryStatus { sendingEnabled pausedReason companyPausedAt companyPausedReason } }`),
    );
    expect(deliveryStatus).toEqual({
      sendingEnabled: false,
      pausedReason: `The deliverability guard paused this company's sending: ${seen.reason}`,
      companyPausedAt: seen.pausedAt,
      companyPausedReason: seen.reason,
    });
    // What the claim reads: the paused companies, kept by the company row's trigger.
    expect(await queryRows(t, `select company_id from company_sending_paused`)).toEqual([{ company_id: x.companyId }]);
    const other = ok(await t.as(y.apiKey)<{ deliveryStatus: Untyped }>(`{ deliveryStatus { sendingEnabled companyPausedAt } }`)).deliveryStatus;
    expect(other).toEqual({ sendingEnabled: true, companyPausedAt: null });
  });

  it("X's new emails wait, PENDING, while Y's welcome emails keep leaving", async () => {
    await mailbox.clear();
    await importLeads(x, 3, 'x-late');
    await importLeads(y, 3, 'y-late');
    await dispatcher.dispatchDue();
    const left = (await mailbox.emails()).flatMap((email) => email.destination.to);
    expect(left).toHaveLength(3);
    expect(left.every((address) => address.startsWith('y-late'))).toBe(true);
    const waiting = await queryRows<{ status: string }>(
      t,
      `select e.status from sequence_email e join lead l on l.id = e.lead_id where l.email like 'x-late%' and e.email_number = 1`,
    );
    expect(waiting.map((e) => e.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);
  });

  it('a company under the minimum volume is never paused, even at 100% bounces', async () => {
    // Each answer of the webhook comes after the judgement that saw its bounce: timed here (measured, not a target).
    const posts: number[] = [];
    for (const email of await sentEmails(z)) {
      const started = performance.now();
      await bounce(email);
      posts.push(performance.now() - started);
    }
    const reads: number[] = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      await deliverability(z);
      reads.push(performance.now() - started);
    }
    const p = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.ceil(q * values.length) - 1]!.toFixed(1);
    console.info(`signed bounce through the webhook, judged: p50 ${p(posts, 0.5)} ms, p99 ${p(posts, 0.99)} ms (${posts.length})`);
    console.info(`deliverability over HTTP: p50 ${p(reads, 0.5)} ms, p99 ${p(reads, 0.99)} ms (${reads.length})`);
    const seen = await deliverability(z);
    expect(seen).toMatchObject({ state: 'OK', changedAt: null });
    expect(seen.windows[0]).toEqual({ days: 7, sent: 199, bounced: 199, complained: 0, bounceRate: 1, complaintRate: 0, enoughVolume: false });
    expect(ok(await t.as(z.apiKey)<{ deliveryStatus: Untyped }>(`{ deliveryStatus { sendingEnabled } }`)).deliveryStatus.sendingEnabled).toBe(true);
  });

  it('judges racing toward different states lose no transition: the strictest wins, each move published once', async () => {
    const w = await createTenant(t, { name: 'Raced' });
    await importLeads(w, 5, 'w');
    await sendAllDue();
    const [first] = await sentEmails(w);
    await bounce(first!); // 1 of 5: 20%, far under the minimum volume of the deployment's levels
    const changes = listen(w);
    await subscriptionsOpen(() => t.app.pubSub.stats(), 3);
    // Levels under which 20% warns, and levels under which it pauses; three judges of each at once.
    const warns = { ...DEFAULTS, minimumSends: 1, warningBounceRate: 0.1, pauseBounceRate: 0.5 };
    const pauses = { ...DEFAULTS, minimumSends: 1, warningBounceRate: 0.05, pauseBounceRate: 0.15 };
    await Promise.all([warns, pauses, warns, pauses, warns, pauses].map((levels) => evaluateCompany(t.app.orm.em.fork(), w.companyId, t.clock.now(), levels)));
    const [row] = await queryRows<{ state: string; version: number }>(
      t,
      `select deliverability_state as state, deliverability_version as version from company where id = ?`,
      [w.companyId],
    );
    expect(row!.state).toBe('PAUSED');
    const events = [(await changes.next()).deliverabilityChanged, ...(await changes.within(500)).map((c) => c.deliverabilityChanged)];
    // OK → PAUSED at once, or OK → WARNING → PAUSED: one event per move, chained, ending PAUSED.
    expect(events).toHaveLength(row!.version);
    expect(events.map((e) => `${e.previousState}>${e.state}`)).toEqual(events.length === 1 ? ['OK>PAUSED'] : ['OK>WARNING', 'WARNING>PAUSED']);
    changes.dispose();
  });

  it('a company key cannot resume (FORBIDDEN); an unknown company is NOT_FOUND', async () => {
    for (const companyId of [x.companyId, y.companyId]) {
      const refused = errorOf(await t.as(x.apiKey)(RESUME, { c: companyId }));
      expect(refused.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'OPERATOR_ONLY' });
    }
    expect((await deliverability(x)).state).toBe('PAUSED');
    for (const companyId of [randomUUID(), 'not-a-uuid', "'; drop table company; --"]) {
      expect(errorOf(await t.operator(RESUME, { c: companyId })).extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'COMPANY_NOT_FOUND' });
    }
    expect(errorOf(await t.operator(DELIVERABILITY)).extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
  });

  it("the operator's resume: X's waiting emails leave, the old bounces do not pause it again, and it is recorded", async () => {
    await mailbox.clear();
    t.clock.advance(60_000);
    const { resumeCompanySending: resumed } = ok(await t.operator<{ resumeCompanySending: Untyped }>(RESUME, { c: x.companyId }));
    expect(resumed).toMatchObject({
      state: 'OK',
      reason: 'Sending resumed by the operator',
      pausedAt: null,
      resumedAt: t.clock.now().toISOString(),
      resumedBy: 'operator',
    });
    expect(resumed.windows).toEqual([
      { days: 7, sent: 0, bounced: 0 },
      { days: 30, sent: 0, bounced: 0 },
    ]);
    expect((await xChanges.next()).deliverabilityChanged).toMatchObject({ state: 'OK', previousState: 'PAUSED', reason: 'Sending resumed by the operator' });

    await sendAllDue();
    const left = (await mailbox.emails()).flatMap((email) => email.destination.to);
    expect(left.sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^x-late0/), expect.stringMatching(/^x-late1/), expect.stringMatching(/^x-late2/)]),
    );
    expect(left).toHaveLength(3);

    // The windows now count only sends since the resume, so the 19 old bounces (and a late one) do not pause X again.
    await bounce(xSent[19]!);
    const after = await deliverability(x);
    expect(after).toMatchObject({ state: 'OK', resumedBy: 'operator' });
    expect(after.windows[0]).toMatchObject({ sent: 3, bounced: 1, enoughVolume: false });
    const [row] = await queryRows(t, `select sending_resumed_by, sending_resumed_at, deliverability_counting_since from company where id = ?`, [x.companyId]);
    expect(row).toMatchObject({ sending_resumed_by: 'operator' });
    expect(await queryRows(t, `select company_id from company_sending_paused where company_id = ?`, [x.companyId])).toEqual([]);

    // Resuming a company that is not paused changes nothing and publishes nothing.
    expect(ok(await t.operator<{ resumeCompanySending: Untyped }>(RESUME, { c: y.companyId })).resumeCompanySending).toMatchObject({
      state: 'OK',
      resumedAt: null,
    });
    expect(await xChanges.within(200)).toEqual([]);
    expect(await yChanges.within(0)).toEqual([]);
  });
});

/**
 * The claim with a paused company holding a large backlog, older than everyone else's mail: none of it is claimed,
 * the other companies' emails are, and the claim's cost stays that of the emails it walks past (measured here).
 */
describe('the claim skips a paused company', () => {
  let orm: MikroORM;
  const now = new Date();
  const hour = 3_600_000;

  beforeAll(async () => {
    orm = await openOrm(await createTestDatabase());
    await migrate(orm);
  });
  afterAll(() => orm?.close(true));

  /** One company (inserted in `state`: the trigger lists it as paused from its insert) with `emails` due emails from `at`. */
  async function companyWithEmails(name: string, state: DeliverabilityState, emails: number, at: Date): Promise<string> {
    const em = orm.em.fork();
    const [company] = await query<{ id: string }>(
      em,
      sql`insert into company (id, name, from_address, created_at, updated_at, deliverability_state, sending_paused_at)
          values (gen_random_uuid(), ${name}, 'team@example.com', now(), now(), ${state}, ${state === DeliverabilityState.PAUSED ? now : null}) returning id`,
    );
    await query(
      em,
      sql`with seq as (insert into email_sequence (id, company_id, name, trigger, steps, created_at, updated_at)
                       values (gen_random_uuid(), ${company!.id}::uuid, 'drip', 'LEAD_CREATED', '[]', now(), now()) returning id, company_id),
          ld as (insert into lead (id, company_id, email, created_at, updated_at) values (gen_random_uuid(), ${company!.id}::uuid, 'lead@example.com', now(), now()) returning id),
          en as (insert into enrollment (id, company_id, lead_id, sequence_id, started_at, created_at, updated_at)
                 select gen_random_uuid(), seq.company_id, ld.id, seq.id, now(), now(), now() from seq, ld returning id, company_id, lead_id, sequence_id)
          insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, created_at, updated_at)
          select gen_random_uuid(), en.company_id, en.id, en.lead_id, en.sequence_id, n, ${at}::timestamptz + n * interval '1 millisecond', now(), now()
          from en cross join generate_series(1, ${emails}::int) n`,
    );
    return company!.id;
  }

  it("takes the other companies' emails and none of the paused one's 20,000, reading a bounded number of rows", async () => {
    const paused = await companyWithEmails('paused', DeliverabilityState.PAUSED, 20_000, new Date(now.getTime() - 3 * hour));
    const busy = await companyWithEmails('busy', DeliverabilityState.OK, 300, new Date(now.getTime() - 2 * hour));
    const welcomer = await companyWithEmails('welcomer', DeliverabilityState.WARNING, 1, new Date(now.getTime() - 60_000));
    await query(orm.em.fork(), sql`analyze`);
    expect(await query(orm.em.fork(), sql`select company_id from company_sending_paused`)).toEqual([{ company_id: paused }]);

    // Rolled back five times (warm-up, and the rows the claim reads, from the transaction's own counters), then for real.
    const runs: Array<{ ms: number; tuples: number }> = [];
    for (let i = 0; i < 5; i++) {
      await orm.em
        .fork()
        .transactional(async (tx) => {
          const tuples = async () =>
            (
              await query<{ n: number }>(tx, sql`select coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)::int as n from pg_stat_xact_user_tables`)
            )[0]!.n;
          const before = await tuples();
          const begun = performance.now();
          await claimDueEmails(tx, { now, limit: 100, share: 5, workerId: 'guard-claim-test' });
          runs.push({ ms: performance.now() - begun, tuples: (await tuples()) - before });
          throw new Error('rolled back on purpose');
        })
        .catch(() => undefined);
    }
    // The due sample (1,001 rows) and the batch's own rows: never the paused company's 20,000 (walked, they were 20,000+).
    expect(Math.max(...runs.map((r) => r.tuples))).toBeLessThan(3_000);
    const claimed = await claimDueEmails(orm.em.fork(), { now, limit: 100, share: 5, workerId: 'guard-claim-test' });
    expect(claimed).toHaveLength(100);
    expect(claimed.filter((e) => e.company_id === paused)).toEqual([]);
    expect(claimed.filter((e) => e.company_id === welcomer)).toHaveLength(1);
    expect(claimed.filter((e) => e.company_id === busy)).toHaveLength(99);
    const [{ pending }] = (await query<{ pending: number }>(
      orm.em.fork(),
      sql`select count(*)::int as pending from sequence_email where company_id = ${paused}::uuid and status = 'PENDING' and claimed_at is null`,
    )) as [{ pending: number }];
    expect(pending).toBe(20_000);
    console.info(`claims of 100 beside a paused backlog of 20,000 older emails: ${runs.map((r) => `${r.ms.toFixed(1)} ms, ${r.tuples} rows`).join('; ')}`);
  });
});
