/**
 * One API process of its own, for tests that must kill a process rather than stop it:
 * `node --import tsx test/helpers/api-process.ts` with DATABASE_URL (already migrated) and any setting in the
 * environment. Prints its GraphQL URL on the first line of stdout once it serves.
 */
import { startApp } from '../../src/app/app.js';
import { loadConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import { OPERATOR_TOKEN } from './app.js';

const config = loadConfig({
  NODE_ENV: 'test',
  HOST: '127.0.0.1',
  PORT: '0',
  OPERATOR_TOKEN,
  RUN_JOBS: 'false',
  MIGRATE_ON_BOOT: 'false',
  LOG_LEVEL: 'silent',
  ...process.env,
});
const app = await startApp(config, { logger: createLogger(config) });
process.stdout.write(`${app.server.url}\n`);
