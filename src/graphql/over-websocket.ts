import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { liveApiKeys } from '../auth/api-key.service.js';
import { authenticate, bearerFromConnectionParams, type Auth } from '../auth/authenticate.js';
import { AuthErrorReason } from '../core/error-reasons.js';
import { operationRefusal } from './format-error.js';
import type { Context } from './context.js';
import { KeySockets, REVOKED_REASON, type OpenSocket } from './key-sockets.js';
import { wsOperation } from './limits/operation-limits.js';
import type { AccessNotices } from './realtime/pubsub.js';
import { subscribeEvents } from './realtime/per-event-context.js';
import type { GraphqlTransportOptions } from './transport.js';

/**
 * How often each process re-checks the keys of its open sockets in the database, beside the revocation notices: the
 * bound on a revoked key's socket when a notice is lost without the LISTEN connection noticing (a half-open TCP link).
 */
const SWEEP_INTERVAL_MS = 30_000;

export interface GraphqlOverWebSocketOptions extends GraphqlTransportOptions {
  /** The listening HTTP server: its upgrades on `/graphql` become graphql-ws connections. */
  readonly server: HttpServer;
  /** The logger operations' contexts carry (the HTTP app's). */
  readonly log: FastifyBaseLogger;
  /** Keys revoked or deleted on any process: their sockets here are closed. */
  readonly notices: AccessNotices;
}

export interface GraphqlOverWebSocket {
  /** Closes every subscription with 1001 Going Away, then the WebSocket server. */
  dispose(): Promise<void>;
}

/** What graphql-ws keeps per socket beside its own: the caller, and the key its place is counted for. */
interface SocketExtra extends Record<PropertyKey, unknown> {
  auth: Auth;
  countedFor?: string;
}

/**
 * graphql-ws on `ws`, on the same port and path as HTTP: subscriptions (and any operation) authenticated by
 * connection params, under the same document, validation and operation limits as over HTTP.
 */
export function startGraphqlOverWebSocket(options: GraphqlOverWebSocketOptions): GraphqlOverWebSocket {
  const { schema, orm, config, clock, recorder, guards } = options;
  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: config.maxRequestBytes });
  wss.on('connection', logSocketErrors(options.logger));
  // The same document, validation and operation limits as over HTTP, where Apollo also refuses introspection
  // when Sandbox is off.
  const prepareOperation = wsOperation({
    schema,
    rules: [...specifiedRules, ...guards.validationRules, ...(config.sandbox ? [] : [NoSchemaIntrospectionCustomRule])],
    maxTokens: config.maxQueryTokens,
    limits: guards.limits,
    logger: options.logger,
  });
  const sockets = new KeySockets(config.realtime.maxSocketsPerKey, { orm, logger: options.logger });
  const stopWatching = watchRevocations(options, sockets);
  const ws = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema,
      onSubscribe: async (ctx, _id, payload) => {
        const auth = ctx.extra.auth ?? { kind: 'anonymous' };
        const refusal = tooManyOperations(ctx, auth, sockets, config.realtime);
        if (refusal) return [refusal];
        if (auth.kind === 'company') {
          const keyError = await checkKey(options, sockets, auth.apiKeyId);
          if (keyError) return [keyError];
        }
        return prepareOperation(auth, payload);
      },
      onConnect: admitSocket(options, sockets),
      onClose: (ctx) => {
        if (ctx.extra.countedFor) sockets.release(ctx.extra.countedFor, ctx);
      },
      // Context is built once per subscription; resolvers of each event fork their own EntityManager.
      context: (ctx): Context => ({
        em: orm.em.fork(),
        auth: ctx.extra.auth ?? { kind: 'anonymous' },
        requestId: randomUUID(),
        log: options.log,
        clock,
        config,
        recorder,
      }),
      // Every event runs with its own EntityManager fork, shared by identical subscriptions (per-event-context.ts).
      subscribe: subscribeEvents(orm),
      isProd: config.env !== 'development',
    },
    wss,
    config.realtime.keepAliveMs, // ping interval; an unanswered ping closes the socket after as long again
  );
  return {
    async dispose() {
      stopWatching();
      sockets.stopping();
      await ws.dispose(); // closes subscriptions with 1001 Going Away
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await sockets.dispose(); // every place this process held, freed for the other processes at once
    },
  };
}

/**
 * graphql-ws `onConnect`: a missing or bad key closes the socket with 4403 Forbidden before any operation runs,
 * and a key holds at most `sockets.limit` sockets across all API processes.
 */
