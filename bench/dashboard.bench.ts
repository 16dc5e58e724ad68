/**
 * Dashboard bench: the page open in headless Chromium (the system's chromium, as test/dashboard.test.ts uses) on its
 * live feed while score changes stream in over graphql-ws, its JS heap measured after garbage collection every
 * 1,000 events. The load is 1,000 events a minute for 10 minutes: 10,000 events. By default the same 10,000
 * arrive ten times faster (DASHBOARD_EVENTS_PER_MINUTE, 10,000): what the page keeps is bounded by a number of
 * events (the newest 200 in the feed), never by time, and it holds no per-event timer, so the heap after N events
 * does not depend on their rate, and a faster stream only leaves the page less idle time to collect. Set
 * DASHBOARD_EVENTS_PER_MINUTE=1000 for the real 10 minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '../src/app/app.js';
import { buildDashboard, chromiumMissing, heapAfterGc, launchChromium } from '../test/helpers/browser.js';
import { type BenchResult, type BenchRow, gql, startBenchApp, startBenchDatabase } from './support.js';

const EVENTS = Number(process.env.DASHBOARD_EVENTS ?? 10_000);
const PER_MINUTE = Number(process.env.DASHBOARD_EVENTS_PER_MINUTE ?? 10_000);
const SAMPLE_EVERY = 1_000;
const OPERATOR_TOKEN = 'bench-operator-token-0123456789abcdef0123';
const HEAP_TARGET = 1.1;
const JS_BUDGET_KB = 250;

export async function run(): Promise<BenchResult> {
  if (chromiumMissing) throw new Error(chromiumMissing);
  const buildDir = await mkdtemp(join(tmpdir(), 'lead-nurture-dashboard-bench-'));
  const { jsGzipBytes } = buildDashboard(buildDir);
  const db = await startBenchDatabase('dashboard');
  let app: App | undefined;
  const browser = await launchChromium();
  try {
    await db.prepare('dashboard');
    app = await startBenchApp(db.urlFor('dashboard'), { env: { OPERATOR_TOKEN, MUTATION_RATE_LIMIT: '0', DASHBOARD_DIR: buildDir } });
    const url = app.server.url;
    const apiKey = await tenantKey(url);
    const authorization = `Bearer ${apiKey}`;
    const leadIds = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { createLead } = await gql<{ createLead: { id: string } }>(
          url,
          authorization,
          `mutation($e: String!) { createLead(input: { email: $e }) { id } }`,
          {
            e: `stream${i}@example.com`,
          },
        );
        // From 50, concurrent changes of ±1 never reach 0 or 100, where a change would change nothing and send no event.
        await gql(url, authorization, `mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 50, reason: "start") { score } }`, { id: createLead.id });
        return createLead.id;
      }),
    );

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((key) => sessionStorage.setItem('lead-nurture.apiKey', key), apiKey);
    const page = await context.newPage();
    await page.goto(`${url.replace(/\/graphql$/, '')}/dashboard/#feed`);
    await page.getByTestId('live').filter({ hasText: 'Live' }).waitFor();
    await new Promise((resolve) => setTimeout(resolve, 500)); // the subscriptions registered on the server

    const received = async () => Number(/(\d+) received/.exec((await page.locator('.hint').first().textContent()) ?? '')?.[1] ?? 0);
    const base = await received();
    const samples: Array<{ events: number; heap: number }> = [{ events: 0, heap: await heapAfterGc(page) }];
    const started = Date.now();
    const intervalMs = 60_000 / PER_MINUTE;
    for (let sent = 0; sent < EVENTS;) {
      // Paced by the clock: event n leaves at n × interval, in small groups so timers' granularity does not matter.
      const due = Math.min(EVENTS, Math.floor((Date.now() - started) / intervalMs) + 1);
      const nextSample = (Math.floor(sent / SAMPLE_EVERY) + 1) * SAMPLE_EVERY; // a batch never crosses a sample point
      const batch = Array.from({ length: Math.max(0, Math.min(due - sent, 20, nextSample - sent)) }, (_, i) => sent + i);
      await Promise.all(
        batch.map((n) =>
          gql(url, authorization, `mutation($id: ID!, $d: Int!) { adjustLeadScore(leadId: $id, delta: $d, reason: "bench stream") { score } }`, {
            id: leadIds[n % leadIds.length],
            d: Math.floor(n / leadIds.length) % 2 ? -1 : 1, // each lead: +1, -1, +1, …
          }),
        ),
      );
      sent += batch.length;
      if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, Math.max(1, intervalMs / 2)));
      if (sent % SAMPLE_EVERY === 0 && batch.length > 0) {
        await waitFor(async () => (await received()) - base >= sent, 30_000).catch(async () => {
          throw new Error(`after ${sent} events the page had received ${(await received()) - base}`);
        });
        samples.push({ events: sent, heap: await heapAfterGc(page) });
        process.stdout.write(`  ${sent} events: heap ${(samples.at(-1)!.heap / 1024).toFixed(0)} KiB\n`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const lost = EVENTS - ((await received()) - base);
    const first = samples.find((s) => s.events === SAMPLE_EVERY)!.heap; // the feed is full (200) from here on
    const last = samples.at(-1)!.heap;
    const rows: BenchRow[] = [
      {
        bench: 'dashboard',
        metric: 'page JavaScript, gzipped',
        value: jsGzipBytes / 1024,
        unit: 'KB',
        target: `< ${JS_BUDGET_KB}`,
        pass: jsGzipBytes < JS_BUDGET_KB * 1024,
      },
      {
        bench: 'dashboard',
        metric: `events streamed to the live feed (${(EVENTS / (seconds / 60)).toFixed(0)}/min for ${seconds.toFixed(0)} s)`,
        value: EVENTS,
        unit: 'events',
      },
      { bench: 'dashboard', metric: 'events the page did not receive', value: lost, unit: 'events', target: '0', pass: lost === 0 },
      {
        bench: 'dashboard',
        metric: `page JS heap after GC at ${EVENTS} events / at ${SAMPLE_EVERY}`,
        value: last / first,
        unit: 'ratio',
        target: `<= ${HEAP_TARGET}`,
        pass: last / first <= HEAP_TARGET,
      },
      { bench: 'dashboard', metric: `page JS heap after GC at ${EVENTS} events`, value: last / 1024 / 1024, unit: 'MiB' },
    ];
    return { rows };
  } finally {
    await browser.close();
    await app?.dispose();
    await db.dispose();
    await rm(buildDir, { recursive: true, force: true });
  }
}

async function tenantKey(url: string): Promise<string> {
  const operator = `Bearer ${OPERATOR_TOKEN}`;
  const { createCompany } = await gql<{ createCompany: { id: string } }>(
    url,
    operator,
    `mutation { createCompany(input: { name: "Dashboard bench", fromAddress: "bench@example.com", timezone: "UTC" }) { id } }`,
  );
  const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
    url,
    operator,
    `mutation($c: ID!) { createApiKey(companyId: $c, name: "bench") { secret } }`,
    {
      c: createCompany.id,
    },
  );
  return createApiKey.secret;
}

async function waitFor(condition: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
