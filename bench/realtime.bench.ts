/**
 * Realtime bench: 1,000 graphql-ws subscribers on one server process. Measures the latency from the start of
 * the HTTP request that changes a score to the event's arrival at every subscriber, and the server memory each
 * idle subscription costs. The server is the real app (startBenchApp) on an embedded PostgreSQL in a temp dir, with
 * durable commits as in production; the subscribers run in a child process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { App } from '../src/app/app.js';
import type { ClientCommand, ClientReport } from './realtime-clients.js';
import { type BenchResult, type BenchRow, collector, latencySeries, memory, percentile, startBenchApp, startBenchDatabase, gql } from './support.js';

const SUBSCRIBERS = 1_000;
const WARM_UP_SUBSCRIBERS = 20;
const CHANGES = 50;
const CHANGES_WITH_LEAD = 30;
/** Unmeasured changes first, so the figures are the steady state rather than the JIT warming up. */
const WARM_UP_CHANGES = 5;
const TARGET_P99_MS = 100;
const OPERATOR_TOKEN = 'bench-operator-token-0123456789abcdef0123';

const SCALARS = (leadId: string) => `subscription { leadScoreChanged(leadId: "${leadId}") { previousScore score delta reason at } }`;
const WITH_LEAD = (leadId: string) => `subscription { leadScoreChanged(leadId: "${leadId}") { score delta reason lead { id score updatedAt } } }`;

export async function run(): Promise<BenchResult> {
  const db = await startBenchDatabase('realtime', { durable: true });
  let app: App | undefined;
  let clients: Subscribers | undefined;
  try {
    await db.prepare('realtime');
    app = await startBenchApp(db.urlFor('realtime'), {
      env: {
        OPERATOR_TOKEN,
        // ~100 score changes in a row from one key: over the per-key mutation quota on purpose.
        MUTATION_RATE_LIMIT: '0',
        // 1,000 dashboards of one company on one key: over the per-key socket limit (200) on purpose.
        MAX_SOCKETS_PER_KEY: '2000',
      },
    });
    const url = app.server.url;
    const { apiKey, leadId } = await setUp(url);
    const gc = collector();
    clients = new Subscribers();

    // Warm the code paths up with a few subscribers and one event, so the baseline is not cold-start noise.
    await clients.open({ type: 'open', url, apiKey, count: WARM_UP_SUBSCRIBERS, query: SCALARS(leadId) });
    await until(() => app!.pubSub.stats().subscribers === WARM_UP_SUBSCRIBERS);
    await change(url, apiKey, leadId, 'warm-up', clients);
    const before = memory(gc);
    await clients.open({ type: 'open', url, apiKey, count: SUBSCRIBERS - WARM_UP_SUBSCRIBERS, query: SCALARS(leadId) });
    await until(() => app!.pubSub.stats().subscribers === SUBSCRIBERS);
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the connection bursts settle
    const after = memory(gc);
    const opened = SUBSCRIBERS - WARM_UP_SUBSCRIBERS;

    await measure(url, apiKey, leadId, clients, WARM_UP_CHANGES, 'warm-up, scalars');
    const scalars = await measure(url, apiKey, leadId, clients, CHANGES, 'scalars');
    await clients.open({ type: 'resubscribe', query: WITH_LEAD(leadId) });
    await until(() => app!.pubSub.stats().subscribers === SUBSCRIBERS);
    await measure(url, apiKey, leadId, clients, WARM_UP_CHANGES, 'warm-up, with lead');
    const withLead = await measure(url, apiKey, leadId, clients, CHANGES_WITH_LEAD, 'with lead');

    const row = (metric: string, value: number, unit: string, target?: number): BenchRow => ({
      bench: 'realtime',
      metric,
      value,
      unit,
      ...(target === undefined ? {} : { target: `<= ${target}`, pass: value <= target }),
    });
    const rows = [
      row(`delivery p50, ${SUBSCRIBERS} subs, ${CHANGES} changes, scalar fields`, scalars.p50, 'ms'),
      row(`delivery p99, ${SUBSCRIBERS} subs, ${CHANGES} changes, scalar fields`, scalars.p99, 'ms', TARGET_P99_MS),
      row('delivery to the last subscriber p99, scalar fields', scalars.lastP99, 'ms'),
      row('HTTP adjustLeadScore response p50 (the same event loop fans out meanwhile)', scalars.requestP50, 'ms'),
      row(`delivery p50, ${SUBSCRIBERS} subs, ${CHANGES_WITH_LEAD} changes, + lead { id score updatedAt }`, withLead.p50, 'ms'),
      row(`delivery p99, ${SUBSCRIBERS} subs, ${CHANGES_WITH_LEAD} changes, + lead { id score updatedAt }`, withLead.p99, 'ms'),
      row(`server heap per idle subscriber (connection + subscription)${gc ? '' : ', no gc: rough'}`, (after.heap - before.heap) / opened / 1024, 'KiB'),
      row('server RSS per idle subscriber', (after.rss - before.rss) / opened / 1024, 'KiB'),
    ];
    return {
      rows,
      latencies: [
        latencySeries('realtime', `score change -> each of ${SUBSCRIBERS} subscribers`, scalars.samples),
        latencySeries('realtime', 'score change -> subscribers, + lead fields', withLead.samples),
      ],
    };
  } finally {
    await clients?.close();
    await app?.dispose();
    await db.dispose();
  }
}

