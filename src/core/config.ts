import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inboundConfig, parseTopicArns, type InboundConfig } from './config-inbound.js';
import { deliverabilityLevels, type DeliverabilityLevels } from './config-deliverability.js';

/**
 * The environment, parsed once into a typed, frozen Config.
 *
 * Development gets working defaults for everything (embedded PostgreSQL, the SES emulator, fixed dev
 * secrets). Production refuses to start without real secrets and a database, naming each variable.
 * Only an explicit NODE_ENV=development or test enables those defaults: a process started without NODE_ENV
 * follows production's rules, so a forgotten variable fails closed (`npm start` sets development itself).
 */

export type NodeEnv = 'development' | 'test' | 'production';

/** The SES client's timeouts (ses-provider.ts uses these): one SendEmail takes at most their sum. */
export const SES_CONNECTION_TIMEOUT_MS = 3_000;
export const SES_REQUEST_TIMEOUT_MS = 15_000;
export const SES_SEND_TIMEOUT_MS = SES_CONNECTION_TIMEOUT_MS + SES_REQUEST_TIMEOUT_MS;
/** The longest a send waits for its send-budget slot; an email whose slot is further away goes back to the queue. */
export const SEND_BUDGET_MAX_WAIT_MS = 10_000;
/** Slack between a send's latest possible end and its claim's lease end (timers firing late, the settle's start). */
export const LEASE_MARGIN_MS = 2_000;
/**
 * The shortest claim lease: a send that waited the longest for its slot and then took SES's full timeout still ends
 * within it, so the sweeper never takes an email whose send may still be running.
 */
export const MIN_CLAIM_LEASE_SECONDS = Math.ceil((SES_SEND_TIMEOUT_MS + SEND_BUDGET_MAX_WAIT_MS + LEASE_MARGIN_MS) / 1000);

