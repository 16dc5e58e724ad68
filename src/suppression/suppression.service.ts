import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';
import { stopEnrollments } from '../state/enrollment-state.js';
import { StopReason } from '../model/sequence.enums.js';
import { ActivityType } from '../model/activity.entity.js';
import { SuppressionReason } from '../model/suppression.entity.js';
import { recordActivities } from '../state/timeline.js';

const STOP_REASON: Record<SuppressionReason, StopReason> = {
  [SuppressionReason.UNSUBSCRIBED]: StopReason.UNSUBSCRIBED,
  [SuppressionReason.HARD_BOUNCE]: StopReason.BOUNCED,
  [SuppressionReason.COMPLAINT]: StopReason.COMPLAINED,
  [SuppressionReason.MANUAL]: StopReason.MANUAL,
};

const ACTIVITY: Record<SuppressionReason, ActivityType> = {
  [SuppressionReason.UNSUBSCRIBED]: ActivityType.UNSUBSCRIBED,
  [SuppressionReason.HARD_BOUNCE]: ActivityType.EMAIL_BOUNCED,
  [SuppressionReason.COMPLAINT]: ActivityType.EMAIL_COMPLAINED,
  [SuppressionReason.MANUAL]: ActivityType.UNSUBSCRIBED,
};

/**
 * Stops mailing an address for good, for one company: records the suppression (idempotent), stops every active
 * or paused enrollment of its leads and cancels their pending emails, and writes each lead's timeline. An
 * unsubscribe also marks the leads `unsubscribedAt`. Runs in the caller's transaction.
 */
export async function suppressAddress(
  em: EntityManager,
  input: { companyId: string; email: string; reason: SuppressionReason; now: Date; detail: string },
): Promise<{ newlySuppressed: boolean; leadIds: string[]; canceledEmails: number }> {
  const { companyId, reason, now } = input;
  const email = input.email.trim().toLowerCase();
  const inserted = await query<{ id: string }>(
    em,
    sql`insert into suppression (id, company_id, email, reason, created_at) values (gen_random_uuid(), ${companyId}::uuid, ${email}, ${reason}, ${now})
        on conflict (company_id, email) do nothing returning id`,
  );
  const leads = await query<{ id: string }>(
    em,
    reason === SuppressionReason.UNSUBSCRIBED
      ? sql`update lead set unsubscribed_at = coalesce(unsubscribed_at, ${now}), updated_at = ${now}
            where company_id = ${companyId}::uuid and email = ${email} and deleted_at is null returning id`
      : sql`select id from lead where company_id = ${companyId}::uuid and email = ${email} and deleted_at is null`,
  );
  let canceledEmails = 0;
  for (const lead of leads) {
    const stopped = await stopEnrollments(em, { companyId, leadId: lead.id, reason: STOP_REASON[reason], now });
    canceledEmails += stopped.canceledEmails;
  }
  if (inserted.length > 0) {
    await recordActivities(
      em,
      leads.map((lead) => ({ companyId, leadId: lead.id, type: ACTIVITY[reason], reason: input.detail, data: { suppressed: reason }, occurredAt: now })),
    );
  }
  return { newlySuppressed: inserted.length > 0, leadIds: leads.map((l) => l.id), canceledEmails };
}

/** Lifts an unsubscribe (the lead asked to hear from the company again). Bounces and complaints stay. */
export async function liftUnsubscribe(em: EntityManager, input: { companyId: string; leadId: string; email: string; now: Date }): Promise<boolean> {
  const removed = await query<{ id: string }>(
    em,
    sql`delete from suppression where company_id = ${input.companyId}::uuid and email = ${input.email} and reason = ${SuppressionReason.UNSUBSCRIBED} returning id`,
  );
  await query(em, sql`update lead set unsubscribed_at = null, updated_at = ${input.now} where id = ${input.leadId}::uuid`);
  await recordActivities(em, [
    {
      companyId: input.companyId,
      leadId: input.leadId,
      type: ActivityType.RESUBSCRIBED,
      reason: 'Resubscribed: emails may be sent again',
      occurredAt: input.now,
    },
  ]);
  return removed.length > 0;
}
