import type { EntityManager } from '@mikro-orm/postgresql';
import type { Company } from '../model/company.entity.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { signalEmailsDue } from '../state/due-signal.js';
import { query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import { suppressedAmong } from './suppressed.js';
import { recordActivities } from '../state/timeline.js';
import { publish, Topic, type EnrollmentChangedEvent } from '../state/events.js';
import { findLead, findSequence } from '../model/lookups.js';
import { Enrollment } from '../model/enrollment.entity.js';
import { enrollLeads, scheduleTimeZone } from './enrollment.service.js';
import { applySchedule, baseForStepAt } from './reschedule.js';
import { EmailStatus, EnrollmentStatus, StopReason } from '../model/sequence.enums.js';

async function findEnrollment(em: EntityManager, companyId: string, leadId: string, sequenceId: string | null | undefined): Promise<Enrollment> {
  const lead = await findLead(em, companyId, leadId);
  const sequence = await findSequence(em, companyId, sequenceId);
  const enrollment = await em.findOne(Enrollment, { lead, sequence, company: companyId });
  if (!enrollment) throw new NotFoundError('Enrollment');
  return enrollment;
}

/**
 * Enrolls a lead by hand. Idempotent: an active enrollment is returned as it is and nothing is created.
 * A paused one must be resumed, and a finished one cannot start again (one enrollment per lead and sequence).
 */
export async function startSequence(em: EntityManager, company: Company, leadId: string, sequenceId: string | null | undefined, now: Date): Promise<Enrollment> {
  return em.transactional(async (tx) => {
    const lead = await findLead(tx, company.id, leadId);
    const sequence = await findSequence(tx, company.id, sequenceId);
    const existing = await tx.findOne(Enrollment, { lead, sequence });
    if (existing) {
      if (existing.status === EnrollmentStatus.ACTIVE) return existing;
      if (existing.status === EnrollmentStatus.PAUSED) throw new ConflictError('ENROLLMENT_PAUSED', 'The lead is paused in this sequence; use resumeSequence');
      throw new ConflictError('ENROLLMENT_FINISHED', `The lead already went through this sequence (${existing.status.toLowerCase()})`);
    }
    if (!lead.email) throw new ConflictError('LEAD_HAS_NO_EMAIL', 'The lead has no email address to send to');
    if (lead.unsubscribedAt || (await suppressedAmong(tx, company.id, [lead.email])).size > 0) {
      throw new ConflictError('LEAD_SUPPRESSED', 'The lead unsubscribed or its address is suppressed; it cannot be enrolled');
    }
    if (!sequence.active) throw new ConflictError('SEQUENCE_INACTIVE', 'The sequence is inactive; activate it first');

    await enrollLeads(tx, { companyId: company.id, companyTimeZone: company.timezone, sequence, leads: [lead], startAt: now, reason: 'started manually' });
    return tx.findOneOrFail(Enrollment, { lead, sequence });
  });
}

/** Stops an enrollment for good and cancels its pending emails. Stopping a stopped one changes nothing. */
export async function stopSequence(em: EntityManager, companyId: string, leadId: string, sequenceId: string | null | undefined, now: Date): Promise<Enrollment> {
  return em.transactional(async (tx) => {
    const enrollment = await findEnrollment(tx, companyId, leadId, sequenceId);
    if (enrollment.status === EnrollmentStatus.STOPPED) return enrollment;
    if (enrollment.status === EnrollmentStatus.COMPLETED) throw new ConflictError('ENROLLMENT_FINISHED', 'The enrollment is already completed');
    await stopEnrollments(tx, { companyId, enrollmentIds: [enrollment.id], reason: StopReason.MANUAL, now });
    await tx.refresh(enrollment);
    return enrollment;
  });
}

/** Pauses an active enrollment: nothing is sent until it is resumed. Pausing a paused one changes nothing. */
export async function pauseSequence(em: EntityManager, companyId: string, leadId: string, sequenceId: string | null | undefined, now: Date): Promise<Enrollment> {
  return em.transactional(async (tx) => {
    const enrollment = await findEnrollment(tx, companyId, leadId, sequenceId);
    if (enrollment.status === EnrollmentStatus.PAUSED) return enrollment;
    if (enrollment.status !== EnrollmentStatus.ACTIVE) throw new ConflictError('ENROLLMENT_FINISHED', `Only an active enrollment can be paused (it is ${enrollment.status})`);
    enrollment.status = EnrollmentStatus.PAUSED;
    enrollment.pausedAt = now;
    // Out of the due indexes until resumed (a SENDING one too, should SES throttling hand it back).
    await query(tx, sql`update sequence_email set paused = true where enrollment_id = ${enrollment.id}::uuid and status in ('PENDING', 'SENDING')`);
    await recordActivities(tx, [
      { companyId, leadId: enrollment.lead.id, type: ActivityType.ENROLLMENT_PAUSED, reason: 'Enrollment paused', data: { enrollmentId: enrollment.id }, occurredAt: now },
    ]);
    await tx.flush();
    await publish(tx, enrollmentChanged(companyId, enrollment, now));
    return enrollment;
  });
}

/**
 * Resumes a paused enrollment: the remaining emails are rescheduled from now, keeping their spacing (the next
 * one is due now, within the send window). Resuming an active one changes nothing.
 */
export async function resumeSequence(em: EntityManager, company: Company, leadId: string, sequenceId: string | null | undefined, now: Date): Promise<Enrollment> {
  return em.transactional(async (tx) => {
    const enrollment = await findEnrollment(tx, company.id, leadId, sequenceId);
    if (enrollment.status === EnrollmentStatus.ACTIVE) return enrollment;
    if (enrollment.status !== EnrollmentStatus.PAUSED) throw new ConflictError('ENROLLMENT_FINISHED', `Only a paused enrollment can be resumed (it is ${enrollment.status})`);
    const sequence = await enrollment.sequence.loadOrFail();
    const lead = await enrollment.lead.loadOrFail();
    const timeZone = scheduleTimeZone(sequence.sendWindow, lead.timezone, company.timezone);

    const [next] = await query<{ email_number: number }>(
      tx,
      sql`select email_number from sequence_email where enrollment_id = ${enrollment.id}::uuid and status = 'PENDING' order by email_number limit 1`,
    );
    const nextStep = next ? sequence.steps[next.email_number - 1] : undefined;
    if (nextStep) enrollment.startedAt = baseForStepAt(now, nextStep, timeZone);
    enrollment.status = EnrollmentStatus.ACTIVE;
    enrollment.pausedAt = null;
    await tx.flush();
    await query(tx, sql`update sequence_email set paused = false where enrollment_id = ${enrollment.id}::uuid and paused`);
    // Before applySchedule, which may complete it at once: subscribers see ACTIVE, then COMPLETED.
    await publish(tx, enrollmentChanged(company.id, enrollment, now));
    await applySchedule(tx, {
      companyId: company.id,
      sequence,
      enrollments: [{ enrollmentId: enrollment.id, leadId: lead.id, startedAt: enrollment.startedAt, timeZone }],
      now,
      addMissing: false,
    });
    await signalEmailsDue(tx);
    await recordActivities(tx, [
      { companyId: company.id, leadId: lead.id, type: ActivityType.ENROLLMENT_RESUMED, reason: 'Enrollment resumed; remaining emails rescheduled from now', data: { enrollmentId: enrollment.id }, occurredAt: now },
    ]);
    await tx.refresh(enrollment);
    return enrollment;
  });
}

/** Stops enrollments (set-based) and cancels their pending emails; used by stop, delete, unsubscribe and bounces. */
export async function stopEnrollments(
  em: EntityManager,
  input: { companyId: string; enrollmentIds?: string[]; leadId?: string; reason: StopReason; now: Date },
): Promise<{ enrollmentIds: string[]; canceledEmails: number }> {
  const { companyId, reason, now } = input;
  const stopped = await query<{ id: string; lead_id: string; sequence_id: string }>(
    em,
    sql`update enrollment set status = 'STOPPED', stop_reason = ${reason}, ended_at = ${now}, paused_at = null, updated_at = ${now}
        where company_id = ${companyId}::uuid and status in ('ACTIVE', 'PAUSED')
          and ${input.enrollmentIds ? sql`id = any(${input.enrollmentIds}::uuid[])` : sql`lead_id = ${input.leadId!}::uuid`}
        returning id, lead_id, sequence_id`,
  );
  if (stopped.length === 0) return { enrollmentIds: [], canceledEmails: 0 };
  const ids = stopped.map((row) => row.id);
  const canceled = await query<{ id: string; enrollment_id: string; lead_id: string; sequence_id: string }>(
    em,
    sql`update sequence_email set status = 'CANCELED', updated_at = ${now} where enrollment_id = any(${ids}::uuid[]) and status = 'PENDING'
        returning id, enrollment_id, lead_id, sequence_id`,
  );
  await recordActivities(
    em,
    stopped.map((row) => ({
      companyId,
      leadId: row.lead_id,
      type: ActivityType.ENROLLMENT_STOPPED,
      reason: `Enrollment stopped (${reason.toLowerCase().replace(/_/g, ' ')}); pending emails canceled`,
      data: { enrollmentId: row.id },
      occurredAt: now,
    })),
  );
  const at = now.toISOString();
  await publish(em, [
    ...stopped.map((row) => ({ topic: Topic.EnrollmentChanged as const, companyId, leadId: row.lead_id, sequenceId: row.sequence_id, enrollmentId: row.id, status: EnrollmentStatus.STOPPED, stopReason: reason, at })),
    ...canceled.map((row) => ({ topic: Topic.EmailStatusChanged as const, companyId, leadId: row.lead_id, sequenceId: row.sequence_id, enrollmentId: row.enrollment_id, emailId: row.id, status: EmailStatus.CANCELED, at })),
  ]);
  return { enrollmentIds: ids, canceledEmails: canceled.length };
}

/** The realtime event of an enrollment whose status the caller just changed. */
function enrollmentChanged(companyId: string, enrollment: Enrollment, now: Date): EnrollmentChangedEvent {
  return {
    topic: Topic.EnrollmentChanged,
    companyId,
    leadId: enrollment.lead.id,
    sequenceId: enrollment.sequence.id,
    enrollmentId: enrollment.id,
    status: enrollment.status,
    stopReason: enrollment.stopReason,
    at: now.toISOString(),
  };
}
