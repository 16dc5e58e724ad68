import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

/**
 * Who must never be mailed: enrolling checks it, so it lives here, below the suppression feature that writes the
 * list (suppression/) and the intake that reads it in its own statement (leads/).
 */

/** The addresses among `emails` that the company must never mail. */
export async function suppressedAmong(em: EntityManager, companyId: string, emails: string[]): Promise<Set<string>> {
  if (emails.length === 0) return new Set();
  const rows = await query<{ email: string }>(em, suppressedIn(companyId, emails));
  return new Set(rows.map((row) => row.email));
}

/** The suppressed addresses among `emails`, as a subquery. */
export function suppressedIn(companyId: string, emails: string[]) {
  return sql<{ email: string }>`select email from suppression where company_id = ${companyId}::uuid and email = any(${emails}::text[])`;
}