export interface Config {
  readonly env: NodeEnv;
  readonly host: string;
  readonly port: number;
  /** Base URL that recipients' mail clients reach (tracking pixel, links, unsubscribe). */
  readonly publicUrl: string;
  /** Unset in development: embedded PostgreSQL under `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** The built dashboard served at /dashboard (`npm run build` writes it; DASHBOARD_DIR points elsewhere). */
  readonly dashboardDir: string;
  readonly embeddedPostgresPort: number;
  /** Optional MongoDB job store; PostgreSQL is used for jobs when unset. */
  readonly mongodbUrl: string | undefined;
  readonly ses: {
    readonly region: string;
    /** Unset in development: the embedded aws-ses-v2-local emulator on `emulatorPort`. */
    readonly endpoint: string | undefined;
    readonly emulatorPort: number;
    readonly fromAddress: string;
    readonly configurationSet: string | undefined;
    /** Emails per second for the whole account, shared by every worker; unset: SES GetAccount's MaxSendRate; 0: unlimited. */
    readonly maxSendRate: number | undefined;
    /**
     * The only SNS topics whose messages `POST /webhooks/ses` accepts (signatures are verified as well: SNS signs
     * every account's topics with the same certificate, so the signature alone says nothing about whose topic it
     * is). Empty: every message is refused. Required in production when `configurationSet` is set.
     */
    readonly snsTopicArns: readonly string[];
  };
  /** Replies by SES inbound mail (config-inbound.ts). */
  readonly inbound: InboundConfig;
  readonly delivery: {
    /** Run Agenda jobs (dispatch, sweeper) in this process. API-only processes may turn it off. */
    readonly runJobs: boolean;
    /** Emails claimed per batch. */
    readonly batchSize: number;
    /** SendEmail calls in flight per worker. */
    readonly concurrency: number;
    /** How often the recurring dispatch job runs, in seconds (it is also triggered when an email falls due now). */
    readonly intervalSeconds: number;
    /**
     * How long a claim holds its emails, timed by the database's clock: a worker starts a send only if it can end
     * within it, and the sweeper settles an email left SENDING longer as "outcome unknown". At least
     * MIN_CLAIM_LEASE_SECONDS.
     */
    readonly claimLeaseSeconds: number;
  };
  readonly trackingSecret: Secret;
  readonly operatorToken: Secret;
  readonly sandbox: boolean;
  readonly migrateOnBoot: boolean;
  readonly logLevel: string;
  /** `pretty` (pino-pretty, one readable line per event): development's default; `json` everywhere else. */
  readonly logFormat: 'json' | 'pretty';
  /**
   * Whether each JSON line is written before the call that logs it returns. Off by default: the lines of one turn of
   * the event loop are written together at its end, and on exit; a hard kill (SIGKILL, the OOM killer, a power cut)
   * may lose the current turn's lines (src/core/logger.ts, LineBatch).
   */
  readonly logSync: boolean;
  /** Largest accepted HTTP request body, in bytes. */
  readonly maxRequestBytes: number;
  /** Deepest selection set accepted in a GraphQL operation (introspection excluded). */
  readonly maxQueryDepth: number;
  /** Most tokens a GraphQL document may have (variables excluded): bounds parsing and validation work. */
  readonly maxQueryTokens: number;
  /** Highest estimated cost of an operation (src/graphql/limits/operation-cost.ts), checked before any resolver runs. */
  readonly maxQueryComplexity: number;
  /** Authenticated API keys each API process remembers (src/auth/key-cache.ts says when they are forgotten); maxKeys 0: off. */
  readonly authCache: { readonly maxKeys: number; readonly ttlSeconds: number };
  /** A request slower than this is logged at `warn` whatever its route (src/http/request-log.ts). */
  readonly slowRequestMs: number;
  /** Token bucket per API key (and one for the operator) on mutations, in this process's memory. */
  readonly mutationRateLimit: {
    /** Mutations per second each key may sustain; 0 disables the limit. */
    readonly perSecond: number;
    /** Mutations a key may send at once after being idle (the bucket's size). */
    readonly burst: number;
  };
  /** Opens and clicks answered by the pixel and redirects: spooled (fsync'd) before the answer, then written in group commits. */
  readonly tracking: {
    /**
     * This process's spool, replayed at start by the next process given the same directory: one per process (a
     * second live process on it is refused). Default: `<DATA_DIR>/tracking-spool/port-<PORT>`; with PORT=0 (an
     * ephemeral process) a fresh directory under the OS temp dir.
     */
    readonly spoolDir: string;
    /** Answered events not yet stored that a process holds (spool and memory); past it they are answered, not recorded. */
    readonly maxBufferedEvents: number;
    /** How long an event waits for others to share its group commit, in ms. */
    readonly commitDelayMs: number;
  };
  readonly realtime: {
    /** WebSocket ping interval; a client that has not answered the previous ping by then is dropped. 0 disables. */
    readonly keepAliveMs: number;
    /** Events a subscriber may lag behind before its oldest ones are dropped. */
    readonly queueLimit: number;
    /** Operations (subscriptions, and queries or mutations in flight) one WebSocket may hold open at once. */
    readonly maxOperationsPerSocket: number;
    /** WebSocket connections one API key may hold open at once, in each process. */
    readonly maxSocketsPerKey: number;
    /** Operations one API key may hold open at once across all its WebSocket connections, in each process. */
    readonly maxOperationsPerKey: number;
  };
  /** The per-company deliverability guard's levels (src/delivery/guard/); rates are fractions of the sends. */
  readonly deliverability: DeliverabilityLevels;
}

export type { DeliverabilityLevels };

