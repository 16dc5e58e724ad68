import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

/** Shard rows folded per call: one short transaction, whatever the backlog (the next run takes the rest). */
const FOLD_BATCH = 20_000;

/**
 * Folds the rollups' writer shards into shard 0 (email_stats_fold, in the migration Migration20261202150000_email_stats),
 * so a period's read sums about one row per bucket and step. Counts do not change: a fold moves them. Rows a writer's
 * open transaction holds are skipped and folded next time, so writers never wait on a fold for long and never
 * deadlock with it; concurrent folds (several workers) take turns. Returns the rows folded.
 */
export async function foldEmailStats(em: EntityManager): Promise<number> {
  let total = 0;
  for (;;) {
    const [row] = await query<{ folded: number }>(em, sql`select email_stats_fold(${FOLD_BATCH}::integer) as folded`);
    const folded = row?.folded ?? 0;
    total += folded;
    if (folded < FOLD_BATCH) return total;
  }
}
