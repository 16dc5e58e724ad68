import { pino, type BaseLogger, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { Config } from './config.js';

/**
 * Paths whose next segment is a bearer credential: whoever has the URL of a tracking pixel, a click redirect or an
 * unsubscribe page acts for the recipient (src/http/tracking.routes.ts). A new route that carries a token in its
 * path must be listed here; test/log-redaction.test.ts checks every registered route with a parameter.
 */
export const TOKEN_PATH_PREFIXES = ['/t/o/', '/t/c/', '/u/'] as const;

// A prefix, each character also as its percent-escape (the router decodes `/t/%6F/…` to the pixel route), then the
// segment after it, up to the next `/`, query, fragment, double quote, backslash or whitespace: what ends a path
// segment, a JSON string or a line. A JSON escape (`\"`) is consumed whole, so a hostile URL cannot end the match
// early and leave part of its token behind (nor can `'`, `<` or `>`, which a URL may carry unescaped).
const spelled = (prefix: string) => [...prefix].map((c) => `(?:${c}|%${c.charCodeAt(0).toString(16)})`).join('');
const TOKEN_SEGMENT = new RegExp(`(${TOKEN_PATH_PREFIXES.map(spelled).join('|')})(?:\\\\.|[^\\s"?#/\\\\])+`, 'gi');

/** `text` with the token of every tracking or unsubscribe path in it replaced by `[redacted]`. */
export function redactTokens(text: string): string {
  return text.replace(TOKEN_SEGMENT, '$1[redacted]');
}

/** The parts of a Fastify request its log lines need (structural: core does not depend on Fastify). */
interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remotePort?: number };
  routeOptions?: { url?: string };
}

/**
 * Fastify's request serializer with the token taken out of the URL. A token route logs its pattern (`/t/o/[redacted]`),
 * which also covers a path spelled with percent-escapes (`/t/%6F/…`) that the text filter would not recognise.
 */
function serializeRequest(request: LoggedRequest) {
  const route = request.routeOptions?.url;
  const tokenRoute = route !== undefined && TOKEN_PATH_PREFIXES.some((prefix) => route.startsWith(prefix));
  return {
    method: request.method,
    url: tokenRoute ? route.replace(/:\w+/g, '[redacted]') : redactTokens(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

const CENSORED = '[redacted]';
/** Fields that hold a credential in any object a line carries (`{ created: { secret } }`, `{ headers: { authorization } }`). */
const CREDENTIAL_FIELDS = ['secret', 'apiKey', 'password', 'authorization'] as const;

/**
 * A logged object with each CREDENTIAL_FIELDS of the objects it carries censored. Copies only what it censors. `req`
 * and `connectionParams` are left to their serializers; errors to pino's.
 */
function censorCredentials(object: Record<string, unknown>): Record<string, unknown> {
  let censored: Record<string, unknown> | undefined;
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (typeof value !== 'object' || value === null || key === 'req' || Array.isArray(value) || value instanceof Error) continue;
    const inner = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const field of CREDENTIAL_FIELDS) if (inner[field] !== undefined) (copy ??= { ...inner })[field] = CENSORED;
    if (copy) (censored ??= { ...object })[key] = copy;
  }
  return censored ?? object;
}

/**
 * JSON logs (in development, the same lines made readable by pino-pretty: one line per event, local time, colours on
 * a terminal; `LOG_FORMAT` chooses). Credentials are redacted wherever they could appear: by field (authorization headers, connection
 * params, secrets), and tracking and unsubscribe tokens in any text of the finished line (request URLs, error
 * messages and stacks that quote a URL, rendered HTML), so no log reader can act for a recipient.
 * `destination` is for tests and benchmarks that read the lines; stdout otherwise.
 */
export function createLogger(config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'logFormat' | 'logSync'>>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    // Credentials by field, as a formatter rather than pino's `redact` paths: those cost ~8 µs a line (a wildcard path
    // runs its redactor on every key of every line, and on every child logger's bindings, one per request), which was
    // a third of what Fastify itself spends on a request (issue #19).
    formatters: { log: censorCredentials },
    // Serializers apply to child loggers' bindings too: a WebSocket's `connectionParams` may carry its API key.
    serializers: { req: serializeRequest, connectionParams: () => CENSORED },
    hooks: { streamWrite: redactTokens },
  };
  return pino(options, config.logFormat === 'pretty' ? pretty(destination) : (destination ?? logDestination(1, config.logSync ?? false)));
}

/**
 * Where JSON lines go: stdout (1), or a file for the API bench, which logs as production does. With `sync`
 * (LOG_SYNC) each line is written before the call that logs it returns; otherwise the lines logged in one turn of
 * the event loop are written together at its end (`LineBatch`).
 */
export function logDestination(target: 1 | string, sync: boolean): DestinationStream {
  const out = pino.destination({ dest: target, sync: true });
  return sync ? out : new LineBatch(out);
}

/**
 * Lines gathered and written with one synchronous write when the event loop's turn ends (or once 64 Ki characters
 * are waiting), by this thread: in order, and what was logged before `process.exit` or an uncaught exception is written
 * by the `exit` listener. A synchronous write per line is a system call each, about 13 µs, a tenth of an
 * authenticated request's CPU (issue #19); under load many requests end in one turn. Only a hard kill (SIGKILL, the
 * OOM killer) loses what the current turn logged.
 */
export class LineBatch implements DestinationStream {
  static readonly MAX_CHARS = 65_536;
  #lines: string[] = [];
  #chars = 0;
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(private readonly out: DestinationStream) {
    process.on('exit', this.#flush);
  }

  write(line: string): void {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= LineBatch.MAX_CHARS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Writes what is waiting now; `done` is for pino's `logger.flush(done)`. */
  flush(done?: (error?: Error) => void): void {
    this.#scheduled = false;
    if (this.#lines.length > 0) {
      const text = this.#lines.join('');
      this.#lines = [];
      this.#chars = 0;
      this.out.write(text);
    }
    done?.();
  }
}

/**
 * pino-pretty in this process (not a transport thread), so nothing logged just before an exit is lost. It formats
 * the finished line, after `redactTokens`: what is redacted in JSON is redacted here. Colours on a terminal only.
 */
function pretty(destination: DestinationStream | undefined): DestinationStream {
  return pinoPretty({
    destination: destination ?? 1,
    colorize: destination === undefined && process.stdout.isTTY,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    sync: true,
  });
}

/** What services need of a logger: pino's levels, whoever made it (the app's pino, Fastify's request logger). */
export type Log = Pick<BaseLogger, 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'>;
