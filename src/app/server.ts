import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { startGraphqlOverHttp } from '../graphql/over-http.js';
import { startGraphqlOverWebSocket } from '../graphql/over-websocket.js';
import type { AccessNotices } from '../graphql/realtime/pubsub.js';
import { operationGuards } from '../graphql/transport.js';
import { registerDashboardRoutes } from '../http/dashboard.routes.js';
import { registerHealthRoutes } from '../http/health.routes.js';
import { createHttpApp, registerForBrowsers } from '../http/http-app.js';
import { registerSesWebhook, type SesWebhookHooks } from '../http/ses-events.routes.js';
import { registerTrackingRoutes } from '../http/tracking.routes.js';
import { registerInboundWebhook } from '../http/inbound.routes.js';
import { createThreadedSesProvider } from '../delivery/ses-thread.js';
import type { EngagementRecorder } from '../tracking/tracking.service.js';

export interface ServerOptions {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  logger: Logger;
  clock: Clock;
  recorder: EngagementRecorder;
  /** Keys revoked or deleted on any process (the PubSub's LISTEN): their open WebSockets are closed. */
  notices: AccessNotices;
  /** Sandbox presets for development: the demo key's header and a first query. */
  sandboxHeaders?: Record<string, string>;
  /** Development: the demo key the dashboard opens with, for requests from this machine (src/http/dashboard.routes.ts). */
  dashboardKey?: string;
  /** Tests replace the SES webhook's calls to AWS (certificate fetch, subscription confirmation). */
  sesWebhook?: SesWebhookHooks;
  /** Where SES is (SES_ENDPOINT, the development emulator, or AWS when unset): replies are forwarded through it. */
  sesEndpoint?: string | undefined;
}

export interface Server {
  /** GraphQL endpoint, e.g. http://localhost:4000/graphql (HTTP and WebSocket). */
  readonly url: string;
  readonly port: number;
  readonly http: FastifyInstance;
  dispose(): Promise<void>;
}

/** Fastify + Apollo (HTTP) + graphql-ws (WebSocket), all on one port and path. */
export async function startServer(options: ServerOptions): Promise<Server> {
  const { config, orm, schema, logger, clock, recorder } = options;
  const http = createHttpApp({ config, logger });
  // One set of guards: a key's mutation rate is the same whichever transport it uses.
  const graphql = { schema, orm, config, clock, recorder, logger, guards: operationGuards(schema, config, { orm, clock, logger }) };

  const overHttp = await startGraphqlOverHttp({ ...graphql, http, sandboxHeaders: options.sandboxHeaders, notices: options.notices });
  try {
    await registerForBrowsers(http, (scope) => overHttp.mount(scope));
    registerTrackingRoutes(http, { orm, config, clock, recorder });
    registerSesWebhook(http, { orm, config, clock, hooks: options.sesWebhook });
    registerInboundWebhook(http, {
      orm,
      config,
      clock,
      hooks: options.sesWebhook,
      provider: createThreadedSesProvider(config, options.sesEndpoint, { eager: config.inbound.snsTopicArns.length > 0 }),
    });
    registerHealthRoutes(http, { orm });
    await registerDashboardRoutes(http, { dir: config.dashboardDir, ...(options.dashboardKey ? { devApiKey: options.dashboardKey } : {}) });
    await http.listen({ host: config.host, port: config.port });
  } catch (error) {
    await overHttp.dispose(); // a port already taken, say: Apollo and the HTTP app do not outlive the failed start
    graphql.guards.dispose();
    throw error;
  }
  const port = (http.server.address() as AddressInfo).port;
  const overWebSocket = startGraphqlOverWebSocket({ ...graphql, server: http.server, log: http.log, notices: options.notices });

  const hostForUrl = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    url: `http://${hostForUrl}:${port}/graphql`,
    port,
    http,
    async dispose() {
      await overWebSocket.dispose();
      await overHttp.dispose(); // drains in-flight HTTP requests, then closes the listener
      await http.close();
      graphql.guards.dispose();
    },
  };
}
