/**
 * Scale benchmark (issue: "Scale"). With 1,000,000 leads and 5,000,000 emails in the database (bench/scale-seed.ts):
 *  - the dispatcher's claim, a `pendingEmails` page, a `leads` page filtered by score and `leadSequenceStatus`
 *    each stay under 20 ms: the claim timed around the real `claimDueEmails` (rolled back), the GraphQL ones end
 *    to end over HTTP with the largest tenant's key, and each also as the time its SQL statements took;
 *  - the plans of the statements each one runs (captured from the pg driver, then EXPLAIN (ANALYZE, BUFFERS)) use
 *    indexes: no sequential scan of lead, sequence_email, enrollment or activity; written to bench/results/scale-plans.txt;
 *  - server memory stays flat while the real Dispatcher sends tens of thousands of due emails to the SES emulator;
 *  - with 10,000,000 email events too, the analytics a dashboard asks for stay under 50 ms p99 end to end over HTTP
 *    (bench/scale-analytics.ts), after their answers are checked against the raw rows; their plans are in the same file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { App } from '../src/app/app.js';
import { claimDueEmails } from '../src/delivery/claim.js';
import { Dispatcher } from '../src/delivery/dispatcher.js';
import { createSesProvider } from '../src/delivery/ses-provider.js';
import { seedScale } from './scale-seed.js';
import { ANALYTICS_OPERATIONS, ANALYTICS_TARGET_MS, analyticsRows, measureAnalytics } from './scale-analytics.js';
import { explainAll, LARGE_TABLES, latencyRows, measure, REPETITIONS, StatementLog, WARM_UP } from './scale-measure.js';
import { type BenchResult, type BenchRow, collector, latencySeries, memory, startBenchApp, startBenchDatabase, startEmulatorProcess, gql } from './support.js';

const TARGET_MS = 20;
/** Emails made due at once for the memory run: a backlog of a couple of minutes' sending on this machine. */
const MADE_DUE = 30_000;
/** Heap after GC at the end over the start (after a warm-up round): flat means no growth with the emails sent. */
const HEAP_TARGET = 1.1;
/** The hottest leads of the largest tenant: about 9% of them, some 35,000. */
const MIN_SCORE = 30;
const PLANS_FILE = new URL('./results/scale-plans.txt', import.meta.url);

const PENDING_PAGE = `query PendingPage {
  pendingEmails(first: 20) { totalCount edges { node { id emailNumber status scheduledSendDate } } pageInfo { hasNextPage endCursor } }
}`;
const HOT_LEADS = `query HotLeads($after: String) {
  leads(first: 20, after: $after, filter: { minScore: ${MIN_SCORE} }, orderBy: SCORE_DESC) {
    totalCount edges { node { id email firstName lastName score createdAt } } pageInfo { hasNextPage endCursor }
  }
}`;
const SEQUENCE_STATUS = `query SequenceStatus($lead: ID!) {
  leadSequenceStatus(leadId: $lead) {
    lead { id email score }
    enrollments { id status stopReason startedAt sequence { id name } emails { id emailNumber status scheduledSendDate sentAt openedAt } }
    nextEmail { id emailNumber scheduledSendDate }
  }
}`;

