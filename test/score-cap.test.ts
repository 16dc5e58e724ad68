import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type GraphQLClient } from './helpers/graphql.js';
import { sesDispatcher, startMailbox, type SesMailbox } from './helpers/ses.js';
import { connectWs, subscribe, subscriptionsOpen, type WsConnection } from './helpers/ws.js';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/**
 * A company lowers `maxScore` below scores its leads already have. Engagement never lowers a score: an open or a
 * click of a lead above the new cap changes nothing (no negative delta on the timeline or in a live event), and
 * lowering the cap leaves existing scores as they are. A manual fall moves the score by what was asked.
 */
describe('lowering maxScore', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;
  let ws: WsConnection;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', PUBLIC_URL: 'https://mail.example.com' });
    tenant = await createTenant(t);
    gql = t.as(tenant.apiKey);
    ws = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    await ws.connected;
  });
  afterAll(async () => {
    await ws?.client.dispose();
    await t?.dispose();
    await mailbox?.dispose();
  });

  const adjust = async (leadId: string, delta: number) =>
    ok(
      await gql(`mutation($l: ID!, $d: Int!) { adjustLeadScore(leadId: $l, delta: $d, reason: "call") { previousScore score delta } }`, {
        l: leadId,
        d: delta,
      }),
    ).adjustLeadScore as { previousScore: number; score: number; delta: number };
  const lead = async (leadId: string) =>
    ok(
      await gql(`query($id: ID!) { lead(id: $id) { score activities(first: 50) { edges { node { type reason scoreDelta } } } } }`, {
        id: leadId,
      }),
    ).lead as { score: number; activities: { edges: { node: { type: string; reason: string; scoreDelta: number | null } }[] } };

  it('score 80, cap lowered to 50: an open and a click record no negative delta anywhere, and the score stays 80', async () => {
    const leadId = ok(await gql(`mutation { createLead(input: { email: "above-cap@example.com" }) { id } }`)).createLead.id as string;
    await sesDispatcher(t, mailbox, 'score-cap-test').dispatchDue();
    const stored = (await mailbox.emails()).find((e) => e.destination.to.some((to) => to.includes('above-cap')))!;
    const html = stored.body.html!;
    const pixel = new URL(/<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1]!).pathname;
    const click = new URL(/href="([^"]+\/t\/c\/[^"]+)"/.exec(html)![1]!).pathname;
    t.clock.advance(5 * 60_000); // read minutes later: a human, not a scanner

    const events = subscribe<{ leadScoreChanged: { delta: number; score: number } }>(
      ws.client,
      `subscription($id: ID) { leadScoreChanged(leadId: $id) { delta score } }`,
      { id: leadId },
    );
    await subscriptionsOpen(() => t.app.pubSub.stats(), 1);
    expect(await adjust(leadId, 80)).toMatchObject({ score: 80, delta: 80 });
    expect((await events.next()).leadScoreChanged).toEqual({ delta: 80, score: 80 });
    const rules = ok(await gql(`mutation { updateScoringRules(input: { openPoints: 5, clickPoints: 10, maxScore: 50 }) { scoringRules { maxScore } } }`));
    expect(rules.updateScoringRules.scoringRules.maxScore).toBe(50);
    expect((await lead(leadId)).score).toBe(80); // lowering the cap does not rewrite existing scores

    for (const path of [pixel, click]) {
      const response = await fetch(`${t.baseUrl}${path}`, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
      expect(response.status).toBeLessThan(400);
      await t.app.recorder.flush();
    }

    const after = await lead(leadId);
    expect(after.score).toBe(80);
    const rows = after.activities.edges.map((e) => e.node);
    expect(rows.map((r) => r.type)).toEqual(expect.arrayContaining(['EMAIL_OPENED', 'EMAIL_CLICKED'])); // recorded, as human engagement
    expect(rows.filter((r) => r.scoreDelta !== null && r.scoreDelta < 0)).toEqual([]);
    expect(rows.filter((r) => r.type === 'SCORE_CHANGED').map((r) => r.scoreDelta)).toEqual([80]);
    expect(await events.within(300)).toEqual([]);

    // By hand a fall moves the score by what was asked (not down to the cap); a rise above the cap changes nothing.
    expect(await adjust(leadId, -10)).toMatchObject({ previousScore: 80, score: 70, delta: -10 });
    expect(await adjust(leadId, 5)).toMatchObject({ previousScore: 70, score: 70, delta: 0 });
    // NOTIFY delivers in commit order: an event the open or click had published would arrive before this one.
    expect((await events.next()).leadScoreChanged).toEqual({ delta: -10, score: 70 });
    expect(await events.within(300)).toEqual([]);
    events.dispose();
  });

  it('below the lowered cap, engagement still raises a score, up to the cap and no further', async () => {
    await gql(`mutation { updateScoringRules(input: { openPoints: 5, clickPoints: 10, maxScore: 50 }) { id } }`);
    const leadId = ok(await gql(`mutation { createLead(input: { email: "below-cap@example.com" }) { id } }`)).createLead.id as string;
    await adjust(leadId, 45);
    const email = ok(await gql(`query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { emails { id } } } }`, { id: leadId })).leadSequenceStatus
      .enrollments[0].emails[0].id as string;
    await sesDispatcher(t, mailbox, 'score-cap-test-2').dispatchDue();
    t.clock.advance(5 * 60_000);
    ok(await gql(`mutation($id: ID!) { trackOpen(emailId: $id) { status } }`, { id: email }));
    const after = await lead(leadId);
    expect(after.score).toBe(50);
    expect(after.activities.edges.map((e) => e.node.scoreDelta).filter((d) => d !== null)).toEqual(expect.arrayContaining([45, 5]));
  });
});
