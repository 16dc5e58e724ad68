import type { EntityClass, EntityName, FilterQuery, QueryOrderMap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { InvalidInputError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { InputErrorReason } from '../core/error-reasons.js';
import { detachedReader, type Detached } from './rows.js';
import { columnsOf, prepared, query, sql } from './sql.js';

/** Keyset pagination, the one way every connection pages. Cursors are opaque: base64url JSON of the row's sort key. */

/** Largest page a connection serves (also what query cost assumes for a page of unknown size). */
export const MAX_PAGE_SIZE = 100;

/** What a caller asks for: a page size and the cursor after which it starts. */
export interface PageRequest {
  first: number;
  after?: string | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface ConnectionResult<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  /** A getter, so the count query only runs when `totalCount` is selected. */
  readonly totalCount: Promise<number>;
}

/**
 * The keyset condition "(field, id) comes after (value, id)" in the page's direction. The plain bound on `field`
 * repeats what the `$or` implies, because PostgreSQL cannot start an index scan from an `$or`: without it a
 * page read every row before the cursor (164 ms at row 20,000 of a 400,000-lead company), with it the scan
 * starts at the cursor.
 */
function keysetAfter(field: string, direction: 'asc' | 'desc', value: unknown, id: unknown) {
  const [after, from] = direction === 'asc' ? ['$gt', '$gte'] : ['$lt', '$lte'];
  return { [field]: { [from]: value }, $or: [{ [field]: { [after]: value } }, { [field]: value, id: { [after]: id } }] };
}

function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** What each value of a connection's sort key is: checked on decoding, so a forged cursor never reaches SQL. */
type KeyType = 'date' | 'number' | 'uuid';

const KEY_CHECKS: Record<KeyType, (value: unknown) => boolean> = {
  date: (v) => typeof v === 'string' && isCursorDate(v),
  // Sort keys that are numbers are integer columns (scores): a fraction or a huge number is no row's key.
  number: (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1,
  uuid: (v) => typeof v === 'string' && isUuid(v),
};

// The years PostgreSQL reads as JavaScript writes them: it has no year 0, and JavaScript writes years past 9999
// as "+010000-…", which PostgreSQL does not read.
const EARLIEST_DATE = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_DATE = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * A date exactly as this module encodes it (canonical ISO, so "2026-02-30" never reaches PostgreSQL, which
 * refuses what JavaScript rolls over) and inside the years above.
 */
function isCursorDate(value: string): boolean {
  const time = Date.parse(value);
  return !Number.isNaN(time) && time >= EARLIEST_DATE && time <= LATEST_DATE && new Date(time).toISOString() === value;
}

/** Decodes a cursor of the given key types, or throws BAD_USER_INPUT naming the `after` argument. */
function decodeCursor(cursor: string, keys: readonly KeyType[]): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === keys.length && keys.every((type, i) => KEY_CHECKS[type](values[i]))) {
      return values;
    }
  } catch {
    // fall through
  }
  throw InvalidInputError.field('after', 'is not a cursor from this connection (or from this order)', InputErrorReason.INVALID_CURSOR);
}

/**
 * One page from a keyset query: `fetch` gets `first + 1` rows after the decoded cursor (the extra row tells
 * whether a next page exists), `keyOf` gives a row's sort key.
 */
async function paginate<T>(options: {
  args: PageRequest;
  keys: readonly KeyType[];
  fetch: (limit: number, after: unknown[] | null) => Promise<T[]>;
  keyOf: (node: T) => unknown[];
  count: () => Promise<number>;
}): Promise<ConnectionResult<T>> {
  const { args } = options;
  const after = args.after ? decodeCursor(args.after, options.keys) : null;
  const rows = await options.fetch(args.first + 1, after);
  const page = rows.slice(0, args.first);
  const edges = page.map((node) => new Edge(node, options.keyOf));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > args.first,
      hasPreviousPage: after !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    get totalCount() {
      return options.count();
    },
  };
}

/** An edge whose cursor is encoded when it is asked for (most pages ask only for `pageInfo.endCursor`). */
class Edge<T> {
  #cursor: string | undefined;
  constructor(
    readonly node: T,
    private readonly keyOf: (node: T) => unknown[],
  ) {}

