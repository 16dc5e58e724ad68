/**
 * API hot path benchmark (issue #19). In one run, on the same machine, at 32 connections from a child process:
 *  - a bare Apollo Server 5 + Fastify `hello` server (bench/api-baseline.ts): the baseline;
 *  - this server, with an API key and the default (`info`) logging into a file: `{ __typename }`, `{ viewer { id } }`,
 *    a `leads(first: 20)` page and `createLead`;
 * each as requests/s, p50 and p99, and as a ratio to the baseline measured in the same round (rounds interleave
 * every scenario, so a neighbour's load on a shared machine weighs on all of them alike; the table has medians).
 * Afterwards the log must hold one line per request.
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, logDestination } from '../src/core/logger.js';
import { startBaseline } from './api-baseline.js';
import type { LoadRequest, LoadSummary } from './http-load.js';
import { type BenchResult, type BenchRow, type LatencySeries, cpuProfile, gql, percentile, startBenchApp, startBenchDatabase } from './support.js';

const CONNECTIONS = 32;
const SECONDS = Number(process.env.API_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.API_BENCH_ROUNDS ?? 3);
const LEADS = 1_000;
/** For profiling one scenario: `API_BENCH_ONLY=3` runs the baseline and scenario 3 (leads) only (4 is its floor). */
const ONLY = process.env.API_BENCH_ONLY?.split(',').map(Number);

interface Scenario {
  name: string;
  /** Targets on its ratio to the baseline and on its p99. */
  ratioTarget?: number;
  p99Target?: number;
  /** Another scenario (by name) this one is also a ratio to: the floor of what its work costs here. */
  floor?: string;
  /** Served by the baseline server (bench/api-baseline.ts), not the app: its requests are not in the app's log. */
  bare?: true;
  /**
   * `keys.reader` reads a company of LEADS leads (`readerCompanyId`); `keys.writer` creates leads in another, so the
   * page stays the same.
   */
  request: (urls: { baseline: string; api: string }, keys: { reader: string; writer: string; readerCompanyId: string }) => LoadRequest;
}

const post = (url: string, query: string, variables?: unknown, authorization?: string): LoadRequest => ({
  url,
  connections: CONNECTIONS,
  amount: 0, // 0: for SECONDS (see load())
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
  body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
});

const FLOOR = 'floor: bare Apollo + Fastify + pg, the same lead page';
const LEADS_PAGE = 'query($first: Int!) { leads(first: $first) { totalCount edges { node { id email score } } } }';

const ALL_SCENARIOS: Scenario[] = [
  { name: 'baseline: bare Apollo + Fastify { hello }', bare: true, request: ({ baseline }) => post(baseline, '{ hello }') },
  { name: '{ __typename }', request: ({ api }, { reader }) => post(api, '{ __typename }', undefined, `Bearer ${reader}`) },
  {
    name: '{ viewer { id } }',
    ratioTarget: 0.6,
    p99Target: 25,
    request: ({ api }, { reader }) => post(api, '{ viewer { id } }', undefined, `Bearer ${reader}`),
  },
  {
    name: 'leads(first: 20)',
    ratioTarget: 0.35,
    p99Target: 25,
    floor: FLOOR,
    request: ({ api }, { reader }) => post(api, LEADS_PAGE, { first: 20 }, `Bearer ${reader}`),
  },
  {
    name: FLOOR,
    bare: true,
    request: ({ baseline }, { readerCompanyId }) =>
      post(baseline, 'query($c: ID!, $first: Int!) { leads(companyId: $c, first: $first) { totalCount edges { node { id email score } } } }', {
        c: readerCompanyId,
        first: 20,
      }),
  },
  {
    name: 'createLead',
    request: ({ api }, { writer }) =>
      post(
        api,
        'mutation($i: LeadInput!) { createLead(input: $i) { id score } }',
        { i: { email: 'api-[<id>]@example.com', firstName: 'Ada' } },
        `Bearer ${writer}`,
      ),
  },
];

const SCENARIOS = ALL_SCENARIOS.filter((_, i) => i === 0 || !ONLY || ONLY.includes(i));

