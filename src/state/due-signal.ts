import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

export const EMAILS_DUE_CHANNEL = 'emails_due';

/**
 * Tells dispatchers that an email is due now (a new lead's welcome email, a resume, a retry). NOTIFY is
 * transactional: it fires only if the caller's transaction commits, and reaches every worker process.
 */
export async function signalEmailsDue(em: EntityManager): Promise<void> {
  await query(em, sql`select pg_notify(${EMAILS_DUE_CHANNEL}, '')`);
}
