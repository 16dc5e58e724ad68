import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { errorBody } from '../core/error-body.js';
import { RequestLog } from './request-log.js';

/**
 * The Fastify instance every route hangs on: body and URL limits, request ids (taken from `x-request-id` or made,
 * and echoed), request logging (one line per request, request-log.ts), and every refusal that happens before a route runs answered in GraphQL's error
 * shape. Nothing listens yet; `close()` disposes it.
 */
export function createHttpApp({ config, logger }: { config: Config; logger: Logger }): FastifyInstance {
  // Typed as Fastify's logger, so the instance is inferred as the plain FastifyInstance this function returns.
  const loggerInstance: FastifyBaseLogger = logger;
  const http = Fastify({
    loggerInstance,
    // One line per request, as it completes (request-log.ts), rather than Fastify's two.
    logController: new RequestLog(config.slowRequestMs),
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
    clientErrorHandler: answerClientError,
  });
  // Set as the request arrives (a header stays on the reply whatever answers it); a callback hook, not an async one.
  http.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  http.setErrorHandler(refusalHandler(config.maxRequestBytes));
  http.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(`No route ${request.method} ${request.url}`, 'NOT_FOUND'));
  });
  return http;
}

/**
 * Registers routes that browsers' scripts call (GraphQL from frontends) in a scope of their own, with CORS: bearer
 * tokens, not cookies, so any origin may. Tracking and webhook routes are not for browsers' scripts and stay
 * outside it, without its hooks.
 */
export async function registerForBrowsers(http: FastifyInstance, routes: (scope: FastifyInstance) => void): Promise<void> {
  await http.register(async (scope) => {
    await scope.register(cors, { origin: true, credentials: false, maxAge: 600 });
    routes(scope);
  });
}

/** Requests Node's HTTP parser refuses before Fastify sees them: the same shape, written to the socket. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'REQUEST_HEADER_FIELDS_TOO_LARGE', 'Request headers are larger than the server accepts']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive']
        : [400, 'BAD_REQUEST', 'Malformed HTTP request'];
  const body = JSON.stringify(errorBody(message, code));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Errors Fastify raises before GraphQL sees the request (bad JSON, body too large, wrong content type), answered
 * in GraphQL's error shape so clients handle one format.
 */
function refusalHandler(maxRequestBytes: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
    if (status === 500) request.log.error({ err: error }, 'unhandled error');
    const message =
      status === 413
        ? `Request body is larger than the limit of ${maxRequestBytes} bytes`
        : status === 500
          ? 'Internal server error'
          : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
            ? 'Malformed JSON body'
            : error.message;
    void reply.status(status).send(errorBody(message, code));
  };
}