export async function run(): Promise<BenchResult> {
  const db = await startBenchDatabase('api');
  await db.prepare('api');
  const logDir = await mkdtemp(join(tmpdir(), 'lead-nurture-api-bench-'));
  const logFile = join(logDir, 'app.log');
  // The default level, written as production writes stdout (logDestination, LOG_SYNC deciding), into a file we count.
  const app = await startBenchApp(db.urlFor('api'), {
    env: { LOG_LEVEL: 'info', MUTATION_RATE_LIMIT: '0' },
    logger: (config) => createLogger(config, logDestination(logFile, config.logSync)),
  });
  const baseline = await startBaseline(db.urlFor('api'));
  const step = (what: string) => process.stdout.write(`  api: ${what}\n`);
  try {
    const operator = app.config.operatorToken.reveal();
    const reader = await seedCompany(app.server.url, operator, 'API bench reader', LEADS);
    const writer = await seedCompany(app.server.url, operator, 'API bench writer', 0);
    const keys = { reader: reader.key, writer: writer.key, readerCompanyId: reader.companyId };
    const urls = { baseline: baseline.url, api: app.server.url };
    for (const scenario of SCENARIOS) await load(scenario.request(urls, keys), 2); // warm-up: JIT, pools, caches
    const flushed = () => new Promise<void>((resolve, reject) => app.logger.flush((error) => (error ? reject(error) : resolve())));
    await flushed();
    const linesBefore = (await readLines(logFile)).length;
    const measured = SCENARIOS.map(() => [] as Measured[]);
    let apiRequests = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, scenario] of SCENARIOS.entries()) {
        const cpuBefore = process.cpuUsage();
        // API_BENCH_PROFILE=<dir>: a CPU profile of the servers (not the load generator) per scenario and round.
        const stopProfile = await cpuProfile(process.env.API_BENCH_PROFILE, `${round}-${i}`);
        const summary = await load(scenario.request(urls, keys), SECONDS);
        await stopProfile();
        const cpu = process.cpuUsage(cpuBefore);
        measured[i]!.push({ ...summary, cpuPerRequest: (cpu.user + cpu.system) / summary.total });
        if (!scenario.bare) apiRequests += summary.total;
        step(`round ${round + 1} ${scenario.name}: ${summary.rate.toFixed(0)} req/s, p99 ${p(summary, 99)} ms, failed ${summary.failed}`);
      }
    }
    await flushed();
    const logLines = (await readLines(logFile)).slice(linesBefore);
    return { rows: rowsOf(measured, apiRequests, logLines), latencies: measured.map((runs, i) => seriesOf(SCENARIOS[i]!.name, runs.at(-1)!)) };
  } finally {
    await baseline.dispose();
    await app.dispose();
    await db.dispose();
    await rm(logDir, { recursive: true, force: true });
  }
}

/**
 * A scenario's load summary, and the server's CPU time per request in µs (this process: the baseline or the app;
 * the load generator is a child): on a shared machine, a neighbour's load lowers requests/s far more than it changes
 * what a request costs, so the CPU ratio is the steadier figure of the two.
 */
type Measured = LoadSummary & { cpuPerRequest: number };

