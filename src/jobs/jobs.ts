import { hostname } from 'node:os';
import { MongoBackend } from '@agendajs/mongo-backend';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Agenda, type Job } from 'agenda';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { Dispatcher } from '../delivery/dispatcher.js';
import { EMAILS_DUE_CHANNEL } from '../state/due-signal.js';
import { startListener } from '../db/pg-listener.js';
import type { EmailProvider } from '../delivery/email-provider.js';
import { sweepStuckEmails } from '../delivery/sweeper.js';
import { resumeDueEnrollments } from '../replies/auto-resume.js';
import { foldEmailStats } from '../analytics/fold.js';

export const DISPATCH_JOB = 'dispatch-due-emails';
export const SWEEP_JOB = 'sweep-stuck-emails';
/** Resumes enrollments an out-of-office reply paused, on their return date (replies/auto-resume.ts). */
export const AUTO_RESUME_JOB = 'resume-auto-replied-enrollments';
/** Folds the analytics rollups' writer shards into one row per bucket (src/analytics/fold.ts), so reads stay small. */
export const FOLD_STATS_JOB = 'fold-email-stats';

/**
 * How long a job's lock outlives its worker. A worker killed mid-run leaves its lock behind, and no other worker
 * runs that job until the lock expires: with minutes here, one SIGKILL stopped the recurring dispatch for every
 * worker for minutes. Short locks, kept alive by touching them while the run lasts, bound that to seconds.
 */
const JOB_LOCK_MS = 15_000;
const JOB_TOUCH_MS = 5_000;

export interface Jobs {
  readonly agenda: Agenda;
  readonly dispatcher: Dispatcher;
  /** Which job store is in use, for logs and status. */
  readonly store: 'mongodb' | 'postgresql';
  /** Queues an immediate dispatch run (at most one waits at a time per process). */
  triggerDispatch(): Promise<void>;
  /** Lets running jobs finish (up to 30 s), then stops. */
  dispose(): Promise<void>;
}

/**
 * Agenda with the MongoDB job store when MONGODB_URL is set, else PostgreSQL on the app database: the same
 * jobs either way. Dispatch runs every few seconds and at once when an email falls due now (a NOTIFY on
 * `emails_due`); a run that leaves work behind queues another, which any worker process may pick up.
 */
export async function startJobs(deps: {
  config: Config;
  databaseUrl: string;
  orm: MikroORM;
  clock: Clock;
  provider: EmailProvider;
  logger: Logger;
  workerId?: string;
}): Promise<Jobs> {
  const { config, logger } = deps;
  const workerId = deps.workerId ?? `${hostname()}:${process.pid}`;
  const log = logger.child({ component: 'jobs', workerId });
  const store = config.mongodbUrl ? 'mongodb' : 'postgresql';
  // Our own pool for the PostgreSQL job store: the backend's would have no 'error' listener, so a database restart
  // or failover (idle connections terminated) would crash the process. The pool replaces lost connections itself.
  const pool = config.mongodbUrl ? undefined : new pg.Pool({ connectionString: deps.databaseUrl });
  pool?.on('error', (error) => log.warn({ err: error }, 'job store connection lost; the pool reconnects'));
  const backend = pool ? new PostgresBackend({ pool, tableName: 'agenda_jobs' }) : new MongoBackend({ address: config.mongodbUrl! });
  // Agenda's LISTEN connection reconnects by itself, but reports the loss as an 'error' event nobody listens to.
  backend.notificationChannel?.on('error', (error: unknown) => log.warn({ err: error }, 'job store notifications interrupted; reconnecting'));
  const agenda = new Agenda({ backend, name: workerId, processEvery: '1 second', defaultLockLifetime: JOB_LOCK_MS });
  const dispatcher = new Dispatcher({ orm: deps.orm, clock: deps.clock, provider: deps.provider, config, logger: log, workerId });

  const triggerDispatch = defineJobs(agenda, dispatcher, deps, log);
  agenda.on('error', (error: unknown) => log.error({ err: error }, 'job store error'));

  await agenda.start();
  await agenda.every(`${config.delivery.intervalSeconds} seconds`, DISPATCH_JOB, undefined);
  await agenda.every('1 minute', SWEEP_JOB, undefined);
  await agenda.every('1 minute', AUTO_RESUME_JOB, undefined);
  await agenda.every('30 seconds', FOLD_STATS_JOB, undefined);

  // Wake-ups for emails that fall due now, on a connection that heals itself after a database restart. Lost
  // notifications only cost latency (the recurring run catches up); a reconnection dispatches at once for them.
  const wake = () => void triggerDispatch().catch((error: unknown) => log.warn({ err: error }, 'could not queue dispatch'));
  const listener = await startListener({
    connectionString: deps.databaseUrl,
    channel: EMAILS_DUE_CHANNEL,
    applicationName: 'lead-nurture-jobs',
    onPayload: wake,
    onReconnect: wake,
    log,
  });
  log.info({ store }, 'jobs started');

  return {
    agenda,
    dispatcher,
    store,
    triggerDispatch,
    async dispose() {
      await listener.dispose();
      const result = await agenda.drain(30_000);
      if (result.timedOut) log.warn(result, 'jobs still running after 30 s; their claims will be settled by the sweeper');
      await pool?.end();
    },
  };
}