/** A secret value that never prints itself: logging a Config cannot leak it. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[secret]';
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEV_TRACKING_SECRET = 'dev-only-tracking-secret-do-not-use-in-production';
const DEV_OPERATOR_TOKEN = 'dev-operator-token';
const MIN_SECRET_LENGTH = 32;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const nodeEnv = parseEnum(env.NODE_ENV, ['development', 'test', 'production'] as const, 'production', 'NODE_ENV', problems);
  const production = nodeEnv === 'production';

  const host = env.HOST?.trim() || (production ? '0.0.0.0' : 'localhost');
  const port = parseInteger(env.PORT, 4000, 'PORT', problems, 0, 65535);
  const publicUrl = parseUrl(env.PUBLIC_URL, `http://localhost:${port}`, 'PUBLIC_URL', problems);
  const databaseUrl = optional(env.DATABASE_URL);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');

  const trackingSecret = optional(env.TRACKING_SECRET);
  const operatorToken = optional(env.OPERATOR_TOKEN);
  const fromAddress = optional(env.SES_FROM_ADDRESS);

  if (production) {
    if (!databaseUrl) problems.push('DATABASE_URL is required in production (the embedded database is for development)');
    if (!env.PUBLIC_URL) problems.push('PUBLIC_URL is required in production (tracking and unsubscribe links point at it)');
    if (!fromAddress) problems.push('SES_FROM_ADDRESS is required in production');
    requireSecret(trackingSecret, 'TRACKING_SECRET', problems);
    requireSecret(operatorToken, 'OPERATOR_TOKEN', problems);
    requireWebhookTopics(env, problems);
  }

  const config: Config = {
    env: nodeEnv,
    host,
    port,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    databaseUrl,
    dataDir: dataDirOf(env),
    // Beside the compiled server (dist/core/config.js and src/core/config.ts are both two levels below the root).
    dashboardDir: resolve(env.DASHBOARD_DIR?.trim() || fileURLToPath(new URL('../../dist/dashboard', import.meta.url))),
    embeddedPostgresPort: parseInteger(env.EMBEDDED_POSTGRES_PORT, 54329, 'EMBEDDED_POSTGRES_PORT', problems, 1, 65535),
    mongodbUrl: optional(env.MONGODB_URL),
    ses: sesConfig(env, fromAddress, problems),
    inbound: inboundConfig(env, problems, parseInteger),
    delivery: {
      runJobs: parseBoolean(env.RUN_JOBS, true, 'RUN_JOBS', problems),
      batchSize: parseInteger(env.DISPATCH_BATCH_SIZE, 100, 'DISPATCH_BATCH_SIZE', problems, 1, 1000),
      concurrency: parseInteger(env.DISPATCH_CONCURRENCY, 32, 'DISPATCH_CONCURRENCY', problems, 1, 256),
      intervalSeconds: parseInteger(env.DISPATCH_INTERVAL_SECONDS, 5, 'DISPATCH_INTERVAL_SECONDS', problems, 1, 3600),
      claimLeaseSeconds: parseLease(env.CLAIM_LEASE_SECONDS, problems),
    },
    trackingSecret: new Secret(trackingSecret ?? DEV_TRACKING_SECRET),
    operatorToken: new Secret(operatorToken ?? DEV_OPERATOR_TOKEN),
    sandbox: parseBoolean(env.SANDBOX, !production, 'SANDBOX', problems),
    migrateOnBoot: parseBoolean(env.MIGRATE_ON_BOOT, true, 'MIGRATE_ON_BOOT', problems),
    logLevel: env.LOG_LEVEL?.trim() || (nodeEnv === 'test' ? 'silent' : 'info'),
    logFormat: parseEnum(env.LOG_FORMAT, ['json', 'pretty'] as const, nodeEnv === 'development' ? 'pretty' : 'json', 'LOG_FORMAT', problems),
    logSync: parseBoolean(env.LOG_SYNC, false, 'LOG_SYNC', problems),
    maxRequestBytes: parseInteger(env.MAX_REQUEST_BYTES, 1_572_864, 'MAX_REQUEST_BYTES', problems, 1024),
    maxQueryDepth: parseInteger(env.MAX_QUERY_DEPTH, 10, 'MAX_QUERY_DEPTH', problems, 2, 100),
    maxQueryTokens: parseInteger(env.MAX_QUERY_TOKENS, 10_000, 'MAX_QUERY_TOKENS', problems, 500, 1_000_000),
    maxQueryComplexity: parseInteger(env.MAX_QUERY_COMPLEXITY, 20_000, 'MAX_QUERY_COMPLEXITY', problems, 100, 100_000_000),
    authCache: {
      maxKeys: parseInteger(env.AUTH_CACHE_MAX_KEYS, 10_000, 'AUTH_CACHE_MAX_KEYS', problems, 0, 1_000_000),
      ttlSeconds: parseInteger(env.AUTH_CACHE_TTL_SECONDS, 30, 'AUTH_CACHE_TTL_SECONDS', problems, 1, 3_600),
    },
    slowRequestMs: parseInteger(env.SLOW_REQUEST_MS, 1_000, 'SLOW_REQUEST_MS', problems, 1, 3_600_000),
    mutationRateLimit: {
      perSecond: parseInteger(env.MUTATION_RATE_LIMIT, 10, 'MUTATION_RATE_LIMIT', problems, 0, 1_000_000),
      burst: parseInteger(env.MUTATION_RATE_BURST, 100, 'MUTATION_RATE_BURST', problems, 1, 1_000_000),
    },
    tracking: trackingConfig(env, port, problems),
    realtime: realtimeConfig(env, problems),
    deliverability: deliverabilityLevels(env, problems, parseInteger),
  };

  if (problems.length > 0) throw configError(problems, env);
  return Object.freeze(config);
}

function sesConfig(env: NodeJS.ProcessEnv, fromAddress: string | undefined, problems: string[]): Config['ses'] {
  return {
    region: env.SES_REGION?.trim() || env.AWS_REGION?.trim() || 'us-east-1',
    endpoint: optional(env.SES_ENDPOINT),
    emulatorPort: parseInteger(env.SES_EMULATOR_PORT, 8005, 'SES_EMULATOR_PORT', problems, 0, 65535),
    fromAddress: fromAddress ?? 'hello@example.com',
    configurationSet: optional(env.SES_CONFIGURATION_SET),
    maxSendRate: env.SES_MAX_SEND_RATE?.trim() ? parseInteger(env.SES_MAX_SEND_RATE, 0, 'SES_MAX_SEND_RATE', problems, 0, 100_000) : undefined,
    snsTopicArns: parseTopicArns(env.SES_SNS_TOPIC_ARNS, problems),
  };
}

/** The problems, and when NODE_ENV is unset, why production's rules applied: the usual cause is a forgotten NODE_ENV. */
function configError(problems: string[], env: NodeJS.ProcessEnv): ConfigError {
  if (env.NODE_ENV?.trim()) return new ConfigError(problems);
  return new ConfigError([
    ...problems,
    'NODE_ENV is not set, so production rules apply; set NODE_ENV=development for the development defaults (`npm start` does)',
  ]);
}

