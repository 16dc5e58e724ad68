import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { NoSchemaIntrospectionCustomRule, specifiedRules } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate, bearerFromConnectionParams, type Auth } from '../auth/authenticate.js';
import { operationRefusal } from './format-error.js';
import type { Context } from './context.js';
import { wsOperation } from './limits/operation-limits.js';
import { subscribeEvents } from './realtime/per-event-context.js';
import type { GraphqlTransportOptions } from './transport.js';

export interface GraphqlOverWebSocketOptions extends GraphqlTransportOptions {
  /** The listening HTTP server: its upgrades on `/graphql` become graphql-ws connections. */
  readonly server: HttpServer;
  /** The logger operations' contexts carry (the HTTP app's). */
  readonly log: FastifyBaseLogger;
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
  });
  const sockets = new SocketsPerKey(config.realtime.maxSocketsPerKey);
  const ws = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema,
      onSubscribe: (ctx, _id, payload) => {
        // graphql-ws has already reserved this operation's id, so it is counted: one socket cannot pin unbounded
        // memory (each subscription holds a queue and a share of every event's fan-out).
        const open = Object.keys(ctx.subscriptions).length;
        const limit = config.realtime.maxOperationsPerSocket;
        if (open > limit) {
          return [
            operationRefusal(
              'TOO_MANY_SUBSCRIPTIONS',
              `Too many operations on this connection (at most ${limit} at once): complete some first, or open another connection`,
              { limit },
            ),
          ];
        }
        return prepareOperation(ctx.extra.auth ?? { kind: 'anonymous' }, payload);
      },
      onConnect: admitSocket(options, sockets),
      onClose: (ctx) => {
        if (ctx.extra.countedFor) sockets.release(ctx.extra.countedFor);
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
      await ws.dispose(); // closes subscriptions with 1001 Going Away
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * graphql-ws `onConnect`: a missing or bad key closes the socket with 4403 Forbidden before any operation runs,
 * and a key holds at most `sockets.limit` sockets in this process.
 */
function admitSocket({ orm, config }: GraphqlOverWebSocketOptions, sockets: SocketsPerKey) {
  return async (ctx: WsContext<Record<string, unknown>, Extra & Partial<SocketExtra>>): Promise<boolean> => {
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