function rowsOf(measured: Measured[][], apiRequests: number, logLines: string[]): BenchRow[] {
  const rows: BenchRow[] = [];
  const median = (values: number[]) => percentile(values, 50);
  for (const [i, scenario] of SCENARIOS.entries()) {
    const runs = measured[i]!;
    const name = scenario.name;
    rows.push({ bench: 'api', metric: `${name} rate`, value: median(runs.map((r) => r.rate)), unit: 'req/s' });
    rows.push({ bench: 'api', metric: `${name} p50`, value: median(runs.map((r) => p(r, 50))), unit: 'ms' });
    rows.push({ bench: 'api', metric: `${name} server CPU per request`, value: median(runs.map((r) => r.cpuPerRequest)), unit: 'µs' });
    const p99 = median(runs.map((r) => p(r, 99)));
    rows.push({
      bench: 'api',
      metric: `${name} p99`,
      value: p99,
      unit: 'ms',
      ...(scenario.p99Target ? { target: `< ${scenario.p99Target}`, pass: p99 < scenario.p99Target } : {}),
    });
    if (i === 0) continue;
    const ratio = median(runs.map((r, round) => r.rate / measured[0]![round]!.rate));
    rows.push({
      bench: 'api',
      metric: `${name} / baseline`,
      value: ratio,
      unit: 'ratio',
      ...(scenario.ratioTarget ? { target: `>= ${scenario.ratioTarget}`, pass: ratio >= scenario.ratioTarget } : {}),
    });
    const cpuRatio = median(runs.map((r, round) => measured[0]![round]!.cpuPerRequest / r.cpuPerRequest));
    rows.push({ bench: 'api', metric: `${name} / baseline, by CPU per request`, value: cpuRatio, unit: 'ratio' });
    const floor = SCENARIOS.findIndex((other) => other.name === scenario.floor);
    if (floor < 0) continue;
    rows.push({ bench: 'api', metric: `${name} / floor`, value: median(runs.map((r, round) => r.rate / measured[floor]![round]!.rate)), unit: 'ratio' });
    const floorCpu = median(runs.map((r, round) => measured[floor]![round]!.cpuPerRequest / r.cpuPerRequest));
    rows.push({ bench: 'api', metric: `${name} / floor, by CPU per request`, value: floorCpu, unit: 'ratio' });
  }
  const failed = measured
    .slice(1)
    .flat()
    .reduce((sum, r) => sum + r.failed, 0);
  rows.push({ bench: 'api', metric: 'failed requests (must be 0)', value: failed, unit: 'requests', target: '= 0', pass: failed === 0 });
  // Per request id (the load generator does not count the requests still in flight when a run ends; the log does).
  const requestIds = new Set(logLines.map((line) => (JSON.parse(line) as { reqId?: string }).reqId).filter(Boolean));
  const perRequest = logLines.length / requestIds.size;
  rows.push({ bench: 'api', metric: 'log lines per request at info', value: perRequest, unit: 'lines', target: '= 1', pass: perRequest === 1 });
  rows.push({ bench: 'api', metric: 'requests logged / requests counted by the load generator', value: requestIds.size / apiRequests, unit: 'ratio' });
  return rows;
}

/** One scenario for `seconds` from a child process (autocannon), so the clients' CPU is not the server's event loop. */
function load(request: LoadRequest, seconds: number): Promise<LoadSummary> {
  const child = fork(new URL('./http-load.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
  return new Promise((resolve, reject) => {
    child.once('message', (summary: LoadSummary) => resolve(summary));
    child.once('exit', (code) => reject(new Error(`load client exited with ${code} before answering`)));
    // autocannon runs for `duration` seconds when no `amount` is given.
    const { amount: _none, ...timed } = request;
    child.send({ ...timed, duration: seconds });
  });
}

const p = (summary: LoadSummary, percentileWanted: number) => summary.latency.find(([at]) => at === percentileWanted)?.[1] ?? Number.NaN;

function seriesOf(name: string, summary: LoadSummary): LatencySeries {
  return { bench: 'api', name: `${name}, ${CONNECTIONS} connections`, count: summary.total, points: summary.latency };
}

/** A company with an API key and `leads` leads (one import). */
async function seedCompany(url: string, operatorToken: string, name: string, leads: number): Promise<{ key: string; companyId: string }> {
  const operator = `Bearer ${operatorToken}`;
  const { createCompany } = await gql<{ createCompany: { id: string } }>(
    url,
    operator,
    `mutation($name: String!) { createCompany(input: { name: $name, fromAddress: "team@example.com" }) { id } }`,
    { name },
  );
  const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
    url,
    operator,
    `mutation($c: ID!) { createApiKey(companyId: $c, name: "bench") { secret } }`,
    {
      c: createCompany.id,
    },
  );
  const rows = Array.from({ length: leads }, (_, i) => ({ email: `seed-${i}@example.com`, firstName: 'Seed' }));
  if (leads > 0) await gql(url, `Bearer ${createApiKey.secret}`, `mutation($rows: [LeadInput!]!) { importLeads(inputs: $rows) { created } }`, { rows });
  return { key: createApiKey.secret, companyId: createCompany.id };
}

async function readLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}
