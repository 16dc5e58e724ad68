import { ReferenceKind, type EntityClass } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Read-only entities made straight from rows as `pg` returns them (scalars, Dates, parsed JSON), without the ORM's
 * hydration, change tracking or identity map: for hot reads whose result only goes out (the API's `viewer`, lead
 * pages), where hydrating cost more than the rest of the request. Each is frozen, its JSON values too: it is not
 * managed, so a change to it would be lost, and a cached one is shared by every request. It is a plain object with the
 * entity's scalar properties (not an instance of its class); relations are left out (the result is for fields, not for
 * loading more). A service that writes loads its own managed entity.
 */
export type Detached<T> = Readonly<T>;

/** What `detachedReader` maps: each scalar property from its one column, and how its value is read. */
type Mapping = ReadonlyArray<readonly [property: string, column: string, read: (value: unknown) => unknown]>;

const mappings = new WeakMap<EntityClass<object>, Mapping>();

/** A mapper from rows of `entity`'s table (its columns by name, as `columnsOf` selects them) to detached entities. */
export function detachedReader<T extends object>(em: EntityManager, entity: EntityClass<T>): (row: Readonly<Record<string, unknown>>) => Detached<T> {
  let mapping = mappings.get(entity);
  if (!mapping) {
    const platform = em.getPlatform();
    // The ORM's connection returns timestamps as PostgreSQL's text (its type parsers), and parses them itself.
    const date = (value: unknown) => (typeof value === 'string' ? platform.parseDate(value) : value);
    const props = em.getMetadata(entity).comparableProps.filter((prop) => prop.kind === ReferenceKind.SCALAR && prop.fieldNames.length === 1);
    mapping = props.map((prop) => [prop.name, prop.fieldNames[0]!, prop.runtimeType === 'Date' ? date : (value: unknown) => value] as const);
    mappings.set(entity, mapping);
  }
  const columns = mapping;
  return (row) => {
    // A plain object: the entity's prototype has the ORM's accessors, which would make it a managed entity.
    const detached: Record<string, unknown> = {};
    for (const [property, column, read] of columns) detached[property] = frozen(read(row[column]));
    return Object.freeze(detached) as Detached<T>;
  };
}

/** A scalar or Date as it is; a JSON value as a frozen copy, so the row it came from stays the caller's to change. */
function frozen(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return deepFreeze(JSON.parse(JSON.stringify(value)));
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}
