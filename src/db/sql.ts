import type { EntityManager, EntityName } from '@mikro-orm/postgresql';
import { sql, type RawBuilder } from 'kysely';
import { PREPARED_MARK } from './prepared-statements.js';

export { sql };

/**
 * Runs hand-written SQL with real bind parameters, inside `em`'s transaction when it has one.
 * (MikroORM's own `em.execute` inlines parameters and expands arrays into lists, which set-based
 * statements cannot use.) Bulk writes pass their rows as one JSON parameter read by `jsonb_to_recordset`.
 */
export async function query<T>(em: EntityManager, statement: RawBuilder<T>): Promise<T[]> {
  const result = await statement.execute(em.getKysely());
  return result.rows;
}

/** Rows as one JSON parameter, for `jsonb_to_recordset(${json(rows)}) as t(col type, …)`. */
export function json(rows: unknown): RawBuilder<unknown> {
  return sql`${JSON.stringify(rows)}::jsonb`;
}

/**
 * Runs `statement` as a named prepared statement (see PreparingClient): for hot statements whose text is the same
 * on every call, so PostgreSQL plans them once per connection.
 */
export function prepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(PREPARED_MARK)} ${statement}`;
}

// Column lists by entity and alias, made once: hot statements build their text on every call.
const columnLists = new Map<EntityName, Map<string, RawBuilder<unknown>>>();

/**
 * The columns of `entity`'s table by name (`alias.col, …`), for prepared statements that load entities: a `*` is
 * expanded when the statement is prepared, so a migration adding a column would change its result type and
 * break it on every connection that prepared it. Derived from the entity, so the list cannot fall behind it.
 */
export function columnsOf(em: EntityManager, entity: EntityName, alias?: string): RawBuilder<unknown> {
  const key = alias ?? '';
  let byAlias = columnLists.get(entity);
  if (!byAlias) columnLists.set(entity, (byAlias = new Map<string, RawBuilder<unknown>>()));
  let columns = byAlias.get(key);
  if (!columns) {
    const names = em.getMetadata(entity).comparableProps.flatMap((prop) => prop.fieldNames);
    byAlias.set(key, (columns = sql.join(names.map((column) => sql.ref(alias === undefined ? column : `${alias}.${column}`)))));
  }
  return columns;
}
