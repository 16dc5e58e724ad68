import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../src/db/orm.js';
import { prepared, query, sql } from '../src/db/sql.js';
import { createTestDatabase } from './helpers/database.js';

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
