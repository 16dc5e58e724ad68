import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../src/core/config.js';
import { Dispatcher } from '../src/delivery/dispatcher.js';
import type { EmailProvider } from '../src/delivery/email-provider.js';
import { createSesProvider } from '../src/delivery/ses-provider.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type Untyped } from './helpers/graphql.js';
import { revealsId, startMailbox, tokensOf, type SesMailbox } from './helpers/ses.js';
import { connectWs, subscribe, subscriptionsOpen } from './helpers/ws.js';

const DAY = 86_400_000;
const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem';
/** An AWS host whose certificate cannot be fetched (the injected fetcher fails as a network error would). */
const UNREACHABLE_CERT_URL = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-down.pem';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
/** A topic in the attacker's own AWS account: SNS signs its messages with the same regional certificate as ours. */
const ATTACKER_TOPIC = 'arn:aws:sns:us-east-1:666666666666:innocent-looking';

interface Sent {
  leadId: string;
  emailId: string;
  messageId: string;
  enrollmentId: string;
  address: string;
}

type Fields = Record<string, string>;

/**
 * SES events arrive by SNS at POST /webhooks/ses. The messages are signed here exactly as SNS signs them, with a
 * key and self-signed certificate made by openssl for this run; the app trusts that certificate because its
 * injected fetcher returns it for CERT_URL (production fetches it from Amazon over HTTPS).
 */
