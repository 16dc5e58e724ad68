import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Dispatcher } from '../src/delivery/dispatcher.js';
import { replyToken } from '../src/delivery/reply-address.js';
import { resumeDueEnrollments } from '../src/replies/auto-resume.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type Untyped } from './helpers/graphql.js';
import {
  compose,
  deliveryReport,
  INBOUND_DOMAIN,
  postInbound,
  sesReceived,
  snsNotification,
  snsSigner,
  CERT_URL,
  type InboundOptions,
  type SnsSigner,
} from './helpers/inbound.js';
import { revealsId, sesDispatcher, startMailbox, type SesMailbox, type StoredEmail } from './helpers/ses.js';
import { connectWs, subscribe, subscriptionsOpen } from './helpers/ws.js';

interface Sent {
  tenant: Tenant;
  leadId: string;
  emailId: string;
  enrollmentId: string;
  messageId: string;
  address: string;
  /** The Reply-To the lead's mail client answers to. */
  replyTo: string;
  stored: StoredEmail;
}

/**
 * Replies (issue 17) end to end: real emails go out through the dispatcher and the SES emulator with a per-email
 * Reply-To; the lead's answer comes back as a real MIME message in a signed SNS notification to POST
 * /webhooks/inbound; each test then reads the email, the enrollment, the score, the timeline, the subscription
 * events and the forwarded mail in the emulator's store.
 */
