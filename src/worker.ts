import 'reflect-metadata';
import { systemClock } from './core/clock.js';
import { loadConfigOrExit } from './core/config.js';
import { openOrm, pendingMigrations } from './db/orm.js';
import { createSesProvider } from './delivery/ses-provider.js';
import { startJobs } from './jobs/jobs.js';
import { createLogger } from './core/logger.js';
import { openRenderPool } from './templates/render.js';

/**
 * `npm run worker`: dispatch and sweeping without the HTTP server, for running more senders than API processes.
 * Needs the shared DATABASE_URL (the embedded database belongs to `npm start`) and an applied schema.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.databaseUrl) {
    process.stderr.write('The worker needs DATABASE_URL: the database shared with the API processes.\n');
    process.exit(1);
  }
  const logger = createLogger(config);
  const orm = await openOrm(config.databaseUrl);
  const pending = await pendingMigrations(orm);
  if (pending.length > 0) {
    logger.error({ pending }, 'the database schema is behind: start an API process (it migrates) first');
    await orm.close(true);
    process.exit(1);
  }
  // Emails render in worker threads (templates/render-pool.ts), loaded before the first dispatch.
  const renderPool = openRenderPool();
  await renderPool.ready;
  const provider = createSesProvider(config, config.ses.endpoint);
  const jobs = await startJobs({
    config,
    databaseUrl: config.databaseUrl,
    orm,
    clock: systemClock,
    provider,
    logger,
    ...(process.env.WORKER_ID ? { workerId: process.env.WORKER_ID } : {}),
  });
  logger.info({ store: jobs.store }, 'worker started');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker draining');
    await jobs.dispose();
    await renderPool.release();
    provider.dispose();
    await orm.close(true);
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void stop(signal));
  process.on('SIGTERM', (signal) => void stop(signal));
}

main().catch((error: unknown) => {
  process.stderr.write(`Worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