export async function run(): Promise<BenchResult> {
  const step = (what: string) => process.stdout.write(`  scale: ${what}\n`);
  const db = await startBenchDatabase('scale');
  await db.prepare('scale');
  const emulator = await startEmulatorProcess();
  const admin = new pg.Client({ connectionString: db.urlFor('scale') });
  await admin.connect();
  const statements = new StatementLog();
  let app: App | undefined;
  try {
    // Loading settings of this throwaway cluster (none of them changes a plan): fewer checkpoints, and no
    // autovacuum racing the load (the seed vacuums and analyses itself at the end).
    for (const setting of [`max_wal_size = '16GB'`, 'autovacuum = off']) await admin.query(`alter system set ${setting}`);
    await admin.query('select pg_reload_conf()');

    // Before the app opens connections: its PreparingClient (src/db/prepared-statements.ts) binds `query` when made.
    statements.install();
    app = await startBenchApp(db.urlFor('scale'), { env: { SES_ENDPOINT: emulator.url, SES_MAX_SEND_RATE: '0' } });
    const tenant = await largestTenant(app);

    const seedStarted = performance.now();
    const counts = await seedScale(admin, tenant.companyId, step);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    await admin.query('alter system reset autovacuum');
    await admin.query('select pg_reload_conf()');
    step(`seeded in ${seedSeconds.toFixed(0)} s: ${JSON.stringify(counts)}`);

    const gql = graphqlClient(app.server.url, tenant.apiKey);
    const pending = await measure(statements, () => gql(PENDING_PAGE));
    step(`pendingEmails: p50 ${pending.p50.toFixed(1)} ms`);
    // Page after page through the hot leads, as someone working the list does.
    let after: string | null = null;
    const hotLeads = await measure(statements, async () => {
      const data = (await gql(HOT_LEADS, { after })) as { leads: { pageInfo: { endCursor: string | null; hasNextPage: boolean } } };
      after = data.leads.pageInfo.hasNextPage ? data.leads.pageInfo.endCursor : null;
    });
    step(`leads by score: p50 ${hotLeads.p50.toFixed(1)} ms`);
    const leadIds = await sampleLeads(admin, tenant.companyId, REPETITIONS + WARM_UP);
    let next = 0;
    const status = await measure(statements, () => gql(SEQUENCE_STATUS, { lead: leadIds[next++ % leadIds.length] }));
    step(`leadSequenceStatus: p50 ${status.p50.toFixed(1)} ms`);
    const analytics = await measureAnalytics({ url: app.server.url, apiKey: tenant.apiKey, admin, companyId: tenant.companyId, statements, step });
    const limit = app.config.delivery.batchSize;
    // Last: its rolled-back repetitions leave dead row versions behind that the reads above would have to step over.
    const claim = await measure(statements, async () => {
      // As the dispatcher claims (its batch size and fair share), but rolled back: every repetition sees the same backlog.
      const em = app!.orm.em.fork();
      await em.begin();
      try {
        await claimDueEmails(em, { now: new Date(), limit, share: Math.max(1, Math.ceil(limit / 10)), workerId: 'scale-bench' });
      } finally {
        await em.rollback();
      }
    });
    const { rows: claimed } = await admin.query(`select 1 from sequence_email where status = 'SENDING' limit 1`);
    if (claimed.length > 0) throw new Error('a measured claim was not rolled back');
    step(`claim: p50 ${claim.p50.toFixed(1)} ms`);

    const measured = {
      'dispatcher claim': claim,
      'pendingEmails page': pending,
      [`leads page, minScore ${MIN_SCORE}, by score`]: hotLeads,
      leadSequenceStatus: status,
      ...Object.fromEntries(Object.entries(analytics.measured).map(([name, m]) => [ANALYTICS_OPERATIONS[name as keyof typeof ANALYTICS_OPERATIONS], m])),
    };
    const plans = await explainAll(admin, measured);
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(PLANS_FILE, plans.text);
    step(`plans in ${fileURLToPath(PLANS_FILE)} (indexes: ${[...plans.indexes].sort().join(', ')})`);

    const memory = await dispatchWithMemory(app, admin, emulator.url, step);

    const rows: BenchRow[] = [
      {
        bench: 'scale',
        metric: `seeding ${counts.leads} leads, ${counts.emails} emails, ${counts.events} events, ${counts.enrollments} enrollments, ${counts.activities} activities, rollups (context)`,
        value: seedSeconds,
        unit: 's',
      },
      {
        bench: 'scale',
        metric: `PENDING emails (${counts.dueNow} due now, ${counts.held} held by paused enrollments; context)`,
        value: counts.pending,
        unit: 'emails',
      },
      ...latencyRows('dispatcher claim (claimDueEmails, rolled back)', claim, 'SQL', TARGET_MS),
      ...latencyRows('pendingEmails page, largest tenant', pending, 'HTTP', TARGET_MS),
      ...latencyRows(`leads page minScore ${MIN_SCORE} by score, largest tenant`, hotLeads, 'HTTP', TARGET_MS),
      ...latencyRows('leadSequenceStatus, largest tenant', status, 'HTTP', TARGET_MS),
      ...analyticsRows(analytics.mismatches),
      ...Object.entries(analytics.measured).flatMap(([name, m]) =>
        latencyRows(ANALYTICS_OPERATIONS[name as keyof typeof ANALYTICS_OPERATIONS], m, 'HTTP', ANALYTICS_TARGET_MS),
      ),
      {
        bench: 'scale',
        metric: `sequential scans of ${LARGE_TABLES.join(', ')} in those plans (must be 0)`,
        value: plans.seqScans,
        unit: 'scans',
        target: '= 0',
        pass: plans.seqScans === 0,
      },
      { bench: 'scale', metric: `dispatched at scale (${memory.sent} emails, context)`, value: memory.rate, unit: 'emails/s' },
      { bench: 'scale', metric: 'due emails left after dispatching (must be 0)', value: memory.left, unit: 'emails', target: '= 0', pass: memory.left === 0 },
      {
        bench: 'scale',
        metric: `server heap after GC while dispatching, end / start (${memory.samples} samples${memory.gc ? '' : ', no gc: rough'})`,
        value: memory.heapRatio,
        unit: 'ratio',
        target: `<= ${HEAP_TARGET}`,
        pass: memory.heapRatio <= HEAP_TARGET,
      },
      { bench: 'scale', metric: 'server heap after GC while dispatching, highest / start', value: memory.heapPeakRatio, unit: 'ratio' },
      {
        bench: 'scale',
        metric: `server RSS while dispatching, end / start (context; ${(memory.rssStart / 2 ** 20).toFixed(0)} MiB at start)`,
        value: memory.rssRatio,
        unit: 'ratio',
      },
    ];
    return {
      rows,
      latencies: [
        latencySeries('scale', 'dispatcher claim (SQL)', claim.sql),
        latencySeries('scale', 'pendingEmails page (HTTP)', pending.total),
        latencySeries('scale', 'leads page by score (HTTP)', hotLeads.total),
        latencySeries('scale', 'leadSequenceStatus (HTTP)', status.total),
        ...Object.entries(analytics.measured).map(([name, m]) => latencySeries('scale', `${name} (HTTP)`, m.total)),
      ],
    };
  } finally {
    statements.uninstall();
    await app?.dispose();
    await admin.end();
    await emulator.dispose();
    await db.dispose();
  }
}

