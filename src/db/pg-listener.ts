import pg from 'pg';
import type { Logger } from 'pino';

/** application_name of the LISTEN connections, so operators (and tests) can find them in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'lead-nurture-realtime';

export interface ListenerOptions {
  connectionString: string;
  channel: string;
  /** Called for every notification on the channel, with its payload ('' when it has none). */
  onPayload: (payload: string) => void;
  /** Called when a lost connection is back: notifications sent while it was down were missed. */
  onReconnect?: () => void;
  /** How the connection shows in pg_stat_activity; LISTENER_APPLICATION_NAME by default. */
  applicationName?: string;
  log: Logger;
  /** First reconnection delay; it doubles on every failed attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface Listener {
  /** True while the LISTEN connection is up; notifications sent while it is down are lost. */
  readonly connected: boolean;
  /** Sends payloads on the channel outside any transaction (from this connection). */
  notify(payloads: string[]): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Holds one dedicated connection in LISTEN on `channel` (a pool cannot: LISTEN belongs to a session). When the
 * connection drops, it reconnects with exponential backoff and jitter, so a database restart heals by itself and
 * many processes do not reconnect in lockstep. The first connection must succeed: a bad URL fails the boot.
 */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { channel, log } = options;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  let client: pg.Client | undefined;
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: options.applicationName ?? LISTENER_APPLICATION_NAME,
      keepAlive: true,
    });
    next.on('notification', (message) => {
      if (message.channel === channel) options.onPayload(message.payload ?? '');
    });
    // 'error' must always have a listener, or a dropped socket would crash the process.
    next.on('error', (error) => lost(next, error));
    next.on('end', () => lost(next));
    try {
      await next.connect();
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      await next.end().catch(() => undefined);
      throw error;
    }
    if (stopped) return void (await next.end().catch(() => undefined));
    client = next;
    attempt = 0;
  };

  const lost = (which: pg.Client, error?: Error) => {
    if (which !== client || stopped) return;
    client = undefined;
    log.warn({ err: error, channel }, 'LISTEN connection lost; reconnecting (notifications sent meanwhile are missed)');
    void which.end().catch(() => undefined);
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
    attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    timer = setTimeout(() => {
      connect().then(
        () => {
          if (stopped) return;
          log.info({ channel }, 'LISTEN connection restored');
          options.onReconnect?.();
        },
        (error: unknown) => {
          if (stopped) return;
          log.warn({ err: error, channel, attempt }, 'LISTEN reconnection failed');
          scheduleReconnect();
        },
      );
    }, delay);
  };

  await connect();

  return {
    get connected() {
      return client !== undefined;
    },
    async notify(payloads) {
      if (!client) throw new Error('realtime LISTEN connection is down');
      await client.query('select pg_notify($1, payload) from unnest($2::text[]) as payload', [channel, payloads]);
    },
    async dispose() {
      stopped = true;
      clearTimeout(timer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
