import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startApp, type App } from '../src/app/app.js';
import { emulatorAccount } from '../src/app/dev/ses-emulator.js';
import { systemClock } from '../src/core/clock.js';
import { type Config, loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';

/** One line of the benchmark table. */
export interface BenchRow {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. ">= 0.8"; rows without one are baselines or context. */
  target?: string;
  pass?: boolean;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A throwaway embedded PostgreSQL in a temp dir; `prepare(name)` creates a database, `urlFor(name)` names it.
 * Commits skip fsync unless `durable` (for benches that measure what production pays per commit).
 */
export async function startBenchDatabase(name: string, { durable = false }: { durable?: boolean } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), `lead-nurture-bench-${name}-`));
  const cluster = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'postgres', ephemeral: !durable });
  const created = new Set<string>();
  return {
    cluster,
    /** Removed on dispose: also the place for the app's own files (DATA_DIR). */
    dataDir,
    /** Synchronous URL; call `prepare(name)` first (startApp does not create databases). */
    urlFor: (database: string) => {
      if (!created.has(database)) throw new Error(`bench database ${database} was not prepared`);
      return cluster.urlFor(database);
    },
    async prepare(...databases: string[]) {
      for (const database of databases) {
        await cluster.createDatabase(database);
        created.add(database);
      }
    },
    async dispose() {
      await cluster.dispose();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a bench changes about the app it boots. */
export interface BenchAppOptions {
  /** Settings over the bench defaults: test mode on port 0, no jobs, warnings and errors logged. */
  env?: Record<string, string>;
  /** Where the app logs; the configured logger when unset. */
  logger?: (config: Config) => Logger;
}

/**
 * The real app on a prepared bench database (`startBenchDatabase`, `prepare`, then `urlFor`). Always the real
 * clock: benches measure lags and send times in real time.
 */
export async function startBenchApp(databaseUrl: string, options: BenchAppOptions = {}): Promise<App> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    RUN_JOBS: 'false',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  return startApp(config, { logger: options.logger?.(config) ?? createLogger(config), clock: systemClock });
}

/** aws-ses-v2-local in its own process, as SES is remote in production: it must not share our event loop. */
export async function startEmulatorProcess(): Promise<{ url: string; dispose(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['node_modules/aws-ses-v2-local/dist/cli.js', '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, AWS_SES_ACCOUNT: JSON.stringify(emulatorAccount(1000, 1_000_000)) },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/health-check`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    dispose: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A latency distribution for the chart: percentiles of one measured series, in milliseconds. */
export interface LatencySeries {
  bench: string;
  name: string;
  count: number;
  /** [percentile, ms] pairs at LATENCY_PERCENTILES. */
  points: Array<[number, number]>;
}

/** A bench module's `run()` returns its table rows, and optionally latency series for the chart. */
export interface BenchResult {
  rows: BenchRow[];
  latencies?: LatencySeries[];
}

export const LATENCY_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100] as const;

/** Summarises raw latency samples (ms) into a chart series. */
export function latencySeries(bench: string, name: string, samples: number[]): LatencySeries {
  return { bench, name, count: samples.length, points: LATENCY_PERCENTILES.map((p) => [p, p === 0 ? Math.min(...samples) : percentile(samples, p)]) };
}

/**
 * An autocannon run with its rate: every request over the time from the start to the last response. Neither of
 * autocannon's own figures fits a run of a fixed number of requests: `requests.average` averages whole-second
 * buckets, and `duration` ends at the 1-second tick after the last response (a 5.1 s run reads as 6 s).
 */
export async function loadTest(options: autocannon.Options): Promise<{ result: autocannon.Result; rate: number }> {
  const started = performance.now();
  let last = started;
  // Without a callback autocannon returns its event emitter made thenable; its types show only the promise.
  const instance = autocannon(options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', () => {
    last = performance.now();
  });
  const result = await instance;
  return { result, rate: result.requests.total / ((last - started) / 1000) };
}

/** `gc()` without --expose-gc on the command line (the bench runner starts without it); undefined if unavailable. */
export function collector(): (() => void) | undefined {
  const { gc: exposed } = globalThis;
  // Called without options: the synchronous, full collection (with `{ execution: 'async' }` gc returns a promise).
  if (typeof exposed === 'function') return () => exposed();
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** This process's heap in use (after full collections, when `gc` is given) and resident set, in bytes. */
export function memory(gc: (() => void) | undefined): { heap: number; rss: number } {
  for (let i = 0; i < 3; i += 1) gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

/** One GraphQL request over HTTP, as a client would send it; throws on any error, so a bench never counts one. */
export async function gql<T = unknown>(url: string, authorization: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data || !response.ok) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/**
 * A CPU profile of this process from now until the returned function is called, written to `<dir>/<name>.cpuprofile`
 * (open it in Chrome DevTools or speedscope); nothing when `dir` is unset. For the benches' `*_BENCH_PROFILE` settings.
 */
export async function cpuProfile(dir: string | undefined, name: string): Promise<() => Promise<void>> {
  if (!dir) return () => Promise.resolve();
  const session = new Session();
  session.connect();
  const post = <T>(method: string) =>
    new Promise<T>((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result as T))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile } = await post<{ profile: object }>('Profiler.stop');
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  };
}
