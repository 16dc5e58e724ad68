/**
 * Fault soak (issue #14, "Must show"): the soak's mixed load for FAULTS_SECONDS (600) against two API processes
 * (jobs off) and two workers on one PostgreSQL database, all child processes, while the harness
 *  - restarts PostgreSQL every FAULTS_PG_EVERY s (120): fast shutdown, PG_DOWN_MS down, started again on the same
 *    data and port, so the processes reconnect;
 *  - takes SES away every FAULTS_SES_EVERY s (180) for SES_DOWN_MS: the proxy in front of the emulator closes its
 *    listening socket (ECONNREFUSED) and listens again on the same port; all along it answers a third of SendEmail
 *    calls 429 ThrottlingException (faults-ses.ts);
 *  - SIGKILLs a worker every FAULTS_KILL_EVERY s (90) and starts a replacement (once PostgreSQL is up: a process
 *    cannot boot without its database).
 * Then the faults stop (PostgreSQL and SES up, no throttling) and the harness waits up to SETTLE_SECONDS for
 * nothing to be due or SENDING. Every target is a count that must be 0; recovery times after each fault are context.
 *
 * The product's processes run from a copy of src/ taken at the start (faults-processes.ts: snapshotSources).
 * The emulator runs in this process (as in the soak): the harness drains its store every second, counting SES
 * messages per email id header (duplicates) and handing the tracking URLs to the load process (soak-load.ts),
 * which opens and clicks them and counts the answered ones. Workers alternate PUBLIC_URL between the two API
 * processes, so the recipients' traffic reaches both; companies' GraphQL calls alternate as well.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { emulatorAccount, startSesEmulator } from '../src/app/dev/ses-emulator.js';
import type { ClientCommand, ClientReport, GroupTally, TallyReport } from './realtime-clients.js';
import type { LoadCommand, LoadReport, LoadResult, SoakPlan } from './soak-load.js';
import { Tally } from './soak-tally.js';
import { createCompanies, drainEmulator } from './soak-shared.js';
import { Child, sleep, until } from './child.js';
import { type Crash, ProductProcess, RestartableDatabase, snapshotSources, type Watch } from './faults-processes.js';
import { startSesProxy, type SesProxy } from './faults-ses.js';
import { type BenchResult, type BenchRow, freePort, gql, percentile } from './support.js';

const COMPANIES = 4;
const SUBSCRIBERS = 200;
const MIN_SCORE = 10;
const SEND_RATE = 50;
const THROTTLE_SHARE = 1 / 3;
const PG_DOWN_MS = 5_000;
const SES_DOWN_MS = 30_000;
const OPERATOR_TOKEN = 'faults-operator-token';
/** The soak's rates, tracking a bit lower: six product processes, PostgreSQL and the load share this machine. */
const RATES = { createLeadsPerSecond: 5, importEverySeconds: 30, importRows: 250, queriesPerSecond: 1, trackingPerSecond: 100 } satisfies Partial<SoakPlan>;
const SUBSCRIPTIONS = [
  { kind: 'score', query: `subscription { leadScoreChanged { previousScore score delta reason at } }` },
  { kind: 'min-score', query: `subscription { leadScoreChanged(minScore: ${MIN_SCORE}) { score delta at lead { id email score } } }` },
] as const;
/** What SES says when it refuses an email for good: the only FAILED reasons that account for an email. */
const SES_REFUSALS =
  /^(MessageRejected|MailFromDomainNotVerifiedException|BadRequestException|NotFoundException|AccountSuspendedException|SendingPausedException)\b/;

type Kind = 'postgres' | 'ses' | 'worker';

/** One fault as it happened: when it began, when it was over (the thing back), and what followed. */
interface Fault {
  kind: Kind;
  began: number;
  over: number;
  /** Epoch ms of the first SendEmail SES accepted after `over`. */
  firstSend?: number;
  /** PostgreSQL: epoch ms by which a mutation had succeeded on every API process after `over`. */
  firstMutation?: number;
  /** Worker: the emails it held SENDING when killed, and when the last of them left SENDING. */
  held?: number;
  released?: number;
}

