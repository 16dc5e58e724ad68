import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListener, type Listener } from '../src/db/pg-listener.js';
import { createTestDatabase } from './helpers/database.js';
import { startPartitionProxy, type PartitionProxy } from './helpers/tcp-proxy.js';

/**
 * The LISTEN connection behind a network partition: no FIN, no RST, the socket stays open and the OS keepalive
 * would take hours to notice. The listener's own heartbeat must.
 */
describe('LISTEN connection behind a network partition', () => {
  let databaseUrl: string;
  let proxy: PartitionProxy;
  let notifier: pg.Client;
  let listener: Listener | undefined;
  const channel = 'listener_test';
  const received: string[] = [];
  let reconnects = 0;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const url = new URL(databaseUrl);
    proxy = await startPartitionProxy({ host: url.hostname, port: Number(url.port) });
    notifier = new pg.Client({ connectionString: databaseUrl });
    await notifier.connect();
  });
  afterAll(async () => {
    await listener?.dispose();
    await notifier?.end();
    await proxy?.dispose();
  });

  const notify = (payload: string) => notifier.query('select pg_notify($1, $2)', [channel, payload]);

  it('is declared lost within a bounded time, reconnects when the network heals, and notifications flow again', async () => {
    const viaProxy = new URL(databaseUrl);
    viaProxy.hostname = proxy.host;
    viaProxy.port = String(proxy.port);
    const heartbeat = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 500 };
    listener = await startListener({
      connectionString: viaProxy.toString(),
      channel,
      onPayload: (payload) => received.push(payload),
      onReconnect: () => void (reconnects += 1),
      log: pino({ level: 'silent' }),
      baseDelayMs: 50,
      maxDelayMs: 200,
      ...heartbeat,
    });
    await notify('before');
    await expect.poll(() => received).toEqual(['before']);

    proxy.partition();
    const partitionedAt = Date.now();
    // Bounded by the heartbeat (interval + timeout), with generous slack for a busy machine; never by TCP keepalive.
    await expect.poll(() => listener!.connected, { timeout: 15_000, interval: 50 }).toBe(false);
    expect(Date.now() - partitionedAt).toBeLessThan(15_000);
    await notify('during'); // sent while the listener is away: missed, which onReconnect exists for

    proxy.heal();
    await expect.poll(() => listener!.connected, { timeout: 15_000, interval: 50 }).toBe(true);
    expect(reconnects).toBe(1);
    await notify('after');
    await expect.poll(() => received.at(-1), { timeout: 5_000 }).toBe('after');
  });
});