function admitSocket({ orm, config }: GraphqlOverWebSocketOptions, sockets: KeySockets) {
  return async (ctx: WsContext<Record<string, unknown>, Extra & Partial<SocketExtra>>): Promise<boolean> => {
    const auth = await authenticate(bearerFromConnectionParams(ctx.connectionParams), orm.em.fork(), config.operatorToken);
    if (auth.kind !== 'company') return false;
    // Closed while authenticating: its onClose has run already, so it must not be counted.
    if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
    // One key cannot hold unbounded sockets (each holds buffers, and up to MAX_SUBSCRIPTIONS_PER_SOCKET
    // operations). 1013 Try Again Later: graphql-ws clients retry with backoff, and a place frees up when
    // another of the key's sockets closes. graphql-ws's own close after `false` finds this one already closing.
    const admission = await sockets.take(auth.apiKeyId, ctx);
    if (admission === 'revoked') return false; // revoked while we asked the database: 4403 Forbidden
    if (admission === 'full') {
      ctx.extra.socket.close(1013, `Too many connections for this API key (at most ${sockets.limit})`);
      return false;
    }
    // Closed while being admitted: its onClose found nothing to release, so its place is given back here.
    if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
      sockets.release(auth.apiKeyId, ctx);
      return false;
    }
    ctx.extra.countedFor = auth.apiKeyId;
    ctx.extra.auth = auth;
    return true;
  };
}

/**
 * A socket error is the client's doing (a frame over maxPayload, a malformed frame), and ws has already closed
 * the socket with the right code (1009, 1002). graphql-ws would print it with its stack via console.error,
 * which any client could repeat at will: it goes to our log as one warning line instead.
 */
function logSocketErrors(logger: Logger) {
  return (socket: WebSocket): void => {
    const emit = socket.emit.bind(socket);
    socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event !== 'error') return emit(event, ...args);
      const error = args[0] as (Error & { code?: string }) | undefined;
      logger.warn({ code: error?.code, reason: error?.message }, 'WebSocket client error; socket closed');
      return true;
    };
  };
}

/**
 * The operation limits, counted before anything else runs. graphql-ws has already reserved this operation's id, so
 * it is counted: neither one socket nor one key (across its sockets) can pin unbounded memory (each operation holds a
 * queue, a context and a share of every event's fan-out, ~21 KiB).
 */
function tooManyOperations(
  ctx: OpenSocket,
  auth: Auth,
  sockets: KeySockets,
  limits: GraphqlOverWebSocketOptions['config']['realtime'],
): GraphQLError | undefined {
  const perSocket = limits.maxOperationsPerSocket;
  if (Object.keys(ctx.subscriptions).length > perSocket) {
    return operationRefusal(
      'TOO_MANY_SUBSCRIPTIONS',
      `Too many operations on this connection (at most ${perSocket} at once): complete some first, or open another connection`,
      { limit: perSocket },
    );
  }
  const perKey = limits.maxOperationsPerKey;
  if (auth.kind === 'company' && sockets.operations(auth.apiKeyId) > perKey) {
    return operationRefusal(
      'TOO_MANY_SUBSCRIPTIONS',
      `Too many operations for this API key (at most ${perKey} at once across its connections): complete some first`,
      { limit: perKey },
    );
  }
  return undefined;
}

/**
 * Whether the socket's key still authenticates, asked of the database before each operation: an operation that
 * starts after the revocation committed never runs, whether or not the notice has arrived (the same guarantee as
 * HTTP, which authenticates every request, at the same cost of one prepared lookup). A key found revoked has all its
 * sockets here closed with 4403, once this refusal has been sent.
 */
async function checkKey({ orm, clock, logger }: GraphqlOverWebSocketOptions, sockets: KeySockets, keyId: string): Promise<GraphQLError | undefined> {
  let live: boolean;
  try {
    live = !sockets.isRevoked(keyId) && (await liveApiKeys({ em: orm.em.fork(), now: clock.now() }, [keyId])).has(keyId);
  } catch (error) {
    logger.warn({ err: error }, 'could not check the API key of a WebSocket operation; refused it');
    return new GraphQLError('The API key could not be checked: try again shortly', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  }
  if (live) return undefined;
  setImmediate(() => sockets.revoke(keyId));
  return new GraphQLError(REVOKED_REASON, { extensions: { code: 'UNAUTHENTICATED', reason: AuthErrorReason.API_KEY_REVOKED } });
}

/**
 * Closes the sockets of keys revoked or deleted anywhere: at once on the notice (NOTIFY, from every process), and by
 * re-checking this process's keys in the database after the LISTEN connection was lost and every SWEEP_INTERVAL_MS.
 * Returns what stops it.
 */
function watchRevocations({ orm, clock, logger, notices }: GraphqlOverWebSocketOptions, sockets: KeySockets): () => void {
  const sweep = async (): Promise<void> => {
    const keyIds = sockets.keyIds();
    if (keyIds.length === 0) return;
    const live = await liveApiKeys({ em: orm.em.fork(), now: clock.now() }, keyIds);
    for (const keyId of keyIds) if (!live.has(keyId)) sockets.revoke(keyId);
  };
  const sweepNow = () => void sweep().catch((error: unknown) => logger.warn({ err: error }, 'could not re-check the API keys of open WebSockets'));
  const stops = [notices.onApiKeyRevoked((event) => sockets.revoke(event.apiKeyId)), notices.onNoticesMissed(sweepNow)];
  const timer = setInterval(sweepNow, SWEEP_INTERVAL_MS).unref();
  return () => {
    clearInterval(timer);
    for (const stop of stops) stop();
  };
}
