import type { Client } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LISTENER_APPLICATION_NAME } from '../src/db/pg-listener.js';
import { AccessTopic, decodeNotification } from '../src/state/events.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type Untyped } from './helpers/graphql.js';
import { connectWs, subscribe, subscriptionsOpen, type WsConnection } from './helpers/ws.js';

/*
 * What an API key may do over graphql-ws once its sockets are open: a revoked or deleted key loses them on every
 * process within 2 s (the revocation crosses processes by NOTIFY, like every event), no operation of it runs once
 * the revocation committed, and one key's operations at once are bounded across all its sockets
 * (MAX_OPERATIONS_PER_KEY), so memory per key is bounded too.
 */

const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const CREATE_LEAD = `mutation($input: LeadInput!) { createLead(input: $input) { id } }`;
const LEAD_COUNT = `query($search: String) { leads(filter: { search: $search }) { totalCount } }`;
const SCORES = `subscription { leadScoreChanged { score } }`;
/** graphql-ws's Forbidden: clients treat it as fatal and do not reconnect. */
const FORBIDDEN = 4403;

interface WsResult {
  data?: Record<string, Untyped> | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}

/** Runs one operation over graphql-ws: its result, the errors it was refused with, or the socket's close. */
function overWs(client: Client, query: string, variables?: Record<string, unknown>): Promise<WsResult | { closed: number }> {
  return new Promise((resolve) => {
    let result: WsResult = {};
    client.subscribe(
      { query, ...(variables ? { variables } : {}) },
      {
        next: (value) => (result = value as WsResult),
        error: (error) => resolve(Array.isArray(error) ? { errors: error } : { closed: (error as { code?: number }).code ?? -1 }),
        complete: () => resolve(result),
      },
    );
  });
}

/** Resolves with the close code, or rejects when the socket is still open after `ms`. */
function closedWithin(connection: WsConnection, ms: number): Promise<number> {
  return Promise.race([connection.closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms))]);
}

async function secondKey(t: TestApp, companyId: string): Promise<{ id: string; secret: string }> {
  const { createApiKey } = ok(
    await t.operator(`mutation($companyId: ID!) { createApiKey(companyId: $companyId, name: "second") { secret apiKey { id } } }`, { companyId }),
  );
  return { id: createApiKey.apiKey.id, secret: createApiKey.secret };
}

describe('API keys on open WebSockets', () => {
  let a: TestApp;
  let b: TestApp;
  const opened: WsConnection[] = [];
  const connect = (app: TestApp, apiKey: string) => {
    const connection = connectWs(app.app.server.url, { authorization: `Bearer ${apiKey}` });
    opened.push(connection);
    return connection;
  };

  beforeAll(async () => {
    a = await startTestApp();
    // A second server process on the same database: it hears the first one's NOTIFY, and the reverse.
    b = await startTestApp({ DATABASE_URL: a.app.databaseUrl, MIGRATE_ON_BOOT: 'false' });
  });
  afterAll(async () => {
    await Promise.all(opened.map(async (c) => await c.client.dispose()));
    await b?.dispose();
    await a?.dispose();
  });

  it('revoking a key on one process closes its sockets on another with 4403 within 2 s; nothing it sends after the revocation runs', async () => {
    const tenant = await createTenant(a);
    const kept = await secondKey(a, tenant.companyId);
    const revoked = connect(a, tenant.apiKey);
    const other = connect(a, kept.secret);
    await Promise.all([revoked.connected, other.connected]);
    const events = subscribe(revoked.client, SCORES);
    const keptEvents = subscribe(other.client, SCORES);
    await subscriptionsOpen(() => a.app.pubSub.stats(), 2);

    const started = Date.now();
    ok(await b.operator(REVOKE, { id: tenant.apiKeyId }));
    // Sent once the revocation committed, before the socket learns of it: it must not run.
    const racing = overWs(revoked.client, CREATE_LEAD, { input: { email: 'racing@revoked.example.com' } });
    expect(await closedWithin(revoked, 2_000)).toBe(FORBIDDEN);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await revoked.closeReason).toBe('This API key has been revoked');
    const raced = await racing;
    if ('errors' in raced) expect(raced.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
    else expect(raced).toEqual({ closed: FORBIDDEN });
    expect(ok(await a.as(kept.secret)(LEAD_COUNT, { search: 'racing@revoked' })).leads.totalCount).toBe(0);
    await expect(events.next(100)).rejects.toThrow();

    // A new connection with the key is refused, on either process; the company's other key carries on.
    for (const app of [a, b]) expect(await closedWithin(connect(app, tenant.apiKey), 2_000)).toBe(FORBIDDEN);
    await subscriptionsOpen(() => a.app.pubSub.stats(), 1); // the revoked socket's subscription ended on the server
    const { createLead } = ok(await a.as(kept.secret)(CREATE_LEAD, { input: { email: 'kept@revoked.example.com' } }));
    ok(await a.as(kept.secret)(`mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 5, reason: "still here") { delta } }`, { id: createLead.id }));
    expect(await keptEvents.next()).toEqual({ leadScoreChanged: { score: 5 } });
  });

  it('deleting a key closes its sockets everywhere too', async () => {
    const tenant = await createTenant(a);
    const socket = connect(b, tenant.apiKey);
    await socket.connected;
    const started = Date.now();
    await a.app.orm.em.fork().getConnection().execute('delete from api_key where id = ?', [tenant.apiKeyId]);
    expect(await closedWithin(socket, 2_000)).toBe(FORBIDDEN);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a revocation whose notification is lost still takes effect: no operation runs, and the socket closes when LISTEN reconnects', async () => {
    const tenant = await createTenant(a);
    const kept = await secondKey(a, tenant.companyId);
    // One socket on each process: a refused operation closes its key's sockets in its own process only.
    const [first, second] = [connect(a, tenant.apiKey), connect(b, tenant.apiKey)];
    await Promise.all([first.connected, second.connected]);

    // Revoked without any notification (triggers off for this transaction), as if every LISTEN had been down.
    const direct = new pg.Client({ connectionString: a.app.databaseUrl });
    await direct.connect();
    try {
      await direct.query('begin');
      await direct.query(`set local session_replication_role = replica`);
      await direct.query('update api_key set revoked_at = now() where id = $1', [tenant.apiKeyId]);
      await direct.query('commit');
    } finally {
      await direct.end();
    }
    // Each operation checks the key: the mutation is refused and its socket closed.
    const refused = await overWs(first.client, CREATE_LEAD, { input: { email: 'lost@revoked.example.com' } });
    if ('errors' in refused) expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
    else expect(refused).toEqual({ closed: FORBIDDEN });
    expect(await closedWithin(first, 2_000)).toBe(FORBIDDEN);
    expect(ok(await a.as(kept.secret)(LEAD_COUNT, { search: 'lost@revoked' })).leads.totalCount).toBe(0);

    // A socket that sends nothing is closed once the LISTEN connection comes back (it may have missed the event).
    await expect(closedWithin(second, 300)).rejects.toThrow('still open');
    const database = new URL(a.app.databaseUrl).pathname.slice(1);
    await a.app.orm.em
      .fork()
      .getConnection()
      .execute('select pg_terminate_backend(pid) from pg_stat_activity where application_name = ? and datname = ?', [LISTENER_APPLICATION_NAME, database]);
    expect(await closedWithin(second, 10_000)).toBe(FORBIDDEN);
  });
});

