import type { DestinationStream } from 'pino';
import { startApp, type App, type AppOptions } from '../../src/app/app.js';
import { ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import { createTestDatabase } from './database.js';
import { graphqlClient, type GraphQLClient } from './graphql.js';

export const OPERATOR_TOKEN = 'test-operator-token-0123456789abcdef0123';

export interface TestApp {
  readonly app: App;
  /** The app's clock: tests move it instead of sleeping. Starts at the real time. */
  readonly clock: ManualClock;
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** GraphQL over HTTP without credentials. */
  readonly anonymous: GraphQLClient;
  /** GraphQL over HTTP as the operator. */
  readonly operator: GraphQLClient;
  /** GraphQL over HTTP with an API key. */
  as(apiKey: string): GraphQLClient;
  dispose(): Promise<void>;
}

export interface TestAppOptions extends Pick<AppOptions, 'sesWebhook'> {
  /** Where log lines go (stdout otherwise), for tests that read them. */
  logDestination?: DestinationStream;
}

/** Boots the real app on port 0 against a fresh database built by the committed migrations. */
export async function startTestApp(env: Record<string, string> = {}, { logDestination, ...options }: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: env.DATABASE_URL ?? (await createTestDatabase()),
    OPERATOR_TOKEN,
    // Delivery is off unless a test asks for it (with an SES emulator): other suites check emails stay PENDING.
    RUN_JOBS: 'false',
    // The clock only moves when a test moves it, so no bucket refills by itself: a per-key mutation budget no
    // suite reaches. test/limits.test.ts sets real limits.
    MUTATION_RATE_LIMIT: '1000000',
    MUTATION_RATE_BURST: '1000000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const clock = new ManualClock();
  const app = await startApp(config, { ...options, logger: createLogger(config, logDestination), clock });
  const url = app.server.url;
  return {
    app,
    clock,
    baseUrl: url.replace(/\/graphql$/, ''),
    anonymous: graphqlClient(url),
    operator: graphqlClient(url, `Bearer ${OPERATOR_TOKEN}`),
    as: (apiKey) => graphqlClient(url, `Bearer ${apiKey}`),
    dispose: () => app.dispose(),
  };
}
