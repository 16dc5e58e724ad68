import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** JSON logs. Credentials are redacted wherever they could appear. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'connectionParams', '*.secret', '*.apiKey', '*.password'],
      censor: '[redacted]',
    },
  });
}