function seconds(name: string, fallback: number, min: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number of seconds, at least ${min} (got ${process.env[name]})`);
  return value;
}

export async function run(): Promise<BenchResult> {
  const duration = seconds('FAULTS_SECONDS', 600, 60);
  const every = { postgres: seconds('FAULTS_PG_EVERY', 120, 20), ses: seconds('FAULTS_SES_EVERY', 180, 40), worker: seconds('FAULTS_KILL_EVERY', 90, 20) };
  const settleSeconds = seconds('SETTLE_SECONDS', 240, 10);
  const step = (what: string) => process.stdout.write(`  faults: ${what}\n`);
  const dataDir = await mkdtemp(join(tmpdir(), 'lead-nurture-bench-faults-'));
  const database = new RestartableDatabase(dataDir, await freePort(), 'faults');
  const previousAccount = process.env.AWS_SES_ACCOUNT;
  process.env.AWS_SES_ACCOUNT = JSON.stringify(emulatorAccount(SEND_RATE, 1_000_000));
  const crashes: Crash[] = [];
  const crashed = (crash: Crash) => step(`${crash.name} exited on its own (${crash.code ?? crash.signal})${crash.ready ? '' : ' while booting'}`);
  const processes: ProductProcess[] = [];
  const timers: NodeJS.Timeout[] = [];
  let emulator: Awaited<ReturnType<typeof startSesEmulator>> | undefined;
  let proxy: SesProxy | undefined;
  let subscribers: Child<ClientCommand, ClientReport | TallyReport> | undefined;
  let load: Child<LoadCommand, LoadReport> | undefined;
  let pool: pg.Pool | undefined;
  try {
    const sources = await snapshotSources(new URL('../', import.meta.url), join(dataDir, 'sources'));
    await database.start();
    emulator = await startSesEmulator(0);
    proxy = await startSesProxy(emulator.url, await freePort(), 0);
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined); // a restart ends idle connections; the next query opens a new one

    // API processes: the first migrates; each logs its LISTEN connection's losses and returns.
    const apiPorts = [await freePort(), await freePort()];
    const listenerBack: Watch[] = apiPorts.map(() => ({ pattern: /LISTEN connection restored/, seen: [] }));
    const apis = apiPorts.map(
      (port, i) =>
        new ProductProcess(
          `api-${i}`,
          sources,
          'src/main.ts',
          { ...productEnv(dataDir, database.url, proxy!.url, port), PORT: String(port), RUN_JOBS: 'false', HOST: '127.0.0.1' },
          crashes,
          [listenerBack[i]!],
          crashed,
        ),
    );
    processes.push(...apis);
    const urls = apiPorts.map((port) => `http://127.0.0.1:${port}/graphql`);
    for (const [i, api] of apis.entries()) {
      api.start();
      await until(() => healthy(apiPorts[i]!), `${api.name} to answer`, 120_000);
    }
    let workerCount = 0;
    const startWorker = () => {
      const port = apiPorts[workerCount % apiPorts.length]!;
      const name = `worker-${workerCount++}`;
      // Debug level: what a worker did last before it exited shows in the report.
      const env = { ...productEnv(dataDir, database.url, proxy!.url, port), WORKER_ID: name, LOG_LEVEL: 'debug' };
      const worker = new ProductProcess(name, sources, 'src/worker.ts', env, crashes, [{ pattern: /"msg":"dispatch run"/, seen: [] }], crashed);
      worker.start();
      processes.push(worker);
      return worker;
    };
    const workers = [startWorker(), startWorker()];
    const companies = await setUpCompanies(urls[0]!);
    const probe = (await setUpCompanies(urls[0]!, 1, 'Probe'))[0]!;
    step(`database on ${database.port}, 2 API processes, 2 workers, ${companies.length} companies`);

    subscribers = new Child<ClientCommand, ClientReport | TallyReport>('./realtime-clients.ts');
    for (const [c, company] of companies.entries()) {
      for (const subscription of SUBSCRIPTIONS) {
        const count = SUBSCRIBERS / companies.length / SUBSCRIPTIONS.length;
        for (const [i, url] of urls.entries()) {
          const group = `${company.id} ${subscription.kind}`;
          const share = Math.floor(count / urls.length) + (i < count % urls.length ? 1 : 0);
          await subscribers.request({ type: 'open', url, apiKey: company.apiKey, count: share, query: subscription.query, group }, 'opened');
        }
      }
      if (c === 0) step('subscribers opening');
    }
    step(`${SUBSCRIBERS} subscribers, split over both API processes`);

    // SES accepts each email; the load opens and clicks it. Counted here per email id: the duplicates.
    const sesCount = new Map<string, number>();
    const drain = () => {
      const emails = drainEmulator();
      for (const email of emails) sesCount.set(email.emailId, (sesCount.get(email.emailId) ?? 0) + 1);
      if (emails.length > 0) load?.send({ type: 'sent', emails });
    };
    load = new Child<LoadCommand, LoadReport>('./soak-load.ts', true);
    const plan: SoakPlan = {
      url: urls[0]!,
      moreUrls: urls.slice(1),
      listen: false,
      databaseUrl: database.url,
      companies,
      seconds: duration,
      minScore: MIN_SCORE,
      ...RATES,
    };
    proxy.throttleShare = THROTTLE_SHARE;
    await load.request({ type: 'start', plan }, 'started');
    const started = Date.now();
    timers.push(setInterval(drain, 1_000));
    timers.push(
      setInterval(
        () => step(`${Math.round((Date.now() - started) / 1000)} s: ${sesCount.size} emails at SES, ${proxy!.throttled} throttled, ${crashes.length} crashes`),
        30_000,
      ),
    );
    step(`load running for ${duration} s; faults every ${every.postgres} s (PostgreSQL), ${every.ses} s (SES), ${every.worker} s (worker)`);

    // The faults, each kind on its own clock; a kind's next fault waits for its previous one to be over.
    const faults: Fault[] = [];
    const afterwards: Promise<unknown>[] = [];
    const schedule = (kind: Kind, period: number, inject: () => Promise<Fault>) => {
      let chain: Promise<unknown> = Promise.resolve();
      for (let at = period; at < duration; at += period) {
        chain = chain
          .then(() => sleep(started + at * 1000 - Date.now()))
          .then(async () => {
            const fault = await inject();
            faults.push(fault);
            step(`${kind} fault over after ${((fault.over - fault.began) / 1000).toFixed(1)} s`);
            afterwards.push(recover(fault));
          });
      }
      return chain;
    };
    const recover = async (fault: Fault) => {
      const sendAfter = async () => {
        await until(() => proxy!.accepted.some((t) => t >= fault.over), 'a send', 600_000).catch(() => undefined);
        fault.firstSend = proxy!.accepted.find((t) => t >= fault.over);
      };
      const work: Promise<unknown>[] = [sendAfter()];
      if (fault.kind === 'postgres') work.push(mutationsBack(urls, probe.apiKey).then((at) => (fault.firstMutation = at)));
      await Promise.all(work);
    };
    const injected = Promise.all([
      schedule('postgres', every.postgres, async () => {
        const [began, over] = await database.restart(PG_DOWN_MS);
        return { kind: 'postgres', began, over };
      }),
      schedule('ses', every.ses, async () => {
        const began = Date.now();
        await proxy!.goAway();
        await sleep(began + SES_DOWN_MS - Date.now());
        await proxy!.comeBack();
        return { kind: 'ses', began, over: Date.now() };
      }),
      schedule('worker', every.worker, async () => {
        const victim = workers.shift()!;
        const began = Date.now();
        await victim.stop('SIGKILL');
        const held = await retried<{ id: string }>(pool!, `select id from sequence_email where status = 'SENDING' and claimed_by = $1`, [workerId(victim)]);
        await database.up();
        workers.push(startWorker());
        const fault: Fault = { kind: 'worker', began, over: Date.now(), held: held.length };
        afterwards.push(released(pool!, held, fault));
        return fault;
      }),
    ]);
    // A product process that crashed is started again (counted once, in `crashes`), so the run goes on: one every
    // 5 s at most, as a supervisor with backoff would (two workers booting at once is how some of them crashed).
    timers.push(
      setInterval(() => {
        const down = processes.find((p) => !p.running && crashes.some((c) => c.name === p.name && c.at >= p.startedAt));
        if (down) void database.up().then(() => !down.running && down.start());
      }, 5_000),
    );

    await load.wait('finished', (duration + 180) * 1000);
    await injected;
    proxy.throttleShare = 0;
    step(`load finished; faults over; settling (up to ${settleSeconds} s)`);
    const settleStarted = Date.now();
    const backlog = await settled(pool, settleSeconds, step);
    await Promise.race([Promise.all(afterwards), sleep(Math.max(0, settleSeconds * 1000 - (Date.now() - settleStarted)))]);
    // Workers stop first (SIGTERM, as a deploy would): nothing is sent after the last drain, so SES and the
    // database are compared on the same emails.
    await Promise.all(processes.filter((p) => p.name.startsWith('worker')).map((p) => p.stop('SIGTERM')));
    drain();
    await sleep(3_000); // the last answered opens' group commits, and their NOTIFYs
    drain();

    const windows = listenerDownWindows(faults, listenerBack, crashes, apis);
    const tallies = (await subscribers.request({ type: 'tally', excluded: windows }, 'tally')).groups;
    const subscriberFailures = [...subscribers.failures];
    const result = (await load.request({ type: 'report' }, 'report', 60_000)).result;
    // Where dispatch stood: a run locked and never finished is a dispatch that hung (or whose worker was killed).
    const jobs = await retried(
      pool,
      `select name, type, repeat_interval, locked_at, last_run_at, last_finished_at, last_modified_by, fail_reason from agenda_jobs order by locked_at nulls last`,
    ).catch((error: unknown) => [{ error: String(error) }]);
    timers.splice(0).forEach(clearInterval);
    // The API processes stop as a deploy would (SIGTERM): what they buffer is written.
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    const checks = await check(pool, { result, sesCount, tallies, windows });
    const logs = new Tally();
    for (const p of processes) for (const [message, count] of p.errors.entries()) for (let i = 0; i < count; i++) logs.add(message);
    printDetails(step, { checks, crashes, logs, result, subscriberFailures, faults, processes, jobs });
    return { rows: report({ duration, faults, checks, crashes, result, backlog, proxy, windows, subscriberFailures, processes }) };
  } finally {
    timers.forEach(clearInterval);
    await load?.dispose();
    await subscribers?.dispose();
    await Promise.all(processes.map((p) => p.stop('SIGKILL', 5_000)));
    await pool?.end().catch(() => undefined);
    await proxy?.dispose();
    await emulator?.dispose();
    if (previousAccount === undefined) delete process.env.AWS_SES_ACCOUNT;
    else process.env.AWS_SES_ACCOUNT = previousAccount;
    await database.dispose();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Settings every product process shares; workers' tracking links point at the API process on `apiPort`. Their
 * files (an API process's tracking spool, per port) go under `dataDir`, and go with it.
 */
function productEnv(dataDir: string, databaseUrl: string, sesUrl: string, apiPort: number): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATA_DIR: join(dataDir, 'app'),
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    SES_ENDPOINT: sesUrl,
    PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    OPERATOR_TOKEN,
    TRACKING_SECRET: 'faults-tracking-secret-of-at-least-32-characters',
  };
}

