import { InvalidInputError } from '../core/errors.js';

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
export function keysetAfter(field: string, direction: 'asc' | 'desc', value: unknown, id: unknown) {
  const [after, from] = direction === 'asc' ? ['$gt', '$gte'] : ['$lt', '$lte'];
  return { [field]: { [from]: value }, $or: [{ [field]: { [after]: value } }, { [field]: value, id: { [after]: id } }] };
}

export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** What each value of a connection's sort key is: checked on decoding, so a forged cursor never reaches SQL. */
export type KeyType = 'date' | 'number' | 'uuid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_CHECKS: Record<KeyType, (value: unknown) => boolean> = {
  date: (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  uuid: (v) => typeof v === 'string' && UUID.test(v),
};

/** Decodes a cursor of the given key types, or throws BAD_USER_INPUT naming the `after` argument. */
export function decodeCursor(cursor: string, keys: readonly KeyType[]): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === keys.length && keys.every((type, i) => KEY_CHECKS[type](values[i]))) {
      return values;
    }
  } catch {
    // fall through
  }
  throw InvalidInputError.field('after', 'is not a cursor from this connection (or from this order)', 'INVALID_CURSOR');
}

/**
 * One page from a keyset query: `fetch` gets `first + 1` rows after the decoded cursor (the extra row tells
 * whether a next page exists), `keyOf` gives a row's sort key.
 */
export async function paginate<T>(options: {
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
  const edges = page.map((node) => ({ cursor: encodeCursor(options.keyOf(node)), node }));
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
