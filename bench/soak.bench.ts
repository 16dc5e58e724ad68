/**
 * Soak bench (issue #7, "Soak"): ten minutes (SOAK_SECONDS) of mixed load at once against the embedded defaults,
 * with zero errors, zero lost tracking events, zero duplicate sends and flat memory as the targets.
 *
 * The server is the app as `npm start` runs it in development: embedded PostgreSQL in a temp dir, the in-process
 * SES emulator, Agenda dispatching (RUN_JOBS, the NOTIFY trigger), the real clock, the default log level. Only the
 * emulator's account quota is raised (to SEND_RATE emails/s; a new account's 14/s is below this intake) through
 * its own AWS_SES_ACCOUNT setting, which the app reads with GetAccount as it would from SES.
 *
 * The load runs in child processes, so the server's event loop is measured alone: soak-load.ts (createLead,
 * importLeads, queries, and recipients opening and clicking the emails SES received) and realtime-clients.ts
 * (500 graphql-ws subscribers over four companies). Every target is a count that must be zero, or heap growth
 * against the run's own second minute; the rest (rates, latencies, CPU) is context for reading them.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { App } from '../src/app/app.js';
import { createLogger } from '../src/core/logger.js';
import { DEFAULT_SCORING_RULES } from '../src/model/scoring-rules.js';
import { query, sql } from '../src/db/sql.js';
import { emulatorAccount } from '../src/app/dev/ses-emulator.js';
import type { ClientCommand, ClientReport, GroupTally, TallyReport } from './realtime-clients.js';
import type { LoadCommand, LoadReport, LoadResult, SoakPlan } from './soak-load.js';
import { Tally } from './soak-tally.js';
import { createCompanies, drainEmulator } from './soak-shared.js';
import { Child, sleep, until } from './child.js';
import { type BenchResult, type BenchRow, collector, freePort, latencySeries, percentile, startBenchApp, startBenchDatabase } from './support.js';

const EXTRA_COMPANIES = 3; // and the seeded demo company: four tenants
const SUBSCRIBERS = 500;
const MIN_SCORE = 10;
const SEND_RATE = 50;
const HEAP_GROWTH_TARGET = 1.2;
const SAMPLE_EVERY_MS = 10_000;
const DRAIN_EVERY_MS = 1_000;

/** Steady, moderate rates (a soak, not a throughput test): ~28 new leads/s, 150 tracking requests/s. */
const RATES = {
  createLeadsPerSecond: 5,
  importEverySeconds: 30,
  importRows: 250,
  queriesPerSecond: 1,
  trackingPerSecond: 150,
} satisfies Partial<SoakPlan>;

/** Per company: a feed of every score change, one of leads reaching MIN_SCORE (with the lead), and email statuses. */
const SUBSCRIPTIONS = [
  { kind: 'score', share: 0.4, query: `subscription { leadScoreChanged { previousScore score delta reason at } }` },
  { kind: 'min-score', share: 0.4, query: `subscription { leadScoreChanged(minScore: ${MIN_SCORE}) { score delta at lead { id email score } } }` },
  { kind: 'status', share: 0.2, query: `subscription { emailStatusChanged { id status sentAt openCount clickCount } }` },
] as const;

const SES_ACCOUNT = emulatorAccount(SEND_RATE, 1_000_000);

interface Company {
  id: string;
  apiKey: string;
}

