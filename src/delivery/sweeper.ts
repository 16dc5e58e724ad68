import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import { recordActivities } from '../state/timeline.js';
import { publish, Topic } from '../state/events.js';
import { OUTCOME_UNKNOWN } from './dispatcher.js';

/**
 * Settles emails left SENDING past the claim lease (their worker died mid-batch). SES may or may not have
 * accepted them, and SES has no idempotency key, so they are never re-sent blindly: they become FAILED with an
 * "outcome unknown" reason, listed by `stuckEmails`, and an operator may `retryEmail` one on purpose.
 */
export async function sweepStuckEmails(em: EntityManager, now: Date, leaseSeconds: number): Promise<number> {
  return em.transactional(async (tx) => {
    const stuck = await query<{ id: string; company_id: string; lead_id: string; sequence_id: string; enrollment_id: string; email_number: number; claimed_by: string | null }>(
      tx,
      sql`update sequence_email
          set status = 'FAILED', updated_at = ${now},
              failure_reason = ${OUTCOME_UNKNOWN} || ': the dispatcher (' || coalesce(claimed_by, '?') || ') stopped while handing this email to SES. '
                               || 'It was not re-sent automatically; use retryEmail if it did not arrive.'
          where status = 'SENDING' and claimed_at < ${new Date(now.getTime() - leaseSeconds * 1000)}
          returning id, company_id, lead_id, sequence_id, enrollment_id, email_number, claimed_by`,
    );
    await publish(
      tx,
      stuck.map((e) => ({ topic: Topic.EmailStatusChanged, companyId: e.company_id, leadId: e.lead_id, sequenceId: e.sequence_id, enrollmentId: e.enrollment_id, emailId: e.id, status: 'FAILED', at: now.toISOString() })),
    );
    await recordActivities(
      tx,
      stuck.map((e) => ({
        companyId: e.company_id,
        leadId: e.lead_id,
        type: ActivityType.EMAIL_FAILED,
        reason: `Email ${e.email_number}: outcome unknown (its dispatcher stopped mid-send); not re-sent automatically`,
        data: { emailId: e.id },
        occurredAt: now,
      })),
    );
    return stuck.length;
  });
}
