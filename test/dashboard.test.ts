import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from '../src/delivery/dispatcher.js';
import { DASHBOARD_CSP } from '../src/http/dashboard.routes.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { buildDashboard, chromiumMissing, heapAfterGc, launchChromium } from './helpers/browser.js';
import { createTenant } from './helpers/factories.js';
import { ok, type GraphQLClient, type Untyped } from './helpers/graphql.js';
import { sesDispatcher, startMailbox, type SesMailbox } from './helpers/ses.js';

/**
 * The dashboard in a real headless Chromium (playwright-core, the system's chromium) against the real app: built by
 * Vite, served at /dashboard with its CSP, speaking the public GraphQL API over HTTP and graphql-ws. Screenshots of
 * each view go to test-results/dashboard/ (git-ignored).
 */
const SHOTS = join(import.meta.dirname, '..', 'test-results', 'dashboard');
const BROWSER_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const AXE_SOURCE = createRequire(import.meta.url)('axe-core').source as string;
/** A name that resolves to this machine but is not loopback by name: the page gets no key there (like a remote host). */
const OTHER_HOST = 'dashboard.test';

// Functions given to page.evaluate and waitForFunction run in the page; the tests' tsconfig has no DOM library, so
// the page's globals they use are declared here, loosely.
declare const document: Untyped;
declare const window: Untyped;
declare const sessionStorage: Untyped;
declare const getComputedStyle: Untyped;

if (chromiumMissing) console.warn(`Skipping the dashboard browser tests: ${chromiumMissing}`);

