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
  /** How often the connection is asked to answer a trivial query (5 s by default). */
  heartbeatIntervalMs?: number;
  /** How long a heartbeat, a connection attempt or LISTEN may take before the connection counts as lost (5 s). */
  heartbeatTimeoutMs?: number;
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
 *
 * A LISTEN connection only ever receives, so a connection that died without a FIN or RST (a network partition, a
 * dropped NAT entry, a frozen host) would look healthy for as long as the OS keepalive takes (hours by default),
 * missing every notification. So it is asked to answer a trivial query every few seconds; one that does not
 * answer in time is destroyed and replaced, and `onReconnect` lets the users resync. TCP keepalive with a short
 * first probe also closes sockets whose peer is gone while no heartbeat is in flight.
 */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { channel, log } = options;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const heartbeat = { intervalMs: options.heartbeatIntervalMs ?? 5_000, timeoutMs: options.heartbeatTimeoutMs ?? 5_000 };
  let client: pg.Client | undefined;
  let stopHeartbeat = () => {};
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (reconnecting: boolean): Promise<void> => {
    const next = await openListening(options, heartbeat.timeoutMs, lost);
    if (stopped) return void (await next.end().catch(() => undefined));
    client = next;
    attempt = 0;
    stopHeartbeat = startHeartbeat(next, heartbeat, (error) => lost(next, error));
    if (!reconnecting) return;
    log.info({ channel }, 'LISTEN connection restored');
    // In the same synchronous step that makes `connected` true again: a caller that trusts what it learned from
    // notices only while connected (the API key cache) must resync before anyone can see it connected.
    try {
      options.onReconnect?.();
    } catch (error) {
      log.error({ err: error, channel }, 'resync after LISTEN reconnection failed');
    }
  };

  const lost = (which: pg.Client, error?: Error) => {
    if (which !== client || stopped) return;
    client = undefined;
    stopHeartbeat();
    log.warn({ err: error, channel }, 'LISTEN connection lost; reconnecting (notifications sent meanwhile are missed)');
    // With a heartbeat still waiting, `end()` destroys the socket rather than waiting for a goodbye that a
    // partitioned peer would never answer.
    void which.end().catch(() => undefined);
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
    attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    timer = setTimeout(() => {
      connect(true).then(
        () => undefined,
        (error: unknown) => {
          if (stopped) return;
          log.warn({ err: error, channel, attempt }, 'LISTEN reconnection failed');
          scheduleReconnect();
        },
      );
    }, delay);
  };

  await connect(false);

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
      stopHeartbeat();
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}

/** A new connection in LISTEN on the channel; `onLost` hears of its end. Gives up after `timeoutMs`. */
async function openListening(options: ListenerOptions, timeoutMs: number, onLost: (which: pg.Client, error?: Error) => void): Promise<pg.Client> {
  const { channel } = options;
  const next = new pg.Client({
    connectionString: options.connectionString,
    application_name: options.applicationName ?? LISTENER_APPLICATION_NAME,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // A connection attempt into a partition would otherwise wait for the OS connect timeout (minutes).
    connectionTimeoutMillis: timeoutMs,
  });
  next.on('notification', (message) => {
    if (message.channel === channel) options.onPayload(message.payload ?? '');
  });
  // 'error' must always have a listener, or a dropped socket would crash the process.
  next.on('error', (error) => onLost(next, error));
  next.on('end', () => onLost(next));
  try {
    await next.connect();
    await withTimeout(next.query(`LISTEN ${pg.escapeIdentifier(channel)}`), timeoutMs, 'LISTEN did not answer in time');
  } catch (error) {
    // `end()` destroys the socket while a query is still waiting on it, so a hung attempt goes too.
    await next.end().catch(() => undefined);
    throw error;
  }
  return next;
}

/** Asks `client` for a trivial answer every `intervalMs`; calls `onDead` once if one takes over `timeoutMs`. Returns a stop function. */
function startHeartbeat(client: pg.Client, { intervalMs, timeoutMs }: { intervalMs: number; timeoutMs: number }, onDead: (error: Error) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = () => {
    timer = setTimeout(() => {
      withTimeout(client.query('select 1'), timeoutMs, `no answer to the heartbeat within ${timeoutMs} ms`).then(
        () => !stopped && beat(),
        (error: unknown) => !stopped && onDead(error as Error),
      );
    }, intervalMs);
  };
  beat();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timeout: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timeout = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timeout));
}