/** The worker's id as its claims record it (worker.ts passes WORKER_ID). */
function workerId(worker: ProductProcess): string {
  return worker.name;
}

async function healthy(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
    (r) => r.ok,
    () => false,
  );
}

function setUpCompanies(url: string, count = COMPANIES, name = 'Faults'): Promise<Array<{ id: string; apiKey: string }>> {
  return createCompanies(url, OPERATOR_TOKEN, count, name);
}

let probes = 0;
/** After PostgreSQL is back: a createLead on every API process every 250 ms until each succeeds; when the last did. */
async function mutationsBack(urls: string[], apiKey: string): Promise<number | undefined> {
  const deadline = Date.now() + 300_000;
  const pending = new Set(urls);
  while (pending.size > 0 && Date.now() < deadline) {
    await Promise.all(
      [...pending].map(async (url) => {
        const ok = await gql(url, `Bearer ${apiKey}`, `mutation($e: String!) { createLead(input: { email: $e }) { id } }`, {
          e: `probe-${++probes}@probe.example.com`,
        }).then(
          () => true,
          () => false,
        );
        if (ok) pending.delete(url);
      }),
    );
    if (pending.size > 0) await sleep(250);
  }
  return pending.size === 0 ? Date.now() : undefined;
}

/** A query that waits out a PostgreSQL restart (retried every second for up to two minutes). */
async function retried<T extends pg.QueryResultRow>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<T[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await pool.query<T>(text, values)).rows;
    } catch (error) {
      if (attempt >= 120) throw error;
      await sleep(1_000);
    }
  }
}

