import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { EnrollmentErrorReason, LeadErrorReason, SequenceErrorReason } from '../core/error-reasons.js';
import { signalEmailsDue } from '../state/due-signal.js';
import { query, sql } from '../db/sql.js';
import { suppressedAmong } from './suppressed.js';
import { recordActivities } from '../state/timeline.js';
import { publish, type EnrollmentChangedEvent } from '../state/events.js';
import { enrollmentChanged, pauseEnrollment, resumeEnrollment, resumedActivity, stopEnrollments, type EnrollmentPlace } from '../state/enrollment-state.js';
import { canMove, ENROLLMENT_MOVES, EnrollmentMove, statusIn } from '../state/transitions.js';
import { findLead, findSequence } from '../model/lookups.js';
import { Enrollment } from '../model/enrollment.entity.js';
import { enrollLeads, scheduleTimeZone } from './enrollment.service.js';
import { applySchedule, baseForStepAt } from './reschedule.js';
import { EmailStatus, StopReason } from '../model/sequence.enums.js';
import type { CompanyScope } from '../model/scope.js';

async function findEnrollment(em: EntityManager, companyId: string, leadId: string, sequenceId: string | null | undefined): Promise<Enrollment> {
  const lead = await findLead(em, companyId, leadId);
  const sequence = await findSequence(em, companyId, sequenceId);
  const enrollment = await em.findOne(Enrollment, { lead, sequence, company: companyId });
  if (!enrollment) throw new NotFoundError(EnrollmentErrorReason.ENROLLMENT_NOT_FOUND);
  return enrollment;
}

/**
 * Enrolls a lead by hand. Idempotent: an active enrollment is returned as it is and nothing is created.
 * A paused one must be resumed, and a finished one cannot start again (one enrollment per lead and sequence).
 */
export async function startSequence(scope: CompanyScope, leadId: string, sequenceId: string | null | undefined): Promise<Enrollment> {
  const { em, now } = scope;
  const company = await scope.company();
  return em.transactional(async (tx) => {
    const lead = await findLead(tx, company.id, leadId);
    const sequence = await findSequence(tx, company.id, sequenceId);
    const existing = await tx.findOne(Enrollment, { lead, sequence });
    if (existing) {
      const resume = ENROLLMENT_MOVES[EnrollmentMove.RESUME];
      if (existing.status === resume.to) return existing;
      if (canMove(resume, existing.status))
        throw new ConflictError(EnrollmentErrorReason.ENROLLMENT_PAUSED, 'The lead is paused in this sequence; use resumeSequence');
      throw new ConflictError(EnrollmentErrorReason.ENROLLMENT_FINISHED, `The lead already went through this sequence (${existing.status.toLowerCase()})`);
    }
    if (!lead.email) throw new ConflictError(LeadErrorReason.LEAD_HAS_NO_EMAIL, 'The lead has no email address to send to');
    if (lead.unsubscribedAt || (await suppressedAmong(tx, company.id, [lead.email])).size > 0) {
      throw new ConflictError(LeadErrorReason.LEAD_SUPPRESSED, 'The lead unsubscribed or its address is suppressed; it cannot be enrolled');
    }
    if (!sequence.active) throw new ConflictError(SequenceErrorReason.SEQUENCE_INACTIVE, 'The sequence is inactive; activate it first');

    await enrollLeads(tx, { companyId: company.id, companyTimeZone: company.timezone, sequence, leads: [lead], startAt: now, reason: 'started manually' });
    return tx.findOneOrFail(Enrollment, { lead, sequence });
  });
}

/** Stops an enrollment for good and cancels its pending emails. Stopping a stopped one changes nothing. */
export async function stopSequence({ em, companyId, now }: CompanyScope, leadId: string, sequenceId: string | null | undefined): Promise<Enrollment> {
  return em.transactional(async (tx) => {
    const enrollment = await findEnrollment(tx, companyId, leadId, sequenceId);
    const stop = ENROLLMENT_MOVES[EnrollmentMove.STOP];
    if (enrollment.status === stop.to) return enrollment;
    if (!canMove(stop, enrollment.status)) throw new ConflictError(EnrollmentErrorReason.ENROLLMENT_FINISHED, 'The enrollment is already completed');
    await stopEnrollments(tx, { companyId, enrollmentIds: [enrollment.id], reason: StopReason.MANUAL, now });
    await tx.refresh(enrollment);
    return enrollment;
  });
}