describe.skipIf(chromiumMissing)('the dashboard in headless Chromium', () => {
  let buildDir: string;
  let dataDir: string;
  let mailbox: SesMailbox;
  let t: TestApp;
  let browser: Browser;
  let gql: GraphQLClient;
  let demoKey: string;
  let dispatcher: Dispatcher;
  const contexts: BrowserContext[] = [];
  /** Console lines about the CSP or Trusted Types: the page must never break its own policy. */
  const policyViolations: string[] = [];

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'lead-nurture-dashboard-'));
    const { jsGzipBytes } = buildDashboard(buildDir);
    console.log(`dashboard JavaScript: ${(jsGzipBytes / 1024).toFixed(1)} KB gzipped (budget 250 KB)`);
    expect(jsGzipBytes).toBeLessThan(250 * 1024);

    dataDir = await mkdtemp(join(tmpdir(), 'lead-nurture-dashboard-data-'));
    mailbox = await startMailbox();
    // Development, as `npm start` runs it: the demo company is seeded and the page opens with its key.
    t = await startTestApp({
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      SES_ENDPOINT: mailbox.url,
      SES_MAX_SEND_RATE: '0',
      DASHBOARD_DIR: buildDir,
      LOG_FORMAT: 'json',
    });
    demoKey = t.app.demo!.apiKey;
    gql = t.as(demoKey);
    dispatcher = sesDispatcher(t, mailbox, 'dashboard-test');
    browser = await launchChromium([`--host-resolver-rules=MAP ${OTHER_HOST} 127.0.0.1`]);
    await mkdir(SHOTS, { recursive: true });
  }, 180_000);

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(policyViolations.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.dispose();
    await mailbox?.dispose();
    for (const dir of [buildDir, dataDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(hash = 'feed', host = '127.0.0.1', setup?: (context: BrowserContext) => Promise<void>): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    await setup?.(context);
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content.Security.Policy|Trusted.Type|Refused to/i.test(message.text())) policyViolations.push(message.text());
    });
    page.on('pageerror', (error) => policyViolations.push(`page error: ${error.message}`));
    await page.goto(`http://${host}:${t.app.server.port}/dashboard/#${hash}`);
    return page;
  }

  async function signedIn(hash = 'feed'): Promise<Page> {
    const page = await open(hash);
    await page.getByTestId('company').filter({ hasText: 'Demo Company' }).waitFor();
    await page.getByTestId('live').filter({ hasText: 'Live' }).waitFor();
    return page;
  }

  async function createLead(email: string): Promise<string> {
    return ok(await gql(`mutation($e: String!) { createLead(input: { email: $e, firstName: "Ada", lastName: "Lovelace" }) { id } }`, { e: email })).createLead
      .id;
  }

  async function enrollmentStatus(leadId: string): Promise<{ status: string; stopReason: string | null }> {
    const { leadSequenceStatus } = ok(await gql(`query($id: ID!) { leadSequenceStatus(leadId: $id) { enrollments { status stopReason } } }`, { id: leadId }));
    return leadSequenceStatus.enrollments[0];
  }

  async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, ms = 3_000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (accept(value) || Date.now() > until) return value;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function seriousViolations(page: Page): Promise<string[]> {
    await page.evaluate(AXE_SOURCE);
    const results = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; help: string; nodes: unknown[] }[] }> } }).axe;
      return (await axe.run()).violations;
    });
    return results.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
  }

  it('is served with a strict CSP and cache headers, and carries the demo key only to this machine by a loopback name', async () => {
    const page = await get('/dashboard/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain(`<meta name="lead-nurture-dev-key" content="${demoKey}"`);

    // A DNS-rebinding page (its own name in Host) and anything forwarded by a proxy or tunnel get the plain page.
    const proxied: Record<string, string>[] = [
      { host: `evil.example:${t.app.server.port}` },
      { 'x-forwarded-for': '203.0.113.7' },
      { forwarded: 'for=203.0.113.7' },
    ];
    for (const headers of proxied) {
      const plain = await get('/dashboard/', headers);
      expect(plain.status).toBe(200);
      expect(plain.body).not.toContain('lead-nurture-dev-key');
      expect(plain.body).not.toContain(demoKey);
      expect(plain.headers['cache-control']).toBe('no-cache');
    }

    const script = /<script type="module" crossorigin src="([^"]+)"/.exec(page.body)![1]!;
    const asset = await get(script, { 'accept-encoding': 'gzip' });
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect(asset.headers['cache-control']).toContain('max-age=31536000');
    expect(asset.headers['content-encoding']).toBe('gzip');
    expect(asset.headers['x-content-type-options']).toBe('nosniff');
    // Nothing outside the built assets is reachable through them.
    for (const path of ['/dashboard/assets/%2e%2e/index.html', '/dashboard/assets/..%2f..%2fpackage.json', '/dashboard/assets/missing.js']) {
      expect([403, 404], path).toContain((await get(path)).status);
    }
  });

  it('opens with the demo key and shows a lead created through the API', async () => {
    const page = await signedIn('leads');
    const leadId = await createLead('appears@example.com');
    const row = page.locator(`tr[data-lead-id="${leadId}"]`);
    await row.waitFor({ timeout: 5_000 });
    expect(await row.textContent()).toContain('appears@example.com');
    // The feed shows what happens while the page is open: the next lead's enrollment arrives over graphql-ws.
    await page.getByRole('link', { name: 'Live feed' }).click();
    await createLead('appears-too@example.com');
    await page.getByTestId('feed').getByText('appears-too@example.com').first().waitFor({ timeout: 3_000 });
    // The feed can be held still (WCAG 2.2.2) and catches up when resumed.
    await page.getByRole('button', { name: 'Pause the feed' }).click();
    await createLead('while-paused@example.com');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await page.getByTestId('feed').getByText('while-paused@example.com').count()).toBe(0);
    await page.getByRole('button', { name: 'Resume the feed' }).click();
    await page.getByTestId('feed').getByText('while-paused@example.com').first().waitFor({ timeout: 3_000 });
    await page.screenshot({ path: join(SHOTS, 'feed.png'), fullPage: true });
  });

  it('a pixel open changes the score on screen within 1 s, with its reason', async () => {
    const leadId = await createLead('opener@example.com');
    await dispatcher.dispatchDue();
    const stored = (await mailbox.emails()).find((email) => email.destination.to.includes('opener@example.com'))!;
    const pixel = new URL(/<img src="([^"]+\/t\/o\/[^"]+)"/.exec(stored.body.html!)![1]!).pathname;
    t.clock.advance(5 * 60_000); // read a few minutes after it arrived (an open seconds after sending is a machine's)

    const feed = await signedIn('feed');
    const leads = await signedIn('leads');
    await leads.locator(`tr[data-lead-id="${leadId}"]`).waitFor();
    const onFeed = feed.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-kind="score"]')].find(
          (item) => item.textContent?.includes('opener@example.com') && item.textContent.includes('→ 5'),
        ),
      undefined,
      { polling: 'raf', timeout: 5_000 },
    );
    const inTable = leads.waitForFunction((id) => document.querySelector(`tr[data-lead-id="${id}"] [data-testid="lead-score"]`)?.textContent === '5', leadId, {
      polling: 'raf',
      timeout: 5_000,
    });
    const started = Date.now();
    const response = await fetch(`${t.baseUrl}${pixel}`, { headers: { 'user-agent': BROWSER_UA } });
    expect(response.status).toBe(200);
    await Promise.all([onFeed, inTable]);
    const elapsed = Date.now() - started;
    console.log(`pixel open → score on screen: ${elapsed} ms`);
    expect(elapsed).toBeLessThan(1_000);

    const { lead } = ok(await gql(`query($id: ID!) { lead(id: $id) { activities(first: 10) { edges { node { type reason } } } } }`, { id: leadId }));
    const reason = lead.activities.edges
      .map((e: { node: { type: string; reason: string } }) => e.node)
      .find((a: { type: string }) => a.type === 'SCORE_CHANGED').reason;
    expect(await feed.locator('[data-kind="score"]').filter({ hasText: 'opener@example.com' }).first().textContent()).toContain(reason);

    // The lead's page answers "why is this score 5?" with its timeline.
    await leads.getByRole('link', { name: 'opener@example.com' }).click();
    await leads.getByTestId('lead-detail-score').filter({ hasText: '5' }).waitFor();
    expect(await leads.getByTestId('timeline').textContent()).toContain(reason);
    await leads.screenshot({ path: join(SHOTS, 'lead.png'), fullPage: true });
    await leads.goto(`http://127.0.0.1:${t.app.server.port}/dashboard/#leads`);
    await leads.locator(`tr[data-lead-id="${leadId}"]`).waitFor();
    await leads.screenshot({ path: join(SHOTS, 'leads.png'), fullPage: true });
  });

  it('lists leads by score with search and paging', async () => {
    // 23 leads that a search finds, with distinct scores: two pages of 20 and 3, highest score first.
    const ids: string[] = [];
    for (let i = 0; i < 23; i += 1) {
      const id = await createLead(`pager${String(i).padStart(2, '0')}@paging.example`);
      ok(await gql(`mutation($id: ID!, $d: Int!) { adjustLeadScore(leadId: $id, delta: $d, reason: "paging test") { score } }`, { id, d: 70 - i }));
      ids.push(id);
    }
    const page = await signedIn('leads');
    await page.getByLabel('Search by name, email or company').fill('paging.example');
    await page.getByRole('button', { name: 'Search' }).click();
    const table = page.getByTestId('leads-table');
    await table.locator('caption').filter({ hasText: 'Leads 1–20 of 23' }).waitFor();
    const shown = () => table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-lead-id')));
    expect(await shown()).toEqual(ids.slice(0, 20));
    await page.getByRole('button', { name: 'Next page' }).click();
    await table.locator('caption').filter({ hasText: 'Leads 21–23 of 23' }).waitFor();
    expect(await shown()).toEqual(ids.slice(20));
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await table.locator('caption').filter({ hasText: 'Leads 1–20 of 23' }).waitFor();
    expect(await shown()).toEqual(ids.slice(0, 20));
  });

  it('pausing, resuming and stopping an enrollment from the page shows in leadSequenceStatus', async () => {
    const leadId = await createLead('buttons@example.com');
    const page = await signedIn(`leads/${leadId}`);
    await page.getByRole('button', { name: /^Pause / }).click();
    expect(
      await eventually(
        () => enrollmentStatus(leadId),
        (e) => e.status === 'PAUSED',
      ),
    ).toMatchObject({ status: 'PAUSED' });
    await page.getByTestId('enrollment-status').filter({ hasText: 'Paused' }).waitFor();

    await page.getByRole('button', { name: /^Resume / }).click();
    expect(
      await eventually(
        () => enrollmentStatus(leadId),
        (e) => e.status === 'ACTIVE',
      ),
    ).toMatchObject({ status: 'ACTIVE' });
    await page.getByRole('button', { name: /^Stop / }).click();
    expect((await enrollmentStatus(leadId)).status).toBe('ACTIVE'); // stopping for good asks once more
    await page.getByRole('button', { name: /^Confirm: stop/ }).click();
    expect(
      await eventually(
        () => enrollmentStatus(leadId),
        (e) => e.status === 'STOPPED',
      ),
    ).toEqual({ status: 'STOPPED', stopReason: 'MANUAL' });
    await page.getByTestId('enrollment-status').filter({ hasText: 'Stopped' }).waitFor();
  });

  it('asks for a key elsewhere; a wrong key gets a clear message, not a blank page', async () => {
    const page = await open('feed', OTHER_HOST);
    const input = page.getByLabel('API key');
    await input.waitFor();
    expect(await page.evaluate(() => document.documentElement.innerHTML)).not.toContain(demoKey);
    await input.fill('lnk_this-key-does-not-exist-0123456789');
    await input.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/This API key was not accepted: no company has it \(API_KEY_UNKNOWN\)/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'wrong-key.png') });
    expect(await seriousViolations(page)).toEqual([]);

    // A key kept in sessionStorage that stopped working (here: never worked) is dropped with the same message.
    const stale = await open('feed', '127.0.0.1', async (context) => {
      await context.addInitScript(() => sessionStorage.setItem('lead-nurture.apiKey', 'lnk_revoked-or-wrong'));
    });
    await stale.getByRole('alert').waitFor();
    expect(await stale.getByRole('alert').textContent()).toContain('not accepted');
    expect(await stale.evaluate(() => sessionStorage.getItem('lead-nurture.apiKey'))).toBeNull();
  });

  it('a key revoked while the page is open ends its session with the same clear message', async () => {
    const tenant = await createTenant(t, { name: 'Revoked Co' });
    const page = await open('feed', OTHER_HOST, async (context) => {
      await context.addInitScript((key) => sessionStorage.setItem('lead-nurture.apiKey', key), tenant.apiKey);
    });
    await page.getByTestId('company').filter({ hasText: 'Revoked Co' }).waitFor();
    await page.getByTestId('live').filter({ hasText: 'Live' }).waitFor();
    ok(await t.operator(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: tenant.apiKeyId }));
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout: 5_000 }); // the server closes the key's sockets with 4403 within 2 s
    expect(await alert.textContent()).toContain('This API key was not accepted: it has been revoked (API_KEY_REVOKED)');
    expect(await page.evaluate(() => sessionStorage.getItem('lead-nurture.apiKey'))).toBeNull();
  });

  it('works with the keyboard only: sign in, open a lead, pause its enrollment', async () => {
    const leadId = await createLead('keyboard@example.com');
    const page = await open('feed', OTHER_HOST);
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('api-key'); // focus starts in the field
    await page.keyboard.type(demoKey);
    await page.keyboard.press('Enter');
    await page.getByTestId('company').filter({ hasText: 'Demo Company' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('lead-nurture.apiKey'))).toBe(demoKey);

    const tabTo = async (matches: (text: string, tag: string) => boolean, what: string) => {
      for (let i = 0; i < 60; i += 1) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate(() => ({ text: document.activeElement?.textContent?.trim() ?? '', tag: document.activeElement?.tagName ?? '' }));
        if (matches(focused.text, focused.tag)) {
          const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
          expect(outline, `focus is visible on ${what}`).not.toBe('none');
          return;
        }
      }
      throw new Error(`Tab never reached ${what}`);
    };
    await tabTo((text, tag) => tag === 'A' && text === 'Leads', 'the Leads link');
    await page.keyboard.press('Enter');
    await page
      .getByTestId('leads-table')
      .locator('caption')
      .filter({ hasText: /^Leads 1–/ })
      .waitFor();
    await tabTo((_text, tag) => tag === 'INPUT', 'the search field');
    await page.keyboard.type('keyboard@');
    await page.keyboard.press('Enter');
    await page.locator(`tr[data-lead-id="${leadId}"]`).waitFor();
    await tabTo((text, tag) => tag === 'A' && text === 'keyboard@example.com', 'the lead');
    await page.keyboard.press('Enter');
    await page.getByTestId('enrollment').waitFor();
    await tabTo((text, tag) => tag === 'BUTTON' && text.startsWith('Pause'), 'the Pause button');
    await page.keyboard.press('Enter');
    expect(
      await eventually(
        () => enrollmentStatus(leadId),
        (e) => e.status === 'PAUSED',
      ),
    ).toMatchObject({ status: 'PAUSED' });
  });

  it("shows the funnel with the analytics API's numbers", async () => {
    const page = await signedIn('sequences');
    const funnel = page.getByTestId('funnel');
    await funnel.waitFor();
    const { from, to } = await funnel.evaluate((table) => ({ from: table.getAttribute('data-from'), to: table.getAttribute('data-to') }));
    const { sequences } = ok(await gql(`{ sequences(first: 1) { edges { node { id } } } }`));
    const { sequenceAnalytics } = ok(
      await gql(
        `query($id: ID!, $from: DateTime!, $to: DateTime!) { sequenceAnalytics(sequenceId: $id, from: $from, to: $to) {
          counts { enrolled sent uniqueHumanOpens } steps { emailNumber counts { sent delivered uniqueHumanOpens uniqueMachineOpens uniqueHumanClicks uniqueMachineClicks replied bouncedPermanent complained unsubscribed failed } } } }`,
        { id: sequences.edges[0].node.id, from, to },
      ),
    );
    expect(sequenceAnalytics.counts.sent).toBeGreaterThan(0); // the emails sent above
    for (const step of sequenceAnalytics.steps) {
      for (const [key, value] of Object.entries(step.counts)) {
        expect(await page.getByTestId(`step-${step.emailNumber}-${key}`).textContent(), `step ${step.emailNumber} ${key}`).toBe(String(value));
      }
    }
    expect(await page.getByTestId('total-enrolled').textContent()).toBe(String(sequenceAnalytics.counts.enrolled));
    expect(sequenceAnalytics.counts.enrolled).toBeGreaterThan(0);
    expect(await page.getByTestId('total-sent').textContent()).toBe(String(sequenceAnalytics.counts.sent));
    expect(await page.getByTestId('total-human-opens').textContent()).toBe(String(sequenceAnalytics.counts.uniqueHumanOpens));
    await page.screenshot({ path: join(SHOTS, 'sequences.png'), fullPage: true });
  });

  it('shows deliverability against its levels', async () => {
    const page = await signedIn('deliverability');
    await page.getByTestId('deliverability-state').waitFor();
    expect(await page.getByTestId('deliverability-state').textContent()).toContain('healthy');
    await page.screenshot({ path: join(SHOTS, 'deliverability.png'), fullPage: true });
  });

  it('has no serious accessibility violations in any view (axe-core)', async () => {
    const leadId = await createLead('axe@example.com');
    const page = await signedIn('feed');
    const views = ['feed', 'leads', `leads/${leadId}`, 'sequences', 'deliverability'];
    for (const view of views) {
      await page.goto(`http://127.0.0.1:${t.app.server.port}/dashboard/#${view}`);
      await page.locator('main h2').first().waitFor();
      await page.waitForLoadState('networkidle');
      expect(await seriousViolations(page), view).toEqual([]);
    }
  });

  it('keeps a bounded feed: the JS heap stays flat under a stream of events', async () => {
    const leadId = await createLead('stream@example.com');
    // From 50, ten concurrent changes of ±1 never reach 0 or 100, where a change would change nothing and send no event.
    ok(await gql(`mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 50, reason: "start") { score } }`, { id: leadId }));
    const page = await signedIn('feed');
    const burst = async (count: number) => {
      const target = await received(page, count);
      // Ten at a time: the events arrive as fast as the API makes them (bench/dashboard.bench.ts runs 10,000).
      for (let i = 0; i < count; i += 10) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, j) =>
            ok(
              await gql(`mutation($id: ID!, $d: Int!) { adjustLeadScore(leadId: $id, delta: $d, reason: "stream test") { score } }`, {
                id: leadId,
                d: j % 2 ? -1 : 1,
              }),
            ),
          ),
        );
      }
      // Polled from here (not waitForFunction, whose in-page poller the CDP heap measurement can stall).
      const until = Date.now() + 20_000;
      while ((await received(page, 0)) < target) {
        if (Date.now() > until) throw new Error(`the page received ${await received(page, 0)} events, not ${target}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await burst(300); // the feed is full (200 items) from here on
    const before = await heapAfterGc(page);
    await burst(600);
    const after = await heapAfterGc(page);
    console.log(`dashboard heap after GC: ${(before / 1024).toFixed(0)} KiB → ${(after / 1024).toFixed(0)} KiB after 600 more events`);
    expect(await page.locator('[data-testid="feed"] > li').count()).toBe(200);
    expect(after / before).toBeLessThan(1.1);
  }, 120_000);

  /** The page's "N received" count once `more` further events have arrived. */
  async function received(page: Page, more: number): Promise<number> {
    const text = (await page.locator('.hint').first().textContent()) ?? '';
    return Number(/(\d+) received/.exec(text)?.[1] ?? 0) + more;
  }

  /** A raw HTTP GET, so Host and forwarding headers can be set (fetch forbids Host). */
  function get(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: t.app.server.port, path, headers: { host: `127.0.0.1:${t.app.server.port}`, ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
  }
});