/** When every email a killed worker held SENDING has left SENDING (swept, or settled by a fenced claim). */
async function released(pool: pg.Pool, held: Array<{ id: string }>, fault: Fault): Promise<void> {
  const ids = held.map((h) => h.id);
  const deadline = Date.now() + 600_000;
  while (ids.length > 0 && Date.now() < deadline) {
    const [row] = await retried<{ n: number }>(pool, `select count(*)::int as n from sequence_email where id = any($1::uuid[]) and status = 'SENDING'`, [ids]);
    if (row!.n === 0) break;
    await sleep(1_000);
  }
  fault.released = Date.now();
}

/** Waits until nothing is due or SENDING, or `limit` seconds; answers what was still due or SENDING then. */
async function settled(pool: pg.Pool, limit: number, step: (what: string) => void): Promise<number> {
  const deadline = Date.now() + limit * 1000;
  let said = Date.now();
  for (;;) {
    const [row] = await retried<{ n: number }>(
      pool,
      `select count(*)::int as n from sequence_email where status = 'SENDING' or (status = 'PENDING' and not paused and scheduled_send_date <= now())`,
    );
    if (row!.n === 0 || Date.now() > deadline) return row!.n;
    if (Date.now() - said > 10_000) {
      step(`${row!.n} emails due or SENDING`);
      said = Date.now();
    }
    await sleep(1_000);
  }
}

