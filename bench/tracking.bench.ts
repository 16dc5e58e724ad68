/**
 * Tracking benchmark (issue: "Tracking"). In one run, at 64 connections:
 *  - a bare Node `http` server serving the same GIF (baseline);
 *  - pixel requests for repeat opens (no score change: event, count and timeline writes);
 *  - pixel requests for first opens (also the score change and its timeline row);
 * and afterwards the rows must account for every request. Durability is on, as in production: every pixel answers
 * only once its open is in the spool (appended and fdatasync'd, src/tracking/spool.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type autocannon from 'autocannon';
import type { Config } from '../src/core/config.js';
import { signToken } from '../src/tracking/tokens.js';
import { type BenchResult, type LatencySeries, LATENCY_PERCENTILES, loadTest, startBenchApp, startBenchDatabase } from './support.js';

const CONNECTIONS = 64;
const REPEATS = 50_000;
const EMAILS = 40_000;
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export async function run(): Promise<BenchResult> {
  const db = await startBenchDatabase('tracking');
  await db.prepare('tracking');
  const app = await startBenchApp(db.urlFor('tracking'));
  const { config } = app;
  try {
    const step = (what: string) => process.stdout.write(`  tracking: ${what}\n`);
    const emailIds = await seedSentEmails(app.orm.em.fork(), config, EMAILS);
    step(`seeded ${emailIds.length} sent emails`);
    const secret = config.trackingSecret.reveal();
    const pixelPath = (id: string) => `/t/o/${signToken(secret, { emailId: id, kind: 'open' })}.gif`;
    const base = app.server.url.replace(/\/graphql$/, '');

    // Repeat opens: emails already opened once (the first 2,000), round-robin.
    const repeatPaths = emailIds.slice(0, 2000).map(pixelPath);
    const bare = await bareServerRate(repeatPaths);
    step(`bare server ${bare.rate.toFixed(0)} req/s`);
    await Promise.all(
      Array.from({ length: 16 }, async (_, lane) => {
        for (let i = lane; i < repeatPaths.length; i += 16) await fetch(base + repeatPaths[i], { headers: { 'user-agent': BROWSER } });
      }),
    );
    step('first 2,000 opened');
    await app.recorder.flush();
    const before = await countOpens(app);
    const repeat = await load(base, repeatPaths, REPEATS, 'pixel, repeat opens');
    step(`repeat opens ${repeat.rate.toFixed(0)} req/s`);
    // First opens: each request opens a different email for the first time.
    const firstPaths = emailIds.slice(2000).map(pixelPath);
    const first = await load(base, firstPaths, Math.min(25_000, firstPaths.length), 'pixel, first opens'); // each path once: every request is a first open
    step(`first opens ${first.rate.toFixed(0)} req/s`);
    await app.recorder.flush(); // the rows of every answered request, written behind
    const after = await countOpens(app);

    const requests = repeat.ok + first.ok;
    const recorded = after.events - before.events;
    const firstScored = after.scored - before.scored;
    const rows = [
      { bench: 'tracking', metric: 'bare Node http GIF server (baseline)', value: bare.rate, unit: 'req/s' },
      { bench: 'tracking', metric: 'pixel, repeat opens', value: repeat.rate, unit: 'req/s' },
      {
        bench: 'tracking',
        metric: 'pixel repeat opens / bare',
        value: repeat.rate / bare.rate,
        unit: 'ratio',
        target: '>= 0.3',
        pass: repeat.rate / bare.rate >= 0.3,
      },
      { bench: 'tracking', metric: 'pixel, first opens (score + timeline)', value: first.rate, unit: 'req/s', target: '>= 2000', pass: first.rate >= 2000 },
      { bench: 'tracking', metric: 'pixel first opens p99', value: first.p99, unit: 'ms', target: '< 50', pass: first.p99 < 50 },
      {
        bench: 'tracking',
        metric: 'requests without an event row (must be 0)',
        value: requests - recorded,
        unit: 'requests',
        target: '= 0',
        pass: requests === recorded,
      },
      {
        bench: 'tracking',
        metric: 'first opens without their score change (must be 0)',
        value: first.ok - firstScored,
        unit: 'opens',
        target: '= 0',
        pass: first.ok === firstScored,
      },
      {
        bench: 'tracking',
        metric: 'non-2xx responses (must be 0)',
        value: repeat.errors + first.errors,
        unit: 'responses',
        target: '= 0',
        pass: repeat.errors + first.errors === 0,
      },
    ];
    return { rows, latencies: [bare.latency, repeat.latency, first.latency] };
  } finally {
    await app.dispose();
    await db.dispose();
  }
}

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/** A fixed number of requests (not a duration), so every request completes and can be accounted for. */
async function load(
  base: string,
  paths: string[],
  amount: number,
  name: string,
): Promise<{ rate: number; p99: number; ok: number; errors: number; latency: LatencySeries }> {
  let next = 0;
  const { result, rate } = await loadTest({
    url: base,
    connections: CONNECTIONS,
    amount,
    headers: { 'user-agent': BROWSER },
    requests: [{ setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length]! }) }],
  });
  return { rate, p99: result.latency.p99, ok: result['2xx'], errors: result.non2xx + result.errors + result.timeouts, latency: series(name, result) };
}

