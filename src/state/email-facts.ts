import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

/*
 * The analytics facts of an email (src/analytics counts from them): when each first happened, set once and never
 * moved. They are not statuses: a bounced email may have been clicked by a scanner first, a complaint leaves the
 * status alone. Opens and clicks are written with the engagement counts (writeEngagement in email-state.ts); replies
 * with the REPLIED move; the others here.
 */

/** A fact recorded outside engagement, and its column (a closed set: the column name never comes from input). */
export enum EmailFact {
  PERMANENT_BOUNCE = 'permanent_bounce_at',
  TRANSIENT_BOUNCE = 'transient_bounce_at',
  COMPLAINT = 'complained_at',
  UNSUBSCRIBE = 'unsubscribed_at',
}

/** Records `fact` of one email of `company_id` at `at`, unless it was recorded already (the first one stays). */
export async function recordEmailFact(em: EntityManager, email: { id: string; company_id: string }, fact: EmailFact, at: Date): Promise<void> {
  const column = sql.ref(fact);
  await query(
    em,
    sql`update sequence_email set ${column} = ${at} where id = ${email.id}::uuid and company_id = ${email.company_id}::uuid and ${column} is null`,
  );
}