/**
 * When some API process's LISTEN connection was down, so subscription events committed then may be missed (NOTIFY
 * is not stored): from 2 s before PostgreSQL began to stop until 1 s after the last API process logged its LISTEN
 * connection restored (or 60 s after PostgreSQL was back, if one never did), and from an API process's crash until
 * it answered again. Events are compared by their `at`, the time the score changed (the SCORE_CHANGED timeline
 * row's occurred_at), in whole seconds: an event counts as "while the listener was up" when its second is in no
 * window, on both the database's side and the subscribers'.
 */
function listenerDownWindows(faults: Fault[], listenerBack: Watch[], crashes: Crash[], apis: ProductProcess[]): Array<[number, number]> {
  const windows: Array<[number, number]> = [];
  for (const fault of faults.filter((f) => f.kind === 'postgres')) {
    const back = listenerBack.map((watch) => watch.seen.find((t) => t >= fault.began) ?? fault.over + 60_000);
    windows.push([fault.began - 2_000, Math.max(...back) + 1_000]);
  }
  for (const crash of crashes.filter((c) => apis.some((api) => api.name === c.name))) {
    windows.push([crash.at - 2_000, crash.at + 120_000]);
  }
  return windows;
}

interface Checks {
  atSes: number;
  /** UNKNOWN emails SES never got: held by a worker that died before sending them. */
  unknownNotAtSes: number;
  statuses: Record<string, number>;
  unaccounted: number;
  failedReasons: Tally;
  duplicateSends: number;
  sentNotAtSes: number;
  atSesNotSent: number;
  eventsLost: number;
  eventsExtra: number;
  subscriptionLost: number;
  subscriptionExtra: number;
  subscriptionExpected: number;
}