/** The largest tenant is made as a customer would be: through the operator API, with its default sequence and a key. */
async function largestTenant(app: App): Promise<{ companyId: string; apiKey: string }> {
  const operator = graphqlClient(app.server.url, app.config.operatorToken.reveal());
  const { createCompany } = (await operator(
    // In a time zone 5 hours off UTC: the daily series groups by local days, as a real tenant's would.
    `mutation { createCompany(input: { name: "Largest tenant", fromAddress: "team@largest.example.com", timezone: "America/New_York" }) { id } }`,
  )) as {
    createCompany: { id: string };
  };
  const { createApiKey } = (await operator(`mutation($id: ID!) { createApiKey(companyId: $id, name: "scale bench") { secret } }`, {
    id: createCompany.id,
  })) as {
    createApiKey: { secret: string };
  };
  return { companyId: createCompany.id, apiKey: createApiKey.secret };
}

function graphqlClient(url: string, key: string) {
  return (query: string, variables: Record<string, unknown> = {}): Promise<unknown> => gql(url, `Bearer ${key}`, query, variables);
}

/** Half leads in the middle of their sequence (a next email to find), half drawn from all: most have finished. */
async function sampleLeads(admin: pg.Client, companyId: string, count: number): Promise<string[]> {
  const { rows } = await admin.query<{ id: string }>(
    `(select l.id from lead l join enrollment e on e.lead_id = l.id where l.company_id = $1 and e.status = 'ACTIVE' order by random() limit $2)
     union all (select id from lead where company_id = $1 order by random() limit $2)`,
    [companyId, Math.ceil(count / 2)],
  );
  return rows.map((r) => r.id).sort(() => Math.random() - 0.5);
}

/**
 * Makes MADE_DUE pending emails due now and sends them all with the real Dispatcher (as the job runs it, a time
 * budget at a time) against the SES emulator, sampling the heap after forced GC between rounds. The first
 * round warms caches and code up; the samples after it must not grow with the emails sent.
 */
async function dispatchWithMemory(app: App, admin: pg.Client, sesUrl: string, step: (what: string) => void) {
  await admin.query(
    `update sequence_email set scheduled_send_date = now() - random() * interval '10 minutes'
     where id in (select id from sequence_email where status = 'PENDING' and not paused and scheduled_send_date > now() order by random() limit ${MADE_DUE})`,
  );
  const provider = createSesProvider(app.config, sesUrl);
  const dispatcher = new Dispatcher({ orm: app.orm, clock: app.clock, provider, config: app.config, logger: app.logger, workerId: 'scale-bench' });
  const gc = collector();
  try {
    let sent = 0;
    const started = performance.now();
    const round = async () => {
      const result = await dispatcher.dispatchDue(5_000);
      sent += result.sent;
      return result.more;
    };
    let more = await round();
    const start = memory(gc);
    const heaps: number[] = [];
    let end = start;
    while (more) {
      more = await round();
      end = memory(gc);
      heaps.push(end.heap);
      step(`dispatched ${sent}, heap ${(end.heap / 2 ** 20).toFixed(1)} MiB, RSS ${(end.rss / 2 ** 20).toFixed(0)} MiB`);
    }
    const rate = sent / ((performance.now() - started) / 1000);
    const { rows } = await admin.query<{ left: string }>(
      `select count(*) as left from sequence_email where status = 'PENDING' and not paused and scheduled_send_date <= now()`,
    );
    return {
      sent,
      rate,
      left: Number(rows[0]!.left),
      gc: gc !== undefined,
      samples: heaps.length,
      heapRatio: end.heap / start.heap,
      heapPeakRatio: Math.max(start.heap, ...heaps) / start.heap,
      rssRatio: end.rss / start.rss,
      rssStart: start.rss,
    };
  } finally {
    provider.dispose();
  }
}
