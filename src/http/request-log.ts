import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { TOKEN_PATH_PREFIXES } from '../core/logger.js';

/** Routes every mail client or load balancer calls all day: their lines are at `debug` unless slow or failed. */
const HEALTH_ROUTES = new Set(['/healthz', '/readyz']);

function quiet(route: string | undefined): boolean {
  return route !== undefined && (HEALTH_ROUTES.has(route) || TOKEN_PATH_PREFIXES.some((prefix) => route.startsWith(prefix)));
}

/**
 * One log line per request, when it completes, instead of Fastify's two (incoming, completed): method, URL (tokens
 * redacted by the `req` serializer), route, status, duration in ms, and the request id (the child logger's `reqId`).
 * Levels: `error` for a 5xx or a response that failed to send, `warn` for one slower than `slowRequestMs`, `debug` for
 * tracking (pixel, clicks, unsubscribe) and health routes, `info` otherwise. A line whose level is off costs one
 * comparison: nothing is serialized.
 */
export class RequestLog extends LogController {
  constructor(private readonly slowRequestMs: number) {
    super();
  }

  override incomingRequest(): void {
    // One line per request, written when it completes (with its status and duration).
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const ms = reply.elapsedTime;
    const status = reply.statusCode;
    const route = request.routeOptions.url;
    const level = error || status >= 500 ? 'error' : ms > this.slowRequestMs ? 'warn' : quiet(route) ? 'debug' : 'info';
    // Fastify's request loggers are children of the app's pino (http-app.ts), which can say what it would drop.
    const log = reply.log as typeof reply.log & Partial<Pick<Logger, 'isLevelEnabled'>>;
    if (log.isLevelEnabled?.(level) === false) return;
    log[level](
      { req: request, route, status, ms: Math.round(ms * 10) / 10, ...(error ? { err: error } : {}) },
      error ? 'request failed' : ms > this.slowRequestMs ? 'slow request' : 'request',
    );
  }
}