async function check(
  pool: pg.Pool,
  input: { result: LoadResult; sesCount: Map<string, number>; tallies: GroupTally[]; windows: Array<[number, number]> },
): Promise<Checks> {
  const emails = await retried<{ id: string; status: string; failure_reason: string | null; opens: number; clicks: number }>(
    pool,
    `select s.id, s.status, s.failure_reason,
            count(e.id) filter (where e.kind = 'OPEN')::int as opens, count(e.id) filter (where e.kind = 'CLICK')::int as clicks
     from sequence_email s left join email_event e on e.email_id = s.id group by s.id`,
  );
  const statuses: Record<string, number> = {};
  const failedReasons = new Tally();
  let unaccounted = 0;
  const byId = new Map(emails.map((e) => [e.id, e]));
  const sentStatuses = new Set(['SENT', 'OPENED', 'CLICKED', 'BOUNCED']);
  for (const email of emails) {
    statuses[email.status] = (statuses[email.status] ?? 0) + 1;
    if (email.status === 'SENDING') unaccounted += 1;
    if (email.status === 'FAILED' && !SES_REFUSALS.test(email.failure_reason ?? '')) {
      unaccounted += 1;
      failedReasons.add((email.failure_reason ?? 'no reason').replace(/[0-9a-f-]{36}/g, '…'));
    }
  }
  let eventsLost = 0;
  let eventsExtra = 0;
  for (const [id, , opens, clicks, unanswered] of input.result.emails) {
    const stored = byId.get(id) ?? { opens: 0, clicks: 0 };
    eventsLost += Math.max(0, opens - stored.opens) + Math.max(0, clicks - stored.clicks);
    // A request the load gave up on (timed out, say) may have been recorded all the same: not an extra.
    eventsExtra += Math.max(0, stored.opens + stored.clicks - opens - clicks - unanswered);
  }
  const atSes = input.sesCount;
  const changes = await retried<{ company_id: string; second: string; all: number; at_min: number }>(
    pool,
    `select company_id, floor(extract(epoch from occurred_at))::bigint::text as second, count(*)::int as all,
            count(*) filter (where score_after >= $1)::int as at_min
     from activity where type = 'SCORE_CHANGED' group by 1, 2`,
    [MIN_SCORE],
  );
  const outside = (second: number) => !input.windows.some(([from, to]) => second >= Math.floor(from / 1000) && second <= Math.floor(to / 1000));
  const expected = new Map<string, number>();
  for (const change of changes) {
    if (!outside(Number(change.second))) continue;
    expected.set(`${change.company_id} score`, (expected.get(`${change.company_id} score`) ?? 0) + change.all);
    expected.set(`${change.company_id} min-score`, (expected.get(`${change.company_id} min-score`) ?? 0) + change.at_min);
  }
  let subscriptionLost = 0;
  let subscriptionExtra = 0;
  let subscriptionExpected = 0;
  for (const tally of input.tallies) {
    const wanted = expected.get(tally.group) ?? 0;
    for (const received of tally.receivedOutside) {
      subscriptionExpected += wanted;
      subscriptionLost += Math.max(0, wanted - received);
      subscriptionExtra += Math.max(0, received - wanted);
    }
  }
  return {
    atSes: atSes.size,
    unknownNotAtSes: emails.filter((e) => e.status === 'UNKNOWN' && !atSes.has(e.id)).length,
    statuses,
    unaccounted,
    failedReasons,
    duplicateSends: [...atSes.values()].reduce((sum, n) => sum + n - 1, 0),
    sentNotAtSes: emails.filter((e) => sentStatuses.has(e.status) && !atSes.has(e.id)).length,
    atSesNotSent: [...atSes.keys()].filter((id) => !['UNKNOWN', ...sentStatuses].includes(byId.get(id)?.status ?? '')).length,
    eventsLost,
    eventsExtra,
    subscriptionLost,
    subscriptionExtra,
    subscriptionExpected,
  };
}

