import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/core/logger.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';
import { headerOf, sesDispatcher, startMailbox, type SesMailbox } from './helpers/ses.js';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/**
 * A recipient clicks and unsubscribes at once (or a mail client's one-click POST meets a scanner's click). The
 * write-behind engagement batch locks the email and then the lead (to score); the unsubscribe locks the lead and
 * then references the email (its UNSUBSCRIBE event). Neither may make the other fail: the one-click POST is never a
 * 5xx (it was, intermittently: "deadlock detected").
 */
describe('a click and an unsubscribe of the same email at the same time', () => {
  let mailbox: SesMailbox;
  let t: TestApp;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', PUBLIC_URL: 'https://mail.example.com' });
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  it('neither fails: every one-click POST answers 200, every click is recorded', async () => {
    const tenant = await createTenant(t);
    const gql = t.as(tenant.apiKey);
    const count = 40;
    for (let i = 0; i < count; i++) ok(await gql(`mutation($e: String!) { createLead(input: { email: $e }) { id } }`, { e: `race${i}@example.com` }));
    await sesDispatcher(t, mailbox, 'unsubscribe-race-test', createLogger({ logLevel: 'silent' })).dispatchDue();
    const sent = (await mailbox.emails()).filter((e) => e.destination.to.some((to) => to.includes('race')));
    expect(sent).toHaveLength(count);
    t.clock.advance(5 * 60_000);

    const results = await Promise.all(
      sent.map(async (email) => {
        const click = new URL(/href="([^"]+\/t\/c\/[^"]+)"/.exec(email.body.html!)![1]!).pathname;
        const unsubscribe = new URL(headerOf(email, 'List-Unsubscribe')!.slice(1, -1)).pathname;
        const clicked = fetch(`${t.baseUrl}${click}`, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
        // The POST lands while the click's batch (flushed every 20 ms) is being written.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
        const unsubscribed = fetch(`${t.baseUrl}${unsubscribe}`, {
          method: 'POST',
          body: 'List-Unsubscribe=One-Click',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'list-unsubscribe': 'One-Click' },
        });
        return [(await clicked).status, (await unsubscribed).status];
      }),
    );
    await t.app.recorder.flush();
    expect(results.filter(([click, unsubscribe]) => click !== 302 || unsubscribe !== 200)).toEqual([]);
    const { leads } = ok(await gql(`{ leads(first: 100) { edges { node { score unsubscribedAt } } } }`));
    const nodes = (leads.edges as { node: { score: number; unsubscribedAt: string | null } }[]).map((e) => e.node);
    expect(nodes.filter((n) => n.unsubscribedAt === null)).toEqual([]);
    expect(nodes.filter((n) => n.score !== 15)).toEqual([]); // first open (through the click) + first click, once each
  });
});
