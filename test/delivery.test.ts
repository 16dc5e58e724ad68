import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type GraphQLClient } from './helpers/graphql.js';
import { headerOf, startMailbox, waitFor, type SesMailbox } from './helpers/ses.js';
import { connectWs, subscribe, subscriptionsOpen } from './helpers/ws.js';

const DAY = 86_400_000;

const MONGODB_URL = process.env.MONGODB_URL;
const stores = [
  { store: 'postgresql', env: {} },
  // No MongoDB server can run on the CI machines; the production job store is tested wherever one is reachable.
  { store: 'mongodb', env: MONGODB_URL ? { MONGODB_URL } : undefined },
] as const;
if (!MONGODB_URL) console.warn('MongoDB job store tests skipped: MONGODB_URL is not set (point it at a MongoDB server to run them).');

describe.each(stores)('delivery through SES (aws-ses-v2-local), $store job store', ({ store, env }) => {
  if (!env) {
    it.skip('needs MONGODB_URL (no MongoDB server here)', () => undefined);
    return;
  }
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ RUN_JOBS: 'true', SES_ENDPOINT: mailbox.url, SES_MAX_SEND_RATE: '0', PUBLIC_URL: 'https://mail.example.com', ...env });
    expect(t.app.jobs!.store).toBe(store);
    tenant = await createTenant(t, { name: 'Acme' });
    gql = t.as(tenant.apiKey);
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  async function emailsOf(leadId: string) {
    const { leadSequenceStatus } = ok(
      await gql(`query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { status emails { id emailNumber status subject sentAt } } } }`, {
        id: leadId,
      }),
    );
    return leadSequenceStatus.enrollments[0] as {
      status: string;
      emails: { id: string; emailNumber: number; status: string; subject: string | null; sentAt: string | null }[];
    };
  }

  it('sends email 1 within seconds, and email 2 only once the clock passes day 3', async () => {
    const { createLead } = ok(await gql(`mutation { createLead(input: { email: "dana@example.com", firstName: "Dana" }) { id } }`));
    const first = (await emailsOf(createLead.id)).emails[0]!;

    const stored = await waitFor(
      'email 1 in the SES mailbox',
      async () => (await mailbox.emails()).find((e) => headerOf(e, 'X-LN-Email-Id') === first.id),
      10_000,
    );
    expect(stored.destination.to).toEqual(['dana@example.com']);
    expect(stored.subject).toContain('Dana');
    expect(stored.body.html).toContain('<html');
    expect(stored.body.text).toContain('Dana');
    // The token is encrypted (issue 15): 64 base64url characters, no email id in it.
    expect(headerOf(stored, 'List-Unsubscribe')).toMatch(/^<https:\/\/mail\.example\.com\/u\/[\w-]{64}>$/);
    expect(headerOf(stored, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');

    const afterSend = await waitFor('email 1 marked SENT', async () => {
      const view = await emailsOf(createLead.id);
      return view.emails[0]!.status === 'SENT' ? view : undefined;
    });
    expect(afterSend.emails[0]!.subject).toBe(stored.subject);
    expect(afterSend.emails.slice(1).map((e) => e.status)).toEqual(['PENDING', 'PENDING', 'PENDING', 'PENDING']);

    await t.app.jobs!.dispatcher.dispatchDue();
    expect((await emailsOf(createLead.id)).emails[1]!.status).toBe('PENDING');

    t.clock.advance(3 * DAY + 60_000);
    await t.app.jobs!.dispatcher.dispatchDue();
    const view = await emailsOf(createLead.id);
    expect(view.emails.map((e) => e.status)).toEqual(['SENT', 'SENT', 'PENDING', 'PENDING', 'PENDING']);
    expect((await mailbox.countsByEmailId()).get(view.emails[1]!.id)).toBe(1);
  });

  it('dashboards see each email go out and the enrollment complete, live', async () => {
    const connection = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    await connection.connected;
    const emails = subscribe<{ emailStatusChanged: { id: string; emailNumber: number; status: string; lead: { email: string } } }>(
      connection.client,
      `subscription { emailStatusChanged { id emailNumber status lead { email } } }`,
    );
    const enrollments = subscribe<{ enrollmentChanged: { status: string } }>(connection.client, `subscription { enrollmentChanged { status } }`);
    await subscriptionsOpen(() => t.app.pubSub.stats(), 2);
    try {
      ok(await gql(`mutation { createLead(input: { email: "live@example.com" }) { id } }`));
      expect((await enrollments.next(5_000)).enrollmentChanged.status).toBe('ACTIVE');
      expect((await emails.next(10_000)).emailStatusChanged).toMatchObject({ emailNumber: 1, status: 'SENT', lead: { email: 'live@example.com' } });

      t.clock.advance(15 * DAY);
      await t.app.jobs!.dispatcher.dispatchDue();
      // Other leads of the company fall due too: keep this lead's events (collected until all four arrived).
      const sent: { emailNumber: number; status: string }[] = [];
      for (let waited = 0; sent.length < 4 && waited < 10_000; waited += 500) {
        sent.push(...(await emails.within(500)).map((e) => e.emailStatusChanged).filter((e) => e.lead.email === 'live@example.com'));
      }
      expect(sent.map((e) => [e.emailNumber, e.status]).sort()).toEqual([
        [2, 'SENT'],
        [3, 'SENT'],
        [4, 'SENT'],
        [5, 'SENT'],
      ]);
      expect((await enrollments.next(10_000)).enrollmentChanged.status).toBe('COMPLETED');
    } finally {
      emails.dispose();
      enrollments.dispose();
      await connection.client.dispose();
    }
  });
});