function report(m: {
  duration: number;
  faults: Fault[];
  checks: Checks;
  crashes: Crash[];
  result: LoadResult;
  backlog: number;
  proxy: SesProxy;
  windows: Array<[number, number]>;
  subscriberFailures: string[];
  processes: ProductProcess[];
}): BenchRow[] {
  const { checks } = m;
  const context = (metric: string, value: number, unit: string): BenchRow => ({ bench: 'faults', metric, value, unit });
  const zero = (metric: string, value: number, unit: string): BenchRow => ({ bench: 'faults', metric, value, unit, target: '= 0', pass: value === 0 });
  /** `pick`: ms to recover (NaN: not within the run), or undefined when the fault had nothing to recover from. */
  const recovery = (kind: Kind, what: string, pick: (f: Fault) => number | undefined): BenchRow[] => {
    const of = m.faults
      .filter((f) => f.kind === kind)
      .map(pick)
      .filter((t) => t !== undefined);
    const times = of.filter((t) => Number.isFinite(t));
    const never = of.length - times.length;
    return [
      context(`${what}, median (${of.length} faults${never ? `, ${never} not within the run` : ''})`, percentile(times, 50) / 1000, 's'),
      context(`${what}, max`, times.length ? Math.max(...times) / 1000 : Number.NaN, 's'),
    ];
  };
  const downSeconds = m.windows.reduce((sum, [from, to]) => sum + (to - from), 0) / 1000;
  const count = (status: string) => checks.statuses[status] ?? 0;
  return [
    context('load duration', m.duration, 's'),
    context('faults: PostgreSQL restarts / SES outages / workers killed', m.faults.length, 'faults'),
    context('emails SES accepted (distinct email ids)', checks.atSes, 'emails'),
    context('emails SENT (or opened, clicked, bounced) at the end', count('SENT') + count('OPENED') + count('CLICKED') + count('BOUNCED'), 'emails'),
    context('SendEmail calls answered 429 ThrottlingException by the proxy', m.proxy.throttled, 'calls'),
    context('emails PENDING at the end (waiting to retry, or not yet due)', count('PENDING'), 'emails'),
    context('emails UNKNOWN at the end (outcome unknown, accounted)', count('UNKNOWN'), 'emails'),
    context('  of which SES never got (safe to send, left for an operator)', checks.unknownNotAtSes, 'emails'),
    context(`emails due or SENDING when the settle period ended`, m.backlog, 'emails'),
    context('pixel and click requests answered', m.result.opens + m.result.clicks, 'requests'),
    context('HTTP and GraphQL errors seen by the load (outages included)', m.result.errors, 'errors'),
    context(
      'subscription events delivered as GraphQL errors (not counted as received)',
      m.subscriberFailures.filter((f) => f.startsWith('[')).length,
      'events',
    ),
    context('subscription sockets closed or errored', m.subscriberFailures.filter((f) => !f.startsWith('[')).length, 'errors'),
    context(
      'product log lines at error level',
      m.processes.reduce((sum, p) => sum + p.errorLines, 0),
      'lines',
    ),
    context(`subscription events expected while every listener was up (${downSeconds.toFixed(0)} s left out)`, checks.subscriptionExpected, 'events'),
    zero('duplicate sends (SES messages per email id - 1)', checks.duplicateSends, 'emails'),
    zero('emails not accounted for (SENDING, or FAILED without a reason SES gave)', checks.unaccounted, 'emails'),
    zero('emails SENT in the database that SES never got', checks.sentNotAtSes, 'emails'),
    zero('emails SES got that the database shows neither sent nor UNKNOWN', checks.atSesNotSent, 'emails'),
    zero('answered tracking events not stored', checks.eventsLost, 'events'),
    zero('tracking events stored beyond the requests made (stored twice)', checks.eventsExtra, 'events'),
    zero('subscription events lost while every listener was up', checks.subscriptionLost, 'events'),
    zero('subscription events received beyond those committed', checks.subscriptionExtra, 'events'),
    zero('product processes that exited on their own once up', m.crashes.filter((c) => c.ready).length, 'processes'),
    zero('product processes that exited while booting (PostgreSQL restarted meanwhile)', m.crashes.filter((c) => !c.ready).length, 'processes'),
    ...recovery('postgres', 'PostgreSQL back -> first send', (f) => (f.firstSend ?? Number.NaN) - f.over),
    ...recovery('postgres', 'PostgreSQL back -> mutations succeed on both API processes', (f) => (f.firstMutation ?? Number.NaN) - f.over),
    ...recovery('ses', 'SES back -> first send', (f) => (f.firstSend ?? Number.NaN) - f.over),
    ...recovery('worker', 'worker killed -> first send', (f) => (f.firstSend ?? Number.NaN) - f.began),
    ...recovery('worker', 'worker killed -> its SENDING emails released (of those holding some)', (f) =>
      f.held ? (f.released ?? Number.NaN) - f.began : undefined,
    ),
    context(
      'emails a killed worker held SENDING, total',
      m.faults.reduce((sum, f) => sum + (f.held ?? 0), 0),
      'emails',
    ),
  ];
}

