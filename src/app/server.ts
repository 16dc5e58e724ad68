import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import cors from '@fastify/cors';
import type { MikroORM } from '@mikro-orm/postgresql';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { authenticate, bearerFromConnectionParams, type Auth } from '../auth/authenticate.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import type { Context } from '../graphql/context.js';
import { pendingMigrations } from '../db/orm.js';
import { readAccountState } from '../delivery/account.js';
import { formatGraphQLError, operationRefusal } from '../core/errors.js';
import { depthLimit } from '../graphql/limits/depth-limit.js';
import { OperationLimits, operationLimitsPlugin, wsOperation } from '../graphql/limits/operation-limits.js';
import { registerTrackingRoutes } from '../http/tracking.routes.js';
import type { EngagementRecorder } from '../tracking/tracking.service.js';
import { subscribeEvents } from '../graphql/realtime/per-event-context.js';
import { registerSesWebhook, type SesWebhookHooks } from '../http/ses-events.routes.js';

export interface ServerOptions {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  logger: Logger;
  clock: Clock;
  recorder: EngagementRecorder;
  /** Sandbox presets for development: the demo key's header and a first query. */
  sandboxHeaders?: Record<string, string>;
  /** Tests replace the SES webhook's calls to AWS (certificate fetch, subscription confirmation). */
  sesWebhook?: SesWebhookHooks;
}

export interface Server {
  /** GraphQL endpoint, e.g. http://localhost:4000/graphql (HTTP and WebSocket). */
  readonly url: string;
  readonly port: number;
  readonly http: FastifyInstance;
  dispose(): Promise<void>;
}

const FIRST_QUERY = `# Your company, as seen by the API key in the Authorization header
query Viewer {
  viewer {
    id
    name
    fromAddress
    timezone
  }
}
`;