/** Pauses an active enrollment: nothing is sent until it is resumed. Pausing a paused one changes nothing. */
export async function pauseSequence({ em, companyId, now }: CompanyScope, leadId: string, sequenceId: string | null | undefined): Promise<Enrollment> {
  return em.transactional(async (tx) => {
    const enrollment = await findEnrollment(tx, companyId, leadId, sequenceId);
    const pause = ENROLLMENT_MOVES[EnrollmentMove.PAUSE];
    // Paused by hand already: nothing to do. Paused by an out-of-office: it stays paused, without its return date.
    if (enrollment.status === pause.to && !enrollment.resumeAt) return enrollment;
    if (enrollment.status !== pause.to && !canMove(pause, enrollment.status))
      throw new ConflictError(EnrollmentErrorReason.ENROLLMENT_FINISHED, `Only an active enrollment can be paused (it is ${enrollment.status})`);
    // Its emails leave the due indexes until it is resumed.
    const paused = await pauseEnrollment(tx, placeOf(companyId, enrollment), now);
    await tx.refresh(enrollment);
    // A concurrent writer may have changed it first: only a transition that happened is announced.
    if (paused?.event) await publish(tx, eventOf(companyId, enrollment, now));
    return enrollment;
  });
}

/**
 * Resumes a paused enrollment: the remaining emails are rescheduled from now, keeping their spacing (the next
 * one is due now, within the send window). Resuming an active one changes nothing.
 */
export async function resumeSequence(scope: CompanyScope, leadId: string, sequenceId: string | null | undefined): Promise<Enrollment> {
  const { em, now } = scope;
  const company = await scope.company();
  return em.transactional(async (tx) => {
    const enrollment = await findEnrollment(tx, company.id, leadId, sequenceId);
    const resume = ENROLLMENT_MOVES[EnrollmentMove.RESUME];
    if (enrollment.status === resume.to) return enrollment;
    if (!canMove(resume, enrollment.status))
      throw new ConflictError(EnrollmentErrorReason.ENROLLMENT_FINISHED, `Only a paused enrollment can be resumed (it is ${enrollment.status})`);
    const sequence = await enrollment.sequence.loadOrFail();
    const lead = await enrollment.lead.loadOrFail();
    const timeZone = scheduleTimeZone(sequence.sendWindow, lead.timezone, company.timezone);

    const [next] = await query<{ email_number: number }>(
      tx,
      sql`select email_number from sequence_email where enrollment_id = ${enrollment.id}::uuid and ${statusIn('status', [EmailStatus.PENDING])} order by email_number limit 1`,
    );
    const nextStep = next ? sequence.steps[next.email_number - 1] : undefined;
    const moved = await resumeEnrollment(tx, enrollment.id, nextStep ? baseForStepAt(now, nextStep, timeZone) : null, now);
    await tx.refresh(enrollment);
    // A concurrent writer changed it first: nothing was resumed, so nothing is rescheduled or announced.
    if (!moved) return enrollment;
    // Before applySchedule, which may complete it at once: subscribers see ACTIVE, then COMPLETED.
    await publish(tx, eventOf(company.id, enrollment, now));
    await applySchedule(tx, {
      companyId: company.id,
      sequence,
      enrollments: [{ enrollmentId: enrollment.id, leadId: lead.id, startedAt: enrollment.startedAt, timeZone }],
      now,
      addMissing: false,
    });
    await signalEmailsDue(tx);
    await recordActivities(tx, [resumedActivity(placeOf(company.id, enrollment), now)]);
    await tx.refresh(enrollment);
    return enrollment;
  });
}

/** The realtime event of an enrollment whose status the caller just changed. */
function eventOf(companyId: string, enrollment: Enrollment, now: Date): EnrollmentChangedEvent {
  return enrollmentChanged(placeOf(companyId, enrollment), enrollment.status, enrollment.stopReason, now);
}

function placeOf(companyId: string, enrollment: Enrollment): EnrollmentPlace {
  return { id: enrollment.id, company_id: companyId, lead_id: enrollment.lead.id, sequence_id: enrollment.sequence.id };
}