export async function run(): Promise<BenchResult> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 600);
  if (!Number.isFinite(seconds) || seconds < 30) throw new Error(`SOAK_SECONDS must be a number of seconds, at least 30 (got ${process.env.SOAK_SECONDS})`);
  const step = (what: string) => process.stdout.write(`  soak: ${what}\n`);
  const db = await startBenchDatabase('soak', { durable: true });
  const previousAccount = process.env.AWS_SES_ACCOUNT;
  process.env.AWS_SES_ACCOUNT = JSON.stringify(SES_ACCOUNT);
  const logs = new LogTally();
  let app: App | undefined;
  let subscribers: Child<ClientCommand, ClientReport | TallyReport> | undefined;
  let load: Child<LoadCommand, LoadReport> | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    await db.prepare('soak');
    const port = await freePort();
    app = await startBenchApp(db.urlFor('soak'), {
      env: {
        NODE_ENV: 'development',
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // The demo tenant's file goes beside the database, and goes with it.
        DATA_DIR: db.dataDir,
        SES_EMULATOR_PORT: String(await freePort()),
        RUN_JOBS: 'true',
        // The development default, which the server pays for in request logging as under `npm start`.
        LOG_LEVEL: 'info',
      },
      logger: (config) => logs.logger(config.logLevel),
    });
    const url = app.server.url;
    const companies = await setUpCompanies(app);
    step(`server up, ${companies.length} companies`);

    subscribers = new Child<ClientCommand, ClientReport | TallyReport>('./realtime-clients.ts');
    for (const company of companies) {
      for (const subscription of SUBSCRIPTIONS) {
        const count = Math.round((SUBSCRIBERS / companies.length) * subscription.share);
        await subscribers.request(
          { type: 'open', url, apiKey: company.apiKey, count, query: subscription.query, group: `${company.id} ${subscription.kind}` },
          'opened',
        );
      }
    }
    await until(() => app!.pubSub.stats().subscribers === SUBSCRIBERS, 'the subscriptions to register');
    step(`${SUBSCRIBERS} subscribers`);

    // Memory after a full GC every SAMPLE_EVERY_MS (each forced GC pauses the loop briefly: it shows in the tails).
    const gc = collector();
    const samples: Array<{ at: number; heap: number; rss: number }> = [];
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });

    load = new Child<LoadCommand, LoadReport>('./soak-load.ts', true);
    const plan: SoakPlan = { url, databaseUrl: app.databaseUrl, companies, seconds, minScore: MIN_SCORE, ...RATES };
    await load.request({ type: 'start', plan }, 'started');
    const started = Date.now();
    const cpu = process.cpuUsage();
    loopDelay.enable();
    const sample = () => {
      gc?.();
      const { heapUsed, rss } = process.memoryUsage();
      samples.push({ at: (Date.now() - started) / 1000, heap: heapUsed, rss });
    };
    timers.push(setInterval(sample, SAMPLE_EVERY_MS));
    timers.push(setInterval(() => sendDrained(load!), DRAIN_EVERY_MS));
    timers.push(
      setInterval(
        () => step(`${Math.round((Date.now() - started) / 1000)} s, heap ${mib(process.memoryUsage().heapUsed)} MiB, ${logs.errors} error lines`),
        60_000,
      ),
    );
    step(`load running for ${seconds} s`);

    await load.wait('finished', (seconds + 120) * 1000);
    sample();
    const { user, system } = process.cpuUsage(cpu);
    loopDelay.disable();
    timers.splice(0).forEach(clearInterval);
    step('load finished; waiting for the last due emails to leave');
    const backlog = await dispatched(app, step);
    sendDrained(load);
    await app.recorder.flush();
    const result = (await load.request({ type: 'report' }, 'report', 60_000)).result;
    const published = new Map(result.published.map((p) => [p.companyId, p]));
    const expected = (group: string) => {
      const [companyId, kind] = group.split(' ');
      const counts = published.get(companyId!)!;
      return kind === 'score' ? counts.scoreChanges : kind === 'min-score' ? counts.scoreChangesAtMinScore : counts.statusChanges;
    };
    // Deliveries trail the last commit by milliseconds; give them a few seconds before counting any as dropped.
    let tallies: GroupTally[] = [];
    for (let i = 0; i < 20; i += 1) {
      tallies = (await subscribers.request({ type: 'tally' }, 'tally')).groups;
      if (tallies.every((t) => t.received.every((n) => n === expected(t.group)))) break;
      await sleep(500);
    }

    const checks = await check(app, result);
    const rows = report({
      seconds,
      result,
      checks,
      tallies,
      expected,
      samples,
      gc: gc !== undefined,
      logs,
      subscriberFailures: subscribers.failures,
      droppedByServer: app.pubSub.stats().dropped,
      loopDelayP99: loopDelay.percentile(99) / 1e6,
      serverCores: (user + system) / 1e6 / seconds,
      backlog,
    });
    const failures = new Tally();
    subscribers.failures.forEach((failure) => failures.add(failure));
    for (const [what, tally] of [
      ['server error lines', logs.messages],
      ['client errors', new Tally(result.errorSamples)],
      ['subscription errors', failures],
    ] as const) {
      if (tally.size > 0)
        step(
          `${what}:\n${tally
            .lines()
            .map((line) => `    ${line}`)
            .join('\n')}`,
        );
    }
    return {
      rows,
      latencies: [
        latencySeries('soak', 'createLead over HTTP', result.latencies.createLead),
        latencySeries('soak', 'GraphQL queries (leads, pendingEmails)', result.latencies.query),
        latencySeries('soak', 'pixel open', result.latencies.open),
        latencySeries('soak', 'click redirect', result.latencies.click),
        latencySeries('soak', 'open/click -> score change on NOTIFY (committed)', result.latencies.published),
        latencySeries(
          'soak',
          'open/click -> score change at a subscriber',
          tallies.filter((t) => t.group.endsWith(' score')).flatMap((t) => t.latencies),
        ),
        latencySeries('soak', 'createLead -> welcome email accepted by SES', checks.welcomeLagMs),
      ],
    };
  } finally {
    timers.forEach(clearInterval);
    await load?.dispose();
    await subscribers?.dispose();
    await app?.dispose();
    if (previousAccount === undefined) delete process.env.AWS_SES_ACCOUNT;
    else process.env.AWS_SES_ACCOUNT = previousAccount;
    await db.dispose();
  }
}