/** Fastify + Apollo (HTTP) + graphql-ws (WebSocket), all on one port and path. */
export async function startServer(options: ServerOptions): Promise<Server> {
  const { config, orm, schema, logger, clock, recorder } = options;
  const exposeInternals = config.env === 'development';
  const validationRules = [depthLimit(config.maxQueryDepth)];
  const limits = new OperationLimits(schema, config, clock);

  const http = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.maxRequestBytes,
    requestIdHeader: 'x-request-id',
    // Tracking tokens are path parameters: a forged, overlong one must still reach the handler (which serves the pixel).
    routerOptions: { maxParamLength: 2048 },
    genReqId: () => randomUUID(),
    // An oversized or malformed request must not take the process down or hang a socket.
    connectionTimeout: 60_000,
    requestTimeout: 60_000,
    // A URL Fastify cannot decode (bad percent-encoding), in our error shape like every other refusal.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).status(400).send(errorBody(error.message, 'BAD_REQUEST'));
    },
    // Requests Node's HTTP parser refuses before Fastify sees them: the same shape, written to the socket.
    clientErrorHandler: (error: Error & { code?: string }, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, code, message] =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'REQUEST_HEADER_FIELDS_TOO_LARGE', 'Request headers are larger than the server accepts']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive']
            : [400, 'BAD_REQUEST', 'Malformed HTTP request'];
      const body = JSON.stringify(errorBody(message, code));
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy(error);
    },
  });
  http.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // Errors Fastify raises before GraphQL sees the request (bad JSON, body too large, wrong content type),
  // answered in GraphQL's error shape so clients handle one format.
  http.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
    if (status === 500) request.log.error({ err: error }, 'unhandled error');
    const message =
      status === 413
        ? `Request body is larger than the limit of ${config.maxRequestBytes} bytes`
        : status === 500
          ? 'Internal server error'
          : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
            ? 'Malformed JSON body'
            : error.message;
    void reply.status(status).send(errorBody(message, code));
  });
  http.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(`No route ${request.method} ${request.url}`, 'NOT_FOUND'));
  });

  const apollo = new ApolloServer<Context>({
    schema,
    validationRules,
    parseOptions: { maxTokens: config.maxQueryTokens },
    introspection: config.sandbox,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) =>
      formatGraphQLError(formatted, error, {
        exposeInternals,
        onInternalError: (err) => logger.error({ err }, 'internal error in GraphQL operation'),
      }),
    plugins: [
      fastifyApolloDrainPlugin(http),
      {
        // Subscriptions are served by graphql-ws on the same path; over plain HTTP they would run without an event.
        async requestDidStart() {
          return {
            async didResolveOperation({ operation }) {
              if (operation?.operation === 'subscription') {
                throw new GraphQLError('Subscriptions run over WebSocket (graphql-ws) at this same URL', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
              }
            },
          };
        },
      },
      operationLimitsPlugin(limits),
      config.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({
            embed: true,
            includeCookies: false,
            document: FIRST_QUERY,
            ...(options.sandboxHeaders ? { headers: options.sandboxHeaders } : {}),
          })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  // Browsers call /graphql from frontends: CORS there (bearer tokens, not cookies, so any origin may).
  // Tracking and webhook routes are not for browsers' scripts and skip its hooks.
  await http.register(async (scope) => {
    await scope.register(cors, { origin: true, credentials: false, maxAge: 600 });
    scope.route({
      url: '/graphql',
      method: ['GET', 'POST', 'OPTIONS'],
      handler: fastifyApolloHandler(apollo, {
        context: async (request): Promise<Context> => {
          const em = orm.em.fork();
          const auth = await authenticate(request.headers.authorization, em, config.operatorToken);
          return { em, auth, requestId: request.id, log: request.log, clock, config, recorder };
        },
      }),
    });
  });

  registerTrackingRoutes(http, { orm, config, clock, recorder });
  registerSesWebhook(http, { orm, config, clock, hooks: options.sesWebhook });

  http.get('/healthz', async () => ({ status: 'ok' }));

  let migrationsApplied = false;
  http.get('/readyz', async (_request, reply) => {
    try {
      await withTimeout(orm.em.fork().getConnection().execute('select 1'), 2_000, 'database did not answer within 2 s');
      if (!migrationsApplied) {
        const pending = await pendingMigrations(orm);
        if (pending.length > 0) {
          return reply.status(503).send({ status: 'not_ready', reason: `${pending.length} pending migration(s): ${pending.join(', ')}` });
        }
        migrationsApplied = true; // migrations are never un-applied under a running server
      }
      const account = await readAccountState(orm.em.fork());
      if (account.pausedReason) return reply.status(503).send({ status: 'not_ready', reason: `email sending paused: ${account.pausedReason}` });
      return { status: 'ready' };
    } catch (error) {
      return reply.status(503).send({ status: 'not_ready', reason: `database unreachable: ${(error as Error).message}` });
    }
  });

  await http.listen({ host: config.host, port: config.port });
  const port = (http.server.address() as AddressInfo).port;

  const wss = new WebSocketServer({ server: http.server, path: '/graphql', maxPayload: config.maxRequestBytes });
  // A socket error is the client's doing (a frame over maxPayload, a malformed frame), and ws has already closed
  // the socket with the right code (1009, 1002). graphql-ws would print it with its stack via console.error,
  // which any client could repeat at will: it goes to our log as one warning line instead.
  wss.on('connection', (socket) => {
    const emit = socket.emit.bind(socket);
    socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event !== 'error') return emit(event, ...args);
      const error = args[0] as (Error & { code?: string }) | undefined;
      logger.warn({ code: error?.code, reason: error?.message }, 'WebSocket client error; socket closed');
      return true;
    };
  });
  // The same document, validation and operation limits as over HTTP, where Apollo also refuses introspection
  // when Sandbox is off.
  const prepareWsOperation = wsOperation({
    schema,
    rules: [...specifiedRules, ...validationRules, ...(config.sandbox ? [] : [NoSchemaIntrospectionCustomRule])],
    maxTokens: config.maxQueryTokens,
    limits,
  });
  const sockets = new SocketsPerKey(config.realtime.maxSocketsPerKey);
  const ws = useServer<Record<string, unknown>, { auth: Auth; countedFor?: string }>(
    {
      schema,
      onSubscribe: (ctx, _id, payload) => {
        // graphql-ws has already reserved this operation's id, so it is counted: one socket cannot pin unbounded
        // memory (each subscription holds a queue and a share of every event's fan-out).
        const open = Object.keys(ctx.subscriptions).length;
        const limit = config.realtime.maxOperationsPerSocket;
        if (open > limit) {
          return [operationRefusal('TOO_MANY_SUBSCRIPTIONS', `Too many operations on this connection (at most ${limit} at once): complete some first, or open another connection`, { limit })];
        }
        return prepareWsOperation(ctx.extra.auth ?? { kind: 'anonymous' }, payload);
      },
      // A missing or bad key closes the socket with 4403 Forbidden before any operation runs.
      onConnect: async (ctx) => {
        const auth = await authenticate(bearerFromConnectionParams(ctx.connectionParams), orm.em.fork(), config.operatorToken);
        if (auth.kind !== 'company') return false;
        // Closed while authenticating: its onClose has run already, so it must not be counted.
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
        // One key cannot hold unbounded sockets (each holds buffers, and up to MAX_SUBSCRIPTIONS_PER_SOCKET
        // operations). 1013 Try Again Later: graphql-ws clients retry with backoff, and a place frees up when
        // another of the key's sockets closes. graphql-ws's own close after `false` finds this one already closing.
        if (!sockets.take(auth.apiKeyId)) {
          ctx.extra.socket.close(1013, `Too many connections for this API key (at most ${sockets.limit})`);
          return false;
        }
        ctx.extra.countedFor = auth.apiKeyId;
        ctx.extra.auth = auth;
        return true;
      },
      onClose: (ctx) => {
        if (ctx.extra.countedFor) sockets.release(ctx.extra.countedFor);
      },
      // Context is built once per subscription; resolvers of each event fork their own EntityManager.
      context: (ctx): Context => ({
        em: orm.em.fork(),
        auth: ctx.extra.auth ?? { kind: 'anonymous' },
        requestId: randomUUID(),
        log: http.log,
        clock,
        config,
        recorder,
      }),
      // Every event runs with its own EntityManager fork, shared by identical subscriptions (per-event-context.ts).
      subscribe: subscribeEvents(orm),
      isProd: !exposeInternals,
    },
    wss,
    config.realtime.keepAliveMs, // ping interval; an unanswered ping closes the socket after as long again
  );

  const hostForUrl = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    url: `http://${hostForUrl}:${port}/graphql`,
    port,
    http,
    async dispose() {
      await ws.dispose(); // closes subscriptions with 1001 Going Away
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await apollo.stop(); // drains in-flight HTTP requests, then closes the listener
      await http.close();
    },
  };
}

/** Open WebSocket connections of each API key in this process, at most `limit` each. */
class SocketsPerKey {
  readonly #open = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Counts one more socket for the key, unless it already holds `limit`. */
  take(keyId: string): boolean {
    const open = this.#open.get(keyId) ?? 0;
    if (open >= this.limit) return false;
    this.#open.set(keyId, open + 1);
    return true;
  }

  release(keyId: string): void {
    const open = (this.#open.get(keyId) ?? 1) - 1;
    if (open > 0) this.#open.set(keyId, open);
    else this.#open.delete(keyId);
  }
}

/** GraphQL's error shape, for refusals that happen before GraphQL sees the request. */
function errorBody(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