describe('operations per API key (MAX_OPERATIONS_PER_KEY)', () => {
  let t: TestApp;
  const opened: WsConnection[] = [];
  const connect = (tenant: Tenant) => {
    const connection = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
    opened.push(connection);
    return connection;
  };

  beforeAll(async () => {
    t = await startTestApp({ MAX_OPERATIONS_PER_KEY: '3', MAX_SUBSCRIPTIONS_PER_SOCKET: '10' });
  });
  afterAll(async () => {
    await Promise.all(opened.map(async (c) => await c.client.dispose()));
    await t?.dispose();
  });

  it('the (limit+1)-th operation across one key’s sockets is refused, other keys are unaffected, and completing or closing frees capacity', async () => {
    const [key, other] = [await createTenant(t), await createTenant(t)];
    const [first, second] = [connect(key), connect(key)];
    const held = [subscribe(first.client, SCORES), subscribe(first.client, `subscription { leadScoreChanged(minScore: 1) { score } }`)];
    const third = subscribe(second.client, SCORES);
    await subscriptionsOpen(() => t.app.pubSub.stats(), 3);

    const refused = {
      message: 'Too many operations for this API key (at most 3 at once across its connections): complete some first',
      extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 },
    };
    expect(await overWs(second.client, SCORES)).toEqual({ errors: [refused] });
    expect(await overWs(first.client, `{ viewer { id } }`)).toEqual({ errors: [refused] });
    expect(await overWs(connect(key).client, `{ viewer { id } }`)).toEqual({ errors: [refused] });

    // Another key has its own budget.
    const elsewhere = connect(other);
    const others = [0, 1].map(() => subscribe(elsewhere.client, SCORES));
    await subscriptionsOpen(() => t.app.pubSub.stats(), 5);
    expect(((await overWs(elsewhere.client, `{ viewer { id } }`)) as WsResult).data?.viewer.id).toBe(other.companyId);

    // Completing one frees a place; so does closing a socket with its operations.
    held[0]!.dispose();
    await subscriptionsOpen(() => t.app.pubSub.stats(), 4);
    expect(((await overWs(second.client, `{ viewer { id } }`)) as WsResult).data?.viewer.id).toBe(key.companyId);
    await first.client.dispose();
    await subscriptionsOpen(() => t.app.pubSub.stats(), 3);
    const more = [0, 1].map(() => subscribe(second.client, SCORES));
    await subscriptionsOpen(() => t.app.pubSub.stats(), 5);
    expect(await overWs(second.client, SCORES)).toEqual({ errors: [refused] });
    for (const s of [third, ...others, ...more]) s.dispose();
  });
});

describe('revocation notices on the NOTIFY channel', () => {
  it('are told apart from subscription events; anything malformed is left out, never thrown', () => {
    const notice = { topic: AccessTopic.ApiKeyRevoked, companyId: 'c', apiKeyId: 'k' };
    expect(decodeNotification(JSON.stringify([notice]))).toEqual({ events: [], revoked: [notice] });
    for (const payload of [
      '',
      'null',
      '{"topic":"API_KEY_REVOKED","companyId":"c","apiKeyId":"k"}',
      '[{"topic":"API_KEY_REVOKED","companyId":"c"}]',
      '[{"topic":"API_KEY_REVOKED","companyId":"c","apiKeyId":7}]',
      '[{"topic":"API_KEY_REVOKED","companyId":null,"apiKeyId":"k"}]',
      '[null, 1, "x", []]',
      '[{"topic":"API_KEY_REVOKED","companyId":"c","leadId":"l"}]',
    ]) {
      expect(decodeNotification(payload)).toEqual({ events: [], revoked: [] });
    }
  });
});