/** The demo company `npm start` seeds, and more made through the operator API like real tenants. */
async function setUpCompanies(app: App): Promise<Company[]> {
  const extra = await createCompanies(app.server.url, app.config.operatorToken.reveal(), EXTRA_COMPANIES, 'Soak');
  return [{ id: app.demo!.companyId, apiKey: app.demo!.apiKey }, ...extra];
}

function sendDrained(load: Child<LoadCommand, LoadReport>): void {
  const emails = drainEmulator();
  if (emails.length > 0) load.send({ type: 'sent', emails });
}

/** Waits until no email is due or being sent (the intake's last emails have left); answers how many were at first. */
async function dispatched(app: App, step: (what: string) => void): Promise<number> {
  let first: number | undefined;
  let said = Date.now();
  await until(
    async () => {
      const [row] = await query<{ n: number }>(
        app.orm.em.fork(),
        sql`select count(*)::int as n from sequence_email where status = 'SENDING' or (status = 'PENDING' and scheduled_send_date <= now())`,
      );
      first ??= row!.n;
      if (row!.n > 0 && Date.now() - said > 5_000) {
        step(`${row!.n} emails due or sending`);
        said = Date.now();
      }
      return row!.n === 0;
    },
    'the due emails to be sent',
    120_000,
  );
  return first!;
}

interface Checks {
  leads: number;
  sent: number;
  failed: number;
  /** Emails the database shows sent that SES never got, and the reverse. */
  sentNotInSes: number;
  sesNotSent: number;
  duplicateSends: number;
  eventsLost: number;
  eventsExtra: number;
  /** |open_count - OPEN rows| + |click_count - CLICK rows| over all emails. */
  countsOff: number;
  machineVerdicts: number;
  /** Sum of lead scores against the points their emails' first human opens and clicks are worth. */
  scoreOff: number;
  /** Score changes committed (timeline) against those published. */
  unpublished: number;
  welcomeLagMs: number[];
}

/** Compares what the clients saw with what the database and SES hold. */
async function check(app: App, result: LoadResult): Promise<Checks> {
  const em = app.orm.em.fork();
  const emails = await query<{ id: string; status: string; open_count: number; click_count: number; opens: number; clicks: number; machine: number }>(
    em,
    sql`select s.id, s.status, s.open_count, s.click_count,
               count(e.id) filter (where e.kind = 'OPEN')::int as opens, count(e.id) filter (where e.kind = 'CLICK')::int as clicks,
               count(e.id) filter (where e.verdict = 'MACHINE')::int as machine
        from sequence_email s left join email_event e on e.email_id = s.id
        where s.sent_at is not null or s.status in ('SENDING', 'FAILED')
        group by s.id`,
  );
  const seen = new Map(result.emails.map(([id, ses, opens, clicks]) => [id, { ses, opens, clicks }]));
  const sent = emails.filter((e) => !['SENDING', 'FAILED'].includes(e.status));
  const sentIds = new Set(sent.map((e) => e.id));
  let eventsLost = 0;
  let eventsExtra = 0;
  let countsOff = 0;
  for (const email of sent) {
    const client = seen.get(email.id) ?? { ses: 0, opens: 0, clicks: 0 };
    eventsLost += Math.max(0, client.opens - email.opens) + Math.max(0, client.clicks - email.clicks);
    eventsExtra += Math.max(0, email.opens - client.opens) + Math.max(0, email.clicks - client.clicks);
    countsOff += Math.abs(email.open_count - email.opens) + Math.abs(email.click_count - email.clicks);
  }
  const [scores] = await query<{ total: number; opened: number; clicked: number }>(
    em,
    sql`select (select coalesce(sum(score), 0) from lead)::int as total,
               count(*) filter (where opened_at is not null)::int as opened, count(*) filter (where clicked_at is not null)::int as clicked
        from sequence_email`,
  );
  const committed = await query<{ company_id: string; changes: number }>(
    em,
    sql`select company_id, count(*)::int as changes from activity where type = 'SCORE_CHANGED' group by company_id`,
  );
  const publishedScores = new Map(result.published.map((p) => [p.companyId, p.scoreChanges]));
  const [leads] = await query<{ n: number }>(em, sql`select count(*)::int as n from lead`);
  const lag = await query<{ ms: number }>(
    em,
    sql`select extract(epoch from s.sent_at - l.created_at)::float8 * 1000 as ms
        from sequence_email s join lead l on l.id = s.lead_id where s.email_number = 1 and s.sent_at is not null and l.email like 'c-%'`,
  );
  return {
    leads: leads!.n,
    sent: sent.length,
    failed: emails.length - sent.length,
    sentNotInSes: sent.filter((e) => !seen.has(e.id)).length,
    sesNotSent: result.emails.filter(([id]) => !sentIds.has(id)).length,
    duplicateSends: result.emails.reduce((sum, [, ses]) => sum + ses - 1, 0),
    eventsLost,
    eventsExtra,
    countsOff,
    machineVerdicts: sent.reduce((sum, e) => sum + e.machine, 0),
    scoreOff: Math.abs(scores!.total - (scores!.opened * DEFAULT_SCORING_RULES.openPoints + scores!.clicked * DEFAULT_SCORING_RULES.clickPoints)),
    unpublished:
      committed.reduce((sum, c) => sum + Math.abs(c.changes - (publishedScores.get(c.company_id) ?? 0)), 0) +
      result.published.filter((p) => p.scoreChanges > 0 && !committed.some((c) => c.company_id === p.companyId)).length,
    welcomeLagMs: lag.map((r) => r.ms),
  };
}

