import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { cutDatabase } from './helpers/database.js';
import { createTenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';
import { startMailbox, waitFor, type SesMailbox } from './helpers/ses.js';

/*
 * A database restart or failover ends every open connection. Each one that ends while idle raises an 'error'
 * event on its client; with no listener, that event is an uncaught exception which takes the whole process down
 * (vitest reports it and fails the run). Found by the soak bench, whose embedded PostgreSQL was stopped under it.
 */
describe('the database cuts every connection (restart, failover)', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  beforeAll(async () => {
    mailbox = await startMailbox();
    // The recurring dispatch is an hour apart: a welcome email that leaves within seconds was woken by emails_due.
    t = await startTestApp({ RUN_JOBS: 'true', SES_ENDPOINT: mailbox.url, SES_MAX_SEND_RATE: '0', DISPATCH_INTERVAL_SECONDS: '3600' });
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  it('keeps the process (with its job store) up, and a new lead is mailed at once again on new connections', async () => {
    const gql = t.as((await createTenant(t)).apiKey);
    // Agenda polls its job store every second: by now its pool holds idle connections, and its LISTEN one.
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    const restore = await cutDatabase(t.app.databaseUrl);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await restore();
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the LISTEN connections' first reconnection attempts

    const { createLead } = ok(await gql<{ createLead: { id: string } }>(`mutation { createLead(input: { email: "after-failover@example.com" }) { id } }`));
    expect(createLead.id).toBeTruthy();
    const sent = await waitFor(
      'the welcome email in the SES mailbox',
      async () => (await mailbox.emails()).find((e) => e.destination.to.includes('after-failover@example.com')),
      10_000,
    );
    expect(sent.subject).toContain('Welcome');
  });
});