describe('replies by SES inbound mail', () => {
  let signer: SnsSigner;
  let mailbox: SesMailbox;
  let t: TestApp;
  let dispatcher: Dispatcher;
  let tenant: Tenant;
  let counter = 0;
  const confirmSubscription = vi.fn((_url: string) => Promise.resolve());
  const fetchCertificate = vi.fn((url: string) => (url === CERT_URL ? Promise.resolve(signer.certificate) : Promise.reject(new Error('connect ETIMEDOUT'))));

  beforeAll(async () => {
    signer = snsSigner();
    mailbox = await startMailbox();
    t = await startTestApp(
      {
        SES_MAX_SEND_RATE: '0',
        SES_ENDPOINT: mailbox.url,
        INBOUND_DOMAIN,
        INBOUND_SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:ses-inbound',
        // Low enough for a small bounce storm of one fresh tenant to pause it; the shared tenant's one bounce stays far below.
        DELIVERABILITY_MINIMUM_SENDS: '5',
        DELIVERABILITY_WARNING_BOUNCE_RATE: '0.3',
        DELIVERABILITY_PAUSE_BOUNCE_RATE: '0.5',
      },
      { sesWebhook: { fetchCertificate, confirmSubscription } },
    );
    dispatcher = sesDispatcher(t, mailbox, 'replies-test');
    tenant = await createTenant(t, { timezone: 'Europe/Berlin' });
  });
  beforeEach(() => t.clock.set(new Date()));
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
    signer?.dispose();
  });

  function rows<T = Record<string, Untyped>>(text: string, params: unknown[] = []): Promise<T[]> {
    return t.app.orm.em.fork().getConnection().execute<T[]>(text, params);
  }

  /** A new lead of `owner` whose first email really went out: SENT, with its message id and the mail as stored. */
  async function sentEmail(owner = tenant, options: { address?: string; timezone?: string } = {}): Promise<Sent> {
    counter += 1;
    const address = options.address ?? `lead${counter}-${randomUUID().slice(0, 8)}@example.org`;
    const { createLead } = ok(
      await t.as(owner.apiKey)<{ createLead: { id: string } }>(`mutation($i: LeadInput!) { createLead(input: $i) { id } }`, {
        i: { email: address, firstName: 'Ada', lastName: `Lovelace${counter}`, timezone: options.timezone ?? 'Europe/Berlin' },
      }),
    );
    await dispatcher.dispatchDue();
    const [email] = await rows<{ id: string; provider_message_id: string; enrollment_id: string }>(
      `select id, provider_message_id, enrollment_id from sequence_email where lead_id = ? and status = 'SENT'`,
      [createLead.id],
    );
    const stored = (await mailbox.emails()).find((m) => m.messageId === email!.provider_message_id)!;
    return {
      tenant: owner,
      leadId: createLead.id,
      emailId: email!.id,
      enrollmentId: email!.enrollment_id,
      messageId: email!.provider_message_id,
      address,
      replyTo: stored.replyTo[0]!,
      stored,
    };
  }

  async function deliver(raw: Buffer, options: InboundOptions) {
    return postInbound(t.baseUrl, snsNotification(signer, sesReceived(raw, options)));
  }

  async function stateOf(sent: Sent) {
    const [email] = await rows(`select status, replied_at, permanent_bounce_at, unsubscribed_at from sequence_email where id = ?`, [sent.emailId]);
    const [enrollment] = await rows(`select status, stop_reason, resume_at from enrollment where id = ?`, [sent.enrollmentId]);
    const [lead] = await rows(`select score, unsubscribed_at from lead where id = ?`, [sent.leadId]);
    const activities = await rows<{ type: string; reason: string; score_delta: number | null }>(
      `select type, reason, score_delta from activity where lead_id = ? order by id`,
      [sent.leadId],
    );
    const suppressions = await rows(`select reason from suppression where company_id = ? and email = ?`, [sent.tenant.companyId, sent.address]);
    return { email: email!, enrollment: enrollment!, lead: lead!, activities, types: activities.map((a) => a.type), suppressions };
  }

  /**
   * A forwarded mail's text as the emulator shows it: the inline part (intro and the reply's new words), then the
   * attached original (mailparser, in the emulator, renders an attached message/rfc822 inline, headers first).
   */
  function forwardedParts(mail: StoredEmail): { inline: string; attached: string } {
    const text = mail.body.text ?? '';
    const at = text.indexOf('\nFrom: ');
    return at < 0 ? { inline: text, attached: '' } : { inline: text.slice(0, at), attached: text.slice(at) };
  }

  /** Forwarded mails (raw sends have no email-id header) to `to`, newest last. */
  async function forwardsTo(to: string): Promise<StoredEmail[]> {
    return (await mailbox.emails()).filter((m) => m.destination.to.some((d) => d.includes(to)) && !m.headers);
  }

  const companyAddress = (owner: Tenant) =>
    rows<{ from_address: string }>(`select from_address from company where id = ?`, [owner.companyId]).then((r) => r[0]!.from_address);

  it('each email carries its own opaque Reply-To on the inbound domain', async () => {
    const one = await sentEmail();
    const two = await sentEmail();
    expect(one.replyTo).toMatch(/^r-[a-z2-7]{34}@replies\.example\.com$/);
    expect(two.replyTo).not.toBe(one.replyTo);
    const token = one.replyTo.slice(2, one.replyTo.indexOf('@'));
    expect(revealsId(token, one.emailId)).toBe(false);
    expect(revealsId(token.toUpperCase(), one.emailId)).toBe(false);
    expect(token).toBe(replyToken(t.app.config.trackingSecret.reveal(), one.emailId));
  });

  it('a plain reply: REPLIED, the enrollment stops, +15, timeline, live events, forwarded to the company; SNS redelivery changes nothing', async () => {
    const sent = await sentEmail();
    const ws = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    try {
      await ws.connected;
      const emails = subscribe<{ emailStatusChanged: { id: string; status: string } }>(
        ws.client,
        `subscription($l: ID) { emailStatusChanged(leadId: $l) { id status } }`,
        {
          l: sent.leadId,
        },
      );
      const enrollments = subscribe<{ enrollmentChanged: { status: string; stopReason: string | null } }>(
        ws.client,
        `subscription($l: ID) { enrollmentChanged(leadId: $l) { status stopReason } }`,
        { l: sent.leadId },
      );
      const scores = subscribe<{ leadScoreChanged: { delta: number; score: number } }>(
        ws.client,
        `subscription($l: ID) { leadScoreChanged(leadId: $l) { delta score } }`,
        {
          l: sent.leadId,
        },
      );
      await subscriptionsOpen(() => t.app.pubSub.stats(), 3);

      const raw = await compose({
        from: `Ada Lovelace <${sent.address}>`,
        to: sent.replyTo,
        subject: `Re: ${sent.stored.subject}`,
        text: 'Sounds interesting. Can we talk on Thursday?',
      });
      const sesMessageId = randomUUID();
      const answer = await deliver(raw, { recipients: [sent.replyTo], sesMessageId });
      expect(answer).toEqual({ status: 200, body: { status: 'processed', kind: 'HUMAN', forwarded: true } });

      const state = await stateOf(sent);
      expect(state.email.status).toBe('REPLIED');
      expect(state.email.replied_at).not.toBeNull();
      expect(state.enrollment).toMatchObject({ status: 'STOPPED', stop_reason: 'REPLIED' });
      expect(state.lead.score).toBe(15);
      expect(state.types).toEqual(expect.arrayContaining(['EMAIL_REPLIED', 'SCORE_CHANGED', 'ENROLLMENT_STOPPED', 'REPLY_FORWARDED']));
      expect(state.activities.find((a) => a.type === 'EMAIL_REPLIED')!.reason).toContain('Can we talk on Thursday?');
      expect(state.activities.find((a) => a.type === 'SCORE_CHANGED')!.score_delta).toBe(15);

      const seen: { id: string; status: string }[] = [];
      while (!seen.some((e) => e.status === 'REPLIED')) seen.push((await emails.next()).emailStatusChanged);
      expect(seen.find((e) => e.status === 'REPLIED')!.id).toBe(sent.emailId);
      expect((await enrollments.next()).enrollmentChanged).toEqual({ status: 'STOPPED', stopReason: 'REPLIED' });
      expect((await scores.next()).leadScoreChanged).toEqual({ delta: 15, score: 15 });

      // Forwarded: to the company's address, Reply-To the lead, the reply inlined and attached whole.
      const company = await companyAddress(tenant);
      const [forwarded, ...more] = await forwardsTo(company);
      expect(more).toEqual([]);
      expect(forwarded!.replyTo[0]).toContain(sent.address);
      expect(forwarded!.subject).toBe(`Re: ${sent.stored.subject}`);
      const { inline, attached } = forwardedParts(forwarded!);
      expect(inline).toContain('Can we talk on Thursday?');
      expect(inline).toContain('Welcome sequence');
      expect(attached).toContain(sent.address);
      expect(attached).toContain('Can we talk on Thursday?');

      // SNS delivers at least once: the same message again changes nothing and forwards nothing.
      const again = await deliver(raw, { recipients: [sent.replyTo], sesMessageId });
      expect(again).toEqual({ status: 200, body: { status: 'duplicate' } });
      expect((await stateOf(sent)).lead.score).toBe(15);
      expect(await forwardsTo(company)).toHaveLength(1);
      expect(await scores.within(200)).toEqual([]);
    } finally {
      await ws.client.dispose();
    }
  });

  it('an HTML reply quoting the original (and its Unsubscribe link) is a reply, not a removal; only the new words are forwarded inline', async () => {
    const sent = await sentEmail();
    const raw = await compose({
      from: sent.address,
      to: sent.replyTo,
      subject: `Re: ${sent.stored.subject}`,
      html: `<div dir="ltr">Yes please, send me the pricing.</div><br><div class="gmail_quote"><div>On Mon, Dec 1, 2026 at 9:00 AM Team wrote:</div><blockquote>${sent.stored.body.html}</blockquote></div>`,
    });
    expect(sent.stored.body.html).toContain('Unsubscribe');
    const answer = await deliver(raw, { recipients: [sent.replyTo] });
    expect(answer.body).toMatchObject({ status: 'processed', kind: 'HUMAN' });
    const state = await stateOf(sent);
    expect(state.email.status).toBe('REPLIED');
    expect(state.lead.unsubscribed_at).toBeNull();
    expect(state.suppressions).toEqual([]);
    const forwarded = (await forwardsTo(await companyAddress(tenant))).at(-1)!;
    expect(forwardedParts(forwarded).inline).toContain('Yes please, send me the pricing.');
    expect(forwardedParts(forwarded).inline).not.toContain('Unsubscribe');
  });

  it('a Gmail-style reply found by In-Reply-To alone (sent to another address on the domain)', async () => {
    const sent = await sentEmail();
    const sesId = `<${sent.messageId}@email.amazonses.com>`;
    const raw = await compose({
      from: `"Ada" <${sent.address.toUpperCase()}>`,
      to: `sales@${INBOUND_DOMAIN}`,
      subject: `Re: ${sent.stored.subject}`,
      inReplyTo: sesId,
      references: [sesId],
      headers: { 'X-Gm-Message-State': 'AOJu0Yw', 'X-Google-Smtp-Source': 'AGHT+IF' },
      text: `Thanks, interested!\n\nOn Tue, Dec 1, 2026 at 10:12 AM Team <team@example.com>\nwrote:\n> Welcome! Unsubscribe here`,
    });
    const answer = await deliver(raw, { recipients: [`sales@${INBOUND_DOMAIN}`] });
    expect(answer.body).toMatchObject({ status: 'processed', kind: 'HUMAN', forwarded: true });
    expect((await stateOf(sent)).email.status).toBe('REPLIED');
  });

  it('an Outlook-style reply with In-Reply-To, on a sequence that does not stop on replies: REPLIED, scored by the company replyPoints, the enrollment goes on', async () => {
    const other = await createTenant(t);
    const [sequence] = await rows<{ id: string }>(`select id from email_sequence where company_id = ? and is_default`, [other.companyId]);
    const updated = ok(
      await t.as(other.apiKey)(`mutation($id: ID!) { updateSequence(id: $id, input: { stopOnReply: false }) { stopOnReply } }`, { id: sequence!.id }),
    );
    expect(updated.updateSequence.stopOnReply).toBe(false);
    const rules = ok(
      await t.as(other.apiKey)(`mutation { updateScoringRules(input: { openPoints: 5, clickPoints: 10, replyPoints: 7 }) { scoringRules { replyPoints } } }`),
    );
    expect(rules.updateScoringRules.scoringRules.replyPoints).toBe(7);
    const sent = await sentEmail(other);
    const raw = await compose({
      from: `Lovelace, Ada <${sent.address}>`,
      to: sent.replyTo,
      subject: `AW: ${sent.stored.subject}`,
      inReplyTo: `<${sent.messageId}@email.amazonses.com>`,
      headers: { 'Thread-Topic': sent.stored.subject, 'Thread-Index': 'AQHZ1234', 'X-MS-Has-Attach': '', 'X-MS-TNEF-Correlator': '' },
      text: `Hallo, gerne mehr Infos.\r\n\r\n________________________________\r\nFrom: Team <team@example.com>\r\nSent: Tuesday, December 1, 2026 10:12\r\nTo: Ada\r\nSubject: ${sent.stored.subject}\r\n\r\nUnsubscribe`,
    });
    const answer = await deliver(raw, { recipients: [sent.replyTo] });
    expect(answer.body).toMatchObject({ status: 'processed', kind: 'HUMAN' });
    const state = await stateOf(sent);
    expect(state.email.status).toBe('REPLIED');
    expect(state.enrollment).toMatchObject({ status: 'ACTIVE', stop_reason: null });
    expect(state.lead.score).toBe(7);
    const forwarded = (await forwardsTo(await companyAddress(other))).at(-1)!;
    expect(forwardedParts(forwarded).inline).toContain('gerne mehr Infos');
    expect(forwardedParts(forwarded).inline).not.toContain('Unsubscribe');
    expect(forwardedParts(forwarded).attached).toContain('Unsubscribe');
  });

  it('a German out-of-office pauses the enrollment until the return date (09:00 Berlin), then the job resumes it', async () => {
    const sent = await sentEmail(tenant, { timezone: 'Europe/Berlin' });
    const now = t.clock.now();
    const lastDay = new Date(now.getTime() + 12 * 86_400_000);
    const german = new Intl.DateTimeFormat('de-DE', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/Berlin' }).format(lastDay);
    const raw = await compose({
      from: sent.address,
      to: sent.replyTo,
      subject: `Abwesenheitsnotiz: ${sent.stored.subject}`,
      headers: { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' },
      text: `Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich ${german} nicht im Büro und habe nur eingeschränkt Zugriff auf E-Mails.`,
    });
    const ws = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    try {
      await ws.connected;
      const enrollments = subscribe<{ enrollmentChanged: { status: string } }>(ws.client, `subscription($l: ID) { enrollmentChanged(leadId: $l) { status } }`, {
        l: sent.leadId,
      });
      await subscriptionsOpen(() => t.app.pubSub.stats(), 1);
      const answer = await deliver(raw, { recipients: [sent.replyTo] });
      expect(answer.body).toEqual({ status: 'processed', kind: 'AUTO_REPLY', forwarded: false });
      expect((await enrollments.next()).enrollmentChanged.status).toBe('PAUSED');
    } finally {
      await ws.client.dispose();
    }
    const state = await stateOf(sent);
    expect(state.email.status).toBe('SENT');
    expect(state.lead.score).toBe(0);
    expect(state.enrollment.status).toBe('PAUSED');
    // Back the day after the last day away, at 09:00 in the lead's time zone.
    const back = new Date(lastDay.getTime() + 86_400_000);
    const backDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin' }).format(back);
    const resumeAt = new Date(state.enrollment.resume_at);
    expect(new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin' }).format(resumeAt)).toBe(backDay);
    expect(resumeAt.toLocaleTimeString('de-DE', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' })).toBe('09:00');
    expect(state.types).toEqual(expect.arrayContaining(['ENROLLMENT_PAUSED', 'EMAIL_AUTO_REPLIED']));
    expect(state.activities.find((a) => a.type === 'EMAIL_AUTO_REPLIED')!.reason).toContain('Auto-Submitted: auto-replied');
    expect(await forwardsTo(await companyAddress(tenant)).then((f) => f.filter((m) => m.subject.startsWith('Abwesenheitsnotiz')))).toEqual([]);

    // Not before its date; on it, the job resumes it and its next email is due then.
    expect(await resumeDueEnrollments(t.app.orm, new Date(resumeAt.getTime() - 60_000), t.app.logger)).toBe(0);
    t.clock.set(resumeAt);
    expect(await resumeDueEnrollments(t.app.orm, resumeAt, t.app.logger)).toBe(1);
    const after = await stateOf(sent);
    expect(after.enrollment).toMatchObject({ status: 'ACTIVE', resume_at: null });
    const [next] = await rows<{ scheduled_send_date: Date }>(
      `select scheduled_send_date from sequence_email where enrollment_id = ? and status = 'PENDING' order by email_number limit 1`,
      [sent.enrollmentId],
    );
    expect(new Date(next!.scheduled_send_date).getTime()).toBe(resumeAt.getTime());
  });

  it('an auto-reply without a date pauses for 7 days', async () => {
    const sent = await sentEmail();
    const raw = await compose({ from: sent.address, to: sent.replyTo, subject: 'Automatic reply: Welcome', text: 'I am away and will answer when I return.' });
    expect((await deliver(raw, { recipients: [sent.replyTo] })).body).toMatchObject({ kind: 'AUTO_REPLY' });
    const state = await stateOf(sent);
    const days = (new Date(state.enrollment.resume_at).getTime() - t.clock.now().getTime()) / 86_400_000;
    expect(days).toBeGreaterThan(6);
    expect(days).toBeLessThan(8);
  });

  it('an out-of-office leaves an enrollment paused by hand as it is (no date, no auto-resume)', async () => {
    const sent = await sentEmail();
    ok(await t.as(tenant.apiKey)(`mutation($l: ID!) { pauseSequence(leadId: $l) { status } }`, { l: sent.leadId }));
    const raw = await compose({
      from: sent.address,
      to: sent.replyTo,
      subject: 'Out of Office',
      headers: { 'X-Autoreply': 'yes' },
      text: 'Back on December 24.',
    });
    expect((await deliver(raw, { recipients: [sent.replyTo] })).body).toMatchObject({ kind: 'AUTO_REPLY' });
    const state = await stateOf(sent);
    expect(state.enrollment).toMatchObject({ status: 'PAUSED', resume_at: null });
    expect(state.activities.find((a) => a.type === 'EMAIL_AUTO_REPLIED')!.reason).toContain('nothing was paused');
  });

  it('pausing by hand an enrollment an out-of-office paused clears its return date: the job no longer resumes it', async () => {
    const sent = await sentEmail();
    const raw = await compose({ from: sent.address, to: sent.replyTo, subject: 'Out of Office', headers: { 'X-Autoreply': 'yes' }, text: 'I am away.' });
    expect((await deliver(raw, { recipients: [sent.replyTo] })).body).toMatchObject({ kind: 'AUTO_REPLY' });
    const paused = await stateOf(sent);
    expect(paused.enrollment.status).toBe('PAUSED');
    expect(paused.enrollment.resume_at).not.toBeNull();
    const byHand = ok(
      await t.as(tenant.apiKey)<{ pauseSequence: { status: string } }>(`mutation($l: ID!) { pauseSequence(leadId: $l) { status } }`, { l: sent.leadId }),
    );
    expect(byHand.pauseSequence.status).toBe('PAUSED');
    const after = await stateOf(sent);
    expect(after.enrollment).toMatchObject({ status: 'PAUSED', resume_at: null });
    expect(after.activities.filter((a) => a.type === 'ENROLLMENT_PAUSED').at(-1)!.reason).toMatch(/by hand/);
    const [email] = await rows<{ paused: boolean }>(`select paused from sequence_email where enrollment_id = ? and status = 'PENDING' limit 1`, [
      sent.enrollmentId,
    ]);
    expect(email!.paused).toBe(true);
    // Long after the out-of-office's date: not resumed.
    const later = new Date(new Date(paused.enrollment.resume_at).getTime() + 30 * 86_400_000);
    await resumeDueEnrollments(t.app.orm, later, t.app.logger);
    expect((await stateOf(sent)).enrollment).toMatchObject({ status: 'PAUSED', resume_at: null });
  });

  it('SES unreachable while forwarding: 5xx, nothing is kept, and SNS redelivery then succeeds', async () => {
    const sent = await sentEmail();
    // A second API process on the same database whose SES endpoint refuses connections.
    const down = await startTestApp(
      {
        DATABASE_URL: t.app.databaseUrl,
        SES_ENDPOINT: 'http://127.0.0.1:9',
        INBOUND_DOMAIN,
        INBOUND_SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:ses-inbound',
      },
      { sesWebhook: { fetchCertificate, confirmSubscription: () => Promise.resolve() } },
    );
    try {
      const raw = await compose({ from: sent.address, to: sent.replyTo, subject: 'Re: hi', text: 'Call me' });
      const body = snsNotification(signer, sesReceived(raw, { recipients: [sent.replyTo], sesMessageId: randomUUID() }));
      const failed = await postInbound(down.baseUrl, body);
      expect(failed.status).toBeGreaterThanOrEqual(500);
      const state = await stateOf(sent);
      expect(state.email).toMatchObject({ status: 'SENT', replied_at: null });
      expect(state.enrollment.status).toBe('ACTIVE');
      expect(state.lead.score).toBe(0);
      expect(await rows(`select 1 from email_event where email_id = ?`, [sent.emailId])).toEqual([]);
      // SNS retries (here: to the healthy process): processed once, as if the first attempt never happened.
      expect((await postInbound(t.baseUrl, body)).body).toEqual({ status: 'processed', kind: 'HUMAN', forwarded: true });
      expect((await stateOf(sent)).lead.score).toBe(15);
    } finally {
      await down.dispose();
    }
  });

  it('a delivery report (multipart/report) is a bounce: BOUNCED, suppressed, stopped, nothing forwarded', async () => {
    const sent = await sentEmail();
    const company = await companyAddress(tenant);
    const before = (await forwardsTo(company)).length;
    const raw = await deliveryReport({
      to: `bounces@${INBOUND_DOMAIN}`,
      recipient: sent.address,
      status: '5.1.1',
      returnedMessageId: `${sent.messageId}@email.amazonses.com`,
    });
    const answer = await deliver(raw, { recipients: [`bounces@${INBOUND_DOMAIN}`] });
    expect(answer.body).toEqual({ status: 'processed', kind: 'DELIVERY_REPORT', forwarded: false });
    const state = await stateOf(sent);
    expect(state.email.status).toBe('BOUNCED');
    expect(state.email.permanent_bounce_at).not.toBeNull();
    expect(state.suppressions).toEqual([{ reason: 'HARD_BOUNCE' }]);
    expect(state.enrollment).toMatchObject({ status: 'STOPPED', stop_reason: 'BOUNCED' });
    expect(state.lead.score).toBe(0);
    expect(state.types).toContain('EMAIL_BOUNCED');
    expect(await forwardsTo(company)).toHaveLength(before);
  });

  it('delivery reports by mail are judged by the deliverability guard: a bounce storm pauses the company', async () => {
    const storm = await createTenant(t);
    const sent: Sent[] = [];
    for (let i = 0; i < 5; i++) sent.push(await sentEmail(storm));
    for (const one of sent) {
      const raw = await deliveryReport({
        to: `bounces@${INBOUND_DOMAIN}`,
        recipient: one.address,
        status: '5.1.1',
        returnedMessageId: `${one.messageId}@email.amazonses.com`,
      });
      expect((await deliver(raw, { recipients: [`bounces@${INBOUND_DOMAIN}`] })).body).toMatchObject({ status: 'processed', kind: 'DELIVERY_REPORT' });
    }
    const [company] = await rows<{ deliverability_state: string; deliverability_reason: string }>(
      `select deliverability_state, deliverability_reason from company where id = ?`,
      [storm.companyId],
    );
    expect(company!.deliverability_state).toBe('PAUSED');
    expect(company!.deliverability_reason).toMatch(/bounce/i);
  });

  it('mail found by thread headers alone must pass SES sender authentication: a spoofed removal or delivery report changes nothing', async () => {
    const sent = await sentEmail();
    const thread = `<${sent.messageId}@email.amazonses.com>`;
    const removal = await compose({
      from: sent.address,
      to: `sales@${INBOUND_DOMAIN}`,
      subject: `Re: ${sent.stored.subject}`,
      inReplyTo: thread,
      references: [thread],
      text: 'Please remove me from your mailing list.',
    });
    const recipients = [`sales@${INBOUND_DOMAIN}`];
    const unauthenticated = { status: 200, body: { status: 'ignored', reason: 'SENDER_NOT_AUTHENTICATED' } };
    // Neither SPF nor DKIM passed; DKIM passed but DMARC failed (the From domain's policy refuses it).
    expect(await deliver(removal, { recipients, auth: { spf: 'FAIL', dkim: 'FAIL', dmarc: 'GRAY' } })).toEqual(unauthenticated);
    expect(await deliver(removal, { recipients, auth: { spf: 'GRAY', dkim: 'PROCESSING_FAILED', dmarc: 'GRAY' } })).toEqual(unauthenticated);
    expect(await deliver(removal, { recipients, auth: { spf: 'FAIL', dkim: 'PASS', dmarc: 'FAIL' } })).toEqual(unauthenticated);
    // A fake 5.1.1 report naming the email by its returned Message-ID.
    const report = await deliveryReport({
      to: `bounces@${INBOUND_DOMAIN}`,
      recipient: sent.address,
      status: '5.1.1',
      returnedMessageId: `${sent.messageId}@email.amazonses.com`,
    });
    expect(await deliver(report, { recipients: [`bounces@${INBOUND_DOMAIN}`], auth: { spf: 'FAIL', dkim: 'GRAY', dmarc: 'GRAY' } })).toEqual(unauthenticated);
    const state = await stateOf(sent);
    expect(state.email).toMatchObject({ status: 'SENT', permanent_bounce_at: null, unsubscribed_at: null });
    expect(state.lead.unsubscribed_at).toBeNull();
    expect(state.suppressions).toEqual([]);
    expect(state.enrollment.status).toBe('ACTIVE');
    expect(await rows(`select 1 from email_event where email_id = ?`, [sent.emailId])).toEqual([]);

    // SPF alone passing (DMARC not failing) is enough: the genuine removal is then acted on.
    expect((await deliver(removal, { recipients, auth: { spf: 'PASS', dkim: 'GRAY', dmarc: 'GRAY' } })).body).toMatchObject({ kind: 'REMOVAL' });
    expect((await stateOf(sent)).lead.unsubscribed_at).not.toBeNull();
  });

  it("a delivery report to the email's own reply address is trusted by its token, whatever SES's authentication verdicts", async () => {
    const sent = await sentEmail(await createTenant(t));
    const raw = await deliveryReport({ to: sent.replyTo, recipient: sent.address, status: '5.1.1', returnedMessageId: 'unrelated@mx.example.net' });
    const answer = await deliver(raw, { recipients: [sent.replyTo], auth: { spf: 'FAIL', dkim: 'FAIL', dmarc: 'FAIL' } });
    expect(answer.body).toEqual({ status: 'processed', kind: 'DELIVERY_REPORT', forwarded: false });
    expect((await stateOf(sent)).email.status).toBe('BOUNCED');
  });

  it('an SES message id longer than 192 characters (the dedupe key would not fit) is ignored with 200; 192 is processed', async () => {
    const sent = await sentEmail();
    const raw = await compose({ from: sent.address, to: sent.replyTo, subject: 'Re: x', text: 'Tell me more' });
    const tooLong = await deliver(raw, { recipients: [sent.replyTo], sesMessageId: 'a'.repeat(193) });
    expect(tooLong).toEqual({ status: 200, body: { status: 'ignored', reason: 'MESSAGE_ID_TOO_LONG' } });
    expect((await stateOf(sent)).email.status).toBe('SENT');
    const longest = await deliver(raw, { recipients: [sent.replyTo], sesMessageId: 'b'.repeat(192) });
    expect(longest).toEqual({ status: 200, body: { status: 'processed', kind: 'HUMAN', forwarded: true } });
    expect((await stateOf(sent)).email.status).toBe('REPLIED');
  });

  it('"please remove me" unsubscribes instead of counting as a reply (and is forwarded with a note)', async () => {
    const sent = await sentEmail();
    const raw = await compose({
      from: sent.address,
      to: sent.replyTo,
      subject: `Re: ${sent.stored.subject}`,
      text: 'Please remove me from your mailing list.',
    });
    const answer = await deliver(raw, { recipients: [sent.replyTo] });
    expect(answer.body).toMatchObject({ status: 'processed', kind: 'REMOVAL', forwarded: true });
    const state = await stateOf(sent);
    expect(state.email.status).toBe('SENT');
    expect(state.email.replied_at).toBeNull();
    expect(state.email.unsubscribed_at).not.toBeNull();
    expect(state.lead.score).toBe(0);
    expect(state.lead.unsubscribed_at).not.toBeNull();
    expect(state.suppressions).toEqual([{ reason: 'UNSUBSCRIBED' }]);
    expect(state.enrollment).toMatchObject({ status: 'STOPPED', stop_reason: 'UNSUBSCRIBED' });
    expect(state.types).toContain('UNSUBSCRIBED');
    const forwarded = (await forwardsTo(await companyAddress(tenant))).at(-1)!;
    expect(forwarded.body.text).toContain('They asked to be removed');
  });

  it('forged or altered reply tokens change nothing', async () => {
    const sent = await sentEmail();
    const token = sent.replyTo.slice(2, sent.replyTo.indexOf('@'));
    const altered = `r-${token.slice(0, 10)}${token[10] === 'a' ? 'b' : 'a'}${token.slice(11)}@${INBOUND_DOMAIN}`;
    const random = `r-${'a'.repeat(34)}@${INBOUND_DOMAIN}`;
    for (const to of [altered, random, `r-${token}@attacker.example`]) {
      const raw = await compose({ from: sent.address, to, subject: 'Re: hello', text: 'Interested!' });
      expect(await deliver(raw, { recipients: [to] })).toEqual({ status: 200, body: { status: 'ignored', reason: 'NO_MATCHING_EMAIL' } });
    }
    const state = await stateOf(sent);
    expect(state.email.status).toBe('SENT');
    expect(state.enrollment.status).toBe('ACTIVE');
    expect(state.lead.score).toBe(0);
    expect(state.types).not.toContain('EMAIL_REPLIED');
  });

  it("a reply to another company's email changes only that company's data, and only from that email's recipient", async () => {
    const other = await createTenant(t);
    const shared = `shared-${randomUUID().slice(0, 8)}@example.org`;
    const mine = await sentEmail(tenant, { address: shared });
    const theirs = await sentEmail(other, { address: shared });
    // The same person is a lead of both companies; answering the other company's email touches only that company.
    const raw = await compose({ from: shared, to: theirs.replyTo, subject: 'Re: hi', inReplyTo: `<${theirs.messageId}@email.amazonses.com>`, text: 'Hello!' });
    expect((await deliver(raw, { recipients: [theirs.replyTo] })).body).toMatchObject({ status: 'processed' });
    expect((await stateOf(theirs)).email.status).toBe('REPLIED');
    const untouched = await stateOf(mine);
    expect(untouched.email.status).toBe('SENT');
    expect(untouched.enrollment.status).toBe('ACTIVE');
    expect(untouched.lead.score).toBe(0);

    // Someone else (a lead of this company) quoting the other company's email by its Message-ID: nothing happens.
    const stranger = await sentEmail(tenant);
    const forged = await compose({
      from: stranger.address,
      to: `sales@${INBOUND_DOMAIN}`,
      subject: 'Re: hi',
      inReplyTo: `<${mine.messageId}@email.amazonses.com>`,
      text: 'Stop it',
    });
    expect((await deliver(forged, { recipients: [`sales@${INBOUND_DOMAIN}`] })).body).toEqual({ status: 'ignored', reason: 'SENDER_MISMATCH' });
    expect((await stateOf(mine)).email.status).toBe('SENT');
    expect((await stateOf(stranger)).email.status).toBe('SENT');
  });

  it('the development script delivers a reply by hand, through the same processing', async () => {
    const sent = await sentEmail();
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: t.app.databaseUrl,
      SES_ENDPOINT: mailbox.url,
      INBOUND_DOMAIN,
      TRACKING_SECRET: t.app.config.trackingSecret.reveal(),
      LOG_LEVEL: 'silent',
    };
    const { stdout } = await promisify(execFile)(
      'node_modules/.bin/tsx',
      ['scripts/deliver-reply.ts', '--email', sent.emailId, '--text', 'Hello from the script'],
      { env },
    );
    expect(stdout).toContain('"kind":"HUMAN"');
    expect((await stateOf(sent)).email.status).toBe('REPLIED');
    const forwarded = (await forwardsTo(await companyAddress(tenant))).at(-1)!;
    expect(forwardedParts(forwarded).inline).toContain('Hello from the script');
  }, 60_000);

  it('fuzz: random bytes and corrupted real replies in signed notifications are never a 5xx', async () => {
    const sent = await sentEmail();
    const genuine = await compose({
      from: sent.address,
      to: sent.replyTo,
      subject: 'Re: x',
      html: '<p>Grüße</p><blockquote>quoted</blockquote>',
      text: 'Hallo',
    });
    const corrupted = fc.array(fc.tuple(fc.nat(genuine.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 40 }).map((flips) => {
      const copy = Buffer.from(genuine);
      for (const [at, byte] of flips) copy[at] = byte;
      return copy;
    });
    const content = fc.oneof(
      fc.uint8Array({ maxLength: 4_000 }).map((bytes) => Buffer.from(bytes)),
      corrupted,
    );
    await fc.assert(
      fc.asyncProperty(content, fc.constantFrom<'BASE64' | 'UTF8'>('BASE64', 'UTF8'), async (raw, encoding) => {
        const answer = await deliver(raw, { recipients: [sent.replyTo], encoding });
        expect(answer.status).toBe(200);
        expect(['processed', 'ignored', 'duplicate']).toContain(answer.body.status);
      }),
      { numRuns: 60, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000) },
    );
    const junk = fc.oneof(fc.json(), fc.string({ maxLength: 2_000 }));
    await fc.assert(
      fc.asyncProperty(junk, async (message) => {
        const answer = await postInbound(t.baseUrl, snsNotification(signer, message));
        expect(answer).toEqual({ status: 200, body: { status: 'ignored', reason: 'NOT_RECEIVED_MAIL' } });
      }),
      { numRuns: 40 },
    );
  }, 60_000);

  it("the listed topic's subscription is confirmed when signed; another topic's never", async () => {
    const confirmation = (topic: string) =>
      signer.sign({
        Type: 'SubscriptionConfirmation',
        MessageId: randomUUID(),
        Token: 'token-1',
        TopicArn: topic,
        Message: 'You have chosen to subscribe',
        SubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topic)}&Token=token-1`,
        Timestamp: new Date().toISOString(),
      });
    confirmSubscription.mockClear();
    const other = 'arn:aws:sns:us-east-1:666666666666:ses-inbound';
    expect((await postInbound(t.baseUrl, confirmation(other), 'SubscriptionConfirmation')).status).toBe(403);
    expect(confirmSubscription).not.toHaveBeenCalled();
    const listed = 'arn:aws:sns:us-east-1:123456789012:ses-inbound';
    expect(await postInbound(t.baseUrl, confirmation(listed), 'SubscriptionConfirmation')).toEqual({ status: 200, body: { status: 'confirmed' } });
    expect(confirmSubscription).toHaveBeenCalledTimes(1);
    // The type header must agree with the signed Type.
    const mismatched = await postInbound(t.baseUrl, confirmation(listed), 'Notification');
    expect(mismatched.status).toBe(400);
  });

  it('only signed messages from the listed topic are read', async () => {
    const sent = await sentEmail();
    const raw = await compose({ from: sent.address, to: sent.replyTo, subject: 'Re: x', text: 'Yes' });
    const message = sesReceived(raw, { recipients: [sent.replyTo] });
    expect((await postInbound(t.baseUrl, snsNotification(signer, message, { topic: 'arn:aws:sns:us-east-1:666666666666:other' }))).status).toBe(403);
    expect((await postInbound(t.baseUrl, snsNotification(signer, message, { key: signer.otherKey }))).status).toBe(403);
    const unsigned = { ...snsNotification(signer, message), Signature: '' };
    expect((await postInbound(t.baseUrl, unsigned)).status).toBe(403);
    expect((await postInbound(t.baseUrl, '{not json')).status).toBe(400);
    expect((await stateOf(sent)).email.status).toBe('SENT');
  });

  it('hostile and unusable messages are answered 200 (so SNS stops retrying) and never crash the route', async () => {
    const sent = await sentEmail();
    const recipients = [sent.replyTo];
    const big = await compose({ from: sent.address, to: sent.replyTo, subject: 'Re: big', text: 'x'.repeat(200_000) });
    expect((await deliver(big, { recipients })).body).toEqual({ status: 'ignored', reason: 'TOO_LARGE' });

    // A nesting bomb: 300 multiparts, each inside the last.
    let bomb = 'Content-Type: text/plain\r\n\r\nhi\r\n';
    for (let depth = 0; depth < 300; depth++) bomb = `Content-Type: multipart/mixed; boundary="b${depth}"\r\n\r\n--b${depth}\r\n${bomb}\r\n--b${depth}--\r\n`;
    const bombRaw = Buffer.from(`From: ${sent.address}\r\nTo: ${sent.replyTo}\r\nSubject: Re: x\r\nMIME-Version: 1.0\r\n${bomb}`);
    expect((await deliver(bombRaw, { recipients })).body).toEqual({ status: 'ignored', reason: 'MIME_TOO_COMPLEX' });

    // Broken encodings: bad base64, an unknown charset, NUL bytes and invalid UTF-8 in a quoted-printable part.
    const broken = Buffer.concat([
      Buffer.from(`From: ${sent.address}\r\nTo: ${sent.replyTo}\r\nSubject: =?x-unknown?B?!!!?=\r\nMIME-Version: 1.0\r\n`),
      Buffer.from('Content-Type: multipart/alternative; boundary="z"\r\n\r\n--z\r\nContent-Type: text/plain; charset=x-klingon\r\n'),
      Buffer.from('Content-Transfer-Encoding: base64\r\n\r\n@@@not*base64@@@\r\n--z\r\nContent-Type: text/html; charset=utf-8\r\n'),
      Buffer.from('Content-Transfer-Encoding: quoted-printable\r\n\r\n=00=FF=FE<b>hi</b>=\r\n'),
      Buffer.from([0, 0xff, 0xc3, 0x28]),
      Buffer.from('\r\n--z--\r\n'),
    ]);
    const brokenAnswer = await deliver(broken, { recipients, sesMessageId: randomUUID() });
    expect(brokenAnswer.status).toBe(200);

    const notMail = await postInbound(t.baseUrl, snsNotification(signer, JSON.stringify({ notificationType: 'Bounce' })));
    expect(notMail.body).toEqual({ status: 'ignored', reason: 'NOT_RECEIVED_MAIL' });
    const s3 = await deliver(big, { recipients, action: { type: 'S3', bucketName: 'b', objectKey: 'k' } });
    expect(s3.body).toEqual({ status: 'ignored', reason: 'CONTENT_NOT_INCLUDED' });
    const spam = await deliver(await compose({ from: sent.address, to: sent.replyTo, subject: 'x', text: 'y' }), { recipients, spam: 'FAIL' });
    expect(spam.body).toEqual({ status: 'ignored', reason: 'SPAM_OR_VIRUS' });
    const loop = await compose({ from: `someone@${INBOUND_DOMAIN}`, to: sent.replyTo, subject: 'Re: x', text: 'loop' });
    expect((await deliver(loop, { recipients })).body).toEqual({ status: 'ignored', reason: 'MAIL_LOOP' });
    const unknown = await compose({ from: sent.address, to: `nobody@${INBOUND_DOMAIN}`, subject: 'Hello', text: 'Hi' });
    expect((await deliver(unknown, { recipients: [`nobody@${INBOUND_DOMAIN}`] })).body).toEqual({ status: 'ignored', reason: 'NO_MATCHING_EMAIL' });

    // UTF-8 content (not base64) in the notification reads the same.
    const utf8 = await compose({ from: sent.address, to: sent.replyTo, subject: 'Re: größe', text: 'Grüße, ja gerne — ¡sí!' });
    expect((await deliver(utf8, { recipients, encoding: 'UTF8' })).body).toMatchObject({ status: 'processed', kind: 'HUMAN' });
  });
});