describe('SES events over SNS', () => {
  let dir: string;
  let key: string;
  let cert: string;
  let otherKey: string;
  let mailbox: SesMailbox;
  let provider: EmailProvider;
  let dispatcher: Dispatcher;
  let t: TestApp;
  let tenant: Tenant;
  let counter = 0;
  const fetchCertificate = vi.fn((url: string) => (url === CERT_URL ? Promise.resolve(cert) : Promise.reject(new Error('connect ETIMEDOUT'))));
  const confirmSubscription = vi.fn((_url: string) => Promise.resolve(undefined));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sns-test-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=sns.amazonaws.com');
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other.pem');
    [key, cert, otherKey] = ['key.pem', 'cert.pem', 'other.pem'].map((file) => readFileSync(join(dir, file), 'utf8')) as [string, string, string];

    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', SES_SNS_TOPIC_ARNS: TOPIC }, { sesWebhook: { fetchCertificate, confirmSubscription } });
    provider = createSesProvider(t.app.config, mailbox.url);
    dispatcher = new Dispatcher({ orm: t.app.orm, clock: t.clock, provider, config: t.app.config, logger: t.app.logger, workerId: 'ses-events-test' });
    tenant = await createTenant(t);
  });
  beforeEach(() => {
    t.clock.set(new Date());
    confirmSubscription.mockClear();
  });
  afterAll(async () => {
    provider?.dispose();
    await t?.dispose();
    await mailbox?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function rows<T = Record<string, Untyped>>(text: string, params: unknown[] = []): Promise<T[]> {
    return t.app.orm.em.fork().getConnection().execute<T[]>(text, params);
  }

  /** A new lead whose first email really went out through SES (the emulator): SENT with a message id. */
  async function sentEmail(): Promise<Sent> {
    counter += 1;
    const address = `lead${counter}-${randomUUID().slice(0, 8)}@example.com`;
    const { createLead } = ok(
      await t.as(tenant.apiKey)<{ createLead: { id: string } }>(`mutation($i: LeadInput!) { createLead(input: $i) { id } }`, {
        i: { email: address, firstName: 'Ada' },
      }),
    );
    await dispatcher.dispatchDue();
    const [email] = await rows<{ id: string; provider_message_id: string; enrollment_id: string }>(
      `select id, provider_message_id, enrollment_id from sequence_email where lead_id = ? and status = 'SENT'`,
      [createLead.id],
    );
    expect(email?.provider_message_id).toBeTruthy();
    return { leadId: createLead.id, emailId: email!.id, messageId: email!.provider_message_id, enrollmentId: email!.enrollment_id, address };
  }

  /** Signs like SNS: "Key\nvalue\n" over the type's signed keys, SHA1withRSA (version 1) or SHA256withRSA (version 2). */
  function sign(fields: Fields, options: { version?: '1' | '2'; key?: string; certUrl?: string } = {}): Fields {
    const version = options.version ?? '2';
    const keys =
      fields.Type === 'Notification'
        ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
        : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
    const canonical = keys
      .filter((k) => fields[k] !== undefined)
      .map((k) => `${k}\n${fields[k]}\n`)
      .join('');
    const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
      .update(canonical)
      .sign(options.key ?? key, 'base64');
    return { ...fields, SignatureVersion: version, Signature: signature, SigningCertURL: options.certUrl ?? CERT_URL };
  }

  function notification(event: object, options: Parameters<typeof sign>[1] & { messageId?: string } = {}): Fields {
    return sign(
      {
        Type: 'Notification',
        MessageId: options.messageId ?? randomUUID(),
        TopicArn: TOPIC,
        Subject: 'Amazon SES Email Event Notification',
        Message: JSON.stringify(event),
        Timestamp: new Date().toISOString(),
      },
      options,
    );
  }

  /**
   * What SNS sends when `topic` is subscribed to the webhook (unsigned): the app confirms by fetching `subscribeUrl`,
   * by default the genuine Amazon URL for that topic and token.
   */
  function subscriptionConfirmation(
    topic: string,
    token: string,
    subscribeUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topic)}&Token=${token}`,
  ): Fields {
    return {
      Type: 'SubscriptionConfirmation',
      MessageId: randomUUID(),
      Token: token,
      TopicArn: topic,
      Message: `You have chosen to subscribe to the topic ${topic}.`,
      SubscribeURL: subscribeUrl,
      Timestamp: new Date().toISOString(),
    };
  }

  async function post(body: unknown, contentType = 'text/plain; charset=UTF-8', baseUrl = t.baseUrl): Promise<{ status: number; body: Untyped }> {
    const type = typeof body === 'object' && body !== null ? (body as Fields).Type : undefined;
    const response = await fetch(`${baseUrl}/webhooks/ses`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(type ? { 'x-amz-sns-message-type': type } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  // SES event-publishing JSON, as a configuration set sends it.
  const mail = (sent: Pick<Sent, 'messageId' | 'address'> & { emailId?: string }) => ({
    timestamp: new Date().toISOString(),
    source: 'team@example.com',
    messageId: sent.messageId,
    destination: [sent.address],
    tags: { 'ses:configuration-set': ['lead-nurture'], ...(sent.emailId ? { email_id: [sent.emailId] } : {}) },
  });
  const bounce = (sent: Sent, bounceType = 'Permanent', bounceSubType = 'General') => ({
    eventType: 'Bounce',
    bounce: {
      bounceType,
      bounceSubType,
      bouncedRecipients: [{ emailAddress: sent.address, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
      timestamp: new Date().toISOString(),
      feedbackId: randomUUID(),
    },
    mail: mail(sent),
  });
  const delivery = (sent: Sent, at: Date) => ({
    eventType: 'Delivery',
    delivery: { timestamp: at.toISOString(), recipients: [sent.address], smtpResponse: '250 2.0.0 OK', processingTimeMillis: 512 },
    mail: mail(sent),
  });

  /** Everything an event could change for a lead. */
  async function stateOf(sent: Sent) {
    return {
      emails: await rows(`select id, status, delivered_at, failure_reason from sequence_email where lead_id = ? order by email_number`, [sent.leadId]),
      enrollments: await rows(`select status, stop_reason from enrollment where lead_id = ?`, [sent.leadId]),
      activities: await rows(`select type, reason from activity where lead_id = ? order by id`, [sent.leadId]),
      events: await rows(`select kind, detail, dedupe_key from email_event where email_id in (select id from sequence_email where lead_id = ?) order by id`, [
        sent.leadId,
      ]),
      suppressions: await rows(`select reason from suppression where company_id = ? and email = ?`, [tenant.companyId, sent.address]),
    };
  }

  async function activityTypes(sent: Sent): Promise<string[]> {
    return (await rows<{ type: string }>(`select type from activity where lead_id = ? order by id`, [sent.leadId])).map((r) => r.type);
  }

  it('a permanent bounce marks the email BOUNCED, suppresses the address, stops the enrollment and cancels what is pending', async () => {
    const sent = await sentEmail();
    const ws = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    try {
      await ws.connected;
      const changes = subscribe<{ emailStatusChanged: { id: string; status: string } }>(
        ws.client,
        `subscription($l: ID) { emailStatusChanged(leadId: $l) { id status } }`,
        { l: sent.leadId },
      );
      await subscriptionsOpen(() => t.app.pubSub.stats(), 1);

      const response = await post(notification(bounce(sent)));
      expect(response).toEqual({ status: 200, body: { status: 'processed' } });

      const state = await stateOf(sent);
      expect(state.emails[0]).toMatchObject({ id: sent.emailId, status: 'BOUNCED' });
      expect(state.emails[0]!.failure_reason).toContain('550 5.1.1');
      expect(state.emails.slice(1).map((e) => e.status)).toEqual(['CANCELED', 'CANCELED', 'CANCELED', 'CANCELED']);
      expect(state.enrollments).toEqual([{ status: 'STOPPED', stop_reason: 'BOUNCED' }]);
      expect(state.suppressions).toEqual([{ reason: 'HARD_BOUNCE' }]);
      expect(state.events).toHaveLength(1);
      expect(state.events[0]).toMatchObject({ kind: 'BOUNCE' });
      expect(state.events[0]!.detail).toBe('Permanent bounce (General): smtp; 550 5.1.1 user unknown');

      // The timeline, as a dashboard reads it.
      const { lead } = ok(
        await t.as(tenant.apiKey)(`query($id: ID!) { lead(id: $id) { activities(first: 20) { edges { node { type reason } } } } }`, { id: sent.leadId }),
      );
      const timeline = (lead.activities.edges as { node: { type: string; reason: string } }[]).map((e) => e.node);
      expect(timeline.filter((a) => a.type === 'EMAIL_BOUNCED')).toHaveLength(1);
      expect(timeline.find((a) => a.type === 'EMAIL_BOUNCED')!.reason).toContain('Email 1 bounced');
      expect(timeline.some((a) => a.type === 'ENROLLMENT_STOPPED')).toBe(true);

      // Live: BOUNCED for the email (and CANCELED for the rest).
      const seen: { id: string; status: string }[] = [];
      while (!seen.some((e) => e.status === 'BOUNCED')) seen.push((await changes.next()).emailStatusChanged);
      expect(seen.find((e) => e.status === 'BOUNCED')!.id).toBe(sent.emailId);
      changes.dispose();
    } finally {
      await ws.client.dispose();
    }

    // A suppressed address cannot be enrolled again.
    const again = await t.as(tenant.apiKey)(`mutation($l: ID!) { startSequence(leadId: $l) { id } }`, { l: sent.leadId });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('a transient bounce is recorded only (signature version 1)', async () => {
    const sent = await sentEmail();
    const response = await post(notification(bounce(sent, 'Transient', 'MailboxFull'), { version: '1' }));
    expect(response).toEqual({ status: 200, body: { status: 'processed' } });

    const state = await stateOf(sent);
    expect(state.emails[0]).toMatchObject({ status: 'SENT', failure_reason: null });
    expect(state.emails.slice(1).every((e) => e.status === 'PENDING')).toBe(true);
    expect(state.enrollments).toEqual([{ status: 'ACTIVE', stop_reason: null }]);
    expect(state.suppressions).toEqual([]);
    expect(state.events).toMatchObject([{ kind: 'BOUNCE' }]);
    expect(state.events[0]!.detail).toContain('Transient bounce (MailboxFull)');
    expect(state.activities.at(-1)).toMatchObject({ type: 'EMAIL_BOUNCED' });
    expect(state.activities.at(-1)!.reason).toContain('not permanent');
  });

  it('a complaint (SES notification format) suppresses the address and stops the enrollment', async () => {
    const sent = await sentEmail();
    const complaint = {
      notificationType: 'Complaint',
      complaint: {
        complainedRecipients: [{ emailAddress: sent.address }],
        complaintFeedbackType: 'abuse',
        timestamp: new Date().toISOString(),
        feedbackId: randomUUID(),
      },
      mail: { timestamp: new Date().toISOString(), source: 'team@example.com', messageId: sent.messageId, destination: [sent.address] },
    };
    expect(await post(notification(complaint))).toEqual({ status: 200, body: { status: 'processed' } });

    const state = await stateOf(sent);
    expect(state.emails[0]!.status).toBe('SENT');
    expect(state.emails.slice(1).every((e) => e.status === 'CANCELED')).toBe(true);
    expect(state.enrollments).toEqual([{ status: 'STOPPED', stop_reason: 'COMPLAINED' }]);
    expect(state.suppressions).toEqual([{ reason: 'COMPLAINT' }]);
    expect(state.events).toMatchObject([{ kind: 'COMPLAINT', detail: 'Complaint (abuse)' }]);
    expect((await activityTypes(sent)).filter((type) => type === 'EMAIL_COMPLAINED')).toHaveLength(1);
  });

  it('a delivery sets deliveredAt once', async () => {
    const sent = await sentEmail();
    const first = new Date(Date.now() - 60_000);
    expect((await post(notification(delivery(sent, first)))).status).toBe(200);
    // SES may report a delivery twice (a new SNS message): the first time stands.
    expect((await post(notification(delivery(sent, new Date())))).status).toBe(200);

    const state = await stateOf(sent);
    expect(new Date(state.emails[0]!.delivered_at as string).toISOString()).toBe(first.toISOString());
    expect(state.emails[0]!.status).toBe('SENT');
    expect(state.events.map((e) => e.kind)).toEqual(['DELIVERY', 'DELIVERY']);
    expect((await activityTypes(sent)).filter((type) => type === 'EMAIL_DELIVERED')).toHaveLength(1);
  });

  it('a reject or a rendering failure marks the email FAILED with the reason', async () => {
    const rejected = await sentEmail();
    const reject = { eventType: 'Reject', reject: { reason: 'Bad content' }, mail: mail(rejected) };
    expect((await post(notification(reject))).status).toBe(200);
    const state = await stateOf(rejected);
    expect(state.emails[0]).toMatchObject({ status: 'FAILED', failure_reason: 'Rejected by SES: Bad content' });
    expect(state.events).toMatchObject([{ kind: 'REJECT', detail: 'Rejected by SES: Bad content' }]);
    expect(await activityTypes(rejected)).toContain('EMAIL_FAILED');

    const broken = await sentEmail();
    const failure = { eventType: 'Rendering Failure', failure: { errorMessage: 'Attribute "name" is not present', templateName: 'x' }, mail: mail(broken) };
    expect((await post(notification(failure))).status).toBe(200);
    expect((await stateOf(broken)).emails[0]).toMatchObject({ status: 'FAILED', failure_reason: 'SES rendering failure: Attribute "name" is not present' });
  });

  it('an event whose message id is unknown finds its email by the email_id tag', async () => {
    const sent = await sentEmail();
    const event = { ...bounce(sent), mail: mail({ messageId: `unknown-${randomUUID()}`, address: sent.address, emailId: sent.emailId }) };
    expect(await post(notification(event))).toEqual({ status: 200, body: { status: 'processed' } });
    expect((await stateOf(sent)).emails[0]!.status).toBe('BOUNCED');
  });

  it('unknown emails, unused event types and non-SES messages are acknowledged and ignored', async () => {
    const before = await rows(`select count(*)::int as n from email_event`);
    const stranger = { messageId: `unknown-${randomUUID()}`, address: 'nobody@example.com' };
    const unknownBounce = {
      eventType: 'Bounce',
      bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: stranger.address }] },
      mail: mail({ ...stranger, emailId: randomUUID() }),
    };
    expect(await post(notification(unknownBounce))).toEqual({ status: 200, body: { status: 'ignored' } });

    const sent = await sentEmail();
    for (const eventType of ['Send', 'Open', 'Click', 'DeliveryDelay', 'Subscription', 'SomethingNew']) {
      expect(await post(notification({ eventType, mail: mail(sent) }))).toEqual({ status: 200, body: { status: 'ignored' } });
    }
    expect(
      await post(
        sign({ Type: 'Notification', MessageId: randomUUID(), TopicArn: TOPIC, Message: 'Hello from the SNS console', Timestamp: new Date().toISOString() }),
      ),
    ).toEqual({
      status: 200,
      body: { status: 'ignored' },
    });
    expect(await rows(`select count(*)::int as n from email_event`)).toEqual(before);
    expect(await rows(`select count(*)::int as n from suppression where email = ?`, [stranger.address])).toEqual([{ n: 0 }]);
    expect((await stateOf(sent)).emails[0]!.status).toBe('SENT');
  });

  it('the same SNS message delivered twice changes nothing the second time', async () => {
    const sent = await sentEmail();
    const soft = notification(bounce(sent, 'Transient', 'General'));
    expect((await post(soft)).body).toEqual({ status: 'processed' });
    const afterFirst = await stateOf(sent);
    expect((await post(soft)).body).toEqual({ status: 'duplicate' });
    expect(await stateOf(sent)).toEqual(afterFirst);

    const hard = notification(bounce(sent));
    expect((await post(hard)).body).toEqual({ status: 'processed' });
    const afterHard = await stateOf(sent);
    const responses = await Promise.all([post(hard), post(hard), post(hard)]);
    expect(responses.map((r) => r.body.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(await stateOf(sent)).toEqual(afterHard);
    expect(afterHard.events).toHaveLength(2);
  });

  it('a bad signature is refused with 403 and changes nothing', async () => {
    const sent = await sentEmail();
    const before = await stateOf(sent);

    const forged = notification(bounce(sent), { key: otherKey });
    expect(await post(forged)).toEqual({ status: 403, body: { errors: [{ message: 'invalid signature', extensions: { code: 'FORBIDDEN' } }] } });

    // Signed, then altered: the signature no longer matches.
    const genuine = notification(delivery(sent, new Date()));
    const altered = { ...genuine, Message: JSON.stringify(bounce(sent)) };
    expect((await post(altered)).status).toBe(403);
    // A version-2 signature presented as version 1.
    expect((await post({ ...notification(bounce(sent)), SignatureVersion: '1' })).status).toBe(403);
    expect((await post({ ...notification(bounce(sent)), Signature: 'not base64 at all!' })).status).toBe(403);

    expect(await stateOf(sent)).toEqual(before);
  });

  it('an unsigned message is refused with 403', async () => {
    const sent = await sentEmail();
    const before = await stateOf(sent);
    const { Signature: _s, SignatureVersion: _v, SigningCertURL: _u, ...unsigned } = notification(bounce(sent));
    expect((await post(unsigned)).status).toBe(403);
    expect((await post({ ...notification(bounce(sent)), SignatureVersion: '3' })).status).toBe(403);
    expect(await stateOf(sent)).toEqual(before);
  });

  it('a signing certificate anywhere but an Amazon SNS host over https is refused before any fetch', async () => {
    const sent = await sentEmail();
    const before = await stateOf(sent);
    const hosts = [
      'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-test.pem',
      'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem',
      'https://evil.example/SimpleNotificationService-test.pem',
      'https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-test.pem',
      'https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem',
      'https://s3.amazonaws.com/SimpleNotificationService-test.pem',
      'not a url',
    ];
    for (const certUrl of hosts) {
      expect((await post(notification(bounce(sent), { certUrl }))).status).toBe(403);
    }
    expect(fetchCertificate.mock.calls.map(([url]) => url).filter((url) => url !== CERT_URL)).toEqual([]);
    expect(await stateOf(sent)).toEqual(before);
  });

  it('the certificate is fetched once and must be valid now; an unreachable one asks SNS to retry', async () => {
    const sent = await sentEmail();
    const before = await stateOf(sent);
    const hello = () => sign({ Type: 'Notification', MessageId: randomUUID(), TopicArn: TOPIC, Message: 'hello', Timestamp: new Date().toISOString() });
    await Promise.all([post(hello()), post(hello())]);
    expect((await post(hello())).status).toBe(200);
    expect(fetchCertificate.mock.calls.filter(([url]) => url === CERT_URL)).toHaveLength(1); // one fetch for the whole run

    t.clock.advance(3 * DAY); // the certificate (valid one day) has expired
    expect((await post(notification(bounce(sent)))).status).toBe(403);
    t.clock.set(new Date());

    expect((await post(notification(bounce(sent), { certUrl: UNREACHABLE_CERT_URL }))).status).toBe(503);
    expect(await stateOf(sent)).toEqual(before);
  });

  it('a subscription is confirmed only when signed and only for an Amazon SNS SubscribeURL', async () => {
    const confirmation = (subscribeUrl: string) => subscriptionConfirmation(TOPIC, 'token-123', subscribeUrl);
    const awsUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(TOPIC)}&Token=token-123`;

    expect(await post(sign(confirmation(awsUrl)))).toEqual({ status: 200, body: { status: 'confirmed' } });
    expect(confirmSubscription.mock.calls).toEqual([[awsUrl]]);

    confirmSubscription.mockClear();
    expect((await post(sign(confirmation('https://evil.example/?Action=ConfirmSubscription')))).status).toBe(400);
    expect((await post(sign(confirmation('http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription')))).status).toBe(400);
    // An Amazon URL, but one that would confirm another topic's subscription, or do something else.
    expect((await post(sign(confirmation(awsUrl.replace(encodeURIComponent(TOPIC), encodeURIComponent(ATTACKER_TOPIC)))))).status).toBe(400);
    expect((await post(sign(confirmation(awsUrl.replace('ConfirmSubscription', 'Unsubscribe'))))).status).toBe(400);
    expect((await post(sign(confirmation(awsUrl), { key: otherKey }))).status).toBe(403);
    const { Signature: _s, ...unsigned } = sign(confirmation(awsUrl));
    expect((await post(unsigned)).status).toBe(403);
    expect(confirmSubscription).not.toHaveBeenCalled();
  });

  it('malformed bodies are 400, other content types 415', async () => {
    const bad = await post('{"Type": "Notification", ');
    expect(bad).toEqual({ status: 400, body: { errors: [{ message: 'Malformed JSON body', extensions: { code: 'BAD_REQUEST' } }] } });
    expect((await post('[1, 2]')).status).toBe(400);
    expect((await post({ Type: 'Notification', MessageId: randomUUID() })).status).toBe(400);
    expect((await post({ Type: 'Surprise', MessageId: randomUUID() })).status).toBe(400);
    // application/json works too (what a person testing with curl sends).
    const sent = await sentEmail();
    expect((await post(notification(delivery(sent, new Date())), 'application/json')).status).toBe(200);
    const form = await fetch(`${t.baseUrl}/webhooks/ses`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    expect(form.status).toBe(415);
    const huge = await post(JSON.stringify({ Type: 'Notification', Message: 'x'.repeat(300 * 1024) }));
    expect(huge.status).toBe(413);
  });

  /**
   * Issue 15, item 1, as an attacker would do it: subscribe our webhook to a topic in their own AWS account (SNS
   * signs it with the same regional certificate as ours), then publish a permanent bounce for a real email of
   * the company, listing addresses of their choice. The email id is the true one (the worst case: it leaked
   * some other way than the tracking tokens, which no longer carry it).
   */
  async function forgedTopicAttack(baseUrl: string, target: Sent, victims: Sent[]) {
    const subscription = await post(sign(subscriptionConfirmation(ATTACKER_TOPIC, 'attacker-token')), undefined, baseUrl);
    const now = new Date().toISOString();
    const forgedBounce = {
      eventType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: victims.map((v) => ({ emailAddress: v.address, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' })),
        timestamp: now,
        feedbackId: randomUUID(),
      },
      mail: {
        timestamp: now,
        source: 'team@example.com',
        messageId: `attacker-${randomUUID()}`,
        destination: victims.map((v) => v.address),
        headers: [{ name: 'X-LN-Email-Id', value: target.emailId }],
        tags: { email_id: [target.emailId] },
      },
    };
    const bounceResponse = await post(
      sign({
        Type: 'Notification',
        MessageId: randomUUID(),
        TopicArn: ATTACKER_TOPIC,
        Subject: 'Amazon SES Email Event Notification',
        Message: JSON.stringify(forgedBounce),
        Timestamp: now,
      }),
      undefined,
      baseUrl,
    );
    return { subscription, bounce: bounceResponse };
  }

  it('issue 15 attack: a topic of another AWS account can neither subscribe the webhook nor bounce a real email', async () => {
    confirmSubscription.mockClear();
    const victim = await sentEmail();
    const bystander = await sentEmail();
    // The attacker received the victim's email (or any other): its tokens do not give the email id away.
    const received = (await mailbox.emails()).find((e) => e.destination.to.includes(victim.address));
    const tokens = tokensOf(received!);
    expect(tokens.length).toBeGreaterThanOrEqual(2); // the pixel and the unsubscribe link at least
    for (const token of tokens) expect(revealsId(token, victim.emailId), `token ${token} shows the email id`).toBe(false);

    const before = [await stateOf(victim), await stateOf(bystander)];
    const suppressionsBefore = await rows(`select count(*)::int as n from suppression`);
    expect(before[0]!.enrollments).toEqual([{ status: 'ACTIVE', stop_reason: null }]);

    const attack = await forgedTopicAttack(t.baseUrl, victim, [victim, bystander]);
    expect(attack.subscription).toEqual({ status: 403, body: { errors: [{ message: 'topic not accepted', extensions: { code: 'FORBIDDEN' } }] } });
    expect(attack.bounce.status).toBe(403);
    expect(confirmSubscription).not.toHaveBeenCalled(); // no request to the attacker's SubscribeURL
    expect([await stateOf(victim), await stateOf(bystander)]).toEqual(before);
    expect(await rows(`select count(*)::int as n from suppression`)).toEqual(suppressionsBefore);

    // Our own topic is still heard.
    expect((await post(notification(delivery(victim, new Date())))).status).toBe(200);
  });

  it('without SES_SNS_TOPIC_ARNS (the default) the webhook refuses every message: the attack, and our own topic too', async () => {
    confirmSubscription.mockClear();
    fetchCertificate.mockClear();
    const unlisted = await startTestApp(
      { DATABASE_URL: t.app.config.databaseUrl!, SES_MAX_SEND_RATE: '0' },
      { sesWebhook: { fetchCertificate, confirmSubscription } },
    );
    try {
      const victim = await sentEmail();
      const bystander = await sentEmail();
      const before = [await stateOf(victim), await stateOf(bystander)];
      const suppressionsBefore = await rows(`select count(*)::int as n from suppression`);

      const attack = await forgedTopicAttack(unlisted.baseUrl, victim, [victim, bystander]);
      expect(attack.subscription.status).toBe(403);
      expect(attack.bounce.status).toBe(403);

      // Genuine messages of our own topic: nothing is accepted until the list names it.
      const ownConfirmation = sign(subscriptionConfirmation(TOPIC, 't'));
      for (const message of [notification(bounce(victim)), notification(delivery(victim, new Date())), ownConfirmation]) {
        expect(await post(message, undefined, unlisted.baseUrl)).toEqual({
          status: 403,
          body: { errors: [{ message: 'topic not accepted', extensions: { code: 'FORBIDDEN' } }] },
        });
      }
      // Anything else too, malformed or not.
      for (const body of ['{"Type": "Notification", ', '[1, 2]', JSON.stringify({ Type: 'Surprise' })]) {
        expect((await post(body, undefined, unlisted.baseUrl)).status).toBe(403);
      }
      expect(confirmSubscription).not.toHaveBeenCalled();
      expect(fetchCertificate).not.toHaveBeenCalled(); // refused before any network call
      expect([await stateOf(victim), await stateOf(bystander)]).toEqual(before);
      expect(await rows(`select count(*)::int as n from suppression`)).toEqual(suppressionsBefore);
    } finally {
      await unlisted.dispose();
    }
  });

  it('production refuses to start with the webhook enabled (SES_CONFIGURATION_SET) and no SES_SNS_TOPIC_ARNS, naming it', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://app:pw@db.internal:5432/app',
      PUBLIC_URL: 'https://mail.example.com',
      SES_FROM_ADDRESS: 'hello@example.com',
      TRACKING_SECRET: 'a'.repeat(40),
      OPERATOR_TOKEN: 'b'.repeat(40),
    };
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems.filter((problem) => problem.includes('SES_SNS_TOPIC_ARNS'));
        throw error;
      }
      return [];
    };
    expect(problems({ ...production, SES_CONFIGURATION_SET: 'lead-nurture' })).toEqual([expect.stringContaining('SES_SNS_TOPIC_ARNS is required')]);
    expect(problems({ ...production, SES_CONFIGURATION_SET: 'lead-nurture', SES_SNS_TOPIC_ARNS: ' , ' })).toHaveLength(1);
    expect(problems({ ...production, SES_CONFIGURATION_SET: 'lead-nurture', SES_SNS_TOPIC_ARNS: TOPIC })).toEqual([]);
    expect(loadConfig({ ...production, SES_CONFIGURATION_SET: 'lead-nurture', SES_SNS_TOPIC_ARNS: `${TOPIC} , ${ATTACKER_TOPIC}` }).ses.snsTopicArns).toEqual([
      TOPIC,
      ATTACKER_TOPIC,
    ]);
    // No configuration set: SES publishes no events, so there is nothing to require (and the webhook refuses everything).
    expect(problems(production)).toEqual([]);
    // A malformed entry is refused in every environment: a wildcard or a typo must not pass for a topic.
    for (const bad of ['*', 'ses-events', 'arn:aws:sns:us-east-1:123456789012:*', 'arn:aws:sqs:us-east-1:123456789012:queue', `${TOPIC},oops`]) {
      expect(problems({ NODE_ENV: 'test', SES_SNS_TOPIC_ARNS: bad }), bad).toEqual([expect.stringContaining('SES_SNS_TOPIC_ARNS')]);
    }
  });

  it('with SES_SNS_TOPIC_ARNS set, messages from other topics are refused before any fetch', async () => {
    const other = await startTestApp(
      { SES_SNS_TOPIC_ARNS: `${TOPIC}, arn:aws:sns:eu-west-1:123456789012:other` },
      { sesWebhook: { fetchCertificate, confirmSubscription } },
    );
    try {
      const send = async (fields: Fields) =>
        (
          await fetch(`${other.baseUrl}/webhooks/ses`, {
            method: 'POST',
            headers: { 'content-type': 'text/plain; charset=UTF-8' },
            body: JSON.stringify(fields),
          })
        ).status;
      const message = (topic: string) =>
        sign({ Type: 'Notification', MessageId: randomUUID(), TopicArn: topic, Message: 'test', Timestamp: new Date().toISOString() });
      fetchCertificate.mockClear();
      expect(await send(message('arn:aws:sns:us-east-1:999999999999:someone-else'))).toBe(403);
      expect(fetchCertificate).not.toHaveBeenCalled();
      expect(await send(message(TOPIC))).toBe(200);
    } finally {
      await other.dispose();
    }
  });
});
