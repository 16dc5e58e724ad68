/**
 * Child process of the soak bench: the HTTP clients, so their CPU stays out of the server's event loop. For the
 * whole run, at steady rates and all at once: createLead, importLeads now and then, GraphQL queries, and the
 * recipients' opens and clicks on the emails SES really received (the bench passes each one's tracking URLs as
 * it drains the emulator). It also LISTENs to the app's realtime channel, to count what was published for each
 * company: what every subscriber should have received. Driven over IPC by soak.bench.ts.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { CHANNEL, decodeEvents, Topic } from '../src/state/events.js';
import { Tally } from './soak-tally.js';

export interface SoakPlan {
  /** The GraphQL endpoint. */
  url: string;
  /** More API processes: company i's GraphQL calls go to `[url, ...more][i % n]` (the fault soak runs two). */
  moreUrls?: string[];
  /** Count what NOTIFY publishes on a LISTEN connection of its own (true unless false: the fault soak counts from the timeline). */
  listen?: boolean;
  databaseUrl: string;
  companies: Array<{ id: string; apiKey: string }>;
  seconds: number;
  /** Per company. */
  createLeadsPerSecond: number;
  /** One import every this many seconds, companies in turn. */
  importEverySeconds: number;
  importRows: number;
  /** Per company, leads pages and pendingEmails in turn. */
  queriesPerSecond: number;
  /** Pixel and click requests per second, all companies. */
  trackingPerSecond: number;
  /** Score threshold of the `minScore` subscriptions, for the published counts. */
  minScore: number;
}

/** An email SES accepted, with the tracking URLs found in its HTML. */
export interface SentEmail {
  emailId: string;
  open: string | undefined;
  click: string | undefined;
}

/** Events published for one company during the run (NOTIFY, as every server process hears them). */
export interface Published {
  companyId: string;
  scoreChanges: number;
  scoreChangesAtMinScore: number;
  statusChanges: number;
}

export interface LoadResult {
  errors: number;
  /** Distinct error messages with their counts (the first 20 kinds), for the report. */
  errorSamples: Array<[string, number]>;
  leadsCreated: number;
  leadsImported: number;
  imports: number;
  queries: number;
  opens: number;
  clicks: number;
  /** `published`: from an open or click to its score change heard on NOTIFY (commit included), in ms. */
  latencies: { createLead: number[]; importLeads: number[]; query: number[]; open: number[]; click: number[]; published: number[] };
  /**
   * Per email SES accepted: [email id, messages SES got for it, opens answered, clicks answered, requests not
   * answered as expected (timed out, failed, or another status): the server may have recorded those or not].
   */
  emails: Array<[string, number, number, number, number]>;
  published: Published[];
}

export type LoadCommand = { type: 'start'; plan: SoakPlan } | { type: 'sent'; emails: SentEmail[] } | { type: 'report' };

export type LoadReport = { type: 'started' } | { type: 'finished' } | { type: 'report'; result: LoadResult } | { type: 'failed'; message: string };

/** Browsers and mail apps as people use them: none matches a machine rule of src/tracking/machine.ts. */
const PEOPLE = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];
/** A recipient opens an email this long after it left: past the 10 s prefetch window, so it counts as a person. */
const FIRST_OPEN_AFTER_MS = 15_000;
/** … and clicks its link this long after opening, for a share of the emails. */
const FIRST_CLICK_AFTER_MS = 3_000;
const CLICK_SHARE = 0.4;
/** Repeat traffic on emails already opened: this share are clicks, the rest opens. */
const REPEAT_CLICK_SHARE = 0.25;
const TIME_ZONES = [undefined, 'UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'];
/** Per import: rows that repeat an existing lead, and one invalid row. */
const IMPORT_DUPLICATES = 5;
const REQUEST_TIMEOUT_MS = 30_000;

interface Tracked {
  id: string;
  open: string | undefined;
  click: string | undefined;
  ses: number;
  opens: number;
  clicks: number;
  unanswered: number;
}

const now = () => performance.timeOrigin + performance.now();
const send = (report: LoadReport) => process.send!(report);

const result: LoadResult = {
  errors: 0,
  errorSamples: [],
  leadsCreated: 0,
  leadsImported: 0,
  imports: 0,
  queries: 0,
  opens: 0,
  clicks: 0,
  latencies: { createLead: [], importLeads: [], query: [], open: [], click: [], published: [] },
  emails: [],
  published: [],
};
const emails = new Map<string, Tracked>();
const published = new Map<string, Published>();
const inFlight = new Set<Promise<void>>();
/** Emails waiting for their first open, then for their first click: due times only grow, so these are FIFOs. */
const firstOpens: Array<{ due: number; email: Tracked }> = [];
const firstClicks: Array<{ due: number; email: Tracked }> = [];
/** Emails opened at least once: the pool of repeat traffic (people reopen and click emails later). */
const opened: Tracked[] = [];
let listener: pg.Client | undefined;
let finished = false;

