import { createLogger } from '../../src/core/logger.js';

/*
 * A process that logs through the production logger (JSON to stdout, LOG_SYNC off) and ends at once, as
 * test/log-exit.test.ts asks: argv[2] is how it ends, argv[3] how many lines it logs first, argv[4] `sync` for
 * LOG_SYNC on.
 */
const [how, count, sync] = [process.argv[2], Number(process.argv[3]), process.argv[4] === 'sync'];
const logger = createLogger({ logLevel: 'info', logFormat: 'json', logSync: sync });
for (let i = 0; i < count; i++) logger.info({ i, padding: 'x'.repeat(200) }, 'line');
if (how === 'exit') process.exit(3);
if (how === 'throw') throw new Error('crash after logging');
if (how === 'kill') process.kill(process.pid, 'SIGKILL');
