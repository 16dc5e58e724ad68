import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.js';
import { createSesProvider } from '../src/delivery/ses-provider.js';
import { signToken } from '../src/tracking/tokens.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient } from './helpers/graphql.js';
import { headerOf, sesDispatcher, startMailbox, type SesMailbox, type StoredEmail } from './helpers/ses.js';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const MINUTE = 60_000;
const DAY = 86_400_000;

describe('opens, clicks and unsubscribes over real HTTP', () => {
  let mailbox: SesMailbox;
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;
  let dispatcher: Dispatcher;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', PUBLIC_URL: 'https://mail.example.com' });
    dispatcher = sesDispatcher(t, mailbox, 'tracking-test');
  });
  beforeEach(async () => {
    t.clock.set(new Date());
    tenant = await createTenant(t);
    gql = t.as(tenant.apiKey);
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  /** Creates a lead, sends its welcome email through SES, and returns what the recipient got. */
  async function sendWelcome(email: string) {
    const leadId = ok(await gql(`mutation($e: String!) { createLead(input: { email: $e, firstName: "Robin" }) { id } }`, { e: email })).createLead.id as string;
    await dispatcher.dispatchDue();
    const emailId = (await emails(leadId))[0]!.id;
    const stored = (await mailbox.emails()).find((e) => headerOf(e, 'X-LN-Email-Id') === emailId)!;
    t.clock.advance(5 * MINUTE); // the recipient reads it a few minutes later
    return {
      leadId,
      emailId,
      stored,
      pixel: path(pixelUrl(stored)),
      links: linkUrls(stored).map(path),
      unsubscribe: path(headerOf(stored, 'List-Unsubscribe')!.slice(1, -1)),
    };
  }
  async function emails(leadId: string) {
    const { leadSequenceStatus } = ok(
      await gql(
        `query($id: ID!) { leadSequenceStatus(leadId: $id) { lead { score unsubscribedAt } enrollments { status stopReason emails { id status openCount clickCount openedAt clickedAt } } } }`,
        { id: leadId },
      ),
    );
    return leadSequenceStatus.enrollments[0].emails as {
      id: string;
      status: string;
      openCount: number;
      clickCount: number;
      openedAt: string | null;
      clickedAt: string | null;
    }[];
  }
  /** An email's events, oldest first (one page holds them all here). */
  async function eventsOf(emailId: string) {
    const { emailEvents } = ok(
      await gql(`query($id: ID!) { emailEvents(emailId: $id, first: 100) { edges { node { id kind verdict verdictReason } } } }`, { id: emailId }),
    );
    return emailEvents.edges.map((e: { node: unknown }) => e.node) as { id: string; kind: string; verdict: string; verdictReason: string | null }[];
  }
  async function lead(leadId: string) {
    return ok(
      await gql(`query($id: ID!) { lead(id: $id) { score unsubscribedAt activities(first: 50) { edges { node { type reason scoreDelta } } } } }`, {
        id: leadId,
      }),
    ).lead;
  }
  /** A request as a mail client makes it; then what it recorded (write-behind) is applied before the test looks. */
  const get = async (p: string, init: RequestInit = {}) => {
    const response = await fetch(`${t.baseUrl}${p}`, { redirect: 'manual', ...init, headers: { 'user-agent': BROWSER, ...(init.headers ?? {}) } });
    await t.app.recorder.flush();
    return response;
  };

  it('the pixel records an open: OPENED, first open scores +5 once, repeat opens only count', async () => {
    const sent = await sendWelcome('open@example.com');
    const response = await get(sent.pixel);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect(response.headers.get('cache-control')).toContain('no-store');
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);

    await get(sent.pixel);
    const [first] = await emails(sent.leadId);
    expect(first).toMatchObject({ status: 'OPENED', openCount: 2 });
    expect(first!.openedAt).toBeTruthy();
    const { score, activities } = await lead(sent.leadId);
    expect(score).toBe(5);
    expect(activities.edges.map((e: { node: { type: string } }) => e.node.type).filter((type: string) => type === 'EMAIL_OPENED')).toHaveLength(2);
  });

  it('a click redirects to the link that was in the email, scores +10 once, and counts as an open', async () => {
    const sent = await sendWelcome('click@example.com');
    expect(sent.links.length).toBeGreaterThan(0);
    const response = await get(sent.links[0]!);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://example.com/welcome');

    await get(sent.links[0]!);
    const [first] = await emails(sent.leadId);
    expect(first).toMatchObject({ status: 'CLICKED', clickCount: 2, openCount: 1 });
    expect((await lead(sent.leadId)).score).toBe(15); // +5 open (seen through the click), +10 first click
    // A later open does not move the status back.
    await get(sent.pixel);
    expect((await emails(sent.leadId))[0]).toMatchObject({ status: 'CLICKED', openCount: 2 });
  });

  it('forged or altered tokens change nothing: the pixel still loads, a click gets 404', async () => {
    const sent = await sendWelcome('forged@example.com');
    const altered = (p: string) => p.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const pixel = await get(altered(sent.pixel.replace('.gif', '')) + '.gif');
    expect(pixel.status).toBe(200);
    expect(pixel.headers.get('content-type')).toBe('image/gif');
    expect((await get(altered(sent.links[0]!))).status).toBe(404);
    expect((await get('/t/c/not-a-token')).status).toBe(404);
    const wrongSecret = signToken('some-other-secret-0123456789abcdefgh', { emailId: sent.emailId, kind: 'click', link: 0 });
    expect((await get(`/t/c/${wrongSecret}`)).status).toBe(404);
    expect((await emails(sent.leadId))[0]).toMatchObject({ status: 'SENT', openCount: 0, clickCount: 0 });
    expect((await lead(sent.leadId)).score).toBe(0);
  });

  it('no open redirect: only the email’s own links are reachable', async () => {
    const sent = await sendWelcome('redirect@example.com');
    const secret = t.app.config.trackingSecret.reveal();
    // A genuinely signed token for a link index the email does not have.
    expect((await get(`/t/c/${signToken(secret, { emailId: sent.emailId, kind: 'click', link: 99 })}`)).status).toBe(404);
    // An open token used as a click, and query strings trying to choose the target.
    expect((await get(`/t/c/${signToken(secret, { emailId: sent.emailId, kind: 'open' })}`)).status).toBe(404);
    const withQuery = await get(`${sent.links[0]}?url=https://evil.example.net&redirect=https://evil.example.net`);
    expect(withQuery.headers.get('location')).toBe('https://example.com/welcome');
  });

  it('machine opens and clicks are recorded with their verdict and never score', async () => {
    const sent = await sendWelcome('machine@example.com');
    await get(sent.pixel, { headers: { 'user-agent': 'Mozilla/5.0' } }); // Apple Mail Privacy Protection
    await get(sent.pixel, { method: 'HEAD' });
    await get(sent.links[0]!, { headers: { 'user-agent': 'Mimecast-Url-Protect/1.0' } });
    expect((await lead(sent.leadId)).score).toBe(0);
    expect((await emails(sent.leadId))[0]).toMatchObject({ status: 'SENT', openCount: 2, clickCount: 1, openedAt: null });

    const events = await eventsOf(sent.emailId);
    expect(events.map((e) => `${e.kind}:${e.verdict}`)).toEqual(['OPEN:MACHINE', 'OPEN:MACHINE', 'CLICK:MACHINE']);
    expect(events[0]!.verdictReason).toMatch(/Apple/);

    // Paginated, oldest first: pages of two follow each other without a gap or an overlap.
    const page = (after: string | null) =>
      gql(
        `query($id: ID!, $after: String) { emailEvents(emailId: $id, first: 2, after: $after) { totalCount edges { node { id kind } } pageInfo { hasNextPage endCursor } } }`,
        { id: sent.emailId, after },
      );
    const first = ok(await page(null)).emailEvents;
    expect(first).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: true } });
    const second = ok(await page(first.pageInfo.endCursor)).emailEvents;
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect([...first.edges, ...second.edges].map((e: { node: { id: string } }) => e.node.id)).toEqual(events.map((e) => e.id));

    // A prefetch seconds after sending is a machine too.
    const fresh = await sendWelcome('prefetch@example.com');
    t.clock.set(new Date(Date.now()));
    await get(fresh.pixel);
    const prefetch = await eventsOf(fresh.emailId);
    expect(prefetch[0]).toMatchObject({ verdict: 'MACHINE', verdictReason: expect.stringMatching(/after sending/) });
  });

  it('an open or a click while the email is still SENDING (SES took it, the SENT outcome not yet written) is recorded as a machine’s', async () => {
    // The real emulator accepts the email at once; its answer reaches the dispatcher only when the test says so,
    // as when outcomes wait to be settled in a group or the database is slow. (Found by the soak bench.)
    const ses = createSesProvider(t.app.config, mailbox.url);
    let accepted!: (emailId: string) => void;
    const acceptedId = new Promise<string>((resolve) => (accepted = resolve));
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const slow = new Dispatcher({
      orm: t.app.orm,
      clock: t.clock,
      config: t.app.config,
      logger: t.app.logger,
      workerId: 'slow-answer',
      provider: { ...ses, send: async (email) => ses.send(email).then(async (result) => (accepted(email.tags.email_id!), await answered, result)) },
    });
    const leadId = ok(await gql(`mutation { createLead(input: { email: "early@example.com" }) { id } }`)).createLead.id as string;
    const dispatching = slow.dispatchDue();
    const emailId = await acceptedId;
    expect((await emails(leadId))[0]!.status).toBe('SENDING');

    expect((await get(`/t/o/${signToken(t.app.config.trackingSecret.reveal(), { emailId, kind: 'open' })}.gif`)).status).toBe(200);
    // A scanner following the first link as soon as the email lands: it reaches the link's page, not a 404.
    const stored = (await mailbox.emails()).find((e) => headerOf(e, 'X-LN-Email-Id') === emailId)!;
    const click = await get(path(linkUrls(stored)[0]!));
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://example.com/welcome');
    answer();
    await dispatching;
    expect((await emails(leadId))[0]).toMatchObject({ status: 'SENT', openCount: 1, clickCount: 1, openedAt: null, clickedAt: null });
    expect((await eventsOf(emailId)).map(({ kind, verdict, verdictReason }) => ({ kind, verdict, verdictReason }))).toEqual([
      { kind: 'OPEN', verdict: 'MACHINE', verdictReason: expect.stringMatching(/after sending/) },
      { kind: 'CLICK', verdict: 'MACHINE', verdictReason: expect.any(String) },
    ]);
    expect((await lead(leadId)).score).toBe(0);
  });

  it('200 concurrent clicks on one lead lose no increment and score once', async () => {
    const sent = await sendWelcome('burst@example.com');
    const responses = await Promise.all(Array.from({ length: 200 }, () => get(sent.links[0]!)));
    expect(responses.every((r) => r.status === 302)).toBe(true);
    expect((await emails(sent.leadId))[0]).toMatchObject({ status: 'CLICKED', clickCount: 200, openCount: 1 });
    expect((await lead(sent.leadId)).score).toBe(15);
    const changes = await t.app.orm.em
      .fork()
      .getConnection()
      .execute<{ score_delta: number }[]>(`select score_delta from activity where lead_id = ? and type = 'SCORE_CHANGED' order by score_delta`, [sent.leadId]);
    expect(changes.map((c) => c.score_delta)).toEqual([5, 10]);
    const [events] = await t.app.orm.em
      .fork()
      .getConnection()
      .execute<{ n: number }[]>(`select count(*)::int as n from email_event where email_id = ? and kind = 'CLICK'`, [sent.emailId]);
    expect(events!.n).toBe(200);
  });

  it('one-click unsubscribe (POST) stops everything; GET only shows the page; no later email is sent', async () => {
    const sent = await sendWelcome('leave@example.com');
    const page = await get(sent.unsubscribe);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect((await lead(sent.leadId)).unsubscribedAt).toBeNull();

    const post = await fetch(`${t.baseUrl}${sent.unsubscribe}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(post.status).toBe(200);
    const after = await lead(sent.leadId);
    expect(after.unsubscribedAt).toBeTruthy();
    expect(after.activities.edges.map((e: { node: { type: string } }) => e.node.type)).toContain('UNSUBSCRIBED');
    const { leadSequenceStatus } = ok(
      await gql(`query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { status stopReason emails { status } } } }`, { id: sent.leadId }),
    );
    expect(leadSequenceStatus.enrollments[0]).toMatchObject({ status: 'STOPPED', stopReason: 'UNSUBSCRIBED' });
    expect(leadSequenceStatus.enrollments[0].emails.map((e: { status: string }) => e.status)).toEqual(['SENT', 'CANCELED', 'CANCELED', 'CANCELED', 'CANCELED']);

    const before = (await mailbox.emails()).filter((e: StoredEmail) => e.destination.to[0] === 'leave@example.com').length;
    t.clock.advance(20 * DAY);
    await dispatcher.dispatchDue();
    expect((await mailbox.emails()).filter((e: StoredEmail) => e.destination.to[0] === 'leave@example.com')).toHaveLength(before);
    // A second POST changes nothing and still answers.
    expect((await fetch(`${t.baseUrl}${sent.unsubscribe}`, { method: 'POST' })).status).toBe(200);
  });

  it('trackOpen/trackClick apply the same rules for API clients, within the company', async () => {
    const sent = await sendWelcome('api@example.com');
    ok(await gql(`mutation($id: ID!) { trackOpen(emailId: $id) { status } }`, { id: sent.emailId }));
    const { trackClick } = ok(
      await gql(`mutation($id: ID!) { trackClick(emailId: $id, url: "https://example.com/welcome") { status clickCount } }`, { id: sent.emailId }),
    );
    expect(trackClick).toEqual({ status: 'CLICKED', clickCount: 1 });
    expect((await lead(sent.leadId)).score).toBe(15);
    expect(
      errorOf(await gql(`mutation($id: ID!) { trackClick(emailId: $id, url: "https://evil.example.net") { status } }`, { id: sent.emailId })).extensions?.code,
    ).toBe('BAD_USER_INPUT');
    const other = await createTenant(t);
    expect(errorOf(await t.as(other.apiKey)(`mutation($id: ID!) { trackOpen(emailId: $id) { status } }`, { id: sent.emailId })).extensions?.code).toBe(
      'NOT_FOUND',
    );
    expect(errorOf(await t.as(other.apiKey)(`query($id: ID!) { emailEvents(emailId: $id) { totalCount } }`, { id: sent.emailId })).extensions?.code).toBe(
      'NOT_FOUND',
    );
  });

  it('scoring rules are per company, and unsubscribeLead / resubscribeLead work through the API', async () => {
    const { updateScoringRules } = ok(
      await gql(
        `mutation { updateScoringRules(input: { openPoints: 7, clickPoints: 20, maxScore: 25 }) { scoringRules { openPoints clickPoints maxScore } } }`,
      ),
    );
    expect(updateScoringRules.scoringRules).toEqual({ openPoints: 7, clickPoints: 20, maxScore: 25 });
    const sent = await sendWelcome('rules@example.com');
    await get(sent.links[0]!);
    expect((await lead(sent.leadId)).score).toBe(25); // 7 + 20, capped at 25
    expect(errorOf(await gql(`mutation { updateScoringRules(input: { openPoints: 101, clickPoints: 1 }) { id } }`)).extensions?.code).toBe('BAD_USER_INPUT');

    const { unsubscribeLead } = ok(await gql(`mutation($id: ID!) { unsubscribeLead(leadId: $id) { unsubscribedAt } }`, { id: sent.leadId }));
    expect(unsubscribeLead.unsubscribedAt).toBeTruthy();
    const { resubscribeLead } = ok(await gql(`mutation($id: ID!) { resubscribeLead(leadId: $id) { unsubscribedAt } }`, { id: sent.leadId }));
    expect(resubscribeLead.unsubscribedAt).toBeNull();
  });
});

function pixelUrl(email: StoredEmail): string {
  return /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(email.body.html!)![1]!;
}

function linkUrls(email: StoredEmail): string[] {
  return [...email.body.html!.matchAll(/href="([^"]+\/t\/c\/[^"]+)"/g)].map((m) => m[1]!);
}

function path(url: string): string {
  return new URL(url).pathname;
}
