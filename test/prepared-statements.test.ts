import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../src/db/orm.js';
import { PREPARED_MARK, PreparingClient } from '../src/db/prepared-statements.js';
import { prepared, query, sql } from '../src/db/sql.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { createTenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';

describe('prepared statements', () => {
  let orm: MikroORM;
  beforeAll(async () => {
    orm = await openOrm(await createTestDatabase());
  });
  afterAll(() => orm?.close(true));

  /** Runs `work` on one connection (a transaction) and lists what that connection has prepared. */
  const onOneConnection = (work: (em: MikroORM['em']) => Promise<void>) =>
    orm.em.fork().transactional(async (tx) => {
      await work(tx);
      return (await query<{ statement: string }>(tx, sql`select statement from pg_prepared_statements where name like 'ln\_%' order by prepare_time`)).map(
        (r) => r.statement,
      );
    });

  it('a marked statement is prepared once per connection and answers with each call’s values; others are not', async () => {
    const statements = await onOneConnection(async (tx) => {
      for (const n of [1, 2, 3]) expect(await query(tx, prepared(sql<{ x: number }>`select ${n}::int * 10 as x`))).toEqual([{ x: n * 10 }]);
      await query(tx, sql`select ${4}::int as unmarked`);
    });
    expect(statements).toEqual([expect.stringMatching(/^\/\* prepared \*\/ select \$1::int \* 10 as x$/)]);
  });

  it('past 64 distinct statements a connection runs new ones unprepared, still correctly', async () => {
    const statements = await onOneConnection(async (tx) => {
      for (let i = 0; i < 80; i++) expect(await query(tx, prepared(sql<{ x: number }>`select ${i}::int + ${sql.lit(i)} as x`))).toEqual([{ x: 2 * i }]);
    });
    expect(statements).toHaveLength(64);
  });
});

describe('a prepared statement whose table changed or that vanished from the session', () => {
  let client: PreparingClient;
  const select = `${PREPARED_MARK} select label from t where id = $1`;
  const preparedNames = async () => (await client.query<{ name: string }>('select name from pg_prepared_statements order by name')).rows.map((r) => r.name);
  beforeAll(async () => {
    client = new PreparingClient(await createTestDatabase());
    await client.connect();
    await client.query(`create table t (id int primary key, label varchar(10)); insert into t values (1, 'a')`);
  });
  afterAll(() => client?.end());

  it('is prepared anew and run again once when a column it returns changed type; the stale plan is deallocated', async () => {
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    await client.query('alter table t alter column label type varchar(20)');
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    expect(await preparedNames()).toHaveLength(1);
  });

  it('inside a transaction fails once (the transaction is aborted, so it cannot run again) and works in the next', async () => {
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    await client.query('alter table t alter column label type varchar(30)');
    await client.query('begin');
    await expect(client.query(select, [1])).rejects.toThrow('cached plan must not change result type');
    await client.query('rollback');
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    expect(await preparedNames()).toHaveLength(1);
  });

  it('is prepared again after the session dropped it (DEALLOCATE ALL, DISCARD ALL)', async () => {
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    await client.query('deallocate all');
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    await client.query('discard all');
    expect((await client.query(select, [1])).rows).toEqual([{ label: 'a' }]);
    expect(await preparedNames()).toHaveLength(1);
  });

  it('other errors are not retried: a statement that fails while executing runs once', async () => {
    await client.query('create sequence runs');
    // nextval is not undone by the failure: how far the sequence went counts the executions.
    const failing = `${PREPARED_MARK} select nextval('runs') as n, 1 / (select count(*) from t where id = $1)::int as x`;
    await expect(client.query(failing, [42])).rejects.toThrow('division by zero');
    expect((await client.query(`select last_value::int as v, is_called from runs`)).rows).toEqual([{ v: 1, is_called: true }]);
  });
});

describe('a migration that changes a table under prepared statements', () => {
  let t: TestApp;
  let admin: pg.Client;
  beforeAll(async () => {
    t = await startTestApp();
    admin = new pg.Client({ connectionString: t.app.databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await t?.dispose();
  });

  /** The app's pooled connections (LISTEN connections excluded), by backend pid. */
  const poolBackends = async () =>
    (
      await admin.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and application_name not like 'lead-nurture-%' order by pid`,
      )
    ).rows.map((r) => r.pid);

  it('API-key authentication keeps working on the same pooled connections after `company` gains a column or changes a type', async () => {
    const tenant = await createTenant(t);
    const viewer = t.as(tenant.apiKey);
    // Ten at once, so that (usually) several pooled connections prepare the authentication statement.
    const burst = () => Promise.all(Array.from({ length: 10 }, () => viewer<{ viewer: { id: string } }>(`{ viewer { id name } }`)));
    for (const response of await burst()) expect(ok(response).viewer.id).toBe(tenant.companyId);
    const before = await poolBackends();

    await admin.query(`alter table company add column added_by_a_later_migration text`);
    for (const response of await burst()) expect(ok(response).viewer.id).toBe(tenant.companyId);

    await admin.query(`alter table company alter column name type varchar(300)`);
    for (const response of await burst()) expect(ok(response).viewer.id).toBe(tenant.companyId);
    expect(await poolBackends()).toEqual(expect.arrayContaining(before));
  });

  it('creating leads keeps working after `lead` gains a column', async () => {
    const tenant = await createTenant(t);
    const client = t.as(tenant.apiKey);
    let n = 0;
    const burst = () =>
      Promise.all(
        Array.from({ length: 10 }, () =>
          client<{ createLead: { id: string } }>(`mutation($input: LeadInput!) { createLead(input: $input) { id email } }`, {
            input: { email: `lead${(n += 1)}@example.com` },
          }),
        ),
      );
    for (const response of await burst()) expect(ok(response).createLead.id).toBeTruthy();
    await admin.query(`alter table lead add column added_by_a_later_migration text`);
    for (const response of await burst()) expect(ok(response).createLead.id).toBeTruthy();
  });
});