/** autocannon keeps an HDR histogram; its percentiles become the chart series. */
function series(name: string, result: autocannon.Result): LatencySeries {
  const at: Record<number, number> = { 0: result.latency.min, 100: result.latency.max };
  const points = LATENCY_PERCENTILES.map((p): [number, number] => [
    p,
    at[p] ?? (result.latency as unknown as Record<string, number>)[`p${String(p).replace('.', '_')}`] ?? Number.NaN,
  ]);
  return { bench: 'tracking', name: `${name}, ${CONNECTIONS} connections`, count: result.requests.total, points };
}

/** The same request stream as the repeat opens (paths, headers, count): the client's share of the CPU is the same. */
async function bareServerRate(paths: string[]): Promise<{ rate: number; latency: LatencySeries }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'image/gif', 'cache-control': 'no-store' });
    response.end(PIXEL);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const result = await load(url, paths, REPEATS, 'bare Node http GIF server');
  server.close();
  return result;
}

/** Leads with a welcome email that went out an hour ago (so opens are not prefetch-fast), set up in bulk. */
async function seedSentEmails(em: EntityManager, config: Config, count: number): Promise<string[]> {
  const connection = em.getConnection();
  const [company] = await connection.execute<{ id: string }[]>(
    `insert into company (id, name, from_address, timezone, created_at, updated_at) values (gen_random_uuid(), 'Bench', 'team@example.com', 'UTC', now(), now()) returning id`,
  );
  void config;
  await connection.execute(`
    with sequence as (
      insert into email_sequence (id, company_id, name, active, trigger, steps, created_at, updated_at)
      values (gen_random_uuid(), '${company!.id}', 'Bench', true, 'MANUAL', '[{"delayDays":0,"delayHours":0,"subject":"Hi","body":"<p>Hi</p>"}]', now(), now()) returning id
    ), leads as (
      insert into lead (id, company_id, email, score, attributes, created_at, updated_at)
      select gen_random_uuid(), '${company!.id}', 'bench' || i || '@example.com', 0, '{}', now(), now() from generate_series(1, ${count}) i returning id
    ), enrollments as (
      insert into enrollment (id, company_id, lead_id, sequence_id, status, started_at, created_at, updated_at)
      select gen_random_uuid(), '${company!.id}', leads.id, sequence.id, 'ACTIVE', now(), now(), now() from leads, sequence returning id, lead_id, sequence_id
    )
    insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, sent_at, created_at, updated_at)
    select gen_random_uuid(), '${company!.id}', e.id, e.lead_id, e.sequence_id, 1, now() - interval '1 hour', 'SENT', now() - interval '1 hour', now(), now() from enrollments e`);
  const rows = await connection.execute<{ id: string }[]>(`select id from sequence_email where company_id = ? order by id`, [company!.id]);
  return rows.map((r) => r.id);
}

async function countOpens(app: { orm: MikroORM; recorder: { flush(): Promise<void> } }): Promise<{ events: number; scored: number }> {
  const [row] = await app.orm.em
    .fork()
    .getConnection()
    .execute<{ events: number; scored: number }[]>(
      `select (select count(*)::int from email_event where kind = 'OPEN') as events,
            (select count(*)::int from activity where type = 'SCORE_CHANGED') as scored`,
    );
  return row!;
}