interface Measured {
  seconds: number;
  result: LoadResult;
  checks: Checks;
  tallies: GroupTally[];
  expected: (group: string) => number;
  samples: Array<{ at: number; heap: number; rss: number }>;
  gc: boolean;
  logs: LogTally;
  subscriberFailures: string[];
  droppedByServer: number;
  loopDelayP99: number;
  /** CPU the server process used during the load (the emulator's included), in cores. */
  serverCores: number;
  /** Emails due or being sent when the load stopped: whether dispatch kept up with intake. */
  backlog: number;
}

function report(m: Measured): BenchRow[] {
  const { result, checks, seconds } = m;
  const context = (metric: string, value: number, unit: string): BenchRow => ({ bench: 'soak', metric, value, unit });
  const zero = (metric: string, value: number, unit: string): BenchRow => ({ bench: 'soak', metric, value, unit, target: '= 0', pass: value === 0 });

  let delivered = 0;
  let dropped = 0;
  let unexpected = 0;
  for (const tally of m.tallies) {
    const wanted = m.expected(tally.group);
    for (const received of tally.received) {
      delivered += received;
      dropped += Math.max(0, wanted - received);
      unexpected += Math.max(0, received - wanted);
    }
  }

  // Heap growth: the last minute against the second (the first is warm-up); shorter runs scale the windows down.
  const window = Math.min(60, seconds / 5);
  const median = (values: number[]) => percentile(values, 50);
  const during = (from: number, to: number, pick: (s: { heap: number; rss: number }) => number) =>
    median(m.samples.filter((s) => s.at >= from && s.at <= to).map(pick));
  const heapEarly = during(window, 2 * window, (s) => s.heap);
  const heapLate = during(seconds - window, seconds + 1, (s) => s.heap);
  const rssEarly = during(window, 2 * window, (s) => s.rss);
  const rssLate = during(seconds - window, seconds + 1, (s) => s.rss);
  const growth = heapLate / heapEarly;
  const slope = slopePerMinute(m.samples.filter((s) => s.at >= window));

  const tracking = result.opens + result.clicks;
  return [
    context('load duration', seconds, 's'),
    context(
      `leads created (createLead ${RATES.createLeadsPerSecond}/s per company, importLeads of ${RATES.importRows} every ${RATES.importEverySeconds} s)`,
      checks.leads,
      'leads',
    ),
    context('emails SES accepted', checks.sent, 'emails'),
    context('emails SES accepted per second', checks.sent / seconds, 'emails/s'),
    context('emails due but not yet sent when the load stopped (sent afterwards)', m.backlog, 'emails'),
    context('pixel and click requests answered per second', tracking / seconds, 'req/s'),
    context('GraphQL queries answered', result.queries, 'queries'),
    context(`subscription events delivered to ${SUBSCRIBERS} subscribers`, delivered, 'events'),
    zero('HTTP and GraphQL errors (non-2xx, errors, timeouts, wrong import counts)', result.errors, 'errors'),
    zero('subscription errors (socket closed, error event)', m.subscriberFailures.length, 'errors'),
    zero('server log lines at error level', m.logs.errors, 'lines'),
    zero('tracking events lost (answered request without its email_event row)', checks.eventsLost, 'events'),
    zero('tracking events recorded more than once', checks.eventsExtra, 'events'),
    zero('email open/click counts differing from their event rows', checks.countsOff, 'events'),
    zero('human opens and clicks judged MACHINE', checks.machineVerdicts, 'events'),
    zero('score points not explained by first opens and clicks', checks.scoreOff, 'points'),
    zero('duplicate sends (SES messages per email id - 1)', checks.duplicateSends, 'emails'),
    zero('emails SENT in the database that SES never got', checks.sentNotInSes, 'emails'),
    zero('emails SES got that the database does not show sent', checks.sesNotSent, 'emails'),
    zero('emails FAILED or left SENDING', checks.failed, 'emails'),
    zero('score changes committed but not published, or the reverse', checks.unpublished, 'events'),
    zero('subscription events dropped (published for the company, not received)', dropped, 'events'),
    zero('subscription events received beyond those published', unexpected, 'events'),
    zero("events dropped from lagging subscribers' queues (server)", m.droppedByServer, 'events'),
    {
      bench: 'soak',
      metric: `server heap after GC, last ${window} s / ${window}-${2 * window} s${m.gc ? '' : ' (no gc: rough)'}`,
      value: growth,
      unit: 'ratio',
      target: `<= ${HEAP_GROWTH_TARGET}`,
      pass: growth <= HEAP_GROWTH_TARGET,
    },
    context(`server heap after GC, ${window}-${2 * window} s`, mib(heapEarly), 'MiB'),
    context('server heap after GC, trend after warm-up', slope / 2 ** 20, 'MiB/min'),
    context(`server RSS, last ${window} s / ${window}-${2 * window} s (the in-process SES emulator included)`, rssLate / rssEarly, 'ratio'),
    context('server RSS, last sample', mib(m.samples.at(-1)!.rss), 'MiB'),
    context('server process CPU during the load (SES emulator included)', m.serverCores, 'cores'),
    context('server event-loop delay p99 (forced GC every 10 s included)', m.loopDelayP99, 'ms'),
    context('createLead over HTTP p99', percentile(result.latencies.createLead, 99), 'ms'),
    context(`importLeads of ${RATES.importRows} rows p99`, percentile(result.latencies.importLeads, 99), 'ms'),
    context('pixel open p99', percentile(result.latencies.open, 99), 'ms'),
    context('open/click -> score change on NOTIFY (committed) p99', percentile(result.latencies.published, 99), 'ms'),
    context(
      'open/click -> score change at a subscriber p99',
      percentile(
        m.tallies.filter((t) => t.group.endsWith(' score')).flatMap((t) => t.latencies),
        99,
      ),
      'ms',
    ),
    context('createLead -> welcome email accepted by SES p99', percentile(checks.welcomeLagMs, 99), 'ms'),
  ];
}

/** Least-squares slope of heap over time, in bytes per minute. */
function slopePerMinute(samples: Array<{ at: number; heap: number }>): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const meanAt = samples.reduce((sum, s) => sum + s.at, 0) / n;
  const meanHeap = samples.reduce((sum, s) => sum + s.heap, 0) / n;
  const covariance = samples.reduce((sum, s) => sum + (s.at - meanAt) * (s.heap - meanHeap), 0);
  const variance = samples.reduce((sum, s) => sum + (s.at - meanAt) ** 2, 0);
  return (covariance / variance) * 60;
}

/**
 * The server's log, counted rather than printed: lines by level, and the distinct error messages for the report.
 * The level stays the development default, so the server pays for its request log as under `npm start`.
 */
class LogTally {
  errors = 0;
  readonly messages = new Tally();

  logger(level: string) {
    // The product's logger (redaction included), so the soak pays what `npm start` pays per log line.
    return createLogger({ logLevel: level }, { write: (line: string) => this.#count(line) });
  }

  #count(line: string): void {
    if (Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 0) < 50) return;
    this.errors += 1;
    const { msg, err } = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    this.messages.add(`${msg ?? ''}${err?.message ? `: ${err.message}` : ''}`);
  }
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