const errorKinds = new Tally();

function fail(what: string): void {
  result.errors += 1;
  errorKinds.add(what);
}

/** Runs `work` without awaiting it, remembering it so the end of the run can wait for every answer. */
function start(work: () => Promise<void>): void {
  const running = work().catch((error: unknown) => fail(String(error)));
  inFlight.add(running);
  void running.finally(() => inFlight.delete(running));
}

/** Open-loop pacing: how many calls are due by now at `rate` per second, whatever earlier ones are doing. */
class Pace {
  issued = 0;
  constructor(private readonly rate: number) {}
  due(elapsedSeconds: number): number {
    const n = Math.floor(elapsedSeconds * this.rate) - this.issued;
    this.issued += n;
    return n;
  }
}

async function gql<T>(plan: SoakPlan, apiKey: string, query: string, variables: Record<string, unknown>, latencies: number[]): Promise<T | undefined> {
  const started = now();
  const urls = [plan.url, ...(plan.moreUrls ?? [])];
  const company = plan.companies.findIndex((c) => c.apiKey === apiKey);
  const response = await fetch(urls[Math.max(0, company) % urls.length]!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (!response.ok || body.errors?.length || !body.data) {
    fail(`HTTP ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
    return undefined;
  }
  latencies.push(now() - started);
  return body.data;
}

async function track(kind: 'open' | 'click', email: Tracked): Promise<void> {
  const url = kind === 'open' ? email.open : email.click;
  if (!url) return;
  const started = now();
  // Counted as answered below, once it is: a request that fails may still have been recorded.
  email.unanswered += 1;
  const response = await fetch(url, {
    headers: { 'user-agent': PEOPLE[Math.floor(Math.random() * PEOPLE.length)]! },
    redirect: 'manual',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  await response.arrayBuffer();
  if (response.status !== (kind === 'open' ? 200 : 302)) return fail(`${kind} answered ${response.status}`);
  email.unanswered -= 1;
  result.latencies[kind].push(now() - started);
  if (kind === 'click') {
    email.clicks += 1;
    result.clicks += 1;
    return;
  }
  email.opens += 1;
  result.opens += 1;
  if (email.opens === 1) {
    // Clicks only follow an answered open: the open is queued for recording first, so counts stay exact.
    opened.push(email);
    if (email.click && Math.random() < CLICK_SHARE) firstClicks.push({ due: now() + FIRST_CLICK_AFTER_MS, email });
  }
}

/** The companies' lead intake and dashboards' queries. */
function intake(plan: SoakPlan) {
  const creates = new Pace(plan.createLeadsPerSecond * plan.companies.length);
  const queries = new Pace(plan.queriesPerSecond * plan.companies.length);
  let imports = 0;
  let createCount = 0;
  let queryCount = 0;
  let sequence = 0;
  /** Recently created addresses per company, which imports repeat (DUPLICATE rows). */
  const recent = plan.companies.map(() => [] as string[]);
  const domain = (company: number) => `company${company}.example.com`;

  const createLead = (company: number) =>
    start(async () => {
      const n = ++sequence;
      const input = {
        email: `c-${n}@${domain(company)}`,
        firstName: n % 3 === 0 ? undefined : `Lead ${n}`,
        companyName: n % 4 === 0 ? `Customer ${n % 50}` : undefined,
        timezone: TIME_ZONES[n % TIME_ZONES.length],
      };
      const data = await gql<{ createLead: { id: string } }>(
        plan,
        plan.companies[company]!.apiKey,
        `mutation($input: LeadInput!) { createLead(input: $input) { id } }`,
        { input },
        result.latencies.createLead,
      );
      if (!data) return;
      result.leadsCreated += 1;
      recent[company]!.push(input.email);
      if (recent[company]!.length > IMPORT_DUPLICATES) recent[company]!.shift();
    });

  const importLeads = (company: number) =>
    start(async () => {
      const fresh = Array.from({ length: plan.importRows - IMPORT_DUPLICATES - 1 }, () => {
        const n = ++sequence;
        return { email: `i-${n}@${domain(company)}`, firstName: `Imported ${n}`, timezone: TIME_ZONES[n % TIME_ZONES.length] };
      });
      const duplicates = recent[company]!.map((email) => ({ email: email.toUpperCase() }));
      const inputs = [...fresh, ...duplicates, { email: 'not an address' }];
      const data = await gql<{ importLeads: { created: number; duplicates: number; invalid: number } }>(
        plan,
        plan.companies[company]!.apiKey,
        `mutation($inputs: [LeadInput!]!) { importLeads(inputs: $inputs) { created duplicates invalid } }`,
        { inputs },
        result.latencies.importLeads,
      );
      if (!data) return;
      const { created, duplicates: duplicated, invalid } = data.importLeads;
      if (created !== fresh.length || duplicated !== duplicates.length || invalid !== 1) {
        fail(`importLeads answered created ${created}, duplicates ${duplicated}, invalid ${invalid} for ${fresh.length}, ${duplicates.length}, 1`);
      }
      result.imports += 1;
      result.leadsImported += created;
    });

  const query = (company: number, page: number) =>
    start(async () => {
      const leads = `query { leads(first: 20, orderBy: SCORE_DESC) { totalCount edges { node { id email score } } pageInfo { endCursor hasNextPage } } }`;
      const pending = `query { pendingEmails(first: 20) { totalCount edges { node { id emailNumber status scheduledSendDate } } } }`;
      if (await gql(plan, plan.companies[company]!.apiKey, page % 2 === 0 ? leads : pending, {}, result.latencies.query)) result.queries += 1;
    });

  return (elapsed: number) => {
    for (let i = creates.due(elapsed); i > 0; i -= 1) createLead(createCount++ % plan.companies.length);
    for (let i = queries.due(elapsed); i > 0; i -= 1, queryCount += 1)
      query(queryCount % plan.companies.length, Math.floor(queryCount / plan.companies.length));
    while (imports < Math.floor(elapsed / plan.importEverySeconds)) importLeads(imports++ % plan.companies.length);
  };
}

/** Recipients: first opens and clicks when due, and repeat traffic on opened emails up to the planned rate. */
function recipients(plan: SoakPlan) {
  const pace = new Pace(plan.trackingPerSecond);
  let credit = 0;
  return (elapsed: number) => {
    credit += pace.due(elapsed);
    const at = now();
    while (firstOpens.length > 0 && firstOpens[0]!.due <= at) {
      start(() => track('open', firstOpens.shift()!.email));
      credit -= 1;
    }
    while (firstClicks.length > 0 && firstClicks[0]!.due <= at) {
      start(() => track('click', firstClicks.shift()!.email));
      credit -= 1;
    }
    if (opened.length === 0) credit = Math.min(credit, 0); // nothing to reopen yet: no burst once there is
    for (; credit > 0; credit -= 1) {
      const email = opened[Math.floor(Math.random() * opened.length)]!;
      start(() => track(Math.random() < REPEAT_CLICK_SHARE && email.click ? 'click' : 'open', email));
    }
  };
}

async function listen(plan: SoakPlan): Promise<void> {
  listener = new pg.Client({ connectionString: plan.databaseUrl });
  listener.on('error', (error) => fail(`LISTEN connection: ${error.message}`));
  listener.on('notification', (message) => {
    for (const event of decodeEvents(message.payload ?? '')) {
      const counts = published.get(event.companyId);
      if (!counts) continue;
      if (event.topic === Topic.LeadScoreChanged) {
        counts.scoreChanges += 1;
        result.latencies.published.push(now() - Date.parse(event.at));
        if (event.score >= plan.minScore) counts.scoreChangesAtMinScore += 1;
      } else if (event.topic === Topic.EmailStatusChanged) {
        counts.statusChanges += 1;
      }
    }
  });
  await listener.connect();
  await listener.query(`LISTEN ${CHANNEL}`);
}

async function run(plan: SoakPlan): Promise<void> {
  for (const { id } of plan.companies) published.set(id, { companyId: id, scoreChanges: 0, scoreChangesAtMinScore: 0, statusChanges: 0 });
  if (plan.listen !== false) await listen(plan);
  send({ type: 'started' });
  const started = now();
  const steps = [intake(plan), recipients(plan)];
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (now() - started) / 1000;
      if (elapsed >= plan.seconds) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (const step of steps) step(elapsed);
    }, 10);
  });
  finished = true;
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  send({ type: 'finished' });
}

function sent(batch: SentEmail[]): void {
  for (const { emailId, open, click } of batch) {
    const known = emails.get(emailId);
    if (known) {
      known.ses += 1; // SES got this email twice: the bench reports it as a duplicate send
      continue;
    }
    const email: Tracked = { id: emailId, open, click, ses: 1, opens: 0, clicks: 0, unanswered: 0 };
    emails.set(emailId, email);
    if (!open) fail(`email ${emailId} was sent without an open pixel`);
    else if (!finished) firstOpens.push({ due: now() + FIRST_OPEN_AFTER_MS, email });
  }
}

async function report(): Promise<void> {
  // NOTIFYs committed before this round trip reach this session before its answer: the counts are complete.
  await listener?.query('select 1');
  await listener?.end();
  result.emails = [...emails.values()].map((e) => [e.id, e.ses, e.opens, e.clicks, e.unanswered]);
  result.published = [...published.values()];
  result.errorSamples = errorKinds.entries();
  send({ type: 'report', result });
}

process.on('message', (command: LoadCommand) => {
  const work = command.type === 'start' ? run(command.plan) : command.type === 'sent' ? Promise.resolve(sent(command.emails)) : report();
  work.catch((error: unknown) => send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});

// If the bench dies, so does its load.
process.on('disconnect', () => process.exit(0));
