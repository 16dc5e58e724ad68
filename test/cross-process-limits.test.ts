import { spawn } from 'node:child_process';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/clock.js';
import { openOrm } from '../src/db/orm.js';
import { TokenBuckets } from '../src/graphql/limits/token-buckets.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok } from './helpers/graphql.js';
import { connectWs, type WsConnection } from './helpers/ws.js';

/**
 * Two API processes on one database enforce one limit, not two: a key's mutation rate (MUTATION_RATE_LIMIT,
 * MUTATION_RATE_BURST) and its open WebSockets (MAX_SOCKETS_PER_KEY) are counted in PostgreSQL, whichever process
 * serves each request. A stopped process frees its sockets' places at once; a crashed one once its heartbeat expires.
 */

const LIMITS = { MUTATION_RATE_LIMIT: '2', MUTATION_RATE_BURST: '4', MAX_SOCKETS_PER_KEY: '3' };
const CREATE_LEAD = `mutation($input: LeadInput!) { createLead(input: $input) { id } }`;

describe('limits across API processes on one database', () => {
  let databaseUrl: string;
  let a: TestApp;
  let b: TestApp;
  let db: pg.Client;
  const sockets: WsConnection[] = [];
  /** One key per test, made up front so that no test depends on the operator's bucket another test drained. */
  const tenants: Tenant[] = [];

  /** Both processes' clocks at the same instant and moved together, as the database's one clock is. */
  function advance(ms: number): void {
    a.clock.advance(ms);
    b.clock.set(a.clock.now());
  }

  async function freshTenant(): Promise<Tenant> {
    const tenant = await createTenant(a);
    advance(10_000); // the operator's bucket back to full
    return tenant;
  }

  function open(app: TestApp, tenant: Tenant): WsConnection {
    const connection = connectWs(app.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    sockets.push(connection);
    return connection;
  }

  /** Whether the socket was admitted (acknowledged) or closed first, and with which code. */
  function outcome(connection: WsConnection): Promise<'admitted' | number> {
    return Promise.race([connection.connected.then(() => 'admitted' as const), connection.closed]);
  }

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    a = await startTestApp({ ...LIMITS, DATABASE_URL: databaseUrl });
    b = await startTestApp({ ...LIMITS, DATABASE_URL: databaseUrl });
    b.clock.set(a.clock.now());
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    for (let i = 0; i < 6; i++) tenants.push(await freshTenant());
  });
  afterAll(async () => {
    for (const connection of sockets) void connection.client.dispose();
    await db?.end();
    await b?.dispose();
    await a?.dispose();
  });

  it("a key's mutations spread over both processes trip the limit at the same total as on one process", async () => {
    const tenant = tenants[0]!;
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await (i % 2 === 0 ? a : b).as(tenant.apiKey)(CREATE_LEAD, { input: { email: `spread${i}@example.com` } }));
    expect(results.map((result) => result.status)).toEqual([200, 200, 200, 200, 429, 429]);
    expect(errorOf(results[4]!)).toMatchObject({
      message: 'Too many mutations with this API key (2 per second, bursts of 4): retry in 1 s',
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
    });

    advance(500); // one token back, for either process to hand out once
    ok(await b.as(tenant.apiKey)(CREATE_LEAD, { input: { email: 'refilled@example.com' } }));
    expect(errorOf(await a.as(tenant.apiKey)(CREATE_LEAD, { input: { email: 'refilled2@example.com' } })).extensions?.code).toBe('RATE_LIMITED');
    expect(ok(await a.as(tenant.apiKey)(`{ leads { totalCount } }`)).leads.totalCount).toBe(5);
  });

  it('the operator token is one bucket across processes too', async () => {
    advance(10_000);
    const company = (app: TestApp, n: number) =>
      app.operator(`mutation($n: String!) { createCompany(input: { name: $n, fromAddress: "ops@example.com" }) { id } }`, { n: `Spread ${n}` });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await company(i % 2 === 0 ? a : b, i)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    advance(10_000);
  });

  it("a key's sockets opened on both processes at once are admitted up to the limit in total; the rest close with 1013", async () => {
    const tenant = tenants[1]!;
    const opened = Array.from({ length: 8 }, (_, i) => open(i % 2 === 0 ? a : b, tenant));
    const outcomes = await Promise.all(opened.map(outcome));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 1013)).toHaveLength(5);
    expect(await opened[outcomes.indexOf(1013)]!.closeReason).toBe('Too many connections for this API key (at most 3)');

    // A socket closed on one process frees a place for the other.
    const admitted = opened.filter((_, i) => outcomes[i] === 'admitted');
    await admitted[0]!.client.dispose();
    await admitted[0]!.closed;
    await expect.poll(() => outcome(open(a, tenant)), { timeout: 5_000 }).toBe('admitted');
    expect(await outcome(open(b, tenant))).toBe(1013);
  });

  it("a stopped process frees its sockets' places at once", async () => {
    const c = await startTestApp({ ...LIMITS, DATABASE_URL: databaseUrl });
    const tenant = tenants[2]!;
    try {
      const onC = [open(c, tenant), open(c, tenant), open(c, tenant)];
      expect(await Promise.all(onC.map(outcome))).toEqual(['admitted', 'admitted', 'admitted']);
      expect(await outcome(open(a, tenant))).toBe(1013);
    } finally {
      await c.dispose();
    }
    expect(await outcome(open(a, tenant))).toBe('admitted');
  });

  it('a SIGKILLed process holds its places only until its heartbeat expires', async () => {
    const tenant = tenants[3]!;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/api-process.ts'], {
      env: { ...process.env, ...LIMITS, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
        child.once('exit', (code) => reject(new Error(`the API process exited (${code}) before serving`)));
      });
      const onChild = [0, 1, 2].map(() => connectWs(url, { authorization: `Bearer ${tenant.apiKey}` }));
      expect(await Promise.all(onChild.map(outcome))).toEqual(['admitted', 'admitted', 'admitted']);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(await Promise.all(onChild.map((connection) => connection.closed))).toEqual([1006, 1006, 1006]);

      expect(await outcome(open(a, tenant))).toBe(1013); // its rows outlive it...
      // ...until its heartbeat is older than the expiry, as it is 30 s after the kill (aged here rather than waited for).
      const aged = await db.query(
        `update api_process set heartbeat_at = heartbeat_at - interval '1 hour' where id in (select process_id from api_key_socket where api_key_id = $1)`,
        [tenant.apiKeyId],
      );
      expect(aged.rowCount).toBe(1);
      expect(await outcome(open(a, tenant))).toBe('admitted');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('a process whose registration was deleted while it was cut off registers its open sockets again before admitting more', async () => {
    const tenant = tenants[4]!;
    const onA = [open(a, tenant), open(a, tenant)];
    expect(await Promise.all(onA.map(outcome))).toEqual(['admitted', 'admitted']);
    // As the other processes do to a process whose heartbeat is older than the expiry (an outage of over 30 s).
    const { rows } = await db.query(`select distinct process_id from api_key_socket where api_key_id = $1`, [tenant.apiKeyId]);
    await db.query(`delete from api_process where id = $1`, [rows[0].process_id]);
    expect(await outcome(open(b, tenant))).toBe('admitted'); // a's two sockets are not counted for now
    expect(await outcome(open(a, tenant))).toBe(1013); // a is back: its two sockets count again, with b's one
    const counted = await db.query(`select count(*)::int as n from api_key_socket where api_key_id = $1`, [tenant.apiKeyId]);
    expect(counted.rows[0].n).toBe(3);
  });

  it('on the database clock, concurrent takes from two processes grant exactly the burst, and each refusal says how long to wait', async () => {
    const orms = [await openOrm(databaseUrl), await openOrm(databaseUrl)];
    const logger = pino({ level: 'silent' });
    // One token per 100 s: nothing refills while the test runs, however slow the machine.
    const buckets = orms.map((orm) => new TokenBuckets({ perSecond: 0.01, burst: 5, orm, clock: systemClock, logger }));
    try {
      const waits = await Promise.all(Array.from({ length: 12 }, (_, i) => buckets[i % 2]!.take('database-clock', 1)));
      expect(waits.filter((wait) => wait === 0)).toHaveLength(5);
      for (const wait of waits.filter((wait) => wait > 0)) {
        expect(wait).toBeGreaterThan(90);
        expect(wait).toBeLessThanOrEqual(100);
      }
    } finally {
      for (const bucket of buckets) bucket.dispose();
      for (const orm of orms) await orm.close(true);
    }
  });

  it('a mutation whose bucket cannot be read is refused as an internal error and writes nothing; over WebSocket the socket stays open', async () => {
    const tenant = tenants[5]!;
    const client = a.as(tenant.apiKey);
    await db.query(`alter table mutation_rate rename to mutation_rate_away`);
    try {
      const refused = await client(CREATE_LEAD, { input: { email: 'unlimited@example.com' } });
      expect(refused.status).toBe(500);
      expect(errorOf(refused)).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });

      const connection = open(b, tenant);
      expect(await outcome(connection)).toBe('admitted');
      const errors = await new Promise<unknown>((resolve) =>
        connection.client.subscribe(
          { query: CREATE_LEAD, variables: { input: { email: 'unlimited-ws@example.com' } } },
          {
            next: () => resolve('ran'),
            error: resolve,
            complete: () => undefined,
          },
        ),
      );
      expect(errors).toEqual([{ message: 'The operation could not be checked: try again shortly', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
      ok(await b.as(tenant.apiKey)(`{ viewer { id } }`)); // queries take no token: they go on
    } finally {
      await db.query(`alter table mutation_rate_away rename to mutation_rate`);
    }
    expect(ok(await client(`{ leads { totalCount } }`)).leads.totalCount).toBe(0);
    ok(await client(CREATE_LEAD, { input: { email: 'limited-again@example.com' } }));
  });
});
