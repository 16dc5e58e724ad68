import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { query, sql } from '../../db/sql.js';
import { DeliverabilityState } from '../../model/sequence.enums.js';

/**
 * For the claim: true when the company `column` names may send, i.e. the guard has not paused it. Probes
 * `company_sending_paused` (the paused companies, kept from the company row by a trigger; usually empty), never the
 * company table. A paused company's emails stay PENDING, untouched, and wait for the resume.
 */
export function companyMaySend(column: string): RawBuilder<unknown> {
  return sql`not exists (select 1 from company_sending_paused pc where pc.company_id = ${sql.ref(column)})`;
}

/** When and why the guard paused the company's sending; null when it sends. */
export async function companyPause(em: EntityManager, companyId: string): Promise<{ pausedAt: Date; reason: string | null } | null> {
  const [row] = await query<{ paused_at: Date | string; reason: string | null }>(
    em,
    sql`select sending_paused_at as paused_at, deliverability_reason as reason from company
        where id = ${companyId}::uuid and deliverability_state = ${sql.lit(DeliverabilityState.PAUSED)}`,
  );
  // Timestamps arrive as PostgreSQL's text from raw SQL.
  return row ? { pausedAt: new Date(row.paused_at), reason: row.reason } : null;
}