  get cursor(): string {
    return (this.#cursor ??= encodeCursor(this.keyOf(this.node)));
  }
}

/** A connection's order: one sort field, ties broken by `id` in the same direction (the partial indexes' order). */
export interface KeysetOrder<T> {
  readonly field: keyof T & string;
  readonly direction: 'asc' | 'desc';
  /** What the field holds; the cursor carries a date as its ISO string. */
  readonly key: Exclude<KeyType, 'uuid'>;
}

/**
 * One page of `entity` rows matching `where`, in `order`: the one way a connection reads its rows. The page and
 * `totalCount` share `where`; the page adds the keyset condition after the cursor's row.
 */
export function pageOf<T extends { id: string }>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  order: KeysetOrder<T>,
  args: PageRequest,
): Promise<ConnectionResult<T>> {
  const { field, direction, key } = order;
  const orderBy = [{ [field]: direction }, { id: direction }] as QueryOrderMap<T>[];
  return paginate({
    args,
    keys: [key, 'uuid'],
    fetch: (limit, after) => {
      if (!after) return em.find(entity, where, { orderBy, limit });
      const value = key === 'date' ? new Date(after[0] as string) : after[0];
      return em.find(entity, { $and: [where, keysetAfter(field, direction, value, after[1])] } as FilterQuery<T>, { orderBy, limit });
    },
    keyOf: (node) => [key === 'date' ? (node[field] as Date).toISOString() : node[field], node.id],
    count: () => em.count(entity, where),
  });
}

/**
 * `pageOf` for hot connections whose nodes only go out (no relation is loaded from them): the page by one prepared
 * statement, as read-only entities made straight from its rows (src/db/rows.ts), and `totalCount` by another.
 * Hydrating the page cost more than the rest of the request (issue #19). `where` is the connection's condition in SQL
 * on `entity`'s table; its text must not vary with the data (values are parameters), as for every prepared statement.
 * With `countWithPage` (the caller selects `totalCount`), the page's statement counts too: one round trip, not two.
 */
export function pageOfRows<T extends { id: string }>(
  em: EntityManager,
  entity: EntityClass<T>,
  where: RawBuilder<unknown>,
  order: KeysetOrder<T>,
  args: PageRequest & { countWithPage: boolean },
): Promise<ConnectionResult<Detached<T>>> {
  const { field, direction, key } = order;
  const meta = em.getMetadata(entity);
  const table = sql.table(meta.tableName);
  const column = sql.ref(meta.properties[field as keyof typeof meta.properties].fieldNames[0]!);
  const [after, from] = direction === 'asc' ? [sql.raw('>'), sql.raw('>=')] : [sql.raw('<'), sql.raw('<=')];
  const read = detachedReader(em, entity);
  const counting = sql<{ count: number }>`select count(*)::int as count from ${table} where ${where}`;
  let counted: number | undefined;
  return paginate({
    args,
    keys: [key, 'uuid'],
    fetch: async (limit, cursor) => {
      // As in keysetAfter: the plain bound on the column lets the index scan start at the cursor.
      const value = cursor && (key === 'date' ? new Date(cursor[0] as string) : cursor[0]);
      const keyset = cursor
        ? sql`and ${column} ${from} ${value} and (${column} ${after} ${value} or (${column} = ${value} and id ${after} ${cursor[1]}))`
        : sql``;
      // An uncorrelated subquery: PostgreSQL runs it once for the statement (an InitPlan), not per row.
      const count = args.countWithPage ? sql`, (${counting}) as total_count` : sql``;
      const rows = await query<Record<string, unknown> & { total_count?: number }>(
        em,
        prepared(sql`select ${columnsOf(em, entity)} ${count} from ${table} where ${where} ${keyset}
                     order by ${column} ${sql.raw(direction)}, id ${sql.raw(direction)} limit ${limit}`),
      );
      counted = rows[0]?.total_count;
      return rows.map(read);
    },
    keyOf: (node) => [key === 'date' ? (node[field] as Date).toISOString() : node[field], node.id],
    // An empty page (past the last row) carried no count.
    count: async () => counted ?? (await query(em, prepared(counting)))[0]!.count,
  });
}