function realtimeConfig(env: NodeJS.ProcessEnv, problems: string[]): Config['realtime'] {
  return {
    keepAliveMs: parseInteger(env.WS_KEEP_ALIVE_MS, 12_000, 'WS_KEEP_ALIVE_MS', problems, 0, 600_000),
    queueLimit: parseInteger(env.REALTIME_QUEUE_LIMIT, 1_000, 'REALTIME_QUEUE_LIMIT', problems, 1, 100_000),
    maxOperationsPerSocket: parseInteger(env.MAX_SUBSCRIPTIONS_PER_SOCKET, 100, 'MAX_SUBSCRIPTIONS_PER_SOCKET', problems, 1, 10_000),
    maxSocketsPerKey: parseInteger(env.MAX_SOCKETS_PER_KEY, 200, 'MAX_SOCKETS_PER_KEY', problems, 1, 100_000),
    // ~21 KiB per open operation (its queue, context and graphql-ws state): 1,000 bound a key to ~21 MB per process.
    maxOperationsPerKey: parseInteger(env.MAX_OPERATIONS_PER_KEY, 1_000, 'MAX_OPERATIONS_PER_KEY', problems, 1, 1_000_000),
  };
}

function dataDirOf(env: NodeJS.ProcessEnv): string {
  return resolve(env.DATA_DIR?.trim() || '.data');
}