type JobDeps = Pick<Parameters<typeof startJobs>[0], 'orm' | 'clock' | 'config'>;

/** Defines the dispatch and sweep jobs; returns the function that queues an immediate dispatch run. */
function defineJobs(agenda: Agenda, dispatcher: Dispatcher, deps: JobDeps, log: Logger): () => Promise<void> {
  const { config } = deps;
  let triggerQueued = false;
  const triggerDispatch = async () => {
    if (triggerQueued) return;
    triggerQueued = true;
    try {
      await agenda.now(DISPATCH_JOB);
    } catch (error) {
      // Not queued (the job store is down): the next wake-up must try again, not find one "already queued".
      triggerQueued = false;
      throw error;
    }
  };

  agenda.define(
    DISPATCH_JOB,
    async (job: Job) => {
      triggerQueued = false;
      const result = await keepLocked(job, () => dispatcher.dispatchDue(10_000), log);
      if (result.claimed > 0) log.info(result, 'dispatch run');
      if (result.more) await triggerDispatch();
    },
    { concurrency: 1, lockLifetime: JOB_LOCK_MS, removeOnComplete: true },
  );
  agenda.define(
    SWEEP_JOB,
    async (job: Job) => {
      const settled = await keepLocked(job, () => sweepStuckEmails(deps.orm.em.fork(), deps.clock.now(), config.delivery.claimLeaseSeconds), log);
      if (settled > 0) log.warn({ settled }, 'emails left SENDING by a stopped dispatcher were settled as outcome unknown');
    },
    { concurrency: 1 },
  );
  agenda.define(FOLD_STATS_JOB, async (job: Job) => void (await keepLocked(job, () => foldEmailStats(deps.orm.em.fork()), log)), { concurrency: 1 });
  agenda.define(
    AUTO_RESUME_JOB,
    async (job: Job) => {
      const resumed = await keepLocked(job, () => resumeDueEnrollments(deps.orm, deps.clock.now(), log), log);
      if (resumed > 0) log.info({ resumed }, 'enrollments paused by an auto-reply resumed');
    },
    { concurrency: 1 },
  );
  return triggerDispatch;
}

/** Runs `work` while touching `job`'s lock, so the lock stays short (JOB_LOCK_MS) however long the run takes. */
async function keepLocked<T>(job: Job, work: () => Promise<T>, log: Logger): Promise<T> {
  const timer = setInterval(() => {
    job.touch().catch((error: unknown) => log.warn({ err: error }, 'could not renew a job lock'));
  }, JOB_TOUCH_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
