import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCache, type KeyLookup, type KnownKey } from '../src/auth/key-cache.js';
import { AuthErrorReason } from '../src/core/error-reasons.js';
import { LISTENER_APPLICATION_NAME } from '../src/db/pg-listener.js';
import { AccessTopic, CHANNEL } from '../src/state/events.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, graphqlClient, ok, type GraphQLClient } from './helpers/graphql.js';

/*
 * The API key cache (src/auth/key-cache.ts) on real processes: two API processes on one database (this one, and one
 * of its own, test/helpers/api-process.ts), a key revoked or a company changed through the API or by hand in SQL,
 * and the LISTEN connection cut while a revocation commits. Every case starts from a key both processes remember.
 */

const VIEWER = '{ viewer { id name scoringRules { openPoints } } }';
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }';

describe('API keys remembered by every API process', () => {
  let a: TestApp;
  let b: { url: string; process: ChildProcess };
  let c: TestApp;
  let db: pg.Client;
  let notices: pg.Client;
  const heard: Array<{ topic: AccessTopic; apiKeyId?: string; companyId?: string }> = [];

  const onB = (apiKey: string): GraphQLClient => graphqlClient(b.url, `Bearer ${apiKey}`);
  /** Every process hears a notice when PostgreSQL delivers it at commit; so does this test. */
  const noticeHeard = (topic: AccessTopic, match: (notice: { apiKeyId?: string; companyId?: string }) => boolean) =>
    expect.poll(() => heard.some((notice) => notice.topic === topic && match(notice)), { timeout: 5_000 }).toBe(true);
  /** Both processes answer with the key, so both remember it. */
  const warm = async (tenant: Tenant) => {
    expect(ok(await a.as(tenant.apiKey)(VIEWER)).viewer.id).toBe(tenant.companyId);
    expect(ok(await onB(tenant.apiKey)(VIEWER)).viewer.id).toBe(tenant.companyId);
  };

  beforeAll(async () => {
    a = await startTestApp();
    const url = a.app.databaseUrl;
    // A third process whose memory lasts one second, for the TTL.
    c = await startTestApp({ DATABASE_URL: url, MIGRATE_ON_BOOT: 'false', AUTH_CACHE_TTL_SECONDS: '1' });
    b = await startApiProcess(url);
    db = new pg.Client({ connectionString: url });
    await db.connect();
    notices = new pg.Client({ connectionString: url });
    await notices.connect();
    notices.on('notification', (message) => {
      if (message.channel === CHANNEL) heard.push(...(JSON.parse(message.payload ?? '[]') as typeof heard));
    });
    await notices.query(`LISTEN ${CHANNEL}`);
  }, 60_000);
  afterAll(async () => {
    b?.process.kill('SIGKILL');
    await notices?.end();
    await db?.end();
    await c?.dispose();
    await a?.dispose();
  });

  it('a remembered key costs no database round trip: with its tables locked it still answers, while a new key waits', async () => {
    const tenant = await createTenant(a, { name: 'Locked Inc' });
    await warm(tenant);
    const { createApiKey } = ok(await a.operator(`mutation($c: ID!) { createApiKey(companyId: $c, name: "fresh") { secret } }`, { c: tenant.companyId }));
    const locker = new pg.Client({ connectionString: a.app.databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table api_key, company in access exclusive mode');
      const remembered = await within(3_000, a.as(tenant.apiKey)(VIEWER));
      expect(ok(remembered).viewer).toEqual({ id: tenant.companyId, name: 'Locked Inc', scoringRules: { openPoints: 5 } });
      const fresh = a.as(createApiKey.secret)(VIEWER);
      expect(await within(500, fresh).catch(() => 'still waiting')).toBe('still waiting');
      await locker.query('rollback');
      expect(ok(await fresh).viewer.id).toBe(tenant.companyId);
    } finally {
      await locker.end();
    }
  });

  it('a key revoked through the API fails on the next request: on the process that revoked it, and on another', async () => {
    const tenant = await createTenant(a);
    await warm(tenant);
    ok(await a.operator(REVOKE, { id: tenant.apiKeyId }));
    // Here, before its NOTIFY is even heard: revokeApiKey forgets the key before it answers.
    expect(errorOf(await a.as(tenant.apiKey)(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
    await noticeHeard(AccessTopic.ApiKeyRevoked, (notice) => notice.apiKeyId === tenant.apiKeyId);
    expect(errorOf(await onB(tenant.apiKey)(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
  });

  it('a key revoked or deleted by hand in SQL fails on the next request on both processes', async () => {
    const revoked = await createTenant(a);
    const deleted = await createTenant(a);
    await warm(revoked);
    await warm(deleted);
    await db.query('update api_key set revoked_at = now() where id = $1', [revoked.apiKeyId]);
    await db.query('delete from api_key where id = $1', [deleted.apiKeyId]);
    await noticeHeard(AccessTopic.ApiKeyRevoked, (notice) => notice.apiKeyId === deleted.apiKeyId);
    for (const client of [a.as(revoked.apiKey), onB(revoked.apiKey)]) {
      expect(errorOf(await client(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
    }
    for (const client of [a.as(deleted.apiKey), onB(deleted.apiKey)]) {
      expect(errorOf(await client(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_UNKNOWN' });
    }
  });

  it("a company's change, through the API or in SQL, is seen by the next request on both processes", async () => {
    const tenant = await createTenant(a, { name: 'Before' });
    await warm(tenant);
    const rules = 'mutation { updateScoringRules(input: { openPoints: 7, clickPoints: 10, maxScore: 100 }) { id } }';
    ok(await a.as(tenant.apiKey)(rules));
    await noticeHeard(AccessTopic.CompanyChanged, (notice) => notice.companyId === tenant.companyId);
    for (const client of [a.as(tenant.apiKey), onB(tenant.apiKey)]) expect(ok(await client(VIEWER)).viewer.scoringRules.openPoints).toBe(7);

    heard.length = 0;
    await db.query(`update company set name = 'After' where id = $1`, [tenant.companyId]);
    await noticeHeard(AccessTopic.CompanyChanged, (notice) => notice.companyId === tenant.companyId);
    for (const client of [a.as(tenant.apiKey), onB(tenant.apiKey)]) expect(ok(await client(VIEWER)).viewer.name).toBe('After');
  });

  it('a key moved to another company in SQL answers for its new company on the next request', async () => {
    const from = await createTenant(a, { name: 'Old owner' });
    const to = await createTenant(a, { name: 'New owner' });
    await warm(from);
    heard.length = 0;
    await db.query('update api_key set company_id = $1 where id = $2', [to.companyId, from.apiKeyId]);
    await noticeHeard(AccessTopic.CompanyChanged, (notice) => notice.companyId === from.companyId);
    for (const client of [a.as(from.apiKey), onB(from.apiKey)]) expect(ok(await client(VIEWER)).viewer).toMatchObject({ id: to.companyId, name: 'New owner' });
  });

  it('a revocation missed while the LISTEN connection was down: nothing is answered from memory meanwhile, and all is forgotten on reconnecting', async () => {
    const tenant = await createTenant(a);
    await warm(tenant);
    const database = new URL(a.app.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: a.app.databaseUrl.replace(`/${database}`, '/postgres') });
    await admin.connect();
    try {
      // The LISTEN connections are cut and cannot come back; the pools' open connections (and ours) stay.
      await admin.query(`alter database ${database} with allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = $2', [
        database,
        LISTENER_APPLICATION_NAME,
      ]);
      await expect.poll(() => a.app.pubSub.listening, { timeout: 5_000 }).toBe(false);
      await db.query('update api_key set revoked_at = now() where id = $1', [tenant.apiKeyId]); // its NOTIFY reaches no process
      // Meanwhile every request asks the database.
      expect(errorOf(await a.as(tenant.apiKey)(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await admin.query(`alter database ${database} with allow_connections true`);
      await admin.end();
    }
    await expect.poll(() => a.app.pubSub.listening, { timeout: 10_000 }).toBe(true);
    // Back (the TTL is 30 s away): what was remembered before the outage is gone.
    expect(errorOf(await a.as(tenant.apiKey)(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
    expect(errorOf(await onB(tenant.apiKey)(VIEWER)).extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
  }, 30_000);

  it('what a lost notice would leave is forgotten after the TTL (AUTH_CACHE_TTL_SECONDS)', async () => {
    const tenant = await createTenant(a, { name: 'Remembered' });
    const onC = c.as(tenant.apiKey);
    expect(ok(await onC(VIEWER)).viewer.name).toBe('Remembered');
    // A change no notice announces (its trigger off), as if the notice were lost without the connection noticing.
    await db.query('begin');
    await db.query('alter table company disable trigger company_changed_notify');
    await db.query(`update company set name = 'Renamed' where id = $1`, [tenant.companyId]);
    await db.query('alter table company enable trigger company_changed_notify');
    await db.query('commit');
    expect(ok(await onC(VIEWER)).viewer.name).toBe('Remembered'); // answered from memory: no database read
    await expect.poll(async () => ok(await onC(VIEWER)).viewer.name, { timeout: 5_000, interval: 200 }).toBe('Renamed');
  });
});

/** Starts test/helpers/api-process.ts on the database; resolves with its GraphQL URL once it serves. */
async function startApiProcess(databaseUrl: string): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/api-process.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, MUTATION_RATE_LIMIT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`the API process exited (${code}) before serving`)));
  });
  return { url, process: child };
}

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(
    () => clearTimeout(timer),
  );
}

describe('the key cache itself (src/auth/key-cache.ts)', () => {
  const key = (n: number): KnownKey => {
    const company = { id: `company-${n % 2}` };
    return { apiKeyId: `key-${n}`, companyId: company.id, company, view: Object.freeze(company) as unknown as KnownKey['view'] };
  };
  /** A cache whose reads are counted, on a clock the test moves. */
  const setup = (options: { maxKeys?: number; trusted?: () => boolean } = {}) => {
    let now = 0;
    const reads: string[] = [];
    const cache = new ApiKeyCache({ maxKeys: options.maxKeys ?? 10, ttlMs: 30_000, trusted: options.trusted ?? (() => true), now: () => now });
    const lookup = (hash: string, found: KeyLookup) =>
      cache.lookup(hash, () => {
        reads.push(hash);
        return Promise.resolve(found);
      });
    return { cache, reads, lookup, advance: (ms: number) => (now += ms) };
  };

  it('answers a known key from memory until its TTL, then reads it again', async () => {
    const { lookup, reads, advance } = setup();
    expect(await lookup('h1', key(1))).toEqual(key(1));
    expect(await lookup('h1', key(1))).toEqual(key(1));
    expect(reads).toEqual(['h1']);
    advance(30_001);
    await lookup('h1', key(1));
    expect(reads).toEqual(['h1', 'h1']);
  });

  it('random bearer tokens (refusals) never push out a live key; live keys are bounded, least recently used out first', async () => {
    const { lookup, reads, cache } = setup({ maxKeys: 2 });
    await lookup('live-1', key(1));
    await lookup('live-2', key(2));
    for (let i = 0; i < 5_000; i++) await lookup(`random-${i}`, AuthErrorReason.API_KEY_UNKNOWN);
    expect(cache.size).toEqual({ live: 2, refused: 1_000 });
    reads.length = 0;
    await lookup('live-1', key(1));
    await lookup('live-2', key(2));
    expect(reads).toEqual([]);
    await lookup('live-1', key(1)); // live-2 is now the least recently used
    await lookup('live-3', key(3));
    await lookup('live-1', key(1));
    await lookup('live-2', key(2));
    expect(reads).toEqual(['live-3', 'live-2']);
  });

  it('a read in flight when a key is forgotten is not remembered, and later lookups do not join it', async () => {
    const { cache, reads } = setup();
    let finish: (found: KeyLookup) => void = () => {};
    const slow = cache.lookup('h1', () => new Promise((resolve) => (finish = resolve)));
    const joined = cache.lookup('h1', () => Promise.reject(new Error('a second read while one is in flight')));
    cache.forgetKey('key-1');
    const after = cache.lookup('h1', () => {
      reads.push('after');
      return Promise.resolve(AuthErrorReason.API_KEY_REVOKED);
    });
    finish(key(1)); // read before the revocation
    expect(await slow).toEqual(key(1));
    expect(await joined).toEqual(key(1));
    expect(await after).toBe(AuthErrorReason.API_KEY_REVOKED);
    expect(await cache.lookup('h1', () => Promise.reject(new Error('should be remembered')))).toBe(AuthErrorReason.API_KEY_REVOKED);
    expect(reads).toEqual(['after']);
  });

  it("forgets one key, a company's keys (and every refusal), or everything; while untrusted it reads every time and keeps nothing", async () => {
    let trusted = true;
    const { cache, lookup, reads } = setup({ trusted: () => trusted });
    for (const n of [1, 2, 3]) await lookup(`h${n}`, key(n));
    await lookup('bad', AuthErrorReason.API_KEY_UNKNOWN);
    cache.forgetKey('key-2');
    expect(cache.size).toEqual({ live: 2, refused: 1 });
    cache.forgetCompany('company-1'); // keys 1 and 3
    expect(cache.size).toEqual({ live: 0, refused: 0 });
    await lookup('h2', key(2));
    cache.clear();
    expect(cache.size).toEqual({ live: 0, refused: 0 });
    trusted = false;
    reads.length = 0;
    await lookup('h2', key(2));
    await lookup('h2', key(2));
    expect(reads).toEqual(['h2', 'h2']);
    expect(cache.size).toEqual({ live: 0, refused: 0 });
  });

  it('maxKeys 0 (AUTH_CACHE_MAX_KEYS=0) remembers nothing', async () => {
    const { lookup, reads } = setup({ maxKeys: 0 });
    await lookup('h1', key(1));
    await lookup('h1', key(1));
    expect(reads).toEqual(['h1', 'h1']);
  });
});
