import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

/*
 * A company's send outcomes over a window of time, for the deliverability guard. `db` is an EntityManager (a request's
 * fork, or a transaction's): the statement runs inside its transaction when it has one, like every `query` of src/db.
 *
 * Read from `company_send_stats` (see the migration Migration20261202150000_email_stats): one row per company, 15-minute
 * UTC bucket and writer shard, kept exact in the same transaction as the raw rows, so a 30-day window is at most
 * ~2,900 rows once folded, whatever the company's volume. Counting is by cohort of send time: an email's bounce or
 * complaint counts in the bucket of its `sent_at`, so bounced ⊆ sent within any window.
 */

/** Counts of the emails sent in a window, and of their outcomes so far. */
export interface SendWindowCounts {
  sent: number;
  delivered: number;
  bouncedPermanent: number;
  bouncedTransient: number;
  complained: number;
}

/** Length of a counting bucket: every UTC offset is a multiple of it. */
export const BUCKET_MS = 15 * 60 * 1000;

/** The start of the bucket holding `at` (rounded down to 15 minutes UTC). */
export function bucketFloor(at: Date): Date {
  return new Date(Math.floor(at.getTime() / BUCKET_MS) * BUCKET_MS);
}

/** `at` rounded up to the next bucket boundary (itself when it is one). */
export function bucketCeil(at: Date): Date {
  return new Date(Math.ceil(at.getTime() / BUCKET_MS) * BUCKET_MS);
}

/**
 * The counts of the company's emails sent in [since, until), both ends rounded UP to a 15-minute boundary: `until` =
 * now then includes the emails of the current quarter hour, and the window keeps its length. One index range scan.
 */
export async function sendWindowCounts(db: EntityManager, companyId: string, since: Date, until: Date): Promise<SendWindowCounts> {
  const [row] = await query<{ sent: number; delivered: number; bounced_permanent: number; bounced_transient: number; complained: number }>(
    db,
    sql`select coalesce(sum(sent), 0)::int as sent, coalesce(sum(delivered), 0)::int as delivered,
               coalesce(sum(bounced_permanent), 0)::int as bounced_permanent, coalesce(sum(bounced_transient), 0)::int as bounced_transient,
               coalesce(sum(complained), 0)::int as complained
        from company_send_stats
        where company_id = ${companyId}::uuid and bucket >= ${bucketCeil(since)} and bucket < ${bucketCeil(until)}`,
  );
  return {
    sent: row?.sent ?? 0,
    delivered: row?.delivered ?? 0,
    bouncedPermanent: row?.bounced_permanent ?? 0,
    bouncedTransient: row?.bounced_transient ?? 0,
    complained: row?.complained ?? 0,
  };
}