/** A company, its key and one lead at score 50, made through the operator API like a real client. */
async function setUp(url: string): Promise<{ apiKey: string; leadId: string }> {
  const { createCompany } = await gql<{ createCompany: { id: string } }>(
    url,
    `Bearer ${OPERATOR_TOKEN}`,
    `mutation { createCompany(input: { name: "Bench", fromAddress: "bench@example.com", timezone: "UTC" }) { id } }`,
  );
  const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
    url,
    `Bearer ${OPERATOR_TOKEN}`,
    `mutation($c: ID!) { createApiKey(companyId: $c, name: "bench") { secret } }`,
    { c: createCompany.id },
  );
  const auth = `Bearer ${createApiKey.secret}`;
  const { createLead } = await gql<{ createLead: { id: string } }>(url, auth, `mutation { createLead(input: { firstName: "Bench" }) { id } }`);
  await gql(url, auth, `mutation($l: ID!) { adjustLeadScore(leadId: $l, delta: 50, reason: "start") { score } }`, { l: createLead.id });
  return { apiKey: createApiKey.secret, leadId: createLead.id };
}

interface Latencies {
  p50: number;
  p99: number;
  lastP99: number;
  requestP50: number;
  samples: number[];
}

/** Changes the score `count` times, one after the other, each once every subscriber has the previous one. */
async function measure(url: string, apiKey: string, leadId: string, clients: Subscribers, count: number, label: string): Promise<Latencies> {
  const deliveries: number[] = [];
  const lasts: number[] = [];
  const requests: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const { started, answered, times } = await change(url, apiKey, leadId, `${label} #${i}`, clients, i % 2 === 0 ? 1 : -1);
    const latencies = times.map((time) => time - started);
    deliveries.push(...latencies);
    lasts.push(Math.max(...latencies));
    requests.push(answered - started);
  }
  return {
    p50: percentile(deliveries, 50),
    p99: percentile(deliveries, 99),
    lastP99: percentile(lasts, 99),
    requestP50: percentile(requests, 50),
    samples: deliveries,
  };
}

/** One score change over HTTP; resolves when every subscriber has received it. */
async function change(url: string, apiKey: string, leadId: string, reason: string, clients: Subscribers, delta = 1) {
  const delivered = clients.delivered(reason);
  const started = performance.timeOrigin + performance.now();
  await gql(url, `Bearer ${apiKey}`, `mutation($l: ID!, $d: Int!, $r: String!) { adjustLeadScore(leadId: $l, delta: $d, reason: $r) { score } }`, {
    l: leadId,
    d: delta,
    r: reason,
  });
  const answered = performance.timeOrigin + performance.now();
  return { started, answered, times: await delivered };
}

/** The subscribers' child process, driven over IPC. */
class Subscribers {
  readonly #child: ChildProcess = fork(new URL('./realtime-clients.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
  readonly #waiting = new Map<string, (times: number[]) => void>();
  #onOpened: (() => void) | undefined;
  #failure: Error | undefined;

  constructor() {
    this.#child.on('message', (message: ClientReport) => {
      if (message.type === 'opened') this.#onOpened?.();
      else if (message.type === 'delivered') this.#waiting.get(message.reason)?.(message.times);
      else this.#failure ??= new Error(`subscriber failed: ${message.message}`);
    });
  }

  open(command: ClientCommand): Promise<void> {
    return this.#timed(
      'subscribers to open',
      new Promise<void>((resolve) => {
        this.#onOpened = resolve;
        this.#child.send(command);
      }),
    );
  }

  delivered(reason: string): Promise<number[]> {
    return this.#timed(`"${reason}" to reach every subscriber`, new Promise<number[]>((resolve) => this.#waiting.set(reason, resolve)));
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.send({ type: 'close' } satisfies ClientCommand);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    this.#child.kill();
  }

  #timed<T>(what: string, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#failure ?? new Error(`timed out waiting for ${what}`)), 20_000);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the subscriptions to register');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
