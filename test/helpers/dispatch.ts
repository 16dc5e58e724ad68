import type { Config } from '../../src/core/config.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { createSesProvider } from '../../src/delivery/ses-provider.js';
import type { TestApp } from './app.js';
import type { Untyped } from './graphql.js';

/** Raw SQL rows from the test app's database (for setting up faults and reading state a user cannot see). */
export function queryRows<T = Record<string, Untyped>>(t: TestApp, text: string, params: unknown[] = []): Promise<T[]> {
  return t.app.orm.em.fork().getConnection().execute<T[]>(text, params);
}

/** A dispatcher of the test app as another worker: its own SES client on `endpoint`, disposed with `disposers`. */
export function testDispatcher(t: TestApp, disposers: (() => unknown)[], workerId: string, endpoint: string, config: Config = t.app.config): Dispatcher {
  const provider = createSesProvider(config, endpoint);
  disposers.push(() => provider.dispose());
  return new Dispatcher({ orm: t.app.orm, clock: t.clock, provider, config, logger: t.app.logger, workerId });
}