function printDetails(
  step: (what: string) => void,
  d: {
    checks: Checks;
    crashes: Crash[];
    logs: Tally;
    result: LoadResult;
    subscriberFailures: string[];
    faults: Fault[];
    processes: ProductProcess[];
    jobs: unknown[];
  },
): void {
  const at = (t: number | undefined) => (t ? new Date(t).toISOString().slice(11, 23) : '-');
  step(`statuses at the end: ${JSON.stringify(d.checks.statuses)}`);
  const failures = new Tally();
  d.subscriberFailures.forEach((failure) => failures.add(failure));
  const sections: Array<[string, string[]]> = [
    ['FAILED without a reason SES gave', d.checks.failedReasons.lines()],
    [
      'crashes',
      d.crashes.map((c, i) => {
        const said = `${c.name} exited (${c.code ?? c.signal}) at ${at(c.at)}${c.ready ? '' : ' while booting'}`;
        if (i >= 8) return said; // the first ones tell why; the rest only when
        const last = c.last.filter((line, j, all) => !/^\s+at /.test(line) || !/^\s+at /.test(all[j - 2] ?? '')).slice(-14);
        return `${said}:\n      ${last.map((line) => line.slice(0, 400)).join('\n      ')}`;
      }),
    ],
    [
      'processes',
      d.processes.map((p) => {
        const runs = p.watches.find((w) => w.pattern.source.includes('dispatch run'))?.seen ?? [];
        return `${p.name}: started ${at(p.startedAt)}, up ${at(p.readyAt)}${runs.length ? `, ${runs.length} dispatch runs, last ${at(runs.at(-1))}` : ''}`;
      }),
    ],
    ['agenda_jobs at the end', d.jobs.map((job) => JSON.stringify(job))],
    ['product error lines', d.logs.lines()],
    ['load errors', new Tally(d.result.errorSamples).lines()],
    ['subscription errors', failures.lines()],
    [
      'faults',
      d.faults.map(
        (f) =>
          `${f.kind} ${new Date(f.began).toISOString()} .. ${new Date(f.over).toISOString()} send +${f.firstSend ? f.firstSend - f.over : '-'} ms` +
          (f.kind === 'postgres' ? ` mutation +${f.firstMutation ? f.firstMutation - f.over : '-'} ms` : '') +
          (f.kind === 'worker' ? ` held ${f.held} released +${f.released ? f.released - f.began : '-'} ms` : ''),
      ),
    ],
  ];
  for (const [what, lines] of sections) if (lines.length > 0) step(`${what}:\n${lines.map((line) => `    ${line}`).join('\n')}`);
}