function trackingConfig(env: NodeJS.ProcessEnv, port: number, problems: string[]): Config['tracking'] {
  // A process on a fixed port finds its predecessor's spool there; an ephemeral one (port 0) has nobody to take over from.
  const spoolDir =
    port !== 0
      ? join(dataDirOf(env), 'tracking-spool', `port-${port}`)
      : join(tmpdir(), 'lead-nurture-tracking-spool', `pid-${process.pid}-${randomBytes(4).toString('hex')}`);
  return {
    spoolDir: resolve(env.TRACKING_SPOOL_DIR?.trim() || spoolDir),
    // ~100 s of 2,000 answered events/s while the database is away; ~0.5 KB each in memory.
    maxBufferedEvents: parseInteger(env.TRACKING_MAX_BUFFERED_EVENTS, 200_000, 'TRACKING_MAX_BUFFERED_EVENTS', problems, 1, 10_000_000),
    commitDelayMs: parseInteger(env.TRACKING_COMMIT_DELAY_MS, 20, 'TRACKING_COMMIT_DELAY_MS', problems, 1, 600_000),
  };
}

function optional(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * The SES webhook counts as enabled when SES publishes events (a configuration set is used): without a topic
 * list it would refuse them all, so production does not start that way.
 */
function requireWebhookTopics(env: NodeJS.ProcessEnv, problems: string[]): void {
  if (optional(env.SES_CONFIGURATION_SET) && !optional(env.SES_SNS_TOPIC_ARNS)?.replace(/[\s,]/g, ''))
    problems.push('SES_SNS_TOPIC_ARNS is required in production when SES_CONFIGURATION_SET is set (the SNS topics POST /webhooks/ses accepts)');
  if (optional(env.INBOUND_DOMAIN) && !optional(env.INBOUND_SNS_TOPIC_ARNS)?.replace(/[\s,]/g, ''))
    problems.push('INBOUND_SNS_TOPIC_ARNS is required in production when INBOUND_DOMAIN is set (the SNS topics POST /webhooks/inbound accepts)');
}

function requireSecret(value: string | undefined, name: string, problems: string[]): void {
  if (!value) problems.push(`${name} is required in production`);
  else if (value.length < MIN_SECRET_LENGTH) problems.push(`${name} must be at least ${MIN_SECRET_LENGTH} characters`);
  else if (value === DEV_TRACKING_SECRET || value === DEV_OPERATOR_TOKEN) problems.push(`${name} must not be the development default`);
}

function parseInteger(raw: string | undefined, fallback: number, name: string, problems: string[], min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
    return fallback;
  }
  return value;
}

function parseLease(raw: string | undefined, problems: string[]): number {
  const lease = parseInteger(raw, 120, 'CLAIM_LEASE_SECONDS', problems, 1, 86_400);
  if (lease >= MIN_CLAIM_LEASE_SECONDS) return lease;
  problems.push(
    `CLAIM_LEASE_SECONDS must be at least ${MIN_CLAIM_LEASE_SECONDS}: one SendEmail may take ${SES_SEND_TIMEOUT_MS / 1000} s (SES timeouts) ` +
      `after waiting up to ${SEND_BUDGET_MAX_WAIT_MS / 1000} s for its send-budget slot (got "${raw}")`,
  );
  return lease;
}

function parseBoolean(raw: string | undefined, fallback: boolean, name: string, problems: string[]): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

function parseEnum<T extends string>(raw: string | undefined, allowed: readonly T[], fallback: T, name: string, problems: string[]): T {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim() as T;
  if (allowed.includes(value)) return value;
  problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
  return fallback;
}

function parseUrl(raw: string | undefined, fallback: string, name: string, problems: string[]): string {
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    const url = new URL(raw.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    return url.toString();
  } catch {
    problems.push(`${name} must be an http(s) URL (got "${raw}")`);
    return fallback;
  }
}

/** For process entry points: the Config, or the problems on stderr and exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
