import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { startEmbeddedPostgres } from '../db/embedded-postgres.js';
import { migrate, openOrm } from '../db/orm.js';
import { createSesProvider } from '../delivery/ses-provider.js';
import { seedDemoTenant, type DemoTenant } from './dev/seed.js';
import { startSesEmulator } from './dev/ses-emulator.js';
import { startJobs, type Jobs } from '../jobs/jobs.js';
import { EngagementRecorder } from '../tracking/tracking.service.js';
import { createLogger } from '../core/logger.js';
import { startPubSub, type PgPubSub } from '../graphql/realtime/pubsub.js';
import { createSchema } from '../graphql/schema.js';
import type { SesWebhookHooks } from '../http/ses-events.routes.js';
import { startServer, type Server } from './server.js';
import { openRenderPool } from '../templates/render.js';

export interface App {
  readonly config: Config;
  readonly orm: MikroORM;
  readonly server: Server;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly databaseUrl: string;
  /** Set when the embedded SES emulator runs (development without SES_ENDPOINT). */
  readonly sesEmulatorUrl: string | undefined;
  /** Set in development: the seeded demo company and its key. */
  readonly demo: DemoTenant | undefined;
  /** Records opens and clicks (spooled, then group commits); `flush()` applies what is buffered. */
  readonly recorder: EngagementRecorder;
  /** Agenda and the dispatcher, when this process runs jobs (RUN_JOBS). */
  readonly jobs: Jobs | undefined;
  /** Subscriptions' PubSub: LISTEN/NOTIFY between processes, bounded fan-out within this one. */
  readonly pubSub: PgPubSub;
  /** Stops everything that was started, in reverse order. Safe to call twice. */
  dispose(): Promise<void>;
}

/**
 * Boots the product: database (embedded when DATABASE_URL is unset) → migrations → realtime PubSub (LISTEN) → SES emulator (development)
 * → demo seed (development) → jobs (dispatch, sweeper) → HTTP/WebSocket server. If a step fails, what already started is disposed.
 */
export interface AppOptions {
  logger?: Logger;
  /** Tests pass a ManualClock to move time instead of sleeping. */
  clock?: Clock;
  /** Tests replace the SES webhook's calls to AWS. */
  sesWebhook?: SesWebhookHooks;
}

export async function startApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  const clock = options.clock ?? systemClock;
  const disposers: Disposers = [];
  const dispose = disposeInReverse(disposers, logger);

  try {
    // Templates render in worker threads (templates/render-pool.ts): they load while the database starts, and are
    // ready before jobs or requests render; stopped last, after the server and the jobs.
    const renderPool = openRenderPool();
    disposers.push({ name: 'render-pool', dispose: renderPool.release });
    const databaseUrl = config.databaseUrl || (await startEmbeddedDatabase(config, logger, disposers));
    const orm = await openOrm(databaseUrl);
    disposers.push({ name: 'orm', dispose: () => orm.close(true) });
    if (config.migrateOnBoot) {
      const applied = await migrate(orm);
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }

    const pubSub = await startPubSub({ databaseUrl, log: logger, queueLimit: config.realtime.queueLimit });
    disposers.push({ name: 'realtime', dispose: () => pubSub.dispose() });

    const { sesEmulatorUrl, demo } = await startDevServices(config, orm, disposers);

    await renderPool.ready;
    let jobs: Jobs | undefined;
    if (config.delivery.runJobs) {
      const provider = createSesProvider(config, config.ses.endpoint ?? sesEmulatorUrl);
      disposers.push({ name: 'ses-client', dispose: () => Promise.resolve(provider.dispose()) });
      const started = await startJobs({ config, databaseUrl, orm, clock, provider, logger });
      disposers.push({ name: 'jobs', dispose: () => started.dispose() });
      jobs = started;
    }

    // Opened before the server: what a previous process on this spool answered is queued again first. Disposed
    // after the server (no more requests) and before the ORM: what is buffered is written, or stays in the spool.
    const recorder = await EngagementRecorder.open(orm, logger, config.tracking);
    disposers.push({ name: 'engagement-recorder', dispose: () => recorder.dispose() });

    const schema = await createSchema(pubSub);
    const server = await startServer({
      recorder,
      notices: pubSub,
      config,
      orm,
      schema,
      logger,
      clock,
      sesWebhook: options.sesWebhook,
      sesEndpoint: config.ses.endpoint ?? sesEmulatorUrl,
      ...(demo ? { sandboxHeaders: { Authorization: `Bearer ${demo.apiKey}` }, dashboardKey: demo.apiKey } : {}),
    });
    disposers.push({ name: 'server', dispose: () => server.dispose() });

    return { config, orm, server, logger, clock, databaseUrl, sesEmulatorUrl, demo, jobs, pubSub, recorder, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** What has started so far, in order; disposed in reverse. */
type Disposers = Array<{ name: string; dispose: () => Promise<void> }>;

/** Stops what started, last first; one failing to stop does not keep the others running. Safe to call twice. */
function disposeInReverse(disposers: Disposers, logger: Logger): () => Promise<void> {
  let disposed: Promise<void> | undefined;
  return () =>
    (disposed ??= (async () => {
      for (const { name, dispose: stop } of disposers.reverse()) {
        try {
          await stop();
          logger.debug({ component: name }, 'stopped');
        } catch (error) {
          logger.error({ err: error, component: name }, 'failed to stop cleanly');
        }
      }
    })());
}

/** Without DATABASE_URL: PostgreSQL from npm, in DATA_DIR. Returns its URL. */
async function startEmbeddedDatabase(config: Config, logger: Logger, disposers: Disposers): Promise<string> {
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.embeddedPostgresPort,
    database: 'lead_nurture',
    onLog: (line) => logger.trace({ component: 'postgres' }, line),
  });
  disposers.push({ name: 'embedded-postgres', dispose: () => embedded.dispose() });
  logger.info({ dataDir: config.dataDir, port: config.embeddedPostgresPort }, 'embedded PostgreSQL started');
  return embedded.url;
}

/** Development only: the SES emulator (unless SES_ENDPOINT is set) and the demo company with its key. */
async function startDevServices(
  config: Config,
  orm: MikroORM,
  disposers: Disposers,
): Promise<{ sesEmulatorUrl: string | undefined; demo: DemoTenant | undefined }> {
  if (config.env !== 'development') return { sesEmulatorUrl: undefined, demo: undefined };
  let sesEmulatorUrl: string | undefined;
  if (!config.ses.endpoint) {
    const emulator = await startSesEmulator(config.ses.emulatorPort);
    disposers.push({ name: 'ses-emulator', dispose: () => emulator.dispose() });
    sesEmulatorUrl = emulator.url;
  }
  return { sesEmulatorUrl, demo: await seedDemoTenant(orm, config) };
}
